import { type Readable, Transform } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { App } from '../../core/app.js';
import type { Collection } from '../../core/collections/model.js';
import { ApiError, type ErrorData, Errors, type FieldError, fieldError } from '../../core/errors.js';
import { isUpload } from '../../core/files/uploads.js';
import { markedTransaction } from '../../core/idempotency.js';
import type { RequestInfo } from '../../core/rules/request-info.js';
import type { Executor } from '../../storage/engine.js';
import { checkJsonValue } from '../body-values.js';
import { bodyObject, requestInfo } from '../context.js';
import { enforceRateLimit } from '../rate-limit.js';
import { withUploads } from '../uploads.js';
import { recordActionTags } from './records.js';

const RECORDS_PATH = /^\/api\/collections\/([^/?]+)\/records(?:\/([^/?]+))?$/;

/** A batch item's URL as a records route, or PocketBase's 400 for anything else. */
function parseItemUrl(raw: string): { url: URL; collection: string; id: string | undefined } {
  try {
    const url = new URL(raw, 'http://batch.invalid');
    const m = RECORDS_PATH.exec(url.pathname);
    if (m && url.origin === 'http://batch.invalid') {
      return { url, collection: decodeURIComponent(m[1] as string), id: m[2] === undefined ? undefined : decodeURIComponent(m[2]) };
    }
  } catch {
    // a malformed URL or escape is the same unknown action
  }
  throw Errors.badRequest('Unknown batch request action.');
}

interface BatchItem {
  method: string;
  url: string;
  body: Record<string, unknown>;
  headers: Record<string, string>;
  /** Uploaded files by field key (`documents`, `documents+`), from parts named `requests.N.documents`. */
  files: Record<string, unknown[]>;
}

/** A multipart batch's file part name: `requests.N.field` or `requests[N].field` (PocketBase's). */
const FILE_PART = /^requests(?:\.(\d+)|\[(\d+)\])\.(.+)$/;

/** Hands each uploaded file of the body to the request its part names. */
function attachFiles(body: Record<string, unknown>, items: BatchItem[]): void {
  for (const [key, value] of Object.entries(body)) {
    const m = FILE_PART.exec(key);
    const files = (Array.isArray(value) ? value : [value]).filter(isUpload);
    if (!m || files.length === 0) continue;
    const item = items[Number(m[1] ?? m[2])];
    if (!item) {
      throw Errors.validation('Invalid batch request data.', {
        requests: fieldError('validation_invalid_file', `${key.slice(0, 100)} names no request of this batch.`),
      });
    }
    const field = m[3] as string;
    item.files[field] = [...(item.files[field] ?? []), ...files];
  }
}

/** An item's body with its files: beside names the JSON holds for the same key, after them. */
function withFiles(item: BatchItem): Record<string, unknown> {
  const data = { ...item.body };
  for (const [key, files] of Object.entries(item.files)) {
    const given = data[key];
    data[key] = given === undefined || given === null || given === '' ? files : [...(Array.isArray(given) ? given : [given]), ...files];
  }
  return data;
}

/** The methods a batch request may name, exactly as PocketBase lists them (core/event_request_batch.go). */
const BATCH_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const MAX_URL = 2000;

/** What is wrong with one request of a batch, in PocketBase's shape (`{method: {code, message}, url: …}`). */
function itemErrors(r: unknown): ErrorData | FieldError | null {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return fieldError('validation_invalid_value', 'Must be an object.');
  const item = r as Record<string, unknown>;
  const errors: ErrorData = {};
  const blank = () => fieldError('validation_required', 'Cannot be blank.');
  const isObjectOrNothing = (v: unknown) => v === undefined || v === null || (typeof v === 'object' && !Array.isArray(v));
  if (item.method === undefined || item.method === null || item.method === '') errors.method = blank();
  else if (typeof item.method !== 'string') errors.method = fieldError('validation_invalid_value', 'Must be a string.');
  else if (!BATCH_METHODS.includes(item.method)) errors.method = fieldError('validation_in_invalid', 'Must be a valid value.');
  if (item.url === undefined || item.url === null || item.url === '') errors.url = blank();
  else if (typeof item.url !== 'string') errors.url = fieldError('validation_invalid_value', 'Must be a string.');
  else if (item.url.length > MAX_URL) {
    errors.url = fieldError('validation_length_too_long', `The length must be no more than ${MAX_URL}.`, { max: MAX_URL });
  }
  if (!isObjectOrNothing(item.body)) errors.body = fieldError('validation_invalid_value', 'Must be an object.');
  if (!isObjectOrNothing(item.headers)) errors.headers = fieldError('validation_invalid_value', 'Must be an object.');
  return Object.keys(errors).length > 0 ? errors : null;
}

function readItems(raw: unknown, max: number): BatchItem[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw Errors.validation('Invalid batch request data.', { requests: fieldError('validation_required', 'Cannot be blank.') });
  }
  if (raw.length > max) {
    throw Errors.validation('Invalid batch request data.', {
      requests: fieldError('validation_length_too_long', `The length must be no more than ${max}.`),
    });
  }
  const errors: ErrorData = {};
  raw.forEach((item, i) => {
    const e = itemErrors(item);
    if (e) errors[i] = e;
  });
  if (Object.keys(errors).length > 0) throw Errors.validation('Invalid batch request data.', { requests: errors });
  return raw.map((item) => {
    const r = item as { method: string; url: string; body?: Record<string, unknown> | null; headers?: Record<string, unknown> | null };
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.headers ?? {})) if (typeof v === 'string') headers[k] = v;
    return { method: r.method, url: r.url, body: r.body ?? {}, headers, files: {} };
  });
}

