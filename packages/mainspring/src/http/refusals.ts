import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';

/**
 * How much of a refused body is read and thrown away after the answer, and
 * for how long at most (`MS_REFUSED_BODY_DRAIN_BYTES` / `…_MS`).
 *
 * A body refused before it is read (too large, an unsupported type, one
 * file too many) used to be answered and its connection closed at once. The
 * client was still sending, so the close reached it as a reset: Node's
 * fetch (undici) reports the write error (`EPIPE`, `ECONNRESET`) instead of
 * the 413 waiting in its receive buffer, 4 times in 20 for a 50 MB JSON
 * body; browsers do the same. So the answer goes out at once and keeps the
 * connection, and the rest of the body is read and dropped: the client
 * reads the answer whenever it looks (undici and curl stop sending as soon
 * as they see it), and the connection is whole again once the body ends. A
 * body longer than the bound, or slower than the deadline, is cut: a client
 * sending more than that after a refusal gets a reset, and the server never
 * reads more than the bound for nothing.
 */
export const REFUSED_BODY_DRAIN_BYTES = 64 << 20;
export const REFUSED_BODY_DRAIN_MS = 10_000;

/** Reads and drops what is left of `raw`'s body, up to `maxBytes` and `maxMs`; past either, the connection is cut. */
function drain(raw: IncomingMessage, maxBytes: number, maxMs: number): void {
  let left = maxBytes;
  const cut = () => raw.socket?.destroy();
  const timer = setTimeout(cut, maxMs).unref();
  const stop = () => clearTimeout(timer);
  raw.on('data', (chunk: Buffer) => {
    left -= chunk.length;
    if (left < 0) {
      stop();
      cut();
    }
  });
  raw.once('end', stop);
  raw.once('close', stop);
  // a parser that gave up on the body paused it (multipart.ts): reading resumes here
  raw.resume();
}

/**
 * Answers to requests whose body was not read whole (refused for its size,
 * type or count, or not needed by the route) keep their connection while the
 * rest of the body is drained, within a bound. A body that stalled (408) or
 * that declares more than the bound is not waited for: its connection closes
 * after the answer, as Fastify asks.
 */
export function registerRefusedBodyDrain(
  server: FastifyInstance,
  maxBytes = Number(process.env.MS_REFUSED_BODY_DRAIN_BYTES) || REFUSED_BODY_DRAIN_BYTES,
  maxMs = Number(process.env.MS_REFUSED_BODY_DRAIN_MS) || REFUSED_BODY_DRAIN_MS,
): void {
  server.addHook('onSend', (request, reply, payload, done) => {
    const raw = request.raw;
    if (raw.complete || raw.destroyed) return done(null, payload);
    const declared = Number(raw.headers['content-length']);
    if (reply.statusCode === 408 || declared > maxBytes) {
      reply.header('connection', 'close');
    } else {
      reply.removeHeader('connection');
      drain(raw, maxBytes, maxMs);
    }
    done(null, payload);
  });
}
