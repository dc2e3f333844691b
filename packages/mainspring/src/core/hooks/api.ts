import type { Logger } from 'pino';
import { ApiError, type ErrorData, Errors } from '../errors.js';
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
  ServeEvent,
} from './events.js';
import type { Handler, Hook, HookEvent } from './hook.js';
import type { Hooks, HttpMethod, RouteEvent, RouteHandler } from './registry.js';
import type { TxRecords } from './transaction.js';

/** 400, in PocketBase's error shape; `data` names fields: `{ qty: { code: 'too_many', message: '…' } }`. */
export class BadRequestError extends ApiError {
  constructor(message = 'Something went wrong while processing your request.', data: ErrorData = {}) {
    super(400, 'bad_request', message, data);
  }
}
/** 401: the route needs a signed-in caller. */
export class UnauthorizedError extends ApiError {
  constructor(message = 'The request requires valid record authorization token.', data: ErrorData = {}) {
    super(401, 'unauthorized', message, data);
  }
}
/** 403: the caller may not do this. */
export class ForbiddenError extends ApiError {
  constructor(message = 'You are not allowed to perform this request.', data: ErrorData = {}) {
    super(403, 'forbidden', message, data);
  }
}
/** 404. */
export class NotFoundError extends ApiError {
  constructor(message = "The requested resource wasn't found.", data: ErrorData = {}) {
    super(404, 'not_found', message, data);
  }
}
/** 409: the request conflicts with the current state (sold out, already paid). */
export class ConflictError extends ApiError {
  constructor(message = 'The request conflicts with the current state.', data: ErrorData = {}) {
    super(409, 'conflict', message, data);
  }
}

const METHODS: ReadonlySet<string> = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);

/** The cron jobs the hooks may add (core/crons.ts). */
export interface CronRegistry {
  add(id: string, expression: string, fn: () => void | Promise<void>): void;
  remove(id: string): void;
}

/**
 * What a hooks file receives: `export default (ms: Mainspring) => { … }`.
 * The names follow PocketBase's JavaScript hooks (`onRecordCreate`,
 * `routerAdd`, `cronAdd`, `$apis.requireAuth()`), as TypeScript.
 * Every `on…` returns an id for {@link Mainspring.off}.
 */
export interface Mainspring {
  readonly logger: Logger;
  /** Record helpers acting as the system, each call in a transaction of its own. */
  readonly records: TxRecords;
  /** Runs `fn` in one transaction: every helper call on `tx` commits together or not at all. */
  runInTransaction<T>(fn: (tx: TxRecords) => Promise<T>): Promise<T>;

  onBootstrap(handler: Handler<BootstrapEvent>): number;
  onServe(handler: Handler<ServeEvent>): number;

  /** Before a record is created, inside the write's transaction (see {@link RecordEvent}); for the collections named, or all. */
  onRecordCreate(handler: Handler<RecordEvent>, ...collections: string[]): number;
  onRecordUpdate(handler: Handler<RecordEvent>, ...collections: string[]): number;
  onRecordDelete(handler: Handler<RecordEvent>, ...collections: string[]): number;
  /** After the create committed; a failure here is logged and undoes nothing. */
  onRecordAfterCreateSuccess(handler: Handler<RecordAfterEvent>, ...collections: string[]): number;
  onRecordAfterUpdateSuccess(handler: Handler<RecordAfterEvent>, ...collections: string[]): number;
  onRecordAfterDeleteSuccess(handler: Handler<RecordAfterEvent>, ...collections: string[]): number;
  onRecordAfterCreateError(handler: Handler<RecordAfterEvent>, ...collections: string[]): number;
  onRecordAfterUpdateError(handler: Handler<RecordAfterEvent>, ...collections: string[]): number;
  onRecordAfterDeleteError(handler: Handler<RecordAfterEvent>, ...collections: string[]): number;

