import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { App } from '../core/app.js';
import { Errors, fieldError } from '../core/errors.js';
import { isFile } from '../core/fields/index.js';
import { UploadSet } from '../core/files/uploads.js';
import { fileTooLarge, maxFileSize } from '../core/records/files.js';
import type { UploadHandling, UploadPolicy } from './multipart.js';

/**
 * Which routes take file parts, and under what limits: record create and
 * update (the collection's file fields decide), and `/api/batch` (parts
 * named `requests.N.field`, PocketBase's). Every other route refuses files.
 */

/** The most file parts one request may carry, whatever the fields allow. */
export const MAX_FILES_PER_REQUEST = 1000;
/** How long a body may send nothing before it is answered 408 and dropped (`MS_UPLOAD_IDLE_TIMEOUT_MS`). */
export const DEFAULT_UPLOAD_IDLE_TIMEOUT_MS = 30_000;

const RECORDS = '/api/collections/:collection/records';
const RECORD = '/api/collections/:collection/records/:id';
const BATCH = '/api/batch';
const BACKUP_UPLOAD = '/api/backups/upload';
/** A batch file part: `requests.N.field` or `requests[N].field`. */
const BATCH_PART = /^requests(?:\.(\d{1,4})|\[(\d{1,4})\])\.(.+)$/;

const sets = new WeakMap<FastifyRequest, UploadSet>();

/** Strips `+` / `-` modifiers from a part name: the field it is for. */
function fieldOfPart(part: string): string {
  return part.replace(/^\+/, '').replace(/[+-]$/, '');
}

/** The policy of record create (POST) and update (PATCH) of one collection. */
function recordPolicy(app: App, request: FastifyRequest, bodyLimit: number): UploadPolicy {
  const c = app.records.collection((request.params as { collection: string }).collection);
  const failed = request.method === 'POST' ? Errors.createFailed : Errors.updateFailed;
  const fileFields = new Map(c.fields.filter(isFile).map((f) => [f.name, f]));
  let maxBody = bodyLimit;
  for (const f of fileFields.values()) maxBody += maxFileSize(f) * Math.max(f.maxSelect, 1);
  const counts = new Map<string, number>();
  let total = 0;
  return {
    maxBody: Math.min(maxBody, Number.MAX_SAFE_INTEGER),
    admit(part) {
      const name = fieldOfPart(part);
      const field = fileFields.get(name);
      if (!field || part.endsWith('-')) {
        return failed({ [name]: fieldError('validation_invalid_file', 'Files can only be sent to a file field.') });
      }
      const n = (counts.get(name) ?? 0) + 1;
      counts.set(name, n);
      const max = Math.max(field.maxSelect, 1);
      if (n > max || ++total > MAX_FILES_PER_REQUEST) {
        return failed({ [name]: fieldError('validation_too_many_files', `The maximum allowed files is ${max}`, { maxSelect: max }) });
      }
      return maxFileSize(field);
    },
    tooLarge: (part, filename, limit) => failed({ [fieldOfPart(part)]: fileTooLarge(filename, limit) }),
  };
}

/** The policy of `/api/batch`: each file belongs to a request by index; its field's limits are checked with the record. */
function batchPolicy(app: App, bodyLimit: number): UploadPolicy {
  const settings = app.settings.get().batch;
  if (!settings.enabled || settings.maxRequests <= 0) throw Errors.batchDisabled();
  const maxBody = settings.maxBodySize > 0 ? settings.maxBodySize : bodyLimit;
  let total = 0;
  const refuse = (part: string, message: string) =>
    Errors.validation('Invalid batch request data.', { [part.slice(0, 100)]: fieldError('validation_invalid_file', message) });
  return {
    maxBody,
    admit(part) {
      const m = BATCH_PART.exec(part);
      if (!m || Number(m[1] ?? m[2]) >= settings.maxRequests) return refuse(part, 'Batch files are named requests.N.field.');
      if (++total > MAX_FILES_PER_REQUEST) return refuse(part, `At most ${MAX_FILES_PER_REQUEST} files per request.`);
      return maxBody;
    },
    tooLarge: () => Errors.bodyTooLarge(maxBody),
  };
}

/**
 * The policy of `/api/backups/upload`: one part named `file`, of any size
 * (PocketBase lifts its body limit there too); only superusers reach the
 * route's handler, and the part streams to a temporary file meanwhile.
 */
function backupPolicy(): UploadPolicy {
  let files = 0;
  const refuse = (message: string) =>
    Errors.validation('An error occurred while validating the submitted data.', { file: fieldError('validation_invalid_file', message) });
  return {
    maxBody: Number.MAX_SAFE_INTEGER,
    admit: (part) =>
      part !== 'file'
        ? refuse('Backups are uploaded as the part named file.')
        : ++files > 1
          ? refuse('One backup per upload.')
          : Number.MAX_SAFE_INTEGER,
    tooLarge: () => refuse('The backup is too large.'),
  };
}

/** How the server's multipart parser handles files (see body.ts). */
export function uploadHandling(app: App, bodyLimit: number, idleTimeoutMs: number): UploadHandling {
  return {
    idleTimeoutMs,
    policy(request) {
      const route = request.routeOptions.url;
      if ((route === RECORDS && request.method === 'POST') || (route === RECORD && request.method === 'PATCH')) {
        return recordPolicy(app, request, bodyLimit);
      }
      if (route === BATCH && request.method === 'POST') return batchPolicy(app, bodyLimit);
      if (route === BACKUP_UPLOAD && request.method === 'POST') return backupPolicy();
      return null;
    },
    newSet(request) {
      const set = new UploadSet(app.uploadsDir, app.files, (err) =>
        app.logger.error({ err, reqId: request.id }, 'removing an upload failed'),
      );
      sets.set(request, set);
      return set;
    },
  };
}

/**
 * Runs a handler that may put the request's uploads in place; when it ends,
 * temporary files and files of transactions that did not commit are removed.
 */
export function withUploads<T>(request: FastifyRequest, fn: () => Promise<T>): Promise<T> {
  const set = sets.get(request);
  return set ? set.run(fn) : fn();
}

/**
 * Removes uploads of requests that ended without a handler using them (a
 * 4xx before it, a replayed Idempotency-Key, a client gone).
 */
export function registerUploadCleanup(server: FastifyInstance): void {
  // callback style, returning at once for requests without uploads (an async hook costs a promise each)
  const cleanup = (request: FastifyRequest, done: (err?: Error) => void) => {
    const set = sets.get(request);
    if (!set) return done();
    set.finishIfIdle().then(() => done(), done);
  };
  server.addHook('onResponse', (request, _reply, done) => cleanup(request, done));
  server.addHook('onRequestAbort', cleanup);
}
