import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { App } from '../core/app.js';
import { clientIp } from './rate-limit.js';

/**
 * Who a request's caller is, for an engine that reads from standbys
 * (`Engine.asCaller`): the record its token names, else the client's
 * address. The token is read, not verified: a forged one only chooses
 * where its own reads run (a standby or the primary), and the routes check
 * it as ever. Its record, not the token itself, so a refreshed token reads
 * the writes made with the one before.
 */
export function callerKey(app: App, request: FastifyRequest): string {
  const header = request.headers.authorization;
  const token = typeof header === 'string' ? header.replace(/^Bearer\s+/i, '') : '';
  const payload = token.split('.')[1];
  if (payload) {
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { id?: unknown; collectionId?: unknown };
      if (typeof claims.id === 'string' && typeof claims.collectionId === 'string') return `record:${claims.collectionId}/${claims.id}`;
    } catch {
      // not a token of ours: the address decides
    }
  }
  return `address:${clientIp(app, request)}`;
}

/**
 * Runs each request as its caller where the engine has standbys, so its
 * reads see its own writes (storage/postgres/replicas.ts). Nothing is added
 * where the engine has none.
 */
export function registerCallers(server: FastifyInstance, app: App): void {
  const asCaller = app.engine.asCaller?.bind(app.engine);
  if (!asCaller) return;
  const callers = new WeakMap<FastifyRequest, string>();
  const enter = (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    let caller = callers.get(request);
    if (caller === undefined) {
      caller = callerKey(app, request);
      callers.set(request, caller);
    }
    asCaller(caller, done);
  };
  server.addHook('onRequest', enter);
  // a body is read in the socket's async context, which is not the caller's: entered again once it is parsed
  server.addHook('preValidation', enter);
}
