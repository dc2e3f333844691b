import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../core/app.js';
import { Errors } from '../core/errors.js';
import { type AuthState, isSuperuser, type RequestContext, type RequestInfo } from '../core/rules/request-info.js';

/**
 * Per-request state the routes share: the caller (resolved once, from the
 * `Authorization` header with or without `Bearer `) and the request data
 * that rules read as `@request.*`.
 */

const authCache = new WeakMap<FastifyRequest, AuthState | null | Promise<AuthState | null>>();

/**
 * The token of a request's `Authorization` header, if any: after a `Bearer `
 * scheme in any case (RFC 9110 schemes are case-insensitive), or the bare
 * token, which PocketBase takes as it is.
 */
export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || header === '') return null;
  const token = header.length > 7 && header.slice(0, 7).toLowerCase() === 'bearer ' ? header.slice(7) : header;
  return token.trim() || null;
}

/**
 * The caller, or null; an invalid token is treated as no token. A token
 * verified a moment ago answers at once (the hot path of every request).
 */
export function callerOf(app: App, request: FastifyRequest): AuthState | null | Promise<AuthState | null> {
  let p = authCache.get(request);
  if (p === undefined) {
    const token = bearerToken(request);
    p = token ? (app.auth.cached(token) ?? app.auth.authenticate(token)) : null;
    authCache.set(request, p);
  }
  return p;
}

function firstValues(query: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof query !== 'object' || query === null) return out;
  for (const [k, v] of Object.entries(query)) {
    const first = Array.isArray(v) ? v[0] : v;
    if (typeof first === 'string') out[k] = first;
  }
  return out;
}

function normalizedHeaders(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(request.headers)) {
    if (typeof v === 'string') out[k.toLowerCase().replaceAll('-', '_')] = v;
    else if (Array.isArray(v) && typeof v[0] === 'string') out[k.toLowerCase().replaceAll('-', '_')] = v[0];
  }
  return out;
}

/** What rules see of this request; headers and query are read only if a rule asks. */
export async function requestInfo(app: App, request: FastifyRequest, context: RequestContext = 'default'): Promise<RequestInfo> {
  const auth = await callerOf(app, request);
  const body =
    typeof request.body === 'object' && request.body !== null && !Array.isArray(request.body)
      ? (request.body as Record<string, unknown>)
      : {};
  let query: Record<string, string> | undefined;
  let headers: Record<string, string> | undefined;
  return {
    auth,
    method: request.method,
    context,
    get query() {
      query ??= firstValues(request.query);
      return query;
    },
    get headers() {
      headers ??= normalizedHeaders(request);
      return headers;
    },
    body,
  };
}

/** The query string as first values, for the record services. */
export function queryOf(request: FastifyRequest): Record<string, string> {
  return firstValues(request.query);
}

/** Throws 401 without a valid token and 403 for a non-superuser. */
export async function requireSuperuser(app: App, request: FastifyRequest): Promise<RequestInfo> {
  const info = await requestInfo(app, request);
  if (!info.auth) throw Errors.unauthorized();
  if (!isSuperuser(info)) throw Errors.forbidden('The authorized record is not allowed to perform this action.');
  return info;
}

/** The submitted body as an object (a non-object JSON body is a 400). */
export function bodyObject(request: FastifyRequest): Record<string, unknown> {
  const body = request.body;
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw Errors.invalidBody('The request body must be a JSON object.');
  return body as Record<string, unknown>;
}

/** Aborts when the client disconnects before its response is sent, so costly work can be skipped. */
export function abandonSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const res = reply.raw;
  if (res.destroyed) controller.abort();
  // 'close' comes once per response: after it was sent, or when the connection died first
  else
    res.once('close', () => {
      if (!res.writableFinished) controller.abort();
    });
  return controller.signal;
}
