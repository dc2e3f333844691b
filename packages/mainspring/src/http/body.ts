import busboy from 'busboy';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Errors } from '../core/errors.js';

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
const MULTIPART_LIMITS = { fields: 1000, fieldSize: 1 << 20, fieldNameSize: 200, parts: 2000 };

/** Adds a form value to a body, repeated keys becoming lists. */
function addFormValue(out: Record<string, unknown>, key: string, value: unknown): void {
  const prev = out[key];
  out[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
}

/**
 * Reads a multipart body's fields, PocketBase style: plain fields are text,
 * and a field named `@jsonPayload` holds typed JSON merged into the body (the
 * SDKs send everything but files that way). File parts are refused for now.
 */
function parseMultipart(request: FastifyRequest, limits: { fileSize: number; bodyLimit: number }): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: request.headers, limits: { ...MULTIPART_LIMITS, fileSize: limits.fileSize } });
    } catch {
      reject(Errors.invalidBody('Invalid multipart/form-data body.'));
      return;
    }
    const out: Record<string, unknown> = {};
    let failed: Error | null = null;
    const fail = (err: Error) => {
      if (!failed) failed = err;
    };
    bb.on('field', (name, value, info) => {
      if (failed) return;
      if (info.valueTruncated || info.nameTruncated) return fail(Errors.invalidBody('A form field is too large.'));
      if (FORBIDDEN_KEYS.has(name)) return fail(Errors.invalidBody(`The key "${name}" is not allowed.`));
      if (name === '@jsonPayload') {
        try {
          const payload = parseJsonBody(value);
          if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
            return fail(Errors.invalidBody('@jsonPayload must be a JSON object.'));
          }
          for (const [k, v] of Object.entries(payload)) out[k] = v;
        } catch (err) {
          fail(err as Error);
        }
        return;
      }
      addFormValue(out, name, value);
    });
    bb.on('file', (_name, stream) => {
      stream.resume();
      fail(Errors.badRequest('File uploads are not supported yet.'));
    });
    bb.on('fieldsLimit', () => fail(Errors.invalidBody('Too many form fields.')));
    bb.on('partsLimit', () => fail(Errors.invalidBody('Too many form parts.')));
    bb.on('error', () => fail(Errors.invalidBody('Invalid multipart/form-data body.')));
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      if (failed) reject(failed);
      else resolve(out);
    };
    bb.on('close', settle);
    let received = 0;
    request.raw.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > limits.bodyLimit && !settled) {
        // stop parsing, drain the rest, and answer 413
        fail(Errors.bodyTooLarge(limits.bodyLimit));
        request.raw.unpipe(bb);
        request.raw.resume();
        settle();
      }
    });
    request.raw.on('error', () => {
      fail(Errors.invalidBody('The request body was cut off.'));
      settle();
    });
    request.raw.pipe(bb);
  });
}

/**
 * Body parsers: JSON (checked for depth and prototype keys), urlencoded and
 * multipart forms.
 */
export function registerBodyParsers(server: FastifyInstance, bodyLimit: number): void {
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
  server.addContentTypeParser('multipart/form-data', (request, _payload, done) => {
    parseMultipart(request, { fileSize: bodyLimit, bodyLimit }).then(
      (body) => done(null, body),
      (err) => done(err as Error, undefined),
    );
  });
}
