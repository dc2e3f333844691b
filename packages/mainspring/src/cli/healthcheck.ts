import { parseHttpAddress } from './address.js';

/**
 * `node dist/cli/healthcheck.js [HOST:PORT] [--live]`: exits 0 when the
 * server answers `GET /api/health` (ready: 503 while it starts or drains),
 * or with `--live` `GET /api/ms/live` (the process answers), with 200
 * within 3 s; 1 otherwise. The address is
 * the one `serve` listens on (the argument, else `MS_HTTP`, else
 * 127.0.0.1:8090), so a container's health check follows the configured
 * port; a server listening on every interface is asked on the loopback.
 * Node's own fetch: slim images have no curl.
 */
const args = process.argv.slice(2);
const live = args.includes('--live');
const { host, port } = parseHttpAddress(args.find((a) => a !== '--live'));
const loopback = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
const url = `http://${loopback.includes(':') ? `[${loopback}]` : loopback}:${port}${live ? '/api/ms/live' : '/api/health'}`;
fetch(url, { signal: AbortSignal.timeout(3000) }).then(
  (res) => process.exit(res.status === 200 ? 0 : 1),
  () => process.exit(1),
);
