import { createServer, STATUS_CODES } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, LogController } from 'fastify';
import type { App } from '../core/app.js';
import { randomString } from '../core/ids.js';
import { Admission } from './admission.js';
import { registerBodyParsers } from './body.js';
import { registerCallers } from './callers.js';
import { closeOnlyQuietConnections } from './connections.js';
import { registerCors } from './cors.js';
import { registerErrorHandlers, toApiError } from './errors.js';
import { registerFieldsPicking } from './fields.js';
import { registerIdempotency } from './idempotency.js';
import { registerRefusedBodyDrain } from './refusals.js';
import { registerRequestLog } from './request-log.js';
import { authRoutes } from './routes/auth.js';
import { backupRoutes } from './routes/backups.js';
import { batchRoutes } from './routes/batch.js';
import { collectionRoutes } from './routes/collections.js';
import { cronRoutes } from './routes/crons.js';
import { customRoutes } from './routes/custom.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { fileRoutes } from './routes/files.js';
import { healthRoutes } from './routes/health.js';
import { logRoutes } from './routes/logs.js';
import { aggregateRoutes } from './routes/ms-aggregate.js';
import { fieldTypeRoutes } from './routes/ms-field-types.js';
import { installRoutes } from './routes/ms-install.js';
import { metricsRoutes } from './routes/ms-metrics.js';
import { openApiRoutes } from './routes/ms-openapi.js';
import { passkeyRoutes } from './routes/ms-passkeys.js';
import { recordsCsvRoutes } from './routes/ms-records-csv.js';
import { sessionRoutes } from './routes/ms-sessions.js';
import { sqlConsoleRoutes } from './routes/ms-sql.js';
import { oauth2Routes } from './routes/oauth2.js';
import { type RealtimeOptions, realtimeRoutes } from './routes/realtime.js';
import { recordRoutes } from './routes/records.js';
import { settingsRoutes } from './routes/settings.js';
import { registerSuperuserIps } from './superuser-ips.js';
import { DEFAULT_UPLOAD_IDLE_TIMEOUT_MS, registerUploadCleanup, uploadHandling } from './uploads.js';

/** Options of the HTTP server. */
export interface ServerOptions {
  /** Largest accepted request body, in bytes. */
  bodyLimit?: number;
  /** Allowed CORS origins; `*` (PocketBase's default) allows any. */
  corsOrigins?: string[];
  /** Log one line per request (method, path without query, status, time). */
  accessLog?: boolean;
  /** Limits of realtime connections. */
  realtime?: RealtimeOptions;
  /** A bearer token that may read `/api/ms/metrics` besides superusers (default `MS_METRICS_TOKEN`, else none). */
  metricsToken?: string;
  /** A request body that sends nothing for this long is answered 408 and dropped (default `MS_UPLOAD_IDLE_TIMEOUT_MS`, else 30 s). */
  uploadIdleTimeoutMs?: number;
  /** How long a closing server waits without any request before it closes idle connections (http/connections.ts; default 1 s). */
  idleCloseGraceMs?: number;
}

/**
 * Every response says `nosniff`; anything that is not JSON (pages, files)
 * also may not be framed by other sites. Unlike PocketBase, no
 * `X-XSS-Protection`: browsers dropped the filter, and OWASP advises against
 * the header. Framing rules mean nothing for JSON, so API answers stay lean.
 */
const NOSNIFF = 'nosniff';
const FRAME_OPTIONS = 'SAMEORIGIN';