  onRecordsListRequest(handler: Handler<RecordsListRequestEvent>, ...collections: string[]): number;
  onRecordViewRequest(handler: Handler<RecordViewRequestEvent>, ...collections: string[]): number;
  onRecordCreateRequest(handler: Handler<RecordWriteRequestEvent>, ...collections: string[]): number;
  onRecordUpdateRequest(handler: Handler<RecordWriteRequestEvent>, ...collections: string[]): number;
  onRecordDeleteRequest(handler: Handler<RecordDeleteRequestEvent>, ...collections: string[]): number;
  onRecordAuthRequest(handler: Handler<RecordAuthRequestEvent>, ...collections: string[]): number;
  onRecordAuthWithPasswordRequest(handler: Handler<RecordAuthWithPasswordRequestEvent>, ...collections: string[]): number;
  /** An OAuth2 sign-in before its account is linked or made (see {@link RecordAuthWithOAuth2RequestEvent}). */
  onRecordAuthWithOAuth2Request(handler: Handler<RecordAuthWithOAuth2RequestEvent>, ...collections: string[]): number;
  /** A file download, after the file was found and access checked (see {@link FileDownloadRequestEvent}). */
  onFileDownloadRequest(handler: Handler<FileDownloadRequestEvent>, ...collections: string[]): number;
  /** A file token about to be issued; limited to the caller's auth collections named. */
  onFileTokenRequest(handler: Handler<FileTokenRequestEvent>, ...collections: string[]): number;
  /** A backup about to be made: `e.name` is its key; throwing refuses it. */
  onBackupCreate(handler: Handler<BackupEvent>): number;
  /** A backup about to be restored: throwing refuses it. */
  onBackupRestore(handler: Handler<BackupEvent>): number;
  /** Removes a handler by the id an `on…` returned. */
  off(id: number): void;

  /**
   * Adds a route (`/api/shop/orders/:id`). The handler answers with
   * `e.json(…)`, or returns a value to send as JSON; a thrown `ApiError`
   * (`BadRequestError`…) answers in PocketBase's shape. Middlewares run
   * first, each calling `e.next()` to go on. Rate limits with a path label
   * apply, and `Idempotency-Key` is honoured on writes.
   */
  routerAdd(method: HttpMethod, path: string, handler: RouteHandler, ...middlewares: RouteHandler[]): void;
  /** A middleware: 401 without a signed-in caller; 403 when the caller's collection is not one named. */
  requireAuth(...collections: string[]): RouteHandler;
  /** A middleware: 401/403 unless the caller is a superuser. */
  requireSuperuser(): RouteHandler;
  /** A middleware: 400 when the caller is signed in. */
  requireGuestOnly(): RouteHandler;

  /** Runs `fn` on a cron schedule (`*\/5 * * * *`, `@hourly`); with several instances on PostgreSQL, on one of them. */
  cronAdd(id: string, expression: string, fn: () => void | Promise<void>): void;
  cronRemove(id: string): void;

  readonly ApiError: typeof ApiError;
  readonly BadRequestError: typeof BadRequestError;
  readonly UnauthorizedError: typeof UnauthorizedError;
  readonly ForbiddenError: typeof ForbiddenError;
  readonly NotFoundError: typeof NotFoundError;
  readonly ConflictError: typeof ConflictError;
}

/** What a hooks file exports. */
export type HooksModule = (ms: Mainspring) => void | Promise<void>;

/** `ms.routerAdd`: a route checked as it is added, so a mistake names the file that made it. */
function addRoute(hooks: Hooks, method: string, path: string, handler: RouteHandler, middlewares: RouteHandler[]): void {
  const m = String(method).toUpperCase();
  if (!METHODS.has(m)) throw new TypeError(`routerAdd: unknown method "${method}"`);
  if (typeof path !== 'string' || !path.startsWith('/')) throw new TypeError(`routerAdd: the path must start with "/" (got "${path}")`);
  if (typeof handler !== 'function') throw new TypeError(`routerAdd ${m} ${path}: the handler must be a function`);
  for (const mw of middlewares)
    if (typeof mw !== 'function') throw new TypeError(`routerAdd ${m} ${path}: a middleware must be a function`);
  hooks.routes.push({ method: m as HttpMethod, path, handler, middlewares });
}

