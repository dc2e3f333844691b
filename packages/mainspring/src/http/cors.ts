import type { FastifyInstance } from 'fastify';

/** The methods the API answers, as a preflight lists them. */
const METHODS = 'GET, HEAD, PUT, PATCH, POST, DELETE';
/** How long a browser may remember a preflight answer, in seconds. */
const MAX_AGE = '86400';

/**
 * Cross-origin requests, as PocketBase answers them: `*` (the default) admits
 * every origin; otherwise only the listed ones, with `Vary: Origin`. Only
 * requests that carry an `Origin` get CORS headers (a browser's cross-origin
 * calls always do), so same-origin and server-to-server answers stay lean.
 * A preflight (`OPTIONS` with `Access-Control-Request-Method`) is a 204 that
 * echoes the requested headers, such as `Authorization`.
 */
export function registerCors(server: FastifyInstance, origins: readonly string[]): void {
  const any = origins.includes('*');
  const listed = new Set(origins);

  server.addHook('onRequest', (request, reply, done) => {
    if (!any) reply.header('vary', 'Origin');
    const origin = request.headers.origin;
    if (origin !== undefined && (any || listed.has(origin))) reply.header('access-control-allow-origin', any ? '*' : origin);
    done();
  });

  server.options('*', (request, reply) => {
    const origin = request.headers.origin;
    if (origin !== undefined && (any || listed.has(origin)) && request.headers['access-control-request-method'] !== undefined) {
      reply.header('access-control-allow-methods', METHODS);
      const asked = request.headers['access-control-request-headers'];
      if (typeof asked === 'string' && asked !== '') reply.header('access-control-allow-headers', asked);
      reply.header('access-control-max-age', MAX_AGE);
    }
    reply.code(204).send();
  });
}
