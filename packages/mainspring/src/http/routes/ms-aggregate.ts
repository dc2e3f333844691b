import type { FastifyInstance } from 'fastify';
import type { App } from '../../core/app.js';
import { isSuperuser } from '../../core/rules/request-info.js';
import { queryOf, requestInfo } from '../context.js';
import { enforceRateLimit } from '../rate-limit.js';
import { callerKey } from './records.js';

/**
 * `GET /api/ms/collections/{collection}/aggregate` (beside PocketBase's
 * dialect): groups and totals over the records the caller could list
 * (core/records/aggregate.ts). `fields` here names the computed values,
 * so the root's `?fields=` picking stays off this route. It is a list:
 * the rate limit of `aggregate`, else of `list`, applies, and callers other
 * than superusers take turns as for lists (core/fair-share.ts).
 */
export function aggregateRoutes(server: FastifyInstance, app: App): void {
  server.get<{ Params: { collection: string } }>(
    '/api/ms/collections/:collection/aggregate',
    { config: { ownFields: true } },
    async (request) => {
      const c = app.records.collection(request.params.collection);
      await enforceRateLimit(app, request, ['aggregate', 'list'], c.name);
      const info = await requestInfo(app, request);
      const q = queryOf(request);
      return isSuperuser(info)
        ? app.records.aggregate(c, q, info)
        : app.fairShare.run(callerKey(app, request, info), () => app.records.aggregate(c, q, info));
    },
  );
}