const requireAuth: Mainspring['requireAuth'] =
  (...collections) =>
  (e: RouteEvent) => {
    if (!e.auth) throw Errors.unauthorized();
    if (collections.length > 0 && !collections.includes(e.auth.collection.name) && !collections.includes(e.auth.collection.id)) {
      throw Errors.forbidden('The authorized record is not allowed to perform this action.');
    }
    return e.next();
  };

const requireSuperuser: Mainspring['requireSuperuser'] = () => (e: RouteEvent) => {
  if (!e.auth) throw Errors.unauthorized();
  if (e.auth.collection.name !== '_superusers') throw Errors.forbidden('The authorized record is not allowed to perform this action.');
  return e.next();
};

const requireGuestOnly: Mainspring['requireGuestOnly'] = () => (e: RouteEvent) => {
  if (e.auth) throw Errors.badRequest('The request can be accessed only by guests.');
  return e.next();
};

/** The object hooks files receive, over an app's hook registry. */
export function createHooksApi(deps: {
  hooks: Hooks;
  logger: Logger;
  records: TxRecords;
  transaction: <T>(fn: (tx: TxRecords) => Promise<T>) => Promise<T>;
  crons: CronRegistry;
}): Mainspring {
  const { hooks } = deps;
  const owners = new Map<number, { unbind(id: number): void }>();
  const bind = <E extends HookEvent>(hook: Hook<E>) => {
    return (handler: Handler<E>, ...collections: string[]): number => {
      const id = hook.bind(handler, collections);
      owners.set(id, hook);
      return id;
    };
  };
  return {
    logger: deps.logger,
    records: deps.records,
    runInTransaction: deps.transaction,
    onBootstrap: bind(hooks.bootstrap),
    onServe: bind(hooks.serve),
    onRecordCreate: bind(hooks.recordCreate),
    onRecordUpdate: bind(hooks.recordUpdate),
    onRecordDelete: bind(hooks.recordDelete),
    onRecordAfterCreateSuccess: bind(hooks.recordAfterCreateSuccess),
    onRecordAfterUpdateSuccess: bind(hooks.recordAfterUpdateSuccess),
    onRecordAfterDeleteSuccess: bind(hooks.recordAfterDeleteSuccess),
    onRecordAfterCreateError: bind(hooks.recordAfterCreateError),
    onRecordAfterUpdateError: bind(hooks.recordAfterUpdateError),
    onRecordAfterDeleteError: bind(hooks.recordAfterDeleteError),
    onRecordsListRequest: bind(hooks.recordsListRequest),
    onRecordViewRequest: bind(hooks.recordViewRequest),
    onRecordCreateRequest: bind(hooks.recordCreateRequest),
    onRecordUpdateRequest: bind(hooks.recordUpdateRequest),
    onRecordDeleteRequest: bind(hooks.recordDeleteRequest),
    onRecordAuthRequest: bind(hooks.recordAuthRequest),
    onRecordAuthWithPasswordRequest: bind(hooks.recordAuthWithPasswordRequest),
    onRecordAuthWithOAuth2Request: bind(hooks.recordAuthWithOAuth2Request),
    onFileDownloadRequest: bind(hooks.fileDownloadRequest),
    onFileTokenRequest: bind(hooks.fileTokenRequest),
    onBackupCreate: bind(hooks.backupCreate),
    onBackupRestore: bind(hooks.backupRestore),
    off(id) {
      owners.get(id)?.unbind(id);
      owners.delete(id);
    },
    routerAdd: (method, path, handler, ...middlewares) => addRoute(hooks, method, path, handler, middlewares),
    requireAuth,
    requireSuperuser,
    requireGuestOnly,
    cronAdd: (id, expression, fn) => deps.crons.add(id, expression, fn),
    cronRemove: (id) => deps.crons.remove(id),
    ApiError,
    BadRequestError,
    UnauthorizedError,
    ForbiddenError,
    NotFoundError,
    ConflictError,
  };
}
