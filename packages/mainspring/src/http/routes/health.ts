import type { FastifyInstance } from 'fastify';

/** `GET /api/health`: PocketBase's answer, `{message, code, data}`. */
export function healthRoutes(server: FastifyInstance): void {
  const body = JSON.stringify({ message: 'API is healthy.', code: 200, data: {} });
  const handler = async (_req: unknown, reply: { type(t: string): { send(b: string): unknown } }) =>
    reply.type('application/json; charset=utf-8').send(body);
  // Fastify answers HEAD from the GET route
  server.get('/api/health', handler);
}
