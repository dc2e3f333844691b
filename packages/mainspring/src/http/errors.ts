import type { FastifyError, FastifyInstance } from 'fastify';
import { ApiError, Errors } from '../core/errors.js';
import { FileStorageError } from '../core/files/store.js';
import { FilterError } from '../query/index.js';
import { DatabaseUnavailableError, EngineBusyError, isStorageFull, StatementTimeoutError } from '../storage/engine.js';
import { noteFailure } from './request-log.js';

/**
 * Turns anything thrown into PocketBase's error body. Client errors keep their
 * message; anything unexpected is logged with the request id and answered
 * with a generic 500 that says nothing of its cause.
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof FilterError) return Errors.invalidFilter(err.message);
  if (err instanceof EngineBusyError) return Errors.busy();
  if (err instanceof DatabaseUnavailableError) return Errors.unavailable('The database is unavailable; try again shortly.');
  if (isStorageFull(err)) return Errors.storageFull();
  if (err instanceof FileStorageError) return Errors.storageUnavailable();
  if (err instanceof StatementTimeoutError) {
    return Errors.badRequest('The query took too long to run. Narrow the filter, or filter on indexed fields.');
  }
  const fe = err as FastifyError;
  switch (fe?.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return Errors.unsupportedMediaType();
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return Errors.invalidBody();
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_ASYNC_CONSTRAINT':
      return Errors.badRequest();
    case 'FST_ERR_PARAM_TOO_LONG':
      return Errors.notFound();
  }
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new ApiError(
      fe.statusCode,
      'client_error',
      fe.statusCode === 404 ? "The requested resource wasn't found." : Errors.badRequest().message,
    );
  }
  return Errors.internal();
}

/** Installs the error and not-found handlers. */
export function registerErrorHandlers(server: FastifyInstance): void {
  server.setErrorHandler((err, request, reply) => {
    // the client left; there is nobody to answer
    if ((err as Error)?.name === 'AbandonedError') return reply.status(499).send();
    // Fastify's error names no limit: the route's is told
    const api =
      (err as FastifyError)?.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? Errors.bodyTooLarge(request.routeOptions.bodyLimit) : toApiError(err);
    if (api.status >= 500) request.log.error({ reqId: request.id, err }, 'request failed');
    noteFailure(request, api.status >= 500 ? String((err as Error)?.message ?? err) : api.message);
    if (api.retryAfter !== undefined) reply.header('Retry-After', String(api.retryAfter));
    reply.status(api.status).send(api.toJSON());
  });
  server.setNotFoundHandler((_request, reply) => {
    const api = Errors.routeNotFound();
    reply.status(api.status).send(api.toJSON());
  });
}
