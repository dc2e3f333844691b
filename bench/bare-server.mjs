// The ceiling: a bare node:http endpoint answering a fixed JSON object.
//
// It runs in its own process (spawned by run.mjs), like Mainspring does, so
// that it does not share an event loop with the load generator. The body is a
// real record fetched from Mainspring during setup (passed in BARE_BODY), so
// both endpoints send responses of the same size. It is serialised on every
// request, as any real JSON handler would.
//
// For the realtime scenario it is also the ceiling of an SSE fan-out on one
// Node.js thread: `GET /api/realtime` opens a stream (PB_CONNECT with a
// clientId, as Mainspring's), `POST /api/realtime` answers 204, and a
// `POST /api/collections/posts/records` writes the created record's event to
// every open stream, framed as Mainspring frames it (an HTTP/1.1 chunk per
// event, each stream's own `id:` line), with no rule, no database and no
// subscription bookkeeping: what is left is the write per socket.
import http from 'node:http';

const record = JSON.parse(process.env.BARE_BODY ?? '{"id":"bare","title":"hello"}');

/** Open streams: clientId → socket. */
const streams = new Map();
let nextId = 0;

/** One event, as an HTTP/1.1 chunk carrying `id:`, `event:` and `data:` lines. */
function chunk(id, body) {
  const text = `id:${id}\n${body}`;
  return Buffer.from(`${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`);
}

function openStream(req, res) {
  const id = `bare${(nextId++).toString(36).padStart(11, '0')}`;
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-store',
    connection: 'close',
    'transfer-encoding': 'chunked',
  });
  res.flushHeaders();
  const socket = req.socket;
  socket.setTimeout(0);
  socket.on('error', () => {});
  socket.on('close', () => streams.delete(id));
  socket.write(chunk(id, `event:PB_CONNECT\ndata:${JSON.stringify({ clientId: id })}\n\n`));
  streams.set(id, socket);
}

function readBody(req) {
  return new Promise((resolve) => {
    const parts = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts).toString()));
  });
}

async function create(req, res) {
  const input = JSON.parse((await readBody(req)) || '{}');
  const created = { ...record, ...input };
  const body = JSON.stringify(created);
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
  const event = `event:posts/*\ndata:${JSON.stringify({ action: 'create', record: created })}\n\n`;
  for (const [id, socket] of streams) socket.write(chunk(id, event));
}

const server = http.createServer((req, res) => {
  if (req.url === '/api/realtime') {
    if (req.method === 'GET') return openStream(req, res);
    return readBody(req).then(() => {
      res.writeHead(204);
      res.end();
    });
  }
  if (req.method === 'POST' && req.url === '/api/collections/posts/records') return create(req, res);
  const body = JSON.stringify(record);
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.keepAliveTimeout = 60_000;

// Port 0: the OS picks a free port; the parent reads it from this first line.
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});

// The parent closes our stdin when it goes away (even on SIGKILL), so we never
// outlive it; SIGTERM is the normal way to stop us.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
