import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, Errors } from '../core/errors.js';
import { storedName } from '../core/files/names.js';
import { detectFileType } from '../core/files/sniff.js';
import { UploadedFile, type UploadSet } from '../core/files/uploads.js';

/** The deepest nesting a JSON body may have. */
export const MAX_JSON_DEPTH = 64;

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Rejects JSON that is nested deeper than {@link MAX_JSON_DEPTH} or carries a
 * key that could pollute prototypes (`__proto__`, `constructor`,
 * `prototype`) at any depth. Iterative, so a hostile body cannot overflow the stack.
 */
export function checkJsonValue(value: unknown): void {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    // 1e309 parses to Infinity, which JSON cannot hold: storing it would change it silently
    if (typeof v === 'number' && !Number.isFinite(v)) throw Errors.invalidBody('The JSON body holds a number out of range.');
    if (typeof v !== 'object' || v === null) continue;
    if (depth > MAX_JSON_DEPTH) throw Errors.invalidBody(`The JSON body is nested deeper than ${MAX_JSON_DEPTH} levels.`);
    if (Array.isArray(v)) {
      for (const item of v) stack.push([item, depth + 1]);
    } else {
      for (const key of Object.keys(v)) {
        if (FORBIDDEN_KEYS.has(key)) throw Errors.invalidBody(`The key "${key}" is not allowed.`);
        stack.push([(v as Record<string, unknown>)[key], depth + 1]);
      }
    }
  }
}

/** Parses JSON text into a checked value. */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw Errors.invalidBody('The request body is not valid JSON.');
  }
  checkJsonValue(value);
  return value;
}

/** Bounds on a multipart body's plain fields. */
const MULTIPART_LIMITS = { fields: 1000, fieldSize: 1 << 20, fieldNameSize: 200 };

