/**
 * Mainspring's programmatic entry: open an app over a data directory and
 * build its HTTP server.
 */
export { App, type AppOptions } from './core/app.js';
export type { CollectionJSON, Migration, MigrationApp } from './core/app-migrations/model.js';
export { ApiError, Errors } from './core/errors.js';
export type { HooksModule, Mainspring } from './core/hooks/api.js';
export type {
  BootstrapEvent,
  FileDownloadRequestEvent,
  FileTokenRequestEvent,
  RecordAfterEvent,
  RecordAuthRequestEvent,
  RecordAuthWithPasswordRequestEvent,
  RecordDeleteRequestEvent,
  RecordEvent,
  RecordsListRequestEvent,
  RecordViewRequestEvent,
  RecordWriteRequestEvent,
  ServeEvent,
} from './core/hooks/events.js';
export type { Handler } from './core/hooks/hook.js';
export type { RouteEvent, RouteHandler } from './core/hooks/registry.js';
export type { FindOptions, RecordOut, TxRecords } from './core/hooks/transaction.js';
export { type CreateAppOptions, createApp, type MainspringApp } from './create-app.js';
export { buildServer, type ServerOptions } from './http/server.js';
