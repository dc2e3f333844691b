import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../core/app.js';
import type { OAuth2Attempt, OAuth2Request } from '../../core/auth/oauth2/service.js';
import type { Collection } from '../../core/collections/model.js';
import { Errors } from '../../core/errors.js';
import { isObject } from '../../core/json.js';
import { bodyObject, callerOf, requestInfo } from '../context.js';
import { authCollectionFor, signedIn } from './auth.js';
import { requestLike } from './custom.js';

type Params = { collection: string };

/** The topic the SDK's all-in-one flow waits on, PocketBase's. */
const OAUTH2_TOPIC = '@oauth2';

/**
 * OAuth2 sign-in routes (PocketBase's): `auth-with-oauth2`, which ends in
 * `signedIn()` like every sign-in, and `/api/oauth2-redirect`, the page a
 * provider sends the user back to in the SDK's all-in-one flow, which hands
 * the code to the waiting client over realtime.
 */
export function oauth2Routes(server: FastifyInstance, app: App): void {
  server.post<{ Params: Params }>('/api/collections/:collection/auth-with-oauth2', async (request) => {
    const c = await authCollectionFor(app, request, 'authWithOAuth2', 'auth');
    const req: OAuth2Request = {
      body: bodyObject(request),
      caller: await callerOf(app, request),
      info: await requestInfo(app, request),
      ownRedirect: ownRedirect(request),
    };
    const attempt = await app.oauth2.attempt(c, req);
    const record = await throughHook(app, request, c, attempt, req);
    const { oauth2User: u } = attempt;
    const meta = {
      id: u.id,
      name: u.name,
      username: u.username,
      email: u.email,
      avatarURL: u.avatarURL,
      accessToken: u.accessToken,
      refreshToken: u.refreshToken,
      expiry: u.expiry,
      rawUser: u.rawUser,
      isNew: attempt.isNewRecord,
    };
    return signedIn(app, request, c, record, 'oauth2', undefined, meta);
  });

  const redirect = (request: FastifyRequest, reply: FastifyReply) => redirectPage(app, request, reply);
  server.get('/api/oauth2-redirect', redirect);
  server.post('/api/oauth2-redirect', redirect);
}

/** This server's redirect page as the request reached it. */
function ownRedirect(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}/api/oauth2-redirect`;
}

/** Links or creates the account through `onRecordAuthWithOAuth2Request`, which may change the attempt or refuse it. */
async function throughHook(app: App, request: FastifyRequest, c: Collection, attempt: OAuth2Attempt, req: OAuth2Request) {
  const hook = app.hooks.recordAuthWithOAuth2Request;
  const tags = [c.id, c.name];
  if (!hook.has(tags)) return app.oauth2.complete(c, attempt, req);
  const e = {
    collection: c,
    request: requestLike(app, request),
    auth: req.caller,
    providerName: attempt.providerName,
    oauth2User: attempt.oauth2User,
    createData: attempt.createData,
    record: attempt.record,
    isNewRecord: attempt.isNewRecord,
  };
  let done: Awaited<ReturnType<typeof app.oauth2.complete>> | undefined;
  await hook.trigger(
    e,
    async (ev) => {
      const next = { ...attempt, oauth2User: ev.oauth2User, createData: ev.createData, record: ev.record, isNewRecord: ev.record === null };
      Object.assign(attempt, next);
      done = await app.oauth2.complete(c, next, req);
    },
    tags,
  );
  // a handler that did not go on refused the sign-in
  if (!done) throw Errors.authFailed();
  return done;
}

const PAGE_OK = 'Signed in. You can close this window and go back to the app.';
const PAGE_FAILED = 'Failed to sign in. You can close this window and go back to the app to try again.';

/**
 * `/api/oauth2-redirect`: the provider's answer (`state`, `code` or
 * `error`, by query or Apple's form_post) goes to the realtime client whose
 * id is the state, once, if it waits on `@oauth2`; anything else is the
 * failure page and reaches no one.
 */
async function redirectPage(app: App, request: FastifyRequest, reply: FastifyReply) {
  const raw: Record<string, unknown> =
    request.method === 'POST' && isObject(request.body) ? request.body : (request.query as Record<string, unknown>);
  const text = (v: unknown) => (typeof v === 'string' && v.length <= 4000 ? v : '');
  const state = text(raw.state);
  const code = text(raw.code);
  const error = text(raw.error).slice(0, 200);
  const page = (ok: boolean) =>
    reply
      // 200 either way, as PocketBase's page without its UI: the text tells the person, the SDK hears through realtime
      .status(200)
      .header('content-type', 'text/plain; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(ok ? PAGE_OK : PAGE_FAILED);
  if (state === '') return page(false);
  if (code !== '' && error === '') {
    // Apple sends the name once, as JSON beside the code
    try {
      const user = JSON.parse(text(raw.user) || '{}') as { name?: { firstName?: unknown; lastName?: unknown } };
      const name = [user.name?.firstName, user.name?.lastName]
        .filter((p) => typeof p === 'string')
        .join(' ')
        .trim();
      app.oauth2.rememberRedirectName(code, name);
    } catch {
      // no name then
    }
  }
  const sent = app.realtime.sendOnce(state, OAUTH2_TOPIC, JSON.stringify({ state, code, ...(error ? { error } : {}) }));
  return page(sent && code !== '' && error === '');
}
