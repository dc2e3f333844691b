import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { App } from '../../core/app.js';
import { Errors } from '../../core/errors.js';
import { isSuperuserAuth } from '../../core/rules/request-info.js';
import { callerOf } from '../context.js';
import { fieldsOf } from '../fields.js';
import { clientIp } from '../rate-limit.js';

/** Headers a reverse proxy commonly sets, after the configured ones (PocketBase's list). */
const COMMON_PROXY_HEADERS = ['CF-Connecting-IP', 'Fly-Client-IP', 'X-Forwarded-For'];

/**
 * What PocketBase tells superusers beside the health: whether a backup may
 * start (no backups can be made yet, so false), the client IP as the server
 * reads it, and the first proxy header the request carries ('' if none), so
 * a dashboard can warn that trusted proxy headers are not set up. With
 * standbys, `replication` beside them: each one's health and lag.
 */
function superuserData(app: App, request: FastifyRequest): Record<string, unknown> {
  const headers = [...app.settings.get().trustedProxy.headers, ...COMMON_PROXY_HEADERS];
  const possibleProxyHeader = headers.find((name) => Boolean(request.headers[name.toLowerCase()])) ?? '';
  const data: Record<string, unknown> = { canBackup: app.backups.idle, realIP: clientIp(app, request), possibleProxyHeader };
  // beside PocketBase's fields: each standby's reachability and lag, where reads go to standbys
  const replication = app.engine.stats().replication;
  if (replication) data.replication = replication;
  return data;
}

const NOT_READY = {
  starting: 'The server is starting; try again shortly.',
  draining: 'The server is shutting down; try another instance.',
} as const;

/**
 * `GET /api/health` (readiness): PocketBase's answer, `{message, code,
 * data}`, with more in `data` for superusers; while the app starts or
 * drains, a 503 in the error shape, so a load balancer sends requests
 * elsewhere. `GET /api/ms/live` (liveness): 200 whenever the process
 * answers at all, draining included, so a supervisor does not kill a
 * server that is finishing its requests.
 */
export function healthRoutes(server: FastifyInstance, app: App): void {
  const guest = JSON.stringify({ message: 'API is healthy.', code: 200, data: {} });
  const alive = JSON.stringify({ message: 'API is alive.', code: 200, data: {} });
  server.get('/api/ms/live', (_request, reply) => {
    reply.type('application/json; charset=utf-8').send(alive);
  });
  // Fastify answers HEAD from the GET route
  server.get('/api/health', async (request, reply) => {
    reply.type('application/json; charset=utf-8');
    if (app.readiness !== 'ready') {
      const api = Errors.unavailable(NOT_READY[app.readiness]);
      return reply.status(api.status).header('Retry-After', String(api.retryAfter)).send(api.toJSON());
    }
    // a request without a token (load balancers, monitors) is answered without looking further
    const superuser = Boolean(request.headers.authorization) && isSuperuserAuth(await callerOf(app, request));
    const body = superuser ? { message: 'API is healthy.', code: 200, data: superuserData(app, request) } : null;
    // an object goes through `fields` picking (fields.ts); the usual answer is sent as ready text
    if (fieldsOf(request)) return reply.send(body ?? JSON.parse(guest));
    return reply.send(body ? JSON.stringify(body) : guest);
  });
}
