import { type ServerResponse, validateHeaderValue } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { App } from '../../core/app.js';
import type { ClientSink, RealtimeClient } from '../../core/realtime/broker.js';
import { sseMessage } from '../../core/realtime/broker.js';
import { bearerToken, bodyObject, callerOf } from '../context.js';
import { clientIp } from '../rate-limit.js';
import { keepOnlySocket } from './realtime-socket.js';

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
/** Streams the sweep visits between two turns of the event loop. */
const SWEEP_SLICE = 1000;

/** An SSE comment, the same bytes for every stream: a chunk of its own, or as is on a stream without chunks (HTTP/1.0). */
const KEEP_ALIVE = { chunked: Buffer.from('3\r\n:\n\n\r\n'), plain: Buffer.from(':\n\n') };

/** A message framed for the wire with room for the client's id at `idAt`: the same for every client but that id. */
interface Frame {
  readonly message: Buffer;
  readonly chunked: boolean;
  readonly idLength: number;
  readonly bytes: Buffer;
  readonly idAt: number;
}
let lastFrame: Frame | undefined;

/**
 * `id:{clientId}\n` and the message, in a chunk of its own on HTTP/1.1. A
 * cohort's clients are written one after another, so all but the first
 * take the frame made for the first and only copy their id in.
 */
function framed(message: Buffer, chunked: boolean, idLength: number): Frame {
  const last = lastFrame;
  if (last && last.message === message && last.chunked === chunked && last.idLength === idLength) return last;
  const body = 4 + idLength + message.length;
  const size = chunked ? `${body.toString(16)}\r\n` : '';
  const bytes = Buffer.alloc(size.length + body + (chunked ? 2 : 0));
  let at = bytes.write(`${size}id:`, 0, 'latin1');
  const idAt = at;
  at += idLength;
  bytes[at++] = 10;
  at += message.copy(bytes, at);
  if (chunked) bytes.write('\r\n', at, 'latin1');
  lastFrame = { message, chunked, idLength, bytes, idAt };
  return lastFrame;
}

/**
 * One open stream, holding its socket and nothing of the request that
 * opened it. Messages are framed here (the `id:` line, and HTTP/1.1's chunk
 * around it all), the rest of their bytes are the same for every client.
 */
class SseStream implements ClientSink {
  client!: RealtimeClient;
  lastMessage: number;
  private closed = false;

  constructor(
    readonly socket: Socket,
    readonly started: number,
    private readonly chunked: boolean,
    private readonly maxBufferedBytes: number,
    private readonly onEnd: (stream: SseStream, tooSlow: boolean) => void,
  ) {
    this.lastMessage = started;
  }

  send(message: Buffer): boolean {
    const id = this.client.id;
    const frame = framed(message, this.chunked, id.length);
    const out = Buffer.allocUnsafe(frame.bytes.length);
    frame.bytes.copy(out);
    out.write(id, frame.idAt, 'latin1');
    if (!this.write(out)) return false;
    this.lastMessage = Date.now();
    return true;
  }

  keepAlive(): void {
    this.write(this.chunked ? KEEP_ALIVE.chunked : KEEP_ALIVE.plain);
  }

  /** Writes raw bytes; a consumer this far behind would grow memory without bound: it is cut off (the SDK reconnects). */
  write(bytes: Buffer): boolean {
    if (this.closed || this.socket.destroyed) return false;
    this.socket.write(bytes);
    if (this.socket.writableLength > this.maxBufferedBytes) {
      this.end(true);
      this.socket.destroy();
      return false;
    }
    return true;
  }

  end(tooSlow = false): void {
    if (this.closed) return;
    this.closed = true;
    this.onEnd(this, tooSlow);
    // the last chunk, then the connection goes (no other request follows on it)
    if (this.socket.destroyed) return;
    if (this.chunked) this.socket.end('0\r\n\r\n');
    else this.socket.end();
  }
}

/** The head of the stream's response, written raw: the headers the hooks set on the reply (CORS), then the stream's own. */
function responseHead(reply: Record<string, unknown>, chunked: boolean): string {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(reply)) {
    if (typeof v !== 'string') continue;
    try {
      validateHeaderValue(k, v);
      headers[k.toLowerCase()] = v;
    } catch {
      // a value that cannot be a header is left out
    }
  }
  Object.assign(headers, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
    'x-content-type-options': 'nosniff',
    // the server ends a stream by closing its connection (SseStream.end): a client told keep-alive would send
    // its next request on a connection already closing ("other side closed", seen under load at shutdown)
    connection: 'close',
  });
  if (chunked) headers['transfer-encoding'] = 'chunked';
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
  return `HTTP/1.1 200 OK\r\n${lines.join('')}\r\n`;
}

/**
 * `GET /api/realtime` (the SSE stream: `PB_CONNECT` first, with the clientId
 * as the event id, as the SDKs read it) and `POST /api/realtime` (set the
 * client's subscriptions, with the caller's token).
 *
 * A stream keeps its socket and nothing else: once its head is written the
 * request counts as answered (hooks, access log and metrics run then) and
 * node:http lets go of the socket (realtime-socket.ts), so the request,
 * the response and Fastify's objects for them are freed; a subscriber
 * costs its socket, its {@link SseStream} and its {@link RealtimeClient}.
 */
export function realtimeRoutes(server: FastifyInstance, app: App, options: RealtimeOptions = {}): void {
  const limits = { ...DEFAULTS, ...options };
  const broker = app.realtime;
  /** Open streams; one sweep sends keep-alives and closes idle and old streams, instead of timers per stream. */
  const open = new Set<SseStream>();
  const sweepEvery = Math.max(50, Math.min(limits.keepAliveMs, limits.idleTimeoutMs / 2, limits.maxLifetimeMs / 2));
  const sweep = setInterval(() => {
    const now = Date.now();
    const streams = [...open];
    // a write per stream is a syscall (~15 µs measured here): 20,000 in one go would hold every request ~300 ms
    const slice = (from: number) => {
      const to = Math.min(streams.length, from + SWEEP_SLICE);
      for (let i = from; i < to; i++) {
        const stream = streams[i] as SseStream;
        if (now - stream.lastMessage > limits.idleTimeoutMs || now - stream.started > limits.maxLifetimeMs) stream.end();
        else stream.keepAlive();
      }
      if (to < streams.length) setImmediate(slice, to);
    };
    slice(0);
  }, sweepEvery);
  sweep.unref();
  const ended = (stream: SseStream, tooSlow: boolean) => {
    if (tooSlow) app.logger.debug({ clientId: stream.client.id }, 'realtime client too slow: disconnected');
    broker.disconnect(stream.client);
    open.delete(stream);
  };

  server.get('/api/realtime', (request, reply) => {
    const res: ServerResponse = reply.raw;
    const socket = res.socket;
    if (!socket) return reply.hijack();
    const chunked = request.raw.httpVersion !== '1.0';
    const ip = clientIp(app, request);
    reply.hijack();
    socket.write(responseHead(reply.getHeaders(), chunked));
    socket.setNoDelay(true);
    const stream = new SseStream(socket, Date.now(), chunked, limits.maxBufferedBytes, ended);
    stream.client = broker.connect(ip, stream);
    open.add(stream);
    keepOnlySocket(request.raw, res, () => stream.end());
    stream.send(sseMessage('PB_CONNECT', JSON.stringify({ clientId: stream.client.id })));
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
