import type { FastifyInstance } from 'fastify';
import type { App } from '../../core/app.js';
import { listCollections } from '../../core/collections/list.js';
import { Errors } from '../../core/errors.js';
import { bodyObject, queryOf, requireSuperuser } from '../context.js';

type Params = { collection: string };

/** The collections API, superusers only: list, view, create, update, delete, truncate, import, scaffolds. */
export function collectionRoutes(server: FastifyInstance, app: App): void {
  // with automigrate on, each change made here is written as a migration file (core/app-migrations)
  const recorded = <T>(change: () => Promise<T>) => (app.migrations ? app.migrations.recording(change) : change());

  server.get('/api/collections', async (request) => {
    await requireSuperuser(app, request);
    return listCollections(app.engine, app.collections, queryOf(request));
  });

  server.get<{ Params: Params }>('/api/collections/:collection', async (request) => {
    await requireSuperuser(app, request);
    const c = app.collections.registry.find(request.params.collection);
    if (!c) throw Errors.notFound();
    return app.collections.toJSON(c);
  });

  server.post('/api/collections', async (request) => {
    await requireSuperuser(app, request);
    return app.collections.toJSON(await recorded(() => app.collections.create(bodyObject(request))));
  });

  server.patch<{ Params: Params }>('/api/collections/:collection', async (request) => {
    await requireSuperuser(app, request);
    return app.collections.toJSON(await recorded(() => app.collections.update(request.params.collection, bodyObject(request))));
  });

  server.delete<{ Params: Params }>('/api/collections/:collection', async (request, reply) => {
    await requireSuperuser(app, request);
    await recorded(() => app.collections.delete(request.params.collection));
    return reply.status(204).send();
  });

  server.delete<{ Params: Params }>('/api/collections/:collection/truncate', async (request, reply) => {
    await requireSuperuser(app, request);
    const c = app.collections.registry.find(request.params.collection);
    if (!c) throw Errors.notFound();
    await app.records.truncate(c);
    return reply.status(204).send();
  });

  server.get('/api/collections/meta/scaffolds', async (request) => {
    await requireSuperuser(app, request);
    return app.collections.scaffolds();
  });

  server.put('/api/collections/import', async (request, reply) => {
    await requireSuperuser(app, request);
    await recorded(() => app.collections.importAll(bodyObject(request)));
    return reply.status(204).send();
  });
}
