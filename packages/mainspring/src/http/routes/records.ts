import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../core/app.js';
import type { ValueSource } from '../../core/collections/fields.js';
import type { Collection } from '../../core/collections/model.js';
import type { RateLimiter } from '../../core/rate-limits.js';
import { isSuperuser, type RequestInfo } from '../../core/rules/request-info.js';
import { bodyObject, callerOf, queryOf, requestInfo } from '../context.js';
import { clientIp, enforceRateLimit } from '../rate-limit.js';
import { withUploads } from '../uploads.js';
import { requestLike } from './custom.js';

type Params = { collection: string; id: string };

/** Who takes turns for a request's reads: its auth record, else its address. */
function callerKey(app: App, request: FastifyRequest, info: RequestInfo): string {
  const auth = info.auth;
  return auth ? `${auth.collection.id}/${auth.record.id}` : `ip ${clientIp(app, request)}`;
}

/** Where a body's values came from: typed JSON, or strings of a form. */
export function sourceOf(request: FastifyRequest): ValueSource {
  const type = request.headers['content-type'] ?? '';
  return type.includes('json') || type === '' ? 'json' : 'form';
}

/**
 * The rate-limit tags of a record action, PocketBase's (`list`, `view`,
 * `create`, `update`, `delete`), and `signup` before `create` on an auth
 * collection, so sign-ups have a rule of their own (`*:signup`).
 */
export function recordActionTags(c: Collection, action: 'list' | 'view' | 'create' | 'update' | 'delete'): string[] {
  return action === 'create' && c.type === 'auth' ? ['signup', 'create'] : [action];
}

/** The record CRUD routes: `/api/collections/:collection/records[/:id]`. */
export function recordRoutes(server: FastifyInstance, app: App, limiter: RateLimiter): void {
  const base = '/api/collections/:collection/records';
  const limit = (request: FastifyRequest, c: Collection, action: Parameters<typeof recordActionTags>[1]) =>
    enforceRateLimit(app, limiter, request, recordActionTags(c, action), c.name);
  // records apply `fields` themselves, refusing names the caller cannot see
  const own = { config: { ownFields: true } };

  const hooks = app.hooks;
  const tags = (c: Collection) => [c.id, c.name];
  const who = async (c: Collection, request: FastifyRequest) => ({
    collection: c,
    request: requestLike(app, request),
    auth: await callerOf(app, request),
  });

  server.get<{ Params: Params }>(base, own, async (request) => {
    const c = app.records.collection(request.params.collection);
    await limit(request, c, 'list');
    const info = await requestInfo(app, request);
    // a list may be slow: each caller takes turns (core/fair-share.ts); superusers do not wait
    const result = isSuperuser(info)
      ? await app.records.list(c, queryOf(request), info)
      : await app.fairShare.run(callerKey(app, request, info), () => app.records.list(c, queryOf(request), info));
    if (!hooks.recordsListRequest.has(tags(c))) return result;
    const e = { ...(await who(c, request)), result };
    await hooks.recordsListRequest.trigger(e, () => {}, tags(c));
    return e.result;
  });

  server.get<{ Params: Params }>(`${base}/:id`, own, async (request) => {
    const c = app.records.collection(request.params.collection);
    await limit(request, c, 'view');
    const record = await app.records.view(c, request.params.id, queryOf(request), await requestInfo(app, request));
    if (!hooks.recordViewRequest.has(tags(c))) return record;
    const e = { ...(await who(c, request)), record };
    await hooks.recordViewRequest.trigger(e, () => {}, tags(c));
    return e.record;
  });

  /** A create or an update, through its request hook when one listens: the hook may change the body, or answer itself. */
  const written = async (
    hook: typeof hooks.recordCreateRequest,
    c: Collection,
    id: string | null,
    request: FastifyRequest,
    reply: FastifyReply,
    write: (data: Record<string, unknown>) => Promise<Record<string, unknown>>,
  ) => {
    if (!hook.has(tags(c))) return write(bodyObject(request));
    const e = { ...(await who(c, request)), id, body: bodyObject(request), record: null as Record<string, unknown> | null };
    await hook.trigger(
      e,
      async (ev) => {
        ev.record = await write(ev.body);
      },
      tags(c),
    );
    return e.record ?? reply.status(204).send();
  };

  server.post<{ Params: Params }>(base, own, async (request, reply) => {
    const c = app.records.collection(request.params.collection);
    await limit(request, c, 'create');
    // uploads the write did not keep, or whose transaction did not commit, are removed when it ends
    return withUploads(request, () =>
      written(hooks.recordCreateRequest, c, null, request, reply, async (data) =>
        app.records.create(c, { data, source: sourceOf(request) }, queryOf(request), await requestInfo(app, request)),
      ),
    );
  });

  server.patch<{ Params: Params }>(`${base}/:id`, own, async (request, reply) => {
    const c = app.records.collection(request.params.collection);
    await limit(request, c, 'update');
    const id = request.params.id;
    return withUploads(request, () =>
      written(hooks.recordUpdateRequest, c, id, request, reply, async (data) =>
        app.records.update(c, id, { data, source: sourceOf(request) }, queryOf(request), await requestInfo(app, request)),
      ),
    );
  });

  server.delete<{ Params: Params }>(`${base}/:id`, async (request, reply) => {
    const c = app.records.collection(request.params.collection);
    await limit(request, c, 'delete');
    const id = request.params.id;
    const remove = async () => app.records.delete(c, id, await requestInfo(app, request));
    if (!hooks.recordDeleteRequest.has(tags(c))) await remove();
    else await hooks.recordDeleteRequest.trigger({ ...(await who(c, request)), id }, remove, tags(c));
    return reply.status(204).send();
  });
}
