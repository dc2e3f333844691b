import type { FastifyInstance } from 'fastify';
import type { App } from '../../core/app.js';
import { requireSuperuser } from '../context.js';
import { clientIp } from '../rate-limit.js';

/**
 * `POST /api/ms/sql` `{sql, page?, perPage?, write?}`: the superusers' SQL
 * console (core/sql-console.ts), read-only unless the settings allow writes.
 */
export function sqlConsoleRoutes(server: FastifyInstance, app: App): void {
  server.post('/api/ms/sql', async (request) => {
    const info = await requireSuperuser(app, request);
    const record = info.auth?.record as { id: string; email?: unknown } | undefined;
    return app.sqlConsole.run(request.body, {
      id: record?.id ?? '',
      email: typeof record?.email === 'string' ? record.email : '',
      ip: clientIp(app, request),
    });
  });
}