/** Adds a form value to a body, repeated keys becoming lists. */
function addFormValue(out: Record<string, unknown>, key: string, value: unknown): void {
  const prev = out[key];
  out[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
}

/**
 * What a route takes as file parts (http/uploads.ts makes one per request):
 * how many, how large each may be, and the errors that refuse them.
 */
export interface UploadPolicy {
  /** The largest whole body, files included. */
  maxBody: number;
  /**
   * The most bytes a file part named `part` may have, or the error that
   * refuses it; called once per part, in order, so it may count parts too.
   */
  admit(part: string): number | Error;
  /** The error for a file part past its limit. */
  tooLarge(part: string, filename: string, limit: number): Error;
}

/** How multipart bodies receive files. */
export interface UploadHandling {
  /** The policy of the request's route; null where files are refused. May throw (an unknown collection). */
  policy(request: FastifyRequest): UploadPolicy | null;
  /** The set this request's uploads go to, made on its first file. */
  newSet(request: FastifyRequest): UploadSet;
  /** A body that sends nothing for this long is answered 408 and dropped. */
  idleTimeoutMs: number;
}

/** Requests whose body was left unread: their connection is closed after the answer. */
const unread = new WeakSet<FastifyRequest>();

/** One file part on its way to disk. */
interface PendingFile {
  part: string;
  filename: string;
  path: string;
  out: WriteStream;
  done: Promise<void>;
  size: number;
  hash: Hash;
  /** Why writing the temporary file failed, if it did. */
  error?: Error;
}

/**
 * Reads a multipart body, PocketBase style: plain fields are text, a field
 * named `@jsonPayload` holds typed JSON merged into the body (the SDKs send
 * everything but files that way), and file parts become
 * {@link UploadedFile}s. Each file streams to a temporary file as it
 * arrives, never held whole in memory, under the route's policy: a part
 * past its size, one too many, a body past its limit or one that stalls
 * stops the parse at once, before the rest is read, and leaves no
 * temporary file behind.
 */
function parseMultipart(
  request: FastifyRequest,
  payload: Readable,
  bodyLimit: number,
  uploads: UploadHandling | null,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let policy: UploadPolicy | null;
    let bb: busboy.Busboy;
    try {
      policy = uploads?.policy(request) ?? null;
      bb = busboy({
        headers: request.headers,
        limits: {
          ...MULTIPART_LIMITS,
          // a field past the body limit is a 413, as the whole body would be
          fieldSize: Math.min(MULTIPART_LIMITS.fieldSize, bodyLimit + 1),
          parts: MULTIPART_LIMITS.fields + 2000,
          fileSize: Number.POSITIVE_INFINITY,
        },
      });
    } catch (err) {
      unread.add(request);
      reject(err instanceof ApiError ? err : Errors.invalidBody('Invalid multipart/form-data body.'));
      return;
    }
    const maxBody = policy?.maxBody ?? bodyLimit;
    if (Number(request.headers['content-length']) > maxBody) {
      unread.add(request);
      reject(Errors.bodyTooLarge(maxBody));
      return;
    }
    const out: Record<string, unknown> = {};
    const files: PendingFile[] = [];
    let set: UploadSet | null = null;
    let parsed = false;
    let settled = false;

    let idle: NodeJS.Timeout | undefined;
    const idleMs = uploads?.idleTimeoutMs ?? 0;
    // one timer, pushed back by each chunk
    const touch = () => {
      if (idleMs <= 0 || settled) return;
      if (idle) idle.refresh();
      else idle = setTimeout(() => fail(Errors.bodyStalled(idleMs)), idleMs).unref();
    };

    /** Resolves with the values once every file is on disk and recognised. */
    const settle = async () => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      await Promise.all(files.map((f) => f.done));
      try {
        const broken = files.find((f) => f.error);
        if (broken) throw broken.error;
        for (const f of files) {
          // an empty file input (no name, no bytes) is no file, as browsers mean it
          if (f.size === 0 && f.filename === '') continue;
          const type = await detectFileType(createReadStream(f.path), f.size);
          const file = new UploadedFile(set as UploadSet, {
            originalName: f.filename,
            name: storedName(f.filename, type.ext),
            path: f.path,
            size: f.size,
            type: type.mime,
            sha256: f.hash.digest('hex'),
          });
          addFormValue(out, f.part, file);
        }
        resolve(out);
      } catch (err) {
        await set?.finish();
        reject(err);
      }
    };

    /**
     * Refuses the body at once: the rest is not read (the connection closes
     * after the answer) and the temporary files go once they are closed,
     * without holding the answer back.
     */
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      payload.unpipe(bb);
      payload.pause();
      unread.add(request);
      for (const f of files) f.out.destroy();
      reject(err);
      Promise.all(files.map((f) => f.done))
        .then(() => set?.finish())
        .catch(() => {});
    };

    // what is not a file counts against the server's body limit, files against their own
    let textBytes = 0;
    bb.on('field', (name, value, info) => {
      if (settled) return;
      if (info.valueTruncated && MULTIPART_LIMITS.fieldSize > bodyLimit) return fail(Errors.bodyTooLarge(bodyLimit));
      if (info.valueTruncated || info.nameTruncated) return fail(Errors.invalidBody('A form field is too large.'));
      textBytes += Buffer.byteLength(name) + Buffer.byteLength(value);
      if (textBytes > bodyLimit) return fail(Errors.bodyTooLarge(bodyLimit));
      if (FORBIDDEN_KEYS.has(name)) return fail(Errors.invalidBody(`The key "${name}" is not allowed.`));
      if (name === '@jsonPayload') {
        try {
          const payloadValue = parseJsonBody(value);
          if (typeof payloadValue !== 'object' || payloadValue === null || Array.isArray(payloadValue)) {
            return fail(Errors.invalidBody('@jsonPayload must be a JSON object.'));
          }
          for (const [k, v] of Object.entries(payloadValue)) out[k] = v;
        } catch (err) {
          fail(err as Error);
        }
        return;
      }
      addFormValue(out, name, value);
    });

    bb.on('file', (name, stream, info) => {
      if (settled) {
        stream.resume();
        return;
      }
      if (!policy || !uploads) return fail(Errors.filesNotAccepted());
      if (FORBIDDEN_KEYS.has(name)) return fail(Errors.invalidBody(`The key "${name}" is not allowed.`));
      const limit = policy.admit(name);
      if (limit instanceof Error) return fail(limit);
      set ??= uploads.newSet(request);
      const path = set.tempPath();
      const filename = info.filename ?? '';
      const file: PendingFile = {
        part: name,
        filename,
        path,
        out: createWriteStream(path, { flags: 'wx', mode: 0o600 }),
        done: Promise.resolve(),
        size: 0,
        hash: createHash('sha256'),
      };
      // settled once the temporary file is closed, whether written whole or cut off
      file.done = new Promise<void>((done) => {
        file.out.once('close', done);
        file.out.once('error', (err) => {
          file.error = err;
          fail(err);
          done();
        });
      });
      files.push(file);
      stream.on('data', (chunk: Buffer) => {
        file.size += chunk.length;
        if (file.size > limit) {
          stream.unpipe(file.out);
          stream.resume();
          fail(policy.tooLarge(name, filename, limit));
          return;
        }
        file.hash.update(chunk);
      });
      stream.pipe(file.out);
    });

    bb.on('fieldsLimit', () => fail(Errors.invalidBody('Too many form fields.')));
    bb.on('partsLimit', () => fail(Errors.invalidBody('Too many form parts.')));
    bb.on('error', () => fail(Errors.invalidBody('Invalid multipart/form-data body.')));
    bb.on('close', () => {
      parsed = true;
      void settle();
    });

    let received = 0;
    payload.on('data', (chunk: Buffer) => {
      received += chunk.length;
      touch();
      if (received > maxBody) fail(Errors.bodyTooLarge(maxBody));
    });
    payload.on('error', (err) => fail(err instanceof ApiError ? err : Errors.invalidBody('The request body was cut off.')));
    payload.on('close', () => {
      if (!parsed && !payload.readableEnded) fail(Errors.invalidBody('The request body was cut off.'));
    });
    touch();
    payload.pipe(bb);
  });
}

/**
 * Body parsers: JSON (checked for depth and prototype keys), urlencoded and
 * multipart forms (files as `uploads` allows).
 */
export function registerBodyParsers(server: FastifyInstance, bodyLimit: number, uploads: UploadHandling | null = null): void {
  server.removeAllContentTypeParsers();
  server.addContentTypeParser(['application/json', 'application/*+json'], { parseAs: 'string', bodyLimit }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  server.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit }, (_req, body, done) => {
    const out: Record<string, unknown> = {};
    for (const [key, value] of new URLSearchParams(body as string)) {
      if (FORBIDDEN_KEYS.has(key)) {
        done(Errors.invalidBody(`The key "${key}" is not allowed.`), undefined);
        return;
      }
      addFormValue(out, key, value);
    }
    done(null, out);
  });
  server.addContentTypeParser('multipart/form-data', (request, payload, done) => {
    parseMultipart(request, payload as unknown as Readable, bodyLimit, uploads).then(
      (body) => done(null, body),
      (err) => done(err as Error, undefined),
    );
  });
  // a body left unread (refused part way) is not read on: the connection closes after the answer
  server.addHook('onSend', (request, reply, payload, done) => {
    if (unread.has(request)) reply.header('connection', 'close');
    done(null, payload);
  });
}
