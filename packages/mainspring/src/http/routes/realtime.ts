import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { App } from '../../core/app.js';
import { RealtimeBroker } from '../../core/realtime/broker.js';
import { bearerToken, bodyObject, callerOf } from '../context.js';
import { clientIp } from '../rate-limit.js';

/** Limits of realtime connections; the defaults are PocketBase's where it has them. */
export interface RealtimeOptions {
  /** A connection that delivered nothing for this long is closed (the SDK reconnects). */
  idleTimeoutMs?: number;
  /** Any connection is closed after this long, so resources are renewed. */
  maxLifetimeMs?: number;
  /** An SSE comment this often keeps proxies from closing a quiet stream. */
  keepAliveMs?: number;
  /** A client whose unsent output grows past this many bytes is too slow: it is cut off. */
  maxBufferedBytes?: number;
}

const DEFAULTS: Required<RealtimeOptions> = {
  idleTimeoutMs: 5 * 60_000,
  maxLifetimeMs: 30 * 60_000,
  keepAliveMs: 30_000,
  maxBufferedBytes: 1 << 20,
};

/**
 * `GET /api/realtime` (the SSE stream: `PB_CONNECT` first, with the clientId
 * as the event id, as the SDKs read it) and `POST /api/realtime` (set the
 * client's subscriptions, with the caller's token).
 */
export function realtimeRoutes(server: FastifyInstance, app: App, options: RealtimeOptions = {}): RealtimeBroker {
  const limits = { ...DEFAULTS, ...options };
  const broker = new RealtimeBroker({
    events: app.events,
    auth: app.auth,
    access: app.records.access,
    registry: app.collections.registry,
    engine: app.engine,
    logger: app.logger,
  });
  const open = new Set<ServerResponse>();

  server.get('/api/realtime', (request, reply) => {
    const res = reply.raw;
    // the CORS hook has set its headers on the reply; the stream is written raw
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(reply.getHeaders())) if (typeof v === 'string') headers[k] = v;
    reply.hijack();
    res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
      'x-content-type-options': 'nosniff',
    });
    res.socket?.setNoDelay(true);
    open.add(res);

    let closed = false;
    const write = (chunk: string): boolean => {
      if (closed || res.destroyed) return false;
      res.write(chunk);
      if (res.writableLength > limits.maxBufferedBytes) {
        // a consumer this far behind would grow memory without bound: cut it off (the SDK reconnects)
        app.logger.debug({ clientId: client.id }, 'realtime client too slow: disconnected');
        end();
        res.destroy();
        return false;
      }
      return true;
    };
    let idle: NodeJS.Timeout;
    const resetIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(end, limits.idleTimeoutMs);
    };
    const client = broker.connect(clientIp(app, request), {
      send(name, data) {
        const ok = write(`id:${client.id}\nevent:${name}\ndata:${data}\n\n`);
        if (ok) resetIdle();
        return ok;
      },
    });
    const keepAlive = setInterval(() => write(':\n\n'), limits.keepAliveMs);
    const lifetime = setTimeout(end, limits.maxLifetimeMs);
    function end() {
      if (closed) return;
      closed = true;
      clearTimeout(idle);
      clearTimeout(lifetime);
      clearInterval(keepAlive);
      broker.disconnect(client);
      open.delete(res);
      if (!res.destroyed) res.end();
    }
    res.on('close', end);
    resetIdle();
    write(`id:${client.id}\nevent:PB_CONNECT\ndata:${JSON.stringify({ clientId: client.id })}\n\n`);
  });

  server.post('/api/realtime', async (request, reply) => {
    const caller = await callerOf(app, request);
    broker.setSubscriptions(bodyObject(request), caller, bearerToken(request), clientIp(app, request));
    return reply.status(204).send();
  });

  // streams never finish on their own: end them when the server closes, so draining can finish
  server.addHook('preClose', (done) => {
    for (const res of open) res.end();
    open.clear();
    broker.close();
    done();
  });
  return broker;
}