/**
 * `POST /api/batch`: record writes (create, update, upsert, delete) run in one
 * transaction through the same record service and rules as the REST routes.
 * The first failure rolls everything back and is reported with its index.
 */
export function batchRoutes(server: FastifyInstance, app: App): void {
  // uploads of requests that did not commit are removed when the batch ends
  server.post('/api/batch', { preParsing: bodyLimitOf(app) }, (request) => withUploads(request, () => runBatch(app, request)));
}

/** batch.maxBodySize (0: the server's body limit) bounds the body while it arrives, before any parsing. */
function bodyLimitOf(app: App) {
  return async (request: FastifyRequest, _reply: unknown, payload: NodeJS.ReadableStream) => {
    const max = app.settings.get().batch.maxBodySize;
    if (max <= 0) return payload;
    if (Number(request.headers['content-length']) > max) throw Errors.bodyTooLarge(max);
    let received = 0;
    const limited = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        received += chunk.length;
        callback(received > max ? Errors.bodyTooLarge(max) : null, chunk);
      },
    });
    (payload as unknown as Readable).on('error', (err) => limited.destroy(err));
    return (payload as unknown as Readable).pipe(limited);
  };
}

/** Counts a batch's writes against their actions' rate limits, one hit per write (per collection and action). */
async function limitWrites(app: App, request: FastifyRequest, items: BatchItem[]): Promise<void> {
  const counts = new Map<string, { c: Collection; action: 'create' | 'update' | 'delete'; n: number }>();
  for (const item of items) {
    let c: Collection;
    try {
      c = app.records.collection(parseItemUrl(item.url).collection);
    } catch {
      continue; // refused with its index when it runs
    }
    const action = item.method === 'DELETE' ? 'delete' : item.method === 'PATCH' ? 'update' : 'create';
    const key = `${c.id} ${action}`;
    const entry = counts.get(key) ?? { c, action, n: 0 };
    entry.n++;
    counts.set(key, entry);
  }
  for (const { c, action, n } of counts.values()) {
    await enforceRateLimit(app, request, recordActionTags(c, action), c.name, n);
  }
}

async function runBatch(app: App, request: FastifyRequest) {
  const settings = app.settings.get().batch;
  if (!settings.enabled || settings.maxRequests <= 0) throw Errors.batchDisabled();
  // the batch's own rule (`/api/batch`) first, as PocketBase's middleware; then each write counted against
  // its action's, as if sent alone (PocketBase's batch runs each through the record handlers' limits)
  await enforceRateLimit(app, request, []);
  const body = bodyObject(request);
  const items = readItems(body.requests, settings.maxRequests);
  attachFiles(body, items);
  const base = await requestInfo(app, request, 'batch');
  await limitWrites(app, request, items);
  const deadline = Date.now() + Math.max(1, settings.timeout) * 1000;

  // the batch's Idempotency-Key claim, if any, is marked in its transaction
  return markedTransaction(app.engine, async (tx) => {
    const results: { status: number; body: unknown }[] = [];
    for (const [i, item] of items.entries()) {
      try {
        if (Date.now() > deadline) throw Errors.badRequest('The batch transaction timed out.');
        results.push(await runItem(app, tx, base, item));
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        throw Errors.batchFailed({
          requests: { [i]: { code: 'batch_request_failed', message: 'Batch request failed.', response: err.toJSON() } as never },
        });
      }
    }
    return results;
  });
}

/** One write of a batch, in its transaction, as its REST route would run it (an upsert as a create or an update). */
async function runItem(app: App, tx: Executor, base: RequestInfo, item: BatchItem): Promise<{ status: number; body: unknown }> {
  checkJsonValue(item.body);
  const target = parseItemUrl(item.url);
  const c = app.records.collection(target.collection);
  let id = target.id;
  const query = Object.fromEntries(target.url.searchParams);
  const headers = { ...base.headers };
  for (const [k, v] of Object.entries(item.headers)) {
    if (k.toLowerCase() !== 'authorization') headers[k.toLowerCase().replaceAll('-', '_')] = v;
  }
  let method = item.method;
  if (method === 'PUT' && id === undefined) {
    // upsert: an update when the submitted id exists
    const bodyId = typeof item.body.id === 'string' ? item.body.id : '';
    if (bodyId && (await app.records.findById(c, bodyId, tx))) {
      method = 'PATCH';
      id = bodyId;
    } else method = 'POST';
  }
  const info = { ...base, method, query, headers, body: item.body };
  const input = { data: withFiles(item), source: 'json' as const };
  if (method === 'POST' && id === undefined) return { status: 200, body: await app.records.create(c, input, query, info, tx) };
  if (method === 'PATCH' && id !== undefined) return { status: 200, body: await app.records.update(c, id, input, query, info, tx) };
  if (method === 'DELETE' && id !== undefined) {
    await app.records.delete(c, id, info, tx);
    return { status: 204, body: null };
  }
  throw Errors.badRequest('Unknown batch request action.');
}
