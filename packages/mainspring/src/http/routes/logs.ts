import type { FastifyInstance } from 'fastify';
import type { App } from '../../core/app.js';
import { Errors } from '../../core/errors.js';
import { maskedUrl } from '../../core/logs.js';
import type { AuthState } from '../../core/rules/request-info.js';
import { bearerToken, callerOf, queryOf, requireSuperuser } from '../context.js';
import { clientIp } from '../rate-limit.js';

const header = (v: string | string[] | undefined): string => (Array.isArray(v) ? (v[0] ?? '') : (v ?? ''));

/**
 * The request log: every `/api/` request is queued for `_ms_logs` when it
 * ends (no headers, no bodies, query-string secrets masked), and superusers
 * read it through PocketBase's `/api/logs`, `/api/logs/stats` and
 * `/api/logs/{id}`.
 */
export function logRoutes(server: FastifyInstance, app: App): void {
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
      error: '',
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

  server.get('/api/logs', async (request) => {
    await requireSuperuser(app, request);
    return app.logs.list(queryOf(request));
  });

  server.get('/api/logs/stats', async (request) => {
    await requireSuperuser(app, request);
    return app.logs.stats(queryOf(request));
  });

  server.get<{ Params: { id: string } }>('/api/logs/:id', async (request) => {
    await requireSuperuser(app, request);
    const log = await app.logs.view(request.params.id);
    if (!log) throw Errors.notFound();
    return log;
  });
}
