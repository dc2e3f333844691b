import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { App } from '../../core/app.js';
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
export function realtimeRoutes(server: FastifyInstance, app: App, options: RealtimeOptions = {}): void {
  const limits = { ...DEFAULTS, ...options };
  const broker = app.realtime;
  /** Open streams; one sweep sends keep-alives and closes idle and old streams, instead of timers per stream. */
  const open = new Set<{ res: ServerResponse; started: number; lastMessage: number; write(chunk: string): boolean; end(): void }>();
  const sweepEvery = Math.max(50, Math.min(limits.keepAliveMs, limits.idleTimeoutMs / 2, limits.maxLifetimeMs / 2));
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const stream of open) {
      if (now - stream.lastMessage > limits.idleTimeoutMs || now - stream.started > limits.maxLifetimeMs) stream.end();
      else stream.write(':\n\n');
    }
  }, sweepEvery);
  sweep.unref();

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
    const now = Date.now();
    const stream = { res, started: now, lastMessage: now, write, end };
    const client = broker.connect(clientIp(app, request), {
      send(name, data) {
        const ok = write(`id:${client.id}\nevent:${name}\ndata:${data}\n\n`);
        if (ok) stream.lastMessage = Date.now();
        return ok;
      },
    });
    open.add(stream);
    function end() {
      if (closed) return;
      closed = true;
      broker.disconnect(client);
      open.delete(stream);
      if (!res.destroyed) res.end();
    }
    res.on('close', end);
    write(`id:${client.id}\nevent:PB_CONNECT\ndata:${JSON.stringify({ clientId: client.id })}\n\n`);
  });

  server.post('/api/realtime', async (request, reply) => {
    const caller = await callerOf(app, request);
    broker.setSubscriptions(bodyObject(request), caller, bearerToken(request), clientIp(app, request));
    return reply.status(204).send();
  });

  // streams never finish on their own: end them when the server closes, so draining can finish
  server.addHook('preClose', (done) => {
    clearInterval(sweep);
    for (const stream of [...open]) stream.end();
    open.clear();
    done();
  });
}
