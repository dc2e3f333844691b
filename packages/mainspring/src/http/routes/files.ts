import type { FastifyInstance, onSendHookHandler } from 'fastify';
import type { App } from '../../core/app.js';
import { Errors } from '../../core/errors.js';
import { type FileKey, keyPath, parseKeyPath } from '../../core/files/keys.js';
import { callerOf, queryOf, requestInfo } from '../context.js';
import { enforceRateLimit } from '../rate-limit.js';
import { sendFile } from '../send-file.js';
import { requestLike } from './custom.js';

/**
 * PocketBase's file routes: `POST /api/files/token` and
 * `GET|HEAD /api/files/{collection}/{recordId}/{filename}` with `thumb`,
 * `download` and `token`. Which file and whether the caller may have it is
 * core/files/serve.ts's; how it is sent (validators, ranges) send-file.ts's.
 */

type Params = { collection: string; recordId: string; filename: string };

/** Public files may be kept 30 days by any cache (PocketBase's header). */
const PUBLIC_CACHE = 'max-age=2592000, stale-while-revalidate=86400';
/** Protected files: a browser may keep them but asks again each time (with its ETag); shared caches never keep them. */
const PRIVATE_CACHE = 'private, no-cache';

/** Go's strconv.ParseBool, which PocketBase reads `download` with: anything else is false. */
const TRUE_VALUES = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);

// Uploaded files may be embedded by other sites (as PocketBase: clickjacking is no concern for a file,
// and its CSP sandboxes it), so the X-Frame-Options every other non-JSON answer carries is dropped.
const allowFraming: onSendHookHandler = (_request, reply, payload, done) => {
  if (reply.statusCode < 400) reply.removeHeader('X-Frame-Options');
  done(null, payload);
};

/** Registers the file routes. */
export function fileRoutes(server: FastifyInstance, app: App): void {
  const files = app.fileServing;

  server.post('/api/files/token', async (request) => {
    const auth = await callerOf(app, request);
    if (!auth) throw Errors.unauthorized();
    const token = files.newToken(auth);
    const hook = app.hooks.fileTokenRequest;
    const tags = [auth.collection.id, auth.collection.name];
    if (!hook.has(tags)) return { token };
    const e = { request: requestLike(app, request), auth, token };
    let answered = false;
    await hook.trigger(
      e,
      () => {
        answered = true;
      },
      tags,
    );
    // a handler that did not go on refused the token
    if (!answered) throw Errors.badRequest('Failed to generate file token.');
    return { token: e.token };
  });

  server.route<{ Params: Params }>({
    method: ['GET', 'HEAD'],
    url: '/api/files/:collection/:recordId/:filename',
    config: { ownFields: true },
    onSend: allowFraming,
    handler: async (request, reply) => {
      const { collection, recordId, filename } = request.params;
      const c = app.collections.registry.find(collection);
      await enforceRateLimit(app, request, ['file'], c?.name);
      const query = queryOf(request);
      const located = await files.locate(collection, recordId, filename, {
        token: query.token,
        info: () => requestInfo(app, request, 'protectedFile'),
      });
      if (!located) throw Errors.notFound();
      const served = await files.served(located, query.thumb);
      const send = (key: FileKey, name: string) =>
        sendFile(request, reply, {
          store: app.files,
          key,
          name,
          download: TRUE_VALUES.has(query.download ?? ''),
          cacheControl: located.field.protected ? PRIVATE_CACHE : PUBLIC_CACHE,
        });
      const hook = app.hooks.fileDownloadRequest;
      const tags = [located.collection.id, located.collection.name];
      if (!hook.has(tags)) return send(served.key, served.name);
      const e = {
        collection: located.collection,
        request: requestLike(app, request),
        auth: await callerOf(app, request),
        record: located.record,
        fileField: located.field.name,
        servedPath: keyPath(served.key) as string,
        servedName: served.name,
      };
      await hook.trigger(
        e,
        async (ev) => {
          // a hook may point at another stored file by its path in the store; anything else is no file
          const key = parseKeyPath(ev.servedPath);
          if (!key) throw Errors.notFound();
          await send(key, ev.servedName);
        },
        tags,
      );
      // a handler that did not go on sent nothing: the file is not served
      return reply.sent ? reply : reply.status(404).send(Errors.notFound().toJSON());
    },
  });
}
