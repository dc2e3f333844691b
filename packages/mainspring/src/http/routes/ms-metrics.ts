import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { App } from '../../core/app.js';
import { bearerToken, requireSuperuser } from '../context.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * `GET /api/ms/metrics`: Prometheus's text format (core/metrics.ts), for a
 * superuser's token or, so that a scraper needs no account, the bearer token
 * configured as `metricsToken` (`MS_METRICS_TOKEN`), compared in constant
 * time. Anyone else gets PocketBase's 401/403.
 */
export function metricsRoutes(server: FastifyInstance, app: App, metricsToken: string | undefined): void {
  const expected = metricsToken ? digest(metricsToken) : null;
  server.get('/api/ms/metrics', async (request, reply) => {
    const given = bearerToken(request);
    if (!(expected && given !== null && timingSafeEqual(digest(given), expected))) await requireSuperuser(app, request);
    reply.header('cache-control', 'no-store').type(app.metrics.contentType);
    return app.metrics.text();
  });
}
