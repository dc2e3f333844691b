import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../core/app.js';
import type { Collection } from '../../core/collections/model.js';
import type { ValueSource } from '../../core/fields/index.js';
import { isSuperuser, type RequestInfo } from '../../core/rules/request-info.js';
import { bodyObject, callerOf, queryOf, requestInfo } from '../context.js';
import { clientIp, enforceRateLimit } from '../rate-limit.js';
import { withUploads } from '../uploads.js';
import { requestLike } from './custom.js';

type Params = { collection: string; id: string };

/** Who takes turns for a request's reads: its auth record, else its address. */
export function callerKey(app: App, request: FastifyRequest, info: RequestInfo): string {
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

type RecordRequest = FastifyRequest<{ Params: Params }>;
type Action = Parameters<typeof recordActionTags>[1];

/** The record CRUD routes: `/api/collections/:collection/records[/:id]`. */
export function recordRoutes(server: FastifyInstance, app: App): void {
  const base = '/api/collections/:collection/records';
  // records apply `fields` themselves, refusing names the caller cannot see
  const own = { config: { ownFields: true } };
  server.get<{ Params: Params }>(base, own, (request) => listRecords(app, request));
  server.get<{ Params: Params }>(`${base}/:id`, own, (request) => viewRecord(app, request));
  server.post<{ Params: Params }>(base, own, (request, reply) => createRecord(app, request, reply));
  server.patch<{ Params: Params }>(`${base}/:id`, own, (request, reply) => updateRecord(app, request, reply));
  server.delete<{ Params: Params }>(`${base}/:id`, (request, reply) => deleteRecord(app, request, reply));
}

/** The collection the route names, once the request is within the rate limit of `action` on it. */
async function collectionFor(app: App, request: RecordRequest, action: Action): Promise<Collection> {
  const c = app.records.collection(request.params.collection);
  await enforceRateLimit(app, request, recordActionTags(c, action), c.name);
  return c;
}

const tags = (c: Collection) => [c.id, c.name];

/** What every record request hook is told: the collection, the request and its caller. */
async function who(app: App, c: Collection, request: FastifyRequest) {
  return { collection: c, request: requestLike(app, request), auth: await callerOf(app, request) };
}

async function listRecords(app: App, request: RecordRequest) {
  const c = await collectionFor(app, request, 'list');
  const info = await requestInfo(app, request);
  // a list may be slow: each caller takes turns (core/fair-share.ts); superusers do not wait
  const result = isSuperuser(info)
    ? await app.records.list(c, queryOf(request), info)
    : await app.fairShare.run(callerKey(app, request, info), () => app.records.list(c, queryOf(request), info));
  const hook = app.hooks.recordsListRequest;
  if (!hook.has(tags(c))) return result;
  const e = { ...(await who(app, c, request)), result };
  await hook.trigger(e, () => {}, tags(c));
  return e.result;
}

async function viewRecord(app: App, request: RecordRequest) {
  const c = await collectionFor(app, request, 'view');
  const record = await app.records.view(c, request.params.id, queryOf(request), await requestInfo(app, request));
  const hook = app.hooks.recordViewRequest;
  if (!hook.has(tags(c))) return record;
  const e = { ...(await who(app, c, request)), record };
  await hook.trigger(e, () => {}, tags(c));
  return e.record;
}

async function createRecord(app: App, request: RecordRequest, reply: FastifyReply) {
  const c = await collectionFor(app, request, 'create');
  // uploads the write did not keep, or whose transaction did not commit, are removed when it ends
  return withUploads(request, () =>
    written(app, app.hooks.recordCreateRequest, c, null, request, reply, async (data) =>
      app.records.create(c, { data, source: sourceOf(request) }, queryOf(request), await requestInfo(app, request)),
    ),
  );
}

async function updateRecord(app: App, request: RecordRequest, reply: FastifyReply) {
  const c = await collectionFor(app, request, 'update');
  const id = request.params.id;
  return withUploads(request, () =>
    written(app, app.hooks.recordUpdateRequest, c, id, request, reply, async (data) =>
      app.records.update(c, id, { data, source: sourceOf(request) }, queryOf(request), await requestInfo(app, request)),
    ),
  );
}

async function deleteRecord(app: App, request: RecordRequest, reply: FastifyReply) {
  const c = await collectionFor(app, request, 'delete');
  const id = request.params.id;
  const remove = async () => app.records.delete(c, id, await requestInfo(app, request));
  const hook = app.hooks.recordDeleteRequest;
  if (!hook.has(tags(c))) await remove();
  else await hook.trigger({ ...(await who(app, c, request)), id }, remove, tags(c));
  return reply.status(204).send();
}

/** A create or an update, through its request hook when one listens: the hook may change the body, or answer itself. */
async function written(
  app: App,
  hook: App['hooks']['recordCreateRequest'],
  c: Collection,
  id: string | null,
  request: FastifyRequest,
  reply: FastifyReply,
  write: (data: Record<string, unknown>) => Promise<Record<string, unknown>>,
) {
  if (!hook.has(tags(c))) return write(bodyObject(request));
  const e = { ...(await who(app, c, request)), id, body: bodyObject(request), record: null as Record<string, unknown> | null };
  await hook.trigger(
    e,
    async (ev) => {
      ev.record = await write(ev.body);
    },
    tags(c),
  );
  return e.record ?? reply.status(204).send();
}
