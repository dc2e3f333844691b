import { networkInterfaces } from 'node:os';
import { CliError } from './errors.js';

/**
 * The address `serve` listens on, in one place for `serve` and the
 * container's health check (`cli/healthcheck.ts`), which must knock where the
 * server listens: `--http=HOST:PORT` (also `:PORT` and `PORT`), else
 * `MS_HTTP`, else 127.0.0.1:8090. Imports nothing of the app, so the health
 * check starts in a few milliseconds.
 */
export function parseHttpAddress(raw: string | undefined): { host: string; port: number } {
  const value = raw ?? process.env.MS_HTTP ?? '127.0.0.1:8090';
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):)?(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65_535) throw new CliError(`invalid --http address "${value}"; expected HOST:PORT such as 127.0.0.1:8090`, 2);
  const host = (m[1] ?? '').replace(/^\[|\]$/g, '') || '127.0.0.1';
  return { host, port };
}

/**
 * The host to print in a link to a server listening on `host`: a wildcard
 * address (`0.0.0.0`, `::`) is no place a browser can go, so the machine's
 * first non-internal IPv4 address stands for it, else `localhost`. IPv6
 * literals get their brackets.
 */
export function linkHost(host: string, interfaces = networkInterfaces()): string {
  if (host === '0.0.0.0' || host === '::' || host === '') {
    const outside = Object.values(interfaces)
      .flat()
      .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal);
    return outside?.address ?? 'localhost';
  }
  return host.includes(':') ? `[${host}]` : host;
}
