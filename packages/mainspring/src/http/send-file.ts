import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, Errors } from '../core/errors.js';
import { servedType } from '../core/files/content-type.js';
import { type FileKey, keyPath } from '../core/files/keys.js';
import { detectStoredType } from '../core/files/sniff.js';
import type { ByteRange, FileStore, StoredFile } from '../core/files/store.js';

/**
 * Sends one stored file with HTTP's validators and ranges (RFC 9110): a
 * strong ETag and Last-Modified, If-Match/If-Unmodified-Since (412),
 * If-None-Match/If-Modified-Since (304), one byte range per request (206,
 * or 416 with `Content-Range: bytes *\/size`), If-Range, and HEAD. Several
 * ranges in one request are answered with the whole file (200), as RFC 9110
 * allows; no client we serve needs multipart/byteranges. The file is opened
 * once through the store, which decides the range once it knows the file,
 * so size, validators and bytes are of one version (one open file on the
 * local disk); the bytes stream with backpressure, and the stream is
 * destroyed, freeing the file, when the client leaves.
 */

/** PocketBase's Content-Security-Policy for files: nothing they contain may load or run anything. */
export const FILE_CSP = "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox";

/** How to send a file. */
export interface SendFileOptions {
  /** Where it is. */
  store: FileStore;
  key: FileKey;
  /** The name it is served under (Content-Disposition). */
  name: string;
  /** Always an attachment (`?download=1`). */
  download: boolean;
  /** The Cache-Control header. */
  cacheControl: string;
}

