import type { Logger } from 'pino';
import type { AuthState } from '../rules/request-info.js';
import type {
  BackupEvent,
  BootstrapEvent,
  FileDownloadRequestEvent,
  FileTokenRequestEvent,
  RecordAfterEvent,
  RecordAuthRequestEvent,
  RecordAuthWithOAuth2RequestEvent,
  RecordAuthWithPasswordRequestEvent,
  RecordDeleteRequestEvent,
  RecordEvent,
  RecordsListRequestEvent,
  RecordViewRequestEvent,
  RecordWriteRequestEvent,
  RequestLike,
  ServeEvent,
} from './events.js';
import { Hook, type HookEvent } from './hook.js';
import type { TxRecords } from './transaction.js';

/** A custom route's request, as its handler and middlewares see it. */
export interface RouteEvent extends HookEvent {
  readonly request: RequestLike;
  /** Path parameters (`/api/shop/orders/:id` gives `params.id`). */
  readonly params: Readonly<Record<string, string>>;
  /** The query string, first value of each parameter. */
  readonly query: Readonly<Record<string, string>>;
  /** The parsed body: JSON, or a form's fields as strings; `{}` when there is none. */
  readonly body: unknown;
  /** The caller, from the `Authorization` header; null for a guest or a bad token. */
  readonly auth: AuthState | null;
  /** Answers with JSON. */
  json(status: number, body: unknown): void;
  /** Answers with text. */
  text(status: number, body: string): void;
  /** Answers 204 without a body. */
  noContent(): void;
  /** Sets a response header. */
  setHeader(name: string, value: string): void;
  /** Runs `fn` in one database transaction; see {@link TxRecords}. */
  runInTransaction<T>(fn: (tx: TxRecords) => Promise<T>): Promise<T>;
}

/** A custom route's handler, or a middleware in front of it (which calls `e.next()` to go on). */
export type RouteHandler = (e: RouteEvent) => unknown | Promise<unknown>;

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';

/** A route added by a hook. */
export interface CustomRoute {
  readonly method: HttpMethod;
  readonly path: string;
  readonly handler: RouteHandler;
  readonly middlewares: readonly RouteHandler[];
}

/**
 * Every hook of one app, and the routes hooks added. The record service
 * triggers the record hooks, the HTTP layer the request hooks and routes.
 */
export class Hooks {
  readonly bootstrap = new Hook<BootstrapEvent>();
  readonly serve = new Hook<ServeEvent>();

  readonly recordCreate = new Hook<RecordEvent>();
  readonly recordUpdate = new Hook<RecordEvent>();
  readonly recordDelete = new Hook<RecordEvent>();
  readonly recordAfterCreateSuccess = new Hook<RecordAfterEvent>();
  readonly recordAfterUpdateSuccess = new Hook<RecordAfterEvent>();
  readonly recordAfterDeleteSuccess = new Hook<RecordAfterEvent>();
  readonly recordAfterCreateError = new Hook<RecordAfterEvent>();
  readonly recordAfterUpdateError = new Hook<RecordAfterEvent>();
  readonly recordAfterDeleteError = new Hook<RecordAfterEvent>();

  readonly recordsListRequest = new Hook<RecordsListRequestEvent>();
  readonly recordViewRequest = new Hook<RecordViewRequestEvent>();
  readonly recordCreateRequest = new Hook<RecordWriteRequestEvent>();
  readonly recordUpdateRequest = new Hook<RecordWriteRequestEvent>();
  readonly recordDeleteRequest = new Hook<RecordDeleteRequestEvent>();
  readonly recordAuthRequest = new Hook<RecordAuthRequestEvent>();
  readonly recordAuthWithPasswordRequest = new Hook<RecordAuthWithPasswordRequestEvent>();
  readonly recordAuthWithOAuth2Request = new Hook<RecordAuthWithOAuth2RequestEvent>();
  readonly fileDownloadRequest = new Hook<FileDownloadRequestEvent>();
  readonly fileTokenRequest = new Hook<FileTokenRequestEvent>();
  readonly backupCreate = new Hook<BackupEvent>();
  readonly backupRestore = new Hook<BackupEvent>();

  readonly routes: CustomRoute[] = [];

  constructor(private readonly logger: Logger) {}

  /**
   * Runs an after-hook without letting it fail the caller: the write it
   * reports on is already committed (or already failed). Errors are logged.
   */
  runAfter(hook: Hook<RecordAfterEvent>, event: Omit<RecordAfterEvent, 'next'>, tags: readonly string[]): void {
    if (!hook.has(tags)) return;
    hook
      .trigger(event, () => {}, tags)
      .catch((err) => {
        this.logger.error(
          { err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err), collection: event.collection.name },
          'an after-write hook failed; the write itself stands',
        );
      });
  }
}
