import type { FastifyInstance } from 'fastify';
import type { App } from '../../core/app.js';
import { fieldTypeHints } from '../../core/fields/index.js';
import { requireSuperuser } from '../context.js';

/**
 * `GET /api/ms/field-types` (superusers): each field type with the options a
 * superuser sets on it, their kinds and defaults, from the field-type
 * registry; the dashboard's collection editor is drawn from it.
 */
export function fieldTypeRoutes(server: FastifyInstance, app: App): void {
  // the same for every request until the server is rebuilt with another registry
  const hints = fieldTypeHints();
  server.get('/api/ms/field-types', async (request) => {
    await requireSuperuser(app, request);
    return hints;
  });
}
