import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { App } from '../core/app.js';
import { Errors } from '../core/errors.js';
import { ipListOf } from '../core/ip-lists.js';
import { isSuperuserAuth, SUPERUSERS } from '../core/rules/request-info.js';
import { bearerToken, callerOf } from './context.js';
import { clientIp } from './rate-limit.js';

/**
 * PocketBase's superuser IP allow-list (`superuserIPs` in the settings):
 * when it is not empty, a request from another address (the client address
 * as `trustedProxy` says, http/rate-limit.ts `clientIp`) gets a 403 when it
 * carries a superuser's token or names the superusers collection (its
 * sign-ins, password resets and records). Sign-ins that name their
 * collection in the body (passkeys, refresh sessions) are checked where
 * they end (`signedIn()`, the session refresh). An empty list lets every
 * address in, as PocketBase's does.
 */

/** Whether superusers may act from the request's address. */
export function superuserIpAllowed(app: App, request: FastifyRequest): boolean {
  const list = app.settings.get().superuserIPs;
  return list.length === 0 || ipListOf(list).has(clientIp(app, request));
}

/** The 403 of a superuser's request from an address the allow-list leaves out. */
export const superuserIpRefused = () => Errors.forbidden('Superusers may not sign in or act from this address.');

/** The root hook: before any route runs (and before a body is read), a superuser's request from elsewhere is refused. */
export function registerSuperuserIps(server: FastifyInstance, app: App): void {
  // a callback hook: with the list empty (the default) every request passes at once, without a promise
  server.addHook('onRequest', (request, _reply, done) => {
    if (superuserIpAllowed(app, request)) return done();
    refuseSuperusers(app, request).then(() => done(), done);
  });
}

/** Throws the 403 when the request is a superuser's, or is made to the superusers collection. */
async function refuseSuperusers(app: App, request: FastifyRequest): Promise<void> {
  const named = (request.params as { collection?: unknown } | undefined)?.collection;
  if (typeof named === 'string' && app.collections.registry.find(named)?.name === SUPERUSERS) throw superuserIpRefused();
  if (bearerToken(request) !== null && isSuperuserAuth(await callerOf(app, request))) throw superuserIpRefused();
}
