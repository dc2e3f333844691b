import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { App } from '../../core/app.js';
import type { ValueSource } from '../../core/collections/fields.js';
import { bodyObject, queryOf, requestInfo } from '../context.js';

type Params = { collection: string; id: string };

/** Where a body's values came from: typed JSON, or strings of a form. */
export function sourceOf(request: FastifyRequest): ValueSource {
  const type = request.headers['content-type'] ?? '';
  return type.includes('json') || type === '' ? 'json' : 'form';
}

/** The record CRUD routes: `/api/collections/:collection/records[/:id]`. */
export function recordRoutes(server: FastifyInstance, app: App): void {
  const base = '/api/collections/:collection/records';

  server.get<{ Params: Params }>(base, async (request) => {
    const c = app.records.collection(request.params.collection);
    return app.records.list(c, queryOf(request), await requestInfo(app, request));
  });

  server.get<{ Params: Params }>(`${base}/:id`, async (request) => {
    const c = app.records.collection(request.params.collection);
    return app.records.view(c, request.params.id, queryOf(request), await requestInfo(app, request));
  });

  server.post<{ Params: Params }>(base, async (request) => {
    const c = app.records.collection(request.params.collection);
    const data = bodyObject(request);
    return app.records.create(c, { data, source: sourceOf(request) }, queryOf(request), await requestInfo(app, request));
  });

  server.patch<{ Params: Params }>(`${base}/:id`, async (request) => {
    const c = app.records.collection(request.params.collection);
    const data = bodyObject(request);
    return app.records.update(c, request.params.id, { data, source: sourceOf(request) }, queryOf(request), await requestInfo(app, request));
  });

  server.delete<{ Params: Params }>(`${base}/:id`, async (request, reply) => {
    const c = app.records.collection(request.params.collection);
    await app.records.delete(c, request.params.id, await requestInfo(app, request));
    return reply.status(204).send();
  });
}
