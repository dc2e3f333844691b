import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../core/app.js';
import type { RequestLike } from '../../core/hooks/events.js';
import { Hook } from '../../core/hooks/hook.js';
import type { CustomRoute, RouteEvent } from '../../core/hooks/registry.js';
import { callerOf, queryOf } from '../context.js';
import { clientIp, enforceRateLimit } from '../rate-limit.js';

/** What hooks see of a request. */
export function requestLike(app: App, request: FastifyRequest): RequestLike {
  return { method: request.method, url: request.url, ip: clientIp(app, request), headers: request.headers };
}

/**
 * The routes hooks added with `routerAdd`: middlewares, then the handler,
 * as one chain. Errors answer in PocketBase's shape (the server's error
 * handler), rate limits with a path label apply, and a route that clashes
 * with another fails at start-up with Fastify's message.
 */
export function customRoutes(server: FastifyInstance, app: App): void {
  for (const route of app.hooks.routes) {
    const chain = new Hook<RouteEvent>();
    for (const mw of route.middlewares) chain.bind(async (e) => void (await mw(e)));
    try {
      server.route({
        method: route.method,
        url: route.path,
        handler: async (request, reply) => {
          await enforceRateLimit(app, request, []);
          return answer(app, route, chain, request, reply);
        },
      });
    } catch (err) {
      throw new Error(`routerAdd ${route.method} ${route.path}: ${(err as Error).message}`);
    }
  }
}

async function answer(app: App, route: CustomRoute, chain: Hook<RouteEvent>, request: FastifyRequest, reply: FastifyReply) {
  const event: Omit<RouteEvent, 'next'> = {
    request: requestLike(app, request),
    params: (request.params ?? {}) as Record<string, string>,
    query: queryOf(request),
    body: request.body ?? {},
    auth: await callerOf(app, request),
    json: (status, body) => void reply.code(status).send(body),
    text: (status, body) => void reply.code(status).type('text/plain; charset=utf-8').send(body),
    noContent: () => void reply.code(204).send(),
    setHeader: (name, value) => void reply.header(name, value),
    runInTransaction: (fn) => app.api.runInTransaction(fn),
  };
  let result: unknown;
  await chain.trigger(event, async (e) => {
    result = await route.handler(e);
  });
  if (reply.sent) return reply;
  if (result !== undefined) return result;
  return reply.code(204).send();
}
