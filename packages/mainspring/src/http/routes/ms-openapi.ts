import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { App } from '../../core/app.js';
import { isSuperuser } from '../../core/rules/request-info.js';
import { requestInfo } from '../context.js';
import { type Audience, openApiDocument } from '../openapi.js';
import { DASHBOARD_CSP } from './dashboard.js';
import { DOCS_HTML, DOCS_SCRIPT, DOCS_STYLE } from './ms-docs-page.js';

/**
 * `GET /api/ms/openapi.json`: the OpenAPI 3.1 document of the live schema.
 * Superusers get every collection and hidden field; anyone else the routes a
 * non-superuser could ever be let into (a rule that is not `null`) without
 * hidden fields, since the schema of superuser-only collections is theirs
 * alone (as `GET /api/collections` is). Built once per audience and mount
 * path, and again after a schema or settings change (on any instance).
 * `GET /api/ms/docs`: an interactive reference over it, self-contained.
 */
export function openApiRoutes(server: FastifyInstance, app: App): void {
  const cache = new Map<string, string>();
  app.events.on((event) => {
    if (event.type === 'schema' || event.type === 'settings') cache.clear();
  });

  server.get('/api/ms/openapi.json', async (request, reply) => {
    const audience: Audience = isSuperuser(await requestInfo(app, request)) ? 'superuser' : 'public';
    const prefix = mountPrefix(request);
    const key = `${audience} ${prefix}`;
    let body = cache.get(key);
    if (body === undefined) {
      body = JSON.stringify(
        openApiDocument(app.collections.registry.all(), {
          audience,
          title: app.settings.get().meta.appName,
          serverUrl: prefix || '/',
        }),
      );
      cache.set(key, body);
    }
    // the answer depends on the caller's token
    return reply.type('application/json; charset=utf-8').header('cache-control', 'no-store').header('vary', 'Authorization').send(body);
  });

  const page = (type: string, body: string) => async (_request: unknown, reply: import('fastify').FastifyReply) =>
    reply.type(type).header('content-security-policy', DASHBOARD_CSP).header('cache-control', 'no-cache').send(body);
  server.get('/api/ms/docs', page('text/html; charset=utf-8', DOCS_HTML));
  server.get('/api/ms/docs/docs.js', page('text/javascript; charset=utf-8', DOCS_SCRIPT));
  server.get('/api/ms/docs/docs.css', page('text/css; charset=utf-8', DOCS_STYLE));
}

/** The path the API is mounted under (`/backend` inside Express), '' on its own server. */
function mountPrefix(request: FastifyRequest): string {
  const original = (request.raw as { originalUrl?: unknown }).originalUrl;
  if (typeof original !== 'string') return '';
  const path = original.split('?', 1)[0] ?? '';
  const own = request.url.split('?', 1)[0] ?? '';
  return path.endsWith(own) ? path.slice(0, path.length - own.length) : '';
}
