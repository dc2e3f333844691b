import type { FastifyInstance } from 'fastify';
import type { App } from '../../core/app.js';
import { Errors } from '../../core/errors.js';
import { queryOf, requireSuperuser } from '../context.js';

/**
 * The request log as superusers read it, through PocketBase's `/api/logs`,
 * `/api/logs/stats` and `/api/logs/{id}` (what is written: request-log.ts).
 */
export function logRoutes(server: FastifyInstance, app: App): void {
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
