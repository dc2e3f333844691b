import type { FastifyInstance } from 'fastify';
import type { App } from '../../core/app.js';
import { Errors } from '../../core/errors.js';
import { bodyObject, requireSuperuser } from '../context.js';

/**
 * Mainspring's routes for the dashboard, beside PocketBase's dialect:
 * `POST /api/ms/install` creates the first superuser with the one-time token
 * `serve` printed, and `POST /api/ms/collections/check` validates a
 * collection draft (rules included) without saving it.
 */
export function installRoutes(server: FastifyInstance, app: App): void {
  server.post('/api/ms/install', async (request) => {
    const body = bodyObject(request);
    return app.install.complete(body.token, body);
  });

  server.post('/api/ms/collections/check', async (request) => {
    await requireSuperuser(app, request);
    const body = bodyObject(request);
    const target = body.target;
    if (target !== undefined && target !== null && (typeof target !== 'string' || target === '')) {
      throw Errors.invalidBody('target must be the id or name of a collection.');
    }
    const draft = body.collection ?? {};
    const built = await app.collections.check(typeof target === 'string' ? target : undefined, draft);
    return { collection: app.collections.toJSON(built) };
  });
}
