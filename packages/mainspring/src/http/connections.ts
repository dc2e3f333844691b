import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * How long a draining server must have had no request at all before it
 * closes the connections left open (idle keep-alive connections).
 *
 * Node's `server.close()` (which Fastify's calls) destroys every idle
 * connection at once, and Node counts a connection idle as soon as a
 * response is sent, though the client's next request may already sit
 * unread in the socket while the event loop is busy: under load with 200
 * clients, 120 to 190 requests per SIGTERM failed with undici's "other side
 * closed". Closing only connections quiet for a second was not enough: a
 * client pool's spare connections, idle for long, went all at once while
 * the clients kept picking them (90 to 190 failures again, now at the
 * second's end). So while the server still answers anyone, no idle
 * connection is closed: a request that comes on one is served, its answer
 * saying `Connection: close` (the client then stops using it), and the
 * connection ends after it. Once no request has been running for this
 * long, the rest are closed; a client sending at that very moment is the
 * one race left, which every keep-alive client must survive anyway. The
 * shutdown timeout bounds it all (create-app.ts cuts what is left).
 */
export const IDLE_CLOSE_GRACE_MS = 1000;

/**
 * Replaces `http`'s `closeIdleConnections` (called as the server closes)
 * with one that closes the idle connections once the server has been
 * without a request for `graceMs`, looking again until it has closed.
 */
export function closeOnlyQuietConnections(http: Server, graceMs = IDLE_CLOSE_GRACE_MS): void {
  /** Per open connection: requests in progress. */
  const busy = new Map<Socket, number>();
  let running = 0;
  /** When a request last started or ended, anywhere. */
  let lastActivity = performance.now();
  http.on('connection', (socket: Socket) => {
    busy.set(socket, 0);
    socket.once('close', () => busy.delete(socket));
  });
  http.on('request', (req, res) => {
    const socket = req.socket;
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
    running++;
    lastActivity = performance.now();
    res.once('close', () => {
      if (busy.has(socket)) busy.set(socket, (busy.get(socket) ?? 1) - 1);
      running--;
      lastActivity = performance.now();
    });
  });
  let drainStarted = Number.NEGATIVE_INFINITY;
  const sweep = () => {
    if (running > 0 || performance.now() - Math.max(lastActivity, drainStarted) < graceMs) return;
    for (const [socket, n] of busy) if (n === 0) socket.destroy();
  };
  let sweeping: NodeJS.Timeout | undefined;
  http.closeIdleConnections = () => {
    if (drainStarted === Number.NEGATIVE_INFINITY) drainStarted = performance.now();
    sweep();
    sweeping ??= setInterval(sweep, 50).unref();
  };
  http.once('close', () => clearInterval(sweeping));
}
