import type { FastifyInstance } from 'fastify';
import type { App } from '../../core/app.js';
import type { Collection } from '../../core/collections/model.js';
import { Errors } from '../../core/errors.js';
import { parseExpand, serializeWithExpand } from '../../core/records/expand.js';
import { checkFields, parseFields, pickFields } from '../../core/records/output.js';
import type { RecordData, RequestInfo } from '../../core/rules/request-info.js';
import { bodyObject, callerOf, queryOf, requestInfo } from '../context.js';

type Params = { collection: string };

function authCollection(app: App, idOrName: string): Collection {
  const c = app.records.collection(idOrName);
  if (c.type !== 'auth' || !c.auth) throw Errors.badRequest('The collection is not an auth collection.');
  return c;
}

/** `{token, record}` with the record expanded and picked as the query asks. */
async function authResponse(app: App, c: Collection, record: RecordData, query: Record<string, string>) {
  const self: RequestInfo = { auth: { collection: c, record }, method: 'POST', context: 'password', query, headers: {}, body: {} };
  const { token } = app.auth.response(c, record);
  const expand = query.expand ? parseExpand(query.expand) : null;
  const fields = query.fields ? parseFields(query.fields) : null;
  if (fields) checkFields(fields, c, self);
  const [out] = await serializeWithExpand(app.records.access, app.collections.registry, app.engine, c, [record], expand, self);
  return { token, record: fields ? pickFields(out, fields) : out };
}

/** The auth routes of auth collections (password sign-in, refresh, methods). */
export function authRoutes(server: FastifyInstance, app: App): void {
  const base = '/api/collections/:collection';

  server.get<{ Params: Params }>(`${base}/auth-methods`, async (request) => {
    const c = authCollection(app, request.params.collection);
    const a = c.auth as NonNullable<Collection['auth']>;
    return {
      password: { enabled: a.passwordAuth.enabled, identityFields: a.passwordAuth.identityFields },
      oauth2: { enabled: false, providers: [] },
      mfa: { enabled: a.mfa.enabled, duration: a.mfa.enabled ? a.mfa.duration : 0 },
      otp: { enabled: a.otp.enabled, duration: a.otp.enabled ? a.otp.duration : 0 },
    };
  });

  server.post<{ Params: Params }>(`${base}/auth-with-password`, async (request) => {
    const c = authCollection(app, request.params.collection);
    const body = bodyObject(request);
    const { record } = await app.auth.withPassword(c, body.identity, body.password, body.identityField);
    return authResponse(app, c, record, queryOf(request));
  });

  server.post<{ Params: Params }>(`${base}/auth-refresh`, async (request) => {
    const c = authCollection(app, request.params.collection);
    const auth = await callerOf(app, request);
    if (auth && auth.collection.id !== c.id) throw Errors.forbidden('The authorized record is not allowed to perform this action.');
    const record = await app.auth.refresh(c, auth);
    await requestInfo(app, request);
    return authResponse(app, c, record, queryOf(request));
  });
}
