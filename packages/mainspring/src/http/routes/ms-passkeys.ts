import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { App } from '../../core/app.js';
import type { Collection } from '../../core/collections/model.js';
import { Errors } from '../../core/errors.js';
import { isSuperuserAuth, type RecordData } from '../../core/rules/request-info.js';
import { bodyObject, callerOf, queryOf } from '../context.js';
import { enforceRateLimit } from '../rate-limit.js';
import { signedIn } from './auth.js';

type Params = { collection: string };
type PasskeyRequest = FastifyRequest<{ Params: Params }>;

/**
 * Passkeys (WebAuthn), beside PocketBase's dialect, per auth collection
 * whose `passkeys` option is enabled:
 * - `POST …/registration-options`, then `POST …/register` `{credential, name?}`: add a passkey (signed in)
 * - `POST …/authentication-options`, then `POST …/auth-with-passkey` `{credential, mfaId?}`: sign in, as any
 *   sign-in answers (`{token, record}`, or the 401 `{mfaId}` of MFA)
 * - `GET …`, `PATCH …/{id}` `{name}`, `DELETE …/{id}`: the caller's passkeys (a superuser's: any record's, `?recordId=`)
 * where `…` is `/api/ms/passkeys/{collection}`.
 */
export function passkeyRoutes(server: FastifyInstance, app: App): void {
  const base = '/api/ms/passkeys/:collection';

  server.post<{ Params: Params }>(`${base}/registration-options`, async (request) => {
    const { c, record } = await signedInto(app, request);
    await enforceRateLimit(app, request, ['registerPasskey', 'auth'], c.name);
    return app.passkeys.registrationOptions(c, record);
  });

  server.post<{ Params: Params }>(`${base}/register`, async (request) => {
    const { c, record } = await signedInto(app, request);
    await enforceRateLimit(app, request, ['registerPasskey', 'auth'], c.name);
    return app.passkeys.register(c, record, bodyObject(request));
  });

  server.post<{ Params: Params }>(`${base}/authentication-options`, async (request) => {
    const c = app.auth.authCollection(request.params.collection);
    await enforceRateLimit(app, request, ['authWithPasskey', 'auth'], c.name);
    return app.passkeys.authenticationOptions(c);
  });

  server.post<{ Params: Params }>(`${base}/auth-with-passkey`, async (request) => {
    const c = app.auth.authCollection(request.params.collection);
    await enforceRateLimit(app, request, ['authWithPasskey', 'auth'], c.name);
    const record = await app.passkeys.authenticate(c, bodyObject(request));
    return signedIn(app, request, c, record, 'passkey');
  });

  server.get<{ Params: Params }>(base, async (request) => {
    const { c, recordId } = await whosePasskeys(app, request);
    return { items: await app.passkeys.list(c, recordId) };
  });

  server.patch<{ Params: Params & { id: string } }>(`${base}/:id`, async (request) => {
    const { c, recordId } = await whosePasskeys(app, request);
    return app.passkeys.rename(c, recordId, request.params.id, bodyObject(request).name);
  });

  server.delete<{ Params: Params & { id: string } }>(`${base}/:id`, async (request, reply) => {
    const { c, recordId } = await whosePasskeys(app, request);
    await app.passkeys.remove(c, recordId, request.params.id);
    return reply.status(204).send();
  });
}

/** The route's auth collection and the caller, who must be signed in as a record of it. */
async function signedInto(app: App, request: PasskeyRequest): Promise<{ c: Collection; record: RecordData }> {
  const c = app.auth.authCollection(request.params.collection);
  const auth = await callerOf(app, request);
  if (!auth) throw Errors.unauthorized();
  if (auth.collection.id !== c.id) throw Errors.forbidden('The authorized record is not allowed to perform this action.');
  return { c, record: auth.record };
}

/** Whose passkeys a request is about: the caller's own, or for a superuser the record `?recordId=` names. */
async function whosePasskeys(app: App, request: PasskeyRequest): Promise<{ c: Collection; recordId: string }> {
  const c = app.auth.authCollection(request.params.collection);
  const auth = await callerOf(app, request);
  if (!auth) throw Errors.unauthorized();
  const asked = queryOf(request).recordId;
  if (asked !== undefined && asked !== '' && isSuperuserAuth(auth)) {
    if (asked.length > 100) throw Errors.invalidQuery('recordId', 'too long');
    return { c, recordId: asked };
  }
  if (auth.collection.id !== c.id) throw Errors.forbidden('The authorized record is not allowed to perform this action.');
  return { c, recordId: auth.record.id };
}
