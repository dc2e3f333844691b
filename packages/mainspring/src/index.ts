/**
 * Mainspring's programmatic entry: open an app over a data directory and
 * build its HTTP server.
 */
export { App, type AppOptions } from './core/app.js';
export { ApiError, Errors } from './core/errors.js';
export { buildServer, type ServerOptions } from './http/server.js';
