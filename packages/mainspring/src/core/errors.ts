/**
 * Every error the API answers with, declared once: a stable code, an HTTP
 * status and PocketBase's message. The body is PocketBase's
 * `{status, message, data}`; validation errors put `{field: {code, message}}`
 * in `data`.
 */

/** One field's validation failure, as PocketBase reports it. */
export interface FieldError {
  code: string;
  message: string;
  params?: Record<string, unknown>;
}

/** Validation failures by field name; nested for nested data (batch, options). */
export type ErrorData = { [key: string]: FieldError | ErrorData };

/** An error meant for the client. Anything else is an internal error. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  /** For 429s: seconds until the client may try again (the Retry-After header). */
  retryAfter?: number;
  constructor(
    readonly status: number,
    /** A stable code for logs and clients, e.g. `record_not_found`. */
    readonly code: string,
    message: string,
    readonly data: ErrorData = {},
  ) {
    super(message);
  }

  /** The PocketBase response body. */
  toJSON(): { status: number; message: string; data: ErrorData } {
    return { status: this.status, message: this.message, data: this.data };
  }
}

/** A field validation error with PocketBase's code and message. */
export function fieldError(code: string, message: string, params?: Record<string, unknown>): FieldError {
  return params ? { code, message, params } : { code, message };
}

/** A byte count as people read it, with the exact figure: `16 MiB (16777216 bytes)`. */
export function sizeText(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB'];
  let shown = '';
  for (let i = units.length - 1; i >= 0 && !shown; i--) {
    const size = bytes / 1024 ** (i + 1);
    if (size >= 1) shown = `${Number.isInteger(size) ? size : size.toFixed(1)} ${units[i]} (${bytes} bytes)`;
  }
  return shown || `${bytes} bytes`;
}

const DEFAULT_400 = 'Something went wrong while processing your request.';

/** The catalogue of API errors. */
export const Errors = {
  badRequest: (message = DEFAULT_400, data: ErrorData = {}) => new ApiError(400, 'bad_request', message, data),
  validation: (message: string, data: ErrorData) => new ApiError(400, 'validation_failed', message, data),
  invalidFilter: (detail?: string) =>
    new ApiError(400, 'invalid_filter', detail ? `Invalid filter: ${detail}` : `${DEFAULT_400} Invalid filter.`),
  invalidQuery: (param: string, detail: string) => new ApiError(400, 'invalid_query', `Invalid ${param}: ${detail}`),
  invalidBody: (detail = 'Failed to read the submitted data.') => new ApiError(400, 'invalid_body', detail),
  bodyTooLarge: (limit: number) =>
    new ApiError(413, 'body_too_large', `Request entity too large: the body is limited to ${sizeText(limit)}.`),
  filesNotAccepted: () => new ApiError(400, 'files_not_accepted', 'File uploads are not accepted here.'),
  bodyStalled: (ms: number) =>
    new ApiError(408, 'body_stalled', `Request timeout: no part of the body arrived for ${Math.round(ms / 100) / 10} s.`),
  unsupportedMediaType: () =>
    new ApiError(
      415,
      'unsupported_media_type',
      'Unsupported Content-Type: send application/json, multipart/form-data or application/x-www-form-urlencoded.',
    ),
  unauthorized: (message = 'The request requires valid record authorization token.') => new ApiError(401, 'unauthorized', message),
  forbidden: (message = 'You are not allowed to perform this request.') => new ApiError(403, 'forbidden', message),
  superusersOnly: () => new ApiError(403, 'superusers_only', 'Only superusers can perform this action.'),
  superuserFilterOnly: (field: string) => new ApiError(403, 'superuser_filter_only', `Only superusers can filter by ${field}`),
  notFound: (message = "The requested resource wasn't found.") => new ApiError(404, 'not_found', message),
  collectionNotFound: () => new ApiError(404, 'collection_not_found', 'Missing collection context.'),
  routeNotFound: () => new ApiError(404, 'route_not_found', "The requested resource wasn't found."),
  cronNotFound: () => new ApiError(404, 'cron_not_found', 'Missing or invalid cron job.'),
  methodNotAllowed: () => new ApiError(405, 'method_not_allowed', 'Method not allowed.'),
  createFailed: (data: ErrorData = {}) => new ApiError(400, 'create_failed', 'Failed to create record.', data),
  updateFailed: (data: ErrorData = {}) => new ApiError(400, 'update_failed', 'Failed to update record.', data),
  deleteReferenced: () =>
    new ApiError(
      400,
      'delete_referenced',
      'Failed to delete record. Make sure that the record is not part of a required relation reference.',
    ),
  lastSuperuser: () => new ApiError(400, 'last_superuser', "You can't delete the only existing superuser."),
  truncateFailed: () =>
    new ApiError(400, 'truncate_failed', 'Failed to truncate collection (most likely due to required cascade delete record references).'),
  authFailed: () => new ApiError(400, 'auth_failed', 'Failed to authenticate.'),
  batchDisabled: () => new ApiError(403, 'batch_disabled', 'Batch requests are not allowed.'),
  batchFailed: (data: ErrorData) => new ApiError(400, 'batch_failed', 'Batch transaction failed.', data),
  tooManyRequests: (retryAfterSeconds = 1) => {
    const err = new ApiError(429, 'rate_limited', 'Too Many Requests.');
    err.retryAfter = Math.max(1, Math.ceil(retryAfterSeconds));
    return err;
  },
  busy: () => new ApiError(503, 'busy', 'The server is busy; try again shortly.'),
  unavailable: (message: string) => {
    const err = new ApiError(503, 'unavailable', message);
    err.retryAfter = 1;
    return err;
  },
  storageFull: () =>
    new ApiError(
      507,
      'storage_full',
      "The server's storage is full, so nothing was written; reads still work. Try again once space is freed.",
    ),
  storageUnavailable: () => new ApiError(503, 'storage_unavailable', 'The file storage is unavailable; try again later.'),
  idempotencyMismatch: () =>
    new ApiError(422, 'idempotency_key_reused', 'This Idempotency-Key was used with another request; use a new key for a new request.'),
  idempotencyInProgress: () =>
    new ApiError(409, 'idempotency_in_progress', 'A request with this Idempotency-Key is still running; retry shortly.'),
  idempotencyDone: () =>
    new ApiError(
      409,
      'idempotency_answer_lost',
      'The request with this Idempotency-Key was carried out, but the server stopped before its answer was kept; read the records to see the result.',
    ),
  idempotencyTakenOver: () =>
    new ApiError(409, 'idempotency_taken_over', 'A retry of this Idempotency-Key is being answered elsewhere; this request wrote nothing.'),
  internal: () => new ApiError(500, 'internal', 'Something went wrong while processing your request.'),
} as const;
