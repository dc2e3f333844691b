import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../core/app.js';
import type { AuthMethod } from '../../core/auth/service.js';
import type { Collection } from '../../core/collections/model.js';
import { passkeyOptionsOf } from '../../core/collections/passkey-options.js';
import { Errors } from '../../core/errors.js';
import { parseExpand, serializeWithExpand } from '../../core/records/expand.js';
import { checkFields, type FieldsPick } from '../../core/records/output.js';
import { type RecordData, type RequestInfo, SUPERUSERS } from '../../core/rules/request-info.js';
import { abandonSignal, bearerToken, bodyObject, callerOf, queryOf } from '../context.js';
import { fieldsOf } from '../fields.js';
import { clientIp, enforceRateLimit } from '../rate-limit.js';
import { superuserIpAllowed, superuserIpRefused } from '../superuser-ips.js';
import { requestLike } from './custom.js';

type Params = { collection: string };

/** The keys of a sign-in's answer, which its `fields` may name. */
const ANSWER_KEYS = new Set(['*', 'token', 'record', 'meta']);

/**
 * `{token, record}` after a sign-in: the MFA gate first, then the record as
 * the caller sees itself (email included), expanded as asked. `fields`
 * applies to the whole answer, as PocketBase's (`token,record.email`;
 * fields.ts picks it); as for records, it may name only what the answer
 * has, and its `record.` part only fields the caller sees. Every way of
 * signing in ends here (passkeys too: `ms-passkeys.ts`).
 */
export async function signedIn(
  app: App,
  request: FastifyRequest,
  c: Collection,
  record: RecordData,
  method: AuthMethod,
  token?: string,
  meta?: Record<string, unknown>,
) {
  // the allow-list's last word on every way of signing in (http/superuser-ips.ts)
  if (c.name === SUPERUSERS && !superuserIpAllowed(app, request)) throw superuserIpRefused();
  const body = typeof request.body === 'object' && request.body !== null ? (request.body as Record<string, unknown>) : {};
  const query = queryOf(request);
  await app.auth.secondFactor(c, record, method, body.mfaId ?? query.mfaId);
  if (method !== 'refresh') {
    // a new device gets its owner a login alert; after the answer, never failing it
    const ip = clientIp(app, request);
    const agent = String(request.headers['user-agent'] ?? '');
    setImmediate(() => {
      app.alerts
        .signedIn(c, record, ip, agent)
        .catch((err) => app.logger.error({ err: { message: (err as Error).message } }, 'login alert failed'));
    });
  }
  const answer = async (record: RecordData, token: string, meta?: Record<string, unknown>) => {
    const self: RequestInfo = { auth: { collection: c, record }, method: 'POST', context: 'default', query, headers: {}, body: {} };
    const expand = query.expand ? parseExpand(query.expand) : null;
    const pick = fieldsOf(request);
    for (const key of Object.keys(pick ?? {})) {
      if (!ANSWER_KEYS.has(key)) throw Errors.invalidQuery('fields', `unknown field "${key.slice(0, 50)}"`);
    }
    if (pick?.record && pick.record.leaf !== true) checkFields(pick.record as FieldsPick, c, self);
    const [out] = await serializeWithExpand(app.records.access, app.collections.registry, app.engine, c, [record], expand, self);
    return { token, record: out, ...(meta ? { meta } : {}) };
  };
  const hook = app.hooks.recordAuthRequest;
  const tags = [c.id, c.name];
  if (!hook.has(tags)) return answer(record, token ?? app.auth.newToken(c, record), meta);
  const e = {
    collection: c,
    request: requestLike(app, request),
    auth: await callerOf(app, request),
    authMethod: method,
    record,
    token: token ?? app.auth.newToken(c, record),
    meta,
  };
  let out: Awaited<ReturnType<typeof answer>> | undefined;
  await hook.trigger(
    e,
    async (ev) => {
      out = await answer(ev.record, ev.token, ev.meta);
    },
    tags,
  );
  // a handler that did not go on refused the sign-in
  if (!out) throw Errors.authFailed();
  return out;
}

type AuthRequest = FastifyRequest<{ Params: Params }>;

/** The auth collection the route names, once the request is within the rate limits of `tags` on it. */
export async function authCollectionFor(app: App, request: AuthRequest, ...tags: string[]): Promise<Collection> {
  const c = app.auth.authCollection(request.params.collection);
  await enforceRateLimit(app, request, tags, c.name);
  return c;
}

/** PocketBase's auth routes of auth collections, each rate limited by its tags: signing in, then the account flows. */
export function authRoutes(server: FastifyInstance, app: App): void {
  const base = '/api/collections/:collection';
  server.get<{ Params: Params }>(`${base}/auth-methods`, async (request) =>
    authMethods(app, await authCollectionFor(app, request, 'listAuthMethods')),
  );
  server.post<{ Params: Params }>(`${base}/auth-with-password`, (request, reply) => withPassword(app, request, reply));
  server.post<{ Params: Params }>(`${base}/auth-refresh`, (request) => refresh(app, request));

  server.post<{ Params: Params }>(`${base}/request-otp`, async (request) => {
    const c = await authCollectionFor(app, request, 'requestOTP', 'request');
    return app.otp.requestOtp(c, bodyObject(request).email);
  });

  server.post<{ Params: Params }>(`${base}/auth-with-otp`, async (request) => {
    const c = await authCollectionFor(app, request, 'authWithOTP', 'auth');
    const body = bodyObject(request);
    const record = await app.otp.authWithOtp(c, body.otpId, body.password);
    return signedIn(app, request, c, record, 'otp');
  });

  server.post<{ Params: Params & { id: string } }>(`${base}/impersonate/:id`, async (request) => {
    const c = app.auth.authCollection(request.params.collection);
    const auth = await callerOf(app, request);
    const info: RequestInfo = { auth, method: 'POST', context: 'default', query: {}, headers: {}, body: {} };
    const { record, token } = await app.auth.impersonate(info, c, request.params.id, bodyObject(request).duration);
    return signedIn(app, request, c, record, 'impersonate', token);
  });
  accountRoutes(server, app);
}