// Request ids: a random prefix per process and a counter, unique without a
// CSPRNG call per request.
const idPrefix = randomString(6);
let idCounter = 0;
function nextRequestId(): string {
  idCounter = (idCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${idPrefix}${idCounter.toString(36)}`;
}

/** The default body limit: 16 MiB. */
export const DEFAULT_BODY_LIMIT = 16 << 20;

/**
 * The Fastify server over an app: body parsing, CORS, security headers, the
 * PocketBase error envelope, and one plugin per API domain.
 */
export async function buildServer(app: App, options: ServerOptions = {}): Promise<FastifyInstance> {
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const server: FastifyInstance = Fastify({
    loggerInstance: app.logger as FastifyBaseLogger,
    // our own access line (below) leaves out query strings, which can hold tokens
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit,
    genReqId: nextRequestId,
    // no pino child per request (it costs more than the rest of a cached read);
    // the few lines we log carry reqId themselves
    childLoggerFactory: (logger) => logger,
    requestIdHeader: false,
    routerOptions: { maxParamLength: 500, ignoreTrailingSlash: true },
    // a request that arrives on an open connection while the server drains is served, and its connection
    // closed after the answer (Fastify's 'Connection: close'): refusing it would fail a request a client
    // already sent; new connections are not accepted
    return503OnClosing: false,
    // malformed URLs and over-long parameters answer in PocketBase's shape too
    frameworkErrors: (err, _request, reply) => {
      const api = toApiError(err);
      (reply as unknown as FastifyReply).status(api.status).send(api.toJSON());
    },
    // a request Node cannot parse (headers too large, a broken request line) still answers in PocketBase's shape
    clientErrorHandler: (err, socket) => {
      if (!socket.writable) return socket.destroy();
      const code = (err as NodeJS.ErrnoException).code;
      const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      const message = status === 431 ? 'Request headers too large.' : status === 408 ? 'Request timeout.' : 'Malformed request.';
      const body = JSON.stringify({ status, message, data: {} });
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    },
    forceCloseConnections: 'idle',
    connectionTimeout: 0,
    requestTimeout: 120_000,
    // Fastify's own HTTP/1 server, with requests started in time slices (admission.ts)
    serverFactory: (handler, opts) => {
      const http = createServer(opts.http ?? {}, new Admission(handler).admit);
      http.keepAliveTimeout = opts.keepAliveTimeout as number;
      http.requestTimeout = opts.requestTimeout as number;
      http.setTimeout(opts.connectionTimeout as number);
      closeOnlyQuietConnections(http, options.idleCloseGraceMs);
      return http;
    },
  });

  registerGlobal(server, app, options, bodyLimit);
  registerRoutes(server, app, options);
  await app.hooks.serve.trigger({ server }, () => {});
  return server;
}

/**
 * What every answer gets, so registered on the root server: body parsing and
 * upload clean-up, the error envelope, CORS, `?fields=`, security headers,
 * the access line and the request log.
 */
function registerGlobal(server: FastifyInstance, app: App, options: ServerOptions, bodyLimit: number): void {
  const idleTimeoutMs = options.uploadIdleTimeoutMs ?? (Number(process.env.MS_UPLOAD_IDLE_TIMEOUT_MS) || DEFAULT_UPLOAD_IDLE_TIMEOUT_MS);
  registerCallers(server, app);
  registerBodyParsers(server, bodyLimit, uploadHandling(app, bodyLimit, idleTimeoutMs));
  registerUploadCleanup(server);
  registerRefusedBodyDrain(server);
  registerErrorHandlers(server);
  registerCors(server, options.corsOrigins ?? ['*']);
  registerFieldsPicking(server);
  registerSuperuserIps(server, app);

  server.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('X-Content-Type-Options', NOSNIFF);
    const type = reply.getHeader('content-type');
    if (typeof type !== 'string' || !type.startsWith('application/json')) reply.header('X-Frame-Options', FRAME_OPTIONS);
    done(null, payload);
  });

  if ((options.accessLog ?? true) && app.logger.isLevelEnabled('info')) {
    server.addHook('onResponse', (request, reply, done) => {
      const path = request.url.split('?', 1)[0];
      request.log.info(
        { reqId: request.id, method: request.method, path, status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
        'request',
      );
      done();
    });
  }
  registerRequestLog(server, app);
  // every answer, the 404s too (one series for all of them: a pattern, never the URL)
  server.addHook('onResponse', (request, reply, done) => {
    app.metrics.request(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
}

/**
 * One Fastify plugin per API domain: a hook one of them adds holds for its
 * own routes only. The writes that honour `Idempotency-Key` (records, batch,
 * the hooks' routes) share one plugin, whose hooks are the idempotency's.
 * Plugins load, in this order, when the server is made ready: hooks added to
 * the root before then (the `serve` hook's) still reach every route.
 */
function registerRoutes(server: FastifyInstance, app: App, options: ServerOptions): void {
  const plugin = (routes: (scope: FastifyInstance, app: App) => void) => server.register(async (scope) => routes(scope, app));
  plugin(healthRoutes);
  plugin(collectionRoutes);
  plugin(authRoutes);
  plugin(oauth2Routes);
  plugin(settingsRoutes);
  plugin(sessionRoutes);
  plugin(passkeyRoutes);
  plugin((scope) => realtimeRoutes(scope, app, options.realtime));
  plugin(fileRoutes);
  plugin((scope) => cronRoutes(scope, app.crons, app));
  plugin(logRoutes);
  plugin(backupRoutes);
  plugin(installRoutes);
  plugin(openApiRoutes);
  plugin(fieldTypeRoutes);
  plugin(aggregateRoutes);
  plugin(sqlConsoleRoutes);
  plugin(recordsCsvRoutes);
  plugin((scope) => metricsRoutes(scope, app, options.metricsToken ?? process.env.MS_METRICS_TOKEN));
  plugin((scope) => dashboardRoutes(scope));
  plugin((scope) => {
    registerIdempotency(scope, app);
    recordRoutes(scope, app);
    batchRoutes(scope, app);
    customRoutes(scope, app);
  });
}
