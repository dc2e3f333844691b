import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type FieldsPick, parseFields, pickFields } from '../core/records/output.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route applies `?fields=` itself (records, which also refuse unknown names), or answers no JSON. */
    ownFields?: boolean;
  }
}

const picks = new WeakMap<FastifyRequest, FieldsPick>();

/** A page of a list (`{page, perPage, totalItems, totalPages, items}`), whose `fields` apply to each item. */
function isPage(body: unknown): body is { items: unknown[] } {
  return typeof body === 'object' && body !== null && Array.isArray((body as { items?: unknown }).items) && 'perPage' in body;
}

/**
 * PocketBase's `?fields=` on every JSON answer of the API, as its
 * `e.JSON` applies it: a 2xx body keeps the listed keys (dot paths, `*`,
 * `:excerpt(n, ellipsis)`), a page of a list item by item; error answers
 * are left whole. The parameter is read before the route runs, so a
 * malformed one is a 400 before anything is written.
 */
export function registerFieldsPicking(server: FastifyInstance): void {
  server.addHook('preHandler', async (request) => {
    if (request.routeOptions.config.ownFields || !request.url.startsWith('/api/')) return;
    const raw = (request.query as Record<string, unknown> | undefined)?.fields;
    const text = Array.isArray(raw) ? raw[0] : raw;
    if (typeof text !== 'string') return;
    const pick = parseFields(text);
    if (pick) picks.set(request, pick);
  });
  server.addHook('preSerialization', async (request, reply, payload: unknown) => {
    const pick = picks.get(request);
    if (!pick || reply.statusCode < 200 || reply.statusCode > 299) return payload;
    return isPage(payload) ? { ...payload, items: payload.items.map((item) => pickFields(item, pick)) } : pickFields(payload, pick);
  });
}

/** The `fields` tree a request asked for, once the preHandler read it (auth answers check its `record` part). */
export function fieldsOf(request: FastifyRequest): FieldsPick | undefined {
  return picks.get(request);
}
