import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * How long a keep-alive connection must have been quiet before a draining
 * server closes it.
 *
 * Node's `server.close()` (which Fastify's calls) destroys every idle
 * connection at once, and Node counts a connection idle as soon as a
 * response is sent, even when the client's next request is already in the
 * socket's buffer, unread because the event loop is busy. Under load that
 * is most connections: a SIGTERM with 200 clients sending failed about 150
 * requests with "other side closed" (undici `UND_ERR_SOCKET`). A connection
 * with a request in progress is never closed here; its answer carries
 * `Connection: close` while the server drains, so it ends by itself after
 * the request the client had sent. Only a connection that sent nothing for
 * this long is closed: a client sending at that very moment is the one race
 * left, which every keep-alive client must survive anyway.
 */
export const IDLE_CLOSE_GRACE_MS = 1000;

/**
 * Replaces `http`'s `closeIdleConnections` with one that closes only
 * connections quiet for `graceMs`, and keeps doing so until the server has
 * closed.
 */
export function closeOnlyQuietConnections(http: Server, graceMs = IDLE_CLOSE_GRACE_MS): void {
  /** Per open connection: requests in progress, and when the last one ended (or it was opened). */
  const connections = new Map<Socket, { busy: number; since: number }>();
  http.on('connection', (socket: Socket) => {
    connections.set(socket, { busy: 0, since: performance.now() });
    socket.once('close', () => connections.delete(socket));
  });
  http.on('request', (req, res) => {
    const state = connections.get(req.socket);
    if (!state) return;
    state.busy++;
    res.once('close', () => {
      state.busy--;
      state.since = performance.now();
    });
  });
  const sweep = () => {
    const now = performance.now();
    for (const [socket, state] of connections) {
      if (state.busy === 0 && now - state.since >= graceMs) socket.destroy();
    }
  };
  // Node calls this once, as the server closes: the connections still busy or not quiet long enough
  // are looked at again until the last one is gone (the server's 'close')
  let sweeping: NodeJS.Timeout | undefined;
  http.closeIdleConnections = () => {
    sweep();
    sweeping ??= setInterval(sweep, 50).unref();
  };
  http.once('close', () => clearInterval(sweeping));
}
