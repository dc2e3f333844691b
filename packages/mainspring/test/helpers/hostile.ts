import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { expect } from 'vitest';

/**
 * Helpers of the hostile-input suite: requests that can never hang (every
 * one has a deadline), raw requests for paths `fetch` would normalize, the
 * PocketBase error-shape assertion, and hand-made JWTs.
 */

/** An answer: status, parsed JSON (or the text), headers. */
export interface Answer {
  status: number;
  body: any;
  text: string;
  headers: Headers | Record<string, unknown>;
}

export interface CallOptions {
  /** A value sent as JSON. */
  body?: unknown;
  /** Bytes or text sent as they are (content-type defaults to JSON). */
  raw?: string | Uint8Array;
  token?: string;
  headers?: Record<string, string>;
  /** The deadline of the whole exchange; 10 s unless told. */
  timeoutMs?: number;
}

function parse(text: string): unknown {
  try {
    return text === '' ? null : JSON.parse(text);
  } catch {
    return text;
  }
}

/** `fetch` with a deadline: a hang fails the test instead of stalling it. */
export async function call(base: string, method: string, path: string, opts: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers.authorization = opts.token;
  let body: string | Uint8Array | undefined;
  if (opts.raw !== undefined) {
    body = opts.raw;
    if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  }
  const res = await fetch(base + path, { method, headers, body, signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) });
  const text = await res.text();
  return { status: res.status, body: parse(text), text, headers: res.headers };
}

/**
 * A request through node:http with the path exactly as given (no dot-segment
 * or percent normalization) and a deadline. A body the server stops reading
 * (e.g. after a 413) does not turn into a client error: the answer is kept.
 */
export function rawCall(
  base: string,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string | Uint8Array; timeoutMs?: number } = {},
): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    let settled = false;
    const req = httpRequest(
      { host: url.hostname, port: url.port, method, path, headers: opts.headers ?? {}, timeout: opts.timeoutMs ?? 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          settled = true;
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, body: parse(text), text, headers: res.headers });
        });
        res.on('error', (err) => {
          if (!settled) reject(err);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs ?? 10_000} ms`)));
    req.on('error', (err) => {
      // the server may stop reading an oversized body; the answer may still arrive
      if (!settled && (err as NodeJS.ErrnoException).code !== 'EPIPE' && (err as NodeJS.ErrnoException).code !== 'ECONNRESET') {
        reject(err);
      }
    });
    if (opts.body !== undefined) req.end(opts.body);
    else req.end();
  });
}

/** Asserts a client error in PocketBase's shape: `{status, message, data}`, status equal to the HTTP status. */
export function expectApiError(res: Answer, status?: number | number[], label = ''): void {
  const where = `${label} -> ${res.status} ${res.text.slice(0, 300)}`;
  if (status === undefined) {
    expect(res.status >= 400 && res.status < 500, where).toBe(true);
  } else if (Array.isArray(status)) {
    expect(status, where).toContain(res.status);
  } else {
    expect(res.status, where).toBe(status);
  }
  expect(typeof res.body, where).toBe('object');
  expect(res.body, where).not.toBeNull();
  expect(Object.keys(res.body).sort(), where).toEqual(['data', 'message', 'status']);
  expect(res.body.status, where).toBe(res.status);
  expect(typeof res.body.message, where).toBe('string');
  expect(typeof res.body.data === 'object' && res.body.data !== null && !Array.isArray(res.body.data), where).toBe(true);
}

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** A JWT with any header and claims, signed HS256 with `key` (or with the given signature). */
export function makeJwt(header: unknown, claims: unknown, key: string | null, signature?: string): string {
  const head = `${b64(header)}.${b64(claims)}`;
  const sig = signature ?? (key === null ? '' : createHmac('sha256', key).update(head).digest('base64url'));
  return `${head}.${sig}`;
}

/** The claims part of a JWT. */
export function jwtClaims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
}

/** JSON text nested `depth` levels deep, as arrays or objects. */
export function deepJson(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}