/** A Content-Disposition value: a quoted ASCII `filename`, plus RFC 8187's `filename*` when the name needs it (RFC 6266). */
export function contentDisposition(kind: 'inline' | 'attachment', name: string): string {
  // printable ASCII without the quote and backslash, which browsers unescape differently
  const plain = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  if (plain === name) return `${kind}; filename="${name}"`;
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${kind}; filename="${plain}"; filename*=UTF-8''${encoded}`;
}

/** A requested byte range, resolved against the size. */
export type RangeRequest =
  /** No usable Range: send the whole file (no header, another unit, bad syntax, several ranges). */
  | { kind: 'whole' }
  /** Nothing of the file can be sent (416). */
  | { kind: 'unsatisfiable' }
  /** Bytes `start`..`end`, both included (206). */
  | { kind: 'range'; start: number; end: number };

const WHOLE: RangeRequest = { kind: 'whole' };
const UNSATISFIABLE: RangeRequest = { kind: 'unsatisfiable' };
const SPEC = /^(?:(\d+)-(\d*)|-(\d+))$/;

/**
 * Reads a Range header for a file of `size` bytes. One range is served: a
 * start beyond the end, a reversed range or an empty suffix is 416; an end
 * past the file is cut to it; a suffix longer than the file is the whole
 * file. Several ranges, another unit or bad syntax: the whole file.
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined || header.length > 1000) return WHOLE;
  const eq = header.indexOf('=');
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return WHOLE;
  const specs = header
    .slice(eq + 1)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (specs.length !== 1) return WHOLE;
  const m = SPEC.exec(specs[0] as string);
  if (!m) return WHOLE;
  if (m[3] !== undefined) {
    const suffix = Number(m[3]);
    if (suffix === 0 || size === 0) return UNSATISFIABLE;
    return { kind: 'range', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Number(m[2]);
  if (end < start || start >= size) return UNSATISFIABLE;
  return { kind: 'range', start, end: Math.min(end, size - 1) };
}

/** The entity-tags of an If-Match/If-None-Match header; `*` as itself. */
function tagsOf(header: string): string[] {
  if (header.trim() === '*') return ['*'];
  return header.match(/(?:W\/)?"[^"]*"/g) ?? [];
}

const opaque = (tag: string) => (tag.startsWith('W/') ? tag.slice(2) : tag);

/** Strong comparison (If-Match, If-Range): both strong and equal. */
function strongMatch(header: string, etag: string): boolean {
  return tagsOf(header).some((t) => t === '*' || t === etag);
}

/** Weak comparison (If-None-Match): equal opaque tags. */
function weakMatch(header: string, etag: string): boolean {
  return tagsOf(header).some((t) => t === '*' || opaque(t) === opaque(etag));
}

function headerOf(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** An HTTP date as milliseconds, or NaN. */
const httpDate = (v: string | undefined) => (v === undefined ? Number.NaN : Date.parse(v));

/** The answer conditional headers call for: 412, 304, or null to go on (RFC 9110 §13.2.2). */
function preconditions(request: FastifyRequest, etag: string, modifiedSeconds: number): 304 | 412 | null {
  const ifMatch = headerOf(request, 'if-match');
  if (ifMatch !== undefined) {
    if (!strongMatch(ifMatch, etag)) return 412;
  } else {
    const since = httpDate(headerOf(request, 'if-unmodified-since'));
    if (!Number.isNaN(since) && modifiedSeconds * 1000 > since) return 412;
  }
  const ifNoneMatch = headerOf(request, 'if-none-match');
  if (ifNoneMatch !== undefined) {
    if (weakMatch(ifNoneMatch, etag)) return 304;
  } else {
    const since = httpDate(headerOf(request, 'if-modified-since'));
    if (!Number.isNaN(since) && modifiedSeconds * 1000 <= since) return 304;
  }
  return null;
}

/** Whether If-Range (when present) lets a range be served: the same strong ETag, or exactly the Last-Modified date. */
function rangeStillValid(request: FastifyRequest, etag: string, lastModified: string): boolean {
  const ifRange = headerOf(request, 'if-range');
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith('W/')) return v === etag;
  const date = httpDate(v);
  return !Number.isNaN(date) && date === Date.parse(lastModified);
}

/** A strong validator: it changes whenever the name or the stored version (its size and modification time on disk) does. */
function etagOf(name: string, file: StoredFile): string {
  const hash = createHash('sha256').update(`${name}\0${file.version}`).digest('base64url').slice(0, 27);
  return `"${hash}"`;
}

/**
 * Types read from files' bytes, by key and version: a video player's many
 * Range requests for one file read its head once. Stored files are never
 * rewritten in place (a new upload gets a new name).
 */
const detected = new Map<string, string>();
const MAX_DETECTED = 1000;

async function detectedType(store: FileStore, key: FileKey, file: StoredFile): Promise<string> {
  const id = `${keyPath(key)}\0${file.version}`;
  let mime = detected.get(id);
  if (mime === undefined) {
    // a file gone meanwhile has no type its bytes show
    mime = (await detectStoredType(store, key))?.mime ?? 'application/octet-stream';
    // the oldest entry goes first (a Map keeps insertion order)
    if (detected.size >= MAX_DETECTED) detected.delete(detected.keys().next().value as string);
    detected.set(id, mime);
  }
  return mime;
}

function sendError(reply: FastifyReply, err: ApiError): FastifyReply {
  return reply.status(err.status).send(err.toJSON());
}

/** What to answer for a file, decided from its validators and the request's conditions, before any byte is read. */
type Answer =
  /** A 412 or 416 in PocketBase's error shape. */
  | { kind: 'error'; error: ApiError }
  | { kind: 'not-modified' }
  /** The file's headers, and its bytes (whole or the range) unless `range` is null (HEAD, an empty file). */
  | { kind: 'file'; range: ByteRange | null };

/** Sets the headers of a file's answer and says what follows them (see the module's comment). */
async function answerFor(request: FastifyRequest, reply: FastifyReply, o: SendFileOptions, file: StoredFile): Promise<Answer> {
  const size = file.size;
  const etag = etagOf(o.name, file);
  const modifiedSeconds = Math.floor(file.modifiedMs / 1000);
  const lastModified = new Date(modifiedSeconds * 1000).toUTCString();
  reply.header('ETag', etag);
  reply.header('Last-Modified', lastModified);
  reply.header('Cache-Control', o.cacheControl);

  const verdict = preconditions(request, etag, modifiedSeconds);
  if (verdict === 412) return { kind: 'error', error: new ApiError(412, 'precondition_failed', 'Precondition Failed.') };
  if (verdict === 304) return { kind: 'not-modified' };

  reply.header('Accept-Ranges', 'bytes');
  // Range is defined for GET only (RFC 9110 §14.2)
  let range: RangeRequest = WHOLE;
  if (request.method === 'GET' && rangeStillValid(request, etag, lastModified)) range = parseRange(headerOf(request, 'range'), size);
  if (range.kind === 'unsatisfiable') {
    reply.header('Content-Range', `bytes */${size}`);
    return { kind: 'error', error: new ApiError(416, 'range_not_satisfiable', 'Range Not Satisfiable.') };
  }

  const type = servedType(o.name, size === 0 ? undefined : await detectedType(o.store, o.key, file));
  reply.header('Content-Type', type.contentType);
  reply.header('Content-Disposition', contentDisposition(type.inline && !o.download ? 'inline' : 'attachment', o.name));
  reply.header('Content-Security-Policy', FILE_CSP);
  const start = range.kind === 'range' ? range.start : 0;
  const end = range.kind === 'range' ? range.end : size - 1;
  if (range.kind === 'range') {
    reply.status(206);
    reply.header('Content-Range', `bytes ${start}-${end}/${size}`);
  }
  reply.header('Content-Length', String(end - start + 1));
  return { kind: 'file', range: request.method === 'HEAD' || size === 0 ? null : { start, end } };
}

/** Sends the file (see the module's comment); a missing file is PocketBase's 404. */
export async function sendFile(request: FastifyRequest, reply: FastifyReply, o: SendFileOptions): Promise<FastifyReply> {
  let answer = undefined as Answer | undefined;
  const read = await o.store.openRead(o.key, async (file) => {
    answer = await answerFor(request, reply, o, file);
    return answer.kind === 'file' ? answer.range : null;
  });
  if (!read || !answer) throw Errors.notFound();
  if (answer.kind === 'error') return sendError(reply, answer.error);
  if (answer.kind === 'not-modified') return reply.status(304).send();
  // Fastify pipes the stream and destroys it, freeing the file, when the client goes away
  return read.stream ? reply.send(read.stream) : reply.send();
}
