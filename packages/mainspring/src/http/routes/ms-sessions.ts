import type { FastifyInstance } from 'fastify';
import type { App } from '../../core/app.js';
import { peekToken } from '../../core/auth/tokens.js';
import { Errors } from '../../core/errors.js';
import { publicRecord } from '../../core/records/output.js';
import { SUPERUSERS } from '../../core/rules/request-info.js';
import { bearerToken, bodyObject, callerOf } from '../context.js';
import { clientIp, enforceRateLimit } from '../rate-limit.js';
import { superuserIpAllowed, superuserIpRefused } from '../superuser-ips.js';

/**
 * Mainspring's sessions, beside PocketBase's dialect:
 * - `POST /api/ms/sessions` (signed in): start a session, get a refresh token
 * - `POST /api/ms/sessions/refresh` `{refreshToken}`: trade it for new tokens
 * - `GET /api/ms/sessions`, `DELETE /api/ms/sessions/{id}`: see and end sessions
 * - `POST /api/ms/logout-all`: end every session and token of the caller
 */
export function sessionRoutes(server: FastifyInstance, app: App): void {
  const caller = async (request: Parameters<typeof callerOf>[1]) => {
    const auth = await callerOf(app, request);
    if (!auth) throw Errors.unauthorized();
    return auth;
  };

  server.post('/api/ms/sessions', async (request) => {
    const auth = await caller(request);
    // an impersonation token is meant to expire: it does not start a session that outlives it
    if (peekToken(bearerToken(request) ?? '')?.refreshable !== true) {
      throw Errors.forbidden('This token cannot start a session.');
    }
    const { token, refreshToken, session } = await app.sessions.create(auth, {
      ip: clientIp(app, request),
      userAgent: String(request.headers['user-agent'] ?? ''),
    });
    return { token, refreshToken, session };
  });

  server.post('/api/ms/sessions/refresh', async (request) => {
    await enforceRateLimit(app, request, ['refresh', 'auth']);
    const result = await app.sessions.refresh(bodyObject(request).refreshToken);
    if (result.collection.name === SUPERUSERS && !superuserIpAllowed(app, request)) throw superuserIpRefused();
    const self = {
      auth: { collection: result.collection, record: result.record },
      method: 'POST',
      context: 'default' as const,
      query: {},
      headers: {},
      body: {},
    };
    return { token: result.token, refreshToken: result.refreshToken, record: publicRecord(result.collection, result.record, self) };
  });

  server.get('/api/ms/sessions', async (request) => {
    const auth = await caller(request);
    const sid = peekToken(bearerToken(request) ?? '')?.sid;
    return { items: await app.sessions.list(auth, typeof sid === 'string' ? sid : undefined) };
  });

  server.delete<{ Params: { id: string } }>('/api/ms/sessions/:id', async (request, reply) => {
    const auth = await caller(request);
    await app.sessions.revoke(auth, request.params.id);
    return reply.status(204).send();
  });

  server.post('/api/ms/logout-all', async (request, reply) => {
    const auth = await caller(request);
    await app.auth.logoutEverywhere(auth);
    return reply.status(204).send();
  });
}
