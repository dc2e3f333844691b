import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import type { FastifyInstance } from 'fastify';
import type { App } from '../../core/app.js';
import type { ErrorData } from '../../core/errors.js';
import { ApiError, Errors } from '../../core/errors.js';
import type { ImportOptions, ImportReport } from '../../core/records/import.js';
import { queryOf, requestInfo, requireSuperuser } from '../context.js';
import { enforceRateLimit } from '../rate-limit.js';

type Params = { collection: string };

/** Bodies an import reads as a stream (any other type is parsed as usual, and refused). */
const IMPORT_TYPES = ['text/csv', 'application/csv', 'application/x-ndjson', 'application/jsonl', 'application/x-jsonlines', 'text/plain'];
const JSON_LINES = /ndjson|jsonl|jsonlines/;

/**
 * Records as CSV and back, beside PocketBase's dialect:
 * `GET /api/ms/collections/{c}/export.csv` (anyone the list rule admits,
 * streamed; core/records/export.ts) and `POST /api/ms/collections/{c}/import`
 * (superusers; CSV or JSON lines; core/records/import.ts).
 */
export function recordsCsvRoutes(server: FastifyInstance, app: App): void {
  // this plugin's own: the body reaches the route unread, whatever its size
  server.addContentTypeParser(IMPORT_TYPES, (_request, payload, done) => done(null, payload));

  server.get<{ Params: Params }>('/api/ms/collections/:collection/export.csv', { config: { ownFields: true } }, async (request, reply) => {
    const c = app.records.collection(request.params.collection);
    await enforceRateLimit(app, request, ['list'], c.name);
    const q = queryOf(request);
    const exported = app.records.export(c, { filter: q.filter, fields: q.fields, separator: q.separator }, await requestInfo(app, request));
    const rows = exported.rows();
    // the first batch is read before the answer starts: a filter that runs too long is still a 400
    const first = await rows.next();
    async function* all() {
      yield exported.columns;
      if (first.done) return;
      yield first.value;
      yield* rows;
    }
    // a `\r` alone would read as a line break: quoted, as `\n` and `"` are
    const csv = stringify({ quoted_match: /\r/ });
    // a failure part way (the connection gone, a later batch past its time) ends the stream; the answer has begun
    pipeline(Readable.from(all()), csv).catch(() => {});
    const name = `${c.name}.csv`;
    return reply
      .type('text/csv; charset=utf-8')
      .header('Content-Disposition', `attachment; filename="${name}"`)
      .header('Cache-Control', 'no-store')
      .send(csv);
  });

  server.post<{ Params: Params }>('/api/ms/collections/:collection/import', async (request) => {
    const info = await requireSuperuser(app, request);
    const c = app.records.collection(request.params.collection);
    const options = importOptions(queryOf(request), String(request.headers['content-type'] ?? ''));
    app.records.checkImport(c, options);
    if (request.body === undefined || request.body === null)
      throw Errors.invalidBody('The body is empty: send the rows as CSV or JSON lines.');
    if (!(request.body instanceof Readable)) {
      throw new ApiError(415, 'unsupported_media_type', 'Send the rows as text/csv or application/x-ndjson (JSON lines).');
    }
    // the body is written to a file first, at the speed of the network: then no transaction waits on the
    // client, the request is whole well within its time, and an engine that runs a transaction again reads it again
    const spool = join(app.uploadsDir, `import-${randomUUID()}`);
    let report: ImportReport;
    try {
      await pipeline(request.body, createWriteStream(spool, { mode: 0o600 }));
      report = await app.records.import(c, () => createReadStream(spool), options, info);
    } finally {
      await rm(spool, { force: true });
    }
    const failed = report.errors.length > 0 || report.stopped !== null;
    if (!failed || options.dryRun) return report;
    const written = report.created + report.updated;
    const message =
      options.mode === 'all'
        ? 'The import failed: some rows have errors, so nothing was written.'
        : `The import failed in part: ${written} rows were written, ${report.skipped} were not.`;
    throw new ApiError(400, 'import_failed', message, report as unknown as ErrorData);
  });
}

function flag(raw: string | undefined, name: string): boolean {
  if (raw === undefined || raw === '' || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw Errors.invalidQuery(name, 'must be true or false');
}

/** The import's options from its query string and content type; a bad one is a 400. */
export function importOptions(q: Record<string, string>, contentType: string): ImportOptions {
  const format = q.format ?? (JSON_LINES.test(contentType) ? 'jsonl' : 'csv');
  if (format !== 'csv' && format !== 'jsonl') throw Errors.invalidQuery('format', 'must be csv or jsonl');
  const mode = q.mode ?? 'all';
  if (mode !== 'all' && mode !== 'batch') throw Errors.invalidQuery('mode', 'must be all or batch');
  const size = q.batchSize ?? '500';
  if (!/^\d{1,5}$/.test(size) || Number(size) < 1 || Number(size) > 10_000) {
    throw Errors.invalidQuery('batchSize', 'must be a whole number from 1 to 10000');
  }
  const upsert = q.upsert === undefined || q.upsert === '' ? null : q.upsert;
  if (upsert !== null && !/^\w{1,100}$/.test(upsert)) throw Errors.invalidQuery('upsert', 'must be id or a field name');
  const separator = q.separator === undefined || q.separator === '' ? null : q.separator;
  if (separator !== null && (separator.length > 5 || /[\r\n"]/.test(separator))) {
    throw Errors.invalidQuery('separator', 'must be one to five characters, no quotes or line breaks');
  }
  return { format, mode, batchSize: Number(size), dryRun: flag(q.dryRun, 'dryRun'), upsert, separator };
}
