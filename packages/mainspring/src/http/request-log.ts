import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { App } from '../core/app.js';
import { maskedUrl } from '../core/logs.js';
import type { AuthState } from '../core/rules/request-info.js';
import { bearerToken, callerOf } from './context.js';
import { clientIp } from './rate-limit.js';

const header = (v: string | string[] | undefined): string => (Array.isArray(v) ? (v[0] ?? '') : (v ?? ''));

/** Why a request failed, for the log's `error` column: noted by the error handler (errors.ts), else read from the answer. */
const failures = new WeakMap<FastifyRequest, string>();

/**
 * Notes why `request` failed: for a 4xx the message its client got, for a
 * 5xx the cause the client is not told (the log is for superusers).
 */
export function noteFailure(request: FastifyRequest, message: string): void {
  failures.set(request, message);
}

/**
 * The request log: every `/api/` request, whichever route (the hooks' own
 * too) answered it, is queued for `_ms_logs` when it ends (no headers, no
 * bodies, query-string secrets masked), with why it failed for a 4xx or
 * 5xx. Global by nature: registered on the root server.
 */
export function registerRequestLog(server: FastifyInstance, app: App): void {
  // an error answered without the error handler (a route's own 4xx, the not-found answer): its message
  server.addHook('onSend', (request, reply, payload, done) => {
    if (reply.statusCode >= 400 && typeof payload === 'string' && !failures.has(request) && app.logs.enabled) {
      try {
        const message = (JSON.parse(payload) as { message?: unknown }).message;
        if (typeof message === 'string') failures.set(request, message);
      } catch {
        // not JSON: no message to keep
      }
    }
    done(null, payload);
  });
  server.addHook('onResponse', (request, reply, done) => {
    done();
    if (!app.logs.enabled || !request.url.startsWith('/api/')) return;
    const entry = {
      method: request.method,
      url: maskedUrl(request.url),
      status: reply.statusCode,
      execTime: Math.round(reply.elapsedTime * 1000) / 1000,
      remoteIP: request.socket.remoteAddress ?? '',
      userIP: clientIp(app, request),
      referer: header(request.headers.referer),
      userAgent: header(request.headers['user-agent']),
      auth: '',
      authId: '',
      error: reply.statusCode >= 400 ? (failures.get(request) ?? '') : '',
    };
    if (!bearerToken(request)) return app.logs.add(entry);
    const identify = (auth: AuthState | null) => {
      if (auth) {
        entry.auth = auth.collection.name;
        entry.authId = String(auth.record.id);
      }
      app.logs.add(entry);
    };
    // the caller was resolved while the request ran (or is, from the token cache, now): most often at once
    const caller = callerOf(app, request);
    if (caller instanceof Promise) caller.then(identify, () => app.logs.add(entry)).catch(() => {});
    else identify(caller);
  });
}