/** `auth-methods`: which ways of signing in the collection offers. */
async function authMethods(app: App, c: Collection) {
  const a = c.auth as NonNullable<Collection['auth']>;
  const providers = await app.oauth2.providers(c);
  return {
    // as PocketBase: a disabled method names no identity fields
    password: { enabled: a.passwordAuth.enabled, identityFields: a.passwordAuth.enabled ? a.passwordAuth.identityFields : [] },
    oauth2: { enabled: a.oauth2.enabled, providers },
    mfa: { enabled: a.mfa.enabled, duration: a.mfa.enabled ? a.mfa.duration : 0 },
    otp: { enabled: a.otp.enabled, duration: a.otp.enabled ? a.otp.duration : 0 },
    // Mainspring's (/api/ms/passkeys/{collection}), named only where enabled: PocketBase's answer stays as it was
    ...(passkeyOptionsOf(a).enabled ? { passkeys: { enabled: true } } : {}),
  };
}

/** `auth-with-password`, through its request hook when one listens (which may change the identity, or refuse). */
async function withPassword(app: App, request: AuthRequest, reply: FastifyReply) {
  const c = await authCollectionFor(app, request, 'authWithPassword', 'auth');
  const body = bodyObject(request);
  const signIn = (identity: unknown, password: unknown, identityField: unknown) =>
    app.auth.withPassword(c, identity, password, { identityField, ip: clientIp(app, request), signal: abandonSignal(reply) });
  const hook = app.hooks.recordAuthWithPasswordRequest;
  const tags = [c.id, c.name];
  if (!hook.has(tags)) return signedIn(app, request, c, await signIn(body.identity, body.password, body.identityField), 'password');
  const e = {
    collection: c,
    request: requestLike(app, request),
    auth: await callerOf(app, request),
    identity: typeof body.identity === 'string' ? body.identity : '',
    identityField: typeof body.identityField === 'string' ? body.identityField : '',
    password: typeof body.password === 'string' ? body.password : '',
    record: null as RecordData | null,
  };
  await hook.trigger(
    e,
    async (ev) => {
      ev.record = await signIn(ev.identity, ev.password, ev.identityField || body.identityField);
    },
    tags,
  );
  if (!e.record) throw Errors.authFailed();
  return signedIn(app, request, c, e.record, 'password');
}

/** `auth-refresh`: a new token for the caller's own record. */
async function refresh(app: App, request: AuthRequest) {
  // as PocketBase: an unknown collection is a 404, then no token a 401 (even on a base collection), then another collection's token a 403
  const target = app.collections.registry.find(request.params.collection);
  if (!target) throw Errors.notFound('Missing or invalid auth collection context.');
  const auth = await callerOf(app, request);
  if (!auth) throw Errors.unauthorized();
  if (auth.collection.id !== target.id) throw Errors.forbidden('The authorized record is not allowed to perform this action.');
  const c = await authCollectionFor(app, request, 'authRefresh');
  const { record, token } = await app.auth.refresh(c, auth, bearerToken(request));
  return signedIn(app, request, c, record, 'refresh', token);
}

/** The account flows: verification, password reset and email change, each a request (a mail) and a confirmation. */
function accountRoutes(server: FastifyInstance, app: App): void {
  const base = '/api/collections/:collection';
  server.post<{ Params: Params }>(`${base}/request-verification`, async (request, reply) => {
    const c = await authCollectionFor(app, request, 'requestVerification', 'request');
    app.recovery.requestVerification(c, bodyObject(request).email);
    return reply.status(204).send();
  });

  server.post<{ Params: Params }>(`${base}/confirm-verification`, async (request, reply) => {
    const c = await authCollectionFor(app, request, 'confirmVerification', 'confirm');
    await app.recovery.confirmVerification(c, bodyObject(request).token);
    return reply.status(204).send();
  });

  server.post<{ Params: Params }>(`${base}/request-password-reset`, async (request, reply) => {
    const c = await authCollectionFor(app, request, 'requestPasswordReset', 'request');
    app.recovery.requestPasswordReset(c, bodyObject(request).email);
    return reply.status(204).send();
  });

  server.post<{ Params: Params }>(`${base}/confirm-password-reset`, async (request, reply) => {
    const c = await authCollectionFor(app, request, 'confirmPasswordReset', 'confirm');
    const body = bodyObject(request);
    await app.recovery.confirmPasswordReset(c, body.token, body.password, body.passwordConfirm);
    return reply.status(204).send();
  });

  server.post<{ Params: Params }>(`${base}/request-email-change`, async (request, reply) => {
    const c = await authCollectionFor(app, request, 'requestEmailChange', 'request');
    const auth = await callerOf(app, request);
    if (!auth) throw Errors.unauthorized();
    if (auth.collection.id !== c.id) throw Errors.forbidden('The authorized record is not allowed to perform this action.');
    await app.recovery.requestEmailChange(c, auth.record, bodyObject(request).newEmail);
    return reply.status(204).send();
  });

  server.post<{ Params: Params }>(`${base}/confirm-email-change`, async (request, reply) => {
    const c = await authCollectionFor(app, request, 'confirmEmailChange', 'confirm');
    const body = bodyObject(request);
    await app.recovery.confirmEmailChange(c, body.token, body.password);
    return reply.status(204).send();
  });
}
