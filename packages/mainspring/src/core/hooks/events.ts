import type { OAuth2User } from '../auth/oauth2/provider.js';
import type { Collection } from '../collections/model.js';
import type { ListResult } from '../records/reads.js';
import type { AuthState, RecordData, RequestInfo } from '../rules/request-info.js';
import type { HookEvent } from './hook.js';
import type { TxRecords } from './transaction.js';

/**
 * The events hooks receive. Names and `next()` follow PocketBase's hooks
 * (v0.23+), so its users find what they know; the objects are plain
 * TypeScript values rather than Go models.
 */

/** The app has opened its database and loaded the hooks; nothing is served yet. */
export interface BootstrapEvent extends HookEvent {}

/** The HTTP server is built and about to listen. `server` is the Fastify instance (routes, plugins). */
export interface ServeEvent extends HookEvent {
  readonly server: unknown;
}

/**
 * A record is written: create, update or delete, from the API, a batch, a
 * custom route or another hook. Runs inside the write's transaction, after
 * the input was validated: before `next()` the handler may change
 * `record` (create, update) or throw to refuse; `next()` writes the row;
 * after it the row is written but not committed, and a throw still rolls
 * everything back. `tx` reads and writes in the same transaction.
 */
export interface RecordEvent extends HookEvent {
  readonly collection: Collection;
  /** The record as it will be (create, update) or as it was (delete); every field, hidden ones included. */
  record: RecordData;
  /** Update: the record before the change. Null for create and delete. */
  readonly original: RecordData | null;
  /** Who asked; null for a write of the system (a hook, a cron). */
  readonly requestInfo: RequestInfo | null;
  /** The write's transaction. */
  readonly tx: TxRecords;
}

/**
 * After a record write committed (`…AfterCreateSuccess`), or failed
 * (`…AfterCreateError`, with `error`). A throw here is logged and changes
 * nothing: the write stays committed (or failed).
 */
export interface RecordAfterEvent extends HookEvent {
  readonly collection: Collection;
  readonly record: RecordData;
  readonly original: RecordData | null;
  readonly error?: unknown;
}

/** What request hooks know of the HTTP request. */
export interface RequestLike {
  readonly method: string;
  readonly url: string;
  readonly ip: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

interface RequestEventBase extends HookEvent {
  readonly collection: Collection;
  readonly request: RequestLike;
  /** The caller: the auth record and its collection, or null for a guest. */
  readonly auth: AuthState | null;
}

/** `GET …/records`: after the page was read; change `result` or throw before `next()` sends it. */
export interface RecordsListRequestEvent extends RequestEventBase {
  result: ListResult;
}

/** `GET …/records/:id`: after the record was read; change `record` or throw before `next()` sends it. */
export interface RecordViewRequestEvent extends RequestEventBase {
  record: Record<string, unknown>;
}

/**
 * `POST …/records` and `PATCH …/records/:id`: before the write, `body` is
 * the submitted data (change it, or throw); `next()` writes it (rules
 * apply), and after it `record` is the answer.
 */
export interface RecordWriteRequestEvent extends RequestEventBase {
  /** Update and delete: the record's id. */
  readonly id: string | null;
  body: Record<string, unknown>;
  record: Record<string, unknown> | null;
}

/** `DELETE …/records/:id`: before `next()` the record is still there. */
export interface RecordDeleteRequestEvent extends RequestEventBase {
  readonly id: string;
}

/**
 * A sign-in succeeded (password, OTP, refresh, impersonation): `record` and
 * `token` are about to be sent. Throw to refuse it; change `meta` to send
 * more (it goes out as `meta`).
 */
export interface RecordAuthRequestEvent extends RequestEventBase {
  readonly authMethod: string;
  record: RecordData;
  token: string;
  meta: Record<string, unknown> | undefined;
}

/**
 * `GET /api/files/…`, once the file was found and the caller may have it:
 * throw to refuse; `servedPath`/`servedName` (the original or a thumb) may
 * be changed; `next()` sends it.
 */
export interface FileDownloadRequestEvent extends RequestEventBase {
  readonly record: RecordData;
  /** The name of the file field that holds the file. */
  readonly fileField: string;
  /**
   * The file's path in the file store, PocketBase's: `{collectionId}/{recordId}/{name}`,
   * a thumb `{collectionId}/{recordId}/thumbs_{name}/{size}_{name}`. Set to another
   * stored file's to serve that one; a path that is no stored file's is a 404.
   */
  servedPath: string;
  /** The name it is served under (Content-Disposition). */
  servedName: string;
}

/** `POST /api/files/token`: `token` is about to be sent to `auth`'s record; throw to refuse, or change it. */
export interface FileTokenRequestEvent extends HookEvent {
  readonly request: RequestLike;
  readonly auth: AuthState;
  token: string;
}

/**
 * A backup being made (`onBackupCreate`) or restored (`onBackupRestore`):
 * `name` is the archive's key; throwing refuses it. After `next()` the
 * archive is stored (create) or staged and checked, its restore to follow
 * with the restart (restore).
 */
export interface BackupEvent extends HookEvent {
  name: string;
}

/** `auth-with-password`, before the password is checked: `identity` may be changed; after `next()`, `record` is who signed in. */
/**
 * `POST …/auth-with-oauth2`, once the provider's profile is read and the
 * account it signs in to is found (`record`, null while a new one would be
 * made). Before `next()` a handler may change `record` (another account),
 * `createData` or `oauth2User`, or throw to refuse; `next()` links or
 * creates the account and answers.
 */
export interface RecordAuthWithOAuth2RequestEvent extends RequestEventBase {
  readonly providerName: string;
  oauth2User: OAuth2User;
  createData: Record<string, unknown>;
  record: RecordData | null;
  isNewRecord: boolean;
}

export interface RecordAuthWithPasswordRequestEvent extends RequestEventBase {
  identity: string;
  identityField: string;
  password: string;
  record: RecordData | null;
}
