import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { App } from '../../core/app.js';
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
 * a dashboard can warn that trusted proxy headers are not set up.
 */
function superuserData(app: App, request: FastifyRequest): Record<string, unknown> {
  const headers = [...app.settings.get().trustedProxy.headers, ...COMMON_PROXY_HEADERS];
  const possibleProxyHeader = headers.find((name) => Boolean(request.headers[name.toLowerCase()])) ?? '';
  return { canBackup: app.backups.idle, realIP: clientIp(app, request), possibleProxyHeader };
}

/** `GET /api/health`: PocketBase's answer, `{message, code, data}`; `data` has more for superusers. */
export function healthRoutes(server: FastifyInstance, app: App): void {
  const guest = JSON.stringify({ message: 'API is healthy.', code: 200, data: {} });
  // Fastify answers HEAD from the GET route
  server.get('/api/health', async (request, reply) => {
    reply.type('application/json; charset=utf-8');
    // a request without a token (load balancers, monitors) is answered without looking further
    const superuser = Boolean(request.headers.authorization) && isSuperuserAuth(await callerOf(app, request));
    const body = superuser ? { message: 'API is healthy.', code: 200, data: superuserData(app, request) } : null;
    // an object goes through `fields` picking (fields.ts); the usual answer is sent as ready text
    if (fieldsOf(request)) return reply.send(body ?? JSON.parse(guest));
    return reply.send(body ? JSON.stringify(body) : guest);
  });
}
