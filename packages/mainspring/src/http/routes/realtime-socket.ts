import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** node:http's own listeners on a connection's socket (Node 20 to 24 name them so; bound ones start with "bound "). */
const HTTP_LISTENER = /^(bound )?(socketOn|onSocket)\w+$/;

const ignore = () => {};
function destroyOnEnd(this: Socket) {
  this.destroy();
}

/** What node:http hangs on a socket it parses; none of it is public API, so each piece is checked before use. */
interface ParsedSocket extends Socket {
  parser?: {
    _consumed?: boolean;
    unconsume?: () => void;
    remove?: () => void;
    close?: () => void;
    [k: string]: unknown;
  } | null;
}

/**
 * Takes a hijacked response's socket from node:http once its own head was
 * written on it, as node:http does for an upgrade: the response counts as
 * finished (Fastify's onResponse hooks, the access log, metrics and the
 * drain bookkeeping of http/connections.ts run as for any answered request),
 * then the parser and node:http's listeners let go of the socket. After
 * this nothing holds the request, the response, or Fastify's request, reply
 * and per-request logger: an open SSE stream costs its socket only (about
 * 9 KB of heap less per stream, measured with 3,000 streams).
 *
 * Whatever of this the running Node does not have is skipped: the stream
 * still works, it only keeps what node:http keeps. `onGone` is called once
 * when the socket closes or fails.
 */
export function keepOnlySocket(req: IncomingMessage, res: ServerResponse, onGone: () => void): void {
  const socket = req.socket as ParsedSocket;
  socket.on('error', ignore);
  socket.on('close', onGone);
  // node:http's own finish handler detaches the socket from the response and forgets the request
  res.emit('finish');
  // after the parser's current execute has returned: freeing it inside its own callback is unsafe
  setImmediate(() => {
    if (socket.destroyed) return;
    const removed = new Set<string>();
    for (const event of ['data', 'end', 'close', 'drain', 'error', 'timeout', 'resume', 'pause']) {
      for (const listener of socket.listeners(event) as ((...args: unknown[]) => void)[]) {
        if (!HTTP_LISTENER.test(listener.name)) continue;
        socket.removeListener(event, listener);
        removed.add(listener.name.replace(/^bound /, ''));
      }
    }
    const parser = socket.parser;
    // without node:http's data and close handlers nothing else will use or free the parser: this does
    if (parser && removed.has('socketOnData') && removed.has('socketOnClose')) {
      if (parser._consumed && typeof parser.unconsume === 'function') parser.unconsume();
      if (typeof parser.remove === 'function') parser.remove();
      for (const field of ['socket', 'incoming', 'outgoing', 'onIncoming']) parser[field] = null;
      socket.parser = null;
      if (typeof parser.close === 'function') parser.close();
    }
    // the keep-alive timer node:http set as the response finished: stopped, and its (cleared) timer object let go
    socket.setTimeout(0);
    const timer = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'timeout');
    if (timer) (socket as unknown as Record<symbol, unknown>)[timer] = null;
    // a client sends nothing more; whatever it does send is read and dropped, and its end ends the stream
    socket.on('data', ignore);
    socket.on('end', destroyOnEnd);
    socket.resume();
  });
}
