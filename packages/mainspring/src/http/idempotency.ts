import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../core/app.js';
import { Errors } from '../core/errors.js';
import { IdempotencyStore } from '../core/idempotency.js';
import { callerOf } from './context.js';
import { clientIp } from './rate-limit.js';

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Printable ASCII, as the IETF draft and Stripe accept. */
const KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * `Idempotency-Key` on record writes, batch and custom routes (core/idempotency.ts): the
 * first request with a key runs and its answer (any status below 500) is
 * kept; a repeat gets that answer again with `Idempotent-Replayed: true`; the
 * key with another request is a 422; a repeat while the first still runs
 * waits for its answer (409 after 10 s). A 5xx gives the key up, so a retry
 * runs, unless its write committed. A key whose instance died is answered at
 * once: run, or a 409 when its write committed (core/idempotency.ts).
 * Registered inside the plugin of the routes that honour it (server.ts), so
 * its hooks run for those routes only.
 */
export function registerIdempotency(server: FastifyInstance, app: App): void {
  const store = app.idempotency;
  const claimed = new WeakMap<FastifyRequest, string>();

  /** Claims the request's key; true when the answer was sent from the store (a replay). */
  const claim = async (request: FastifyRequest, reply: FastifyReply, raw: string | string[]): Promise<boolean> => {
    const key = Array.isArray(raw) ? raw[0] : raw;
    if (typeof key !== 'string' || !KEY.test(key)) {
      throw Errors.badRequest('Idempotency-Key must be 1 to 255 printable ASCII characters.');
    }
    const auth = await callerOf(app, request);
    const caller = auth ? `${auth.collection.id}/${auth.record.id}` : `guest/${clientIp(app, request)}`;
    const id = IdempotencyStore.id(caller, `${request.method} ${request.url}`, key);
    const claim = await store.claim(id, IdempotencyStore.fingerprint(request.method, request.url, request.body));
    switch (claim.kind) {
      case 'run':
        claimed.set(request, id);
        return false;
      case 'replay':
        reply.header('idempotent-replayed', 'true');
        if (claim.body === '') reply.code(claim.status).send();
        else reply.code(claim.status).type('application/json; charset=utf-8').send(claim.body);
        return true;
      case 'mismatch':
        throw Errors.idempotencyMismatch();
      case 'busy':
        throw Errors.idempotencyInProgress();
      case 'done':
        throw Errors.idempotencyDone();
    }
  };

  // Callback-style hooks that return at once for the requests without a key (nearly all, and every
  // read): an async hook costs a promise and a turn of the microtask queue on every request.
  server.addHook('preHandler', (request, reply, done) => {
    const raw = request.headers['idempotency-key'];
    if (raw === undefined || !WRITES.has(request.method)) return done();
    // a replay has answered: the chain stops there, as Fastify's callback hooks do after reply.send()
    claim(request, reply, raw).then((replied) => {
      if (replied) return;
      // the handler runs inside the claim's scope: each transaction it opens marks the claim (core/idempotency.ts)
      const id = claimed.get(request);
      if (id === undefined) done();
      else store.within(id, done);
    }, done);
  });

  server.addHook('onSend', (request, reply, payload, done) => {
    const id = claimed.get(request);
    if (id === undefined) return done(null, payload);
    claimed.delete(request);
    const stored =
      reply.statusCode >= 500 ? store.release(id) : store.complete(id, reply.statusCode, typeof payload === 'string' ? payload : '');
    stored.then(() => done(null, payload), done);
  });

  // a request that ended without an answer (its client went away) gives its key up
  server.addHook('onResponse', (request, _reply, done) => {
    const id = claimed.get(request);
    if (id === undefined) return done();
    claimed.delete(request);
    store.release(id).then(() => done(), done);
  });
}
