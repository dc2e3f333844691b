// The ceiling: a bare node:http endpoint answering a fixed JSON object.
//
// It runs in its own process (spawned by run.mjs), like Mainspring does, so
// that it does not share an event loop with the load generator. The body is a
// real record fetched from Mainspring during setup (passed in BARE_BODY), so
// both endpoints send responses of the same size. It is serialised on every
// request, as any real JSON handler would.
import http from 'node:http';

const record = JSON.parse(process.env.BARE_BODY ?? '{"id":"bare","title":"hello"}');

const server = http.createServer((_req, res) => {
  const body = JSON.stringify(record);
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});

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
