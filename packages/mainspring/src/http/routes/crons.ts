import type { FastifyInstance } from 'fastify';
import type { App } from '../../core/app.js';
import type { CronService } from '../../core/crons.js';
import { Errors } from '../../core/errors.js';
import { requireSuperuser } from '../context.js';

/** `/api/crons` (superusers): list the cron jobs, and run one now (PocketBase's routes). */
export function cronRoutes(server: FastifyInstance, crons: CronService, app: App): void {
  server.get('/api/crons', async (request) => {
    await requireSuperuser(app, request);
    return crons.list();
  });

  server.post<{ Params: { id: string } }>('/api/crons/:id', async (request, reply) => {
    await requireSuperuser(app, request);
    const { id } = request.params;
    if (!crons.has(id)) throw Errors.cronNotFound();
    // as PocketBase: the job runs in the background and the answer does not wait for it
    crons
      .run(id)
      .catch((err) => app.logger.warn({ reqId: request.id, cron: id, err: { message: (err as Error).message } }, 'cron: run refused'));
    return reply.status(204).send();
  });
}
