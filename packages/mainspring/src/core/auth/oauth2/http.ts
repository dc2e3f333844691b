import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * What OAuth2 asks of the network (token, profile, discovery, keys,
 * avatars), through one guard: SECURITY.md §7. A name that resolves to a
 * private, loopback or link-local address is refused after resolution (in
 * the socket's own lookup, so a second answer of the DNS cannot slip one
 * in), unless its `host[:port]` is trusted in the settings. Answers are
 * bounded in time and size; redirects are followed a few times, each hop
 * through the same guard.
 */

/** Addresses no OAuth2 request may reach unless trusted. */
const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 127],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv6');
}

/** True for an address OAuth2 may not reach without trust. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return PRIVATE.check(mapped[1] as string, 'ipv4');
  }
  return PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export class OutboundError extends Error {}

export interface OutboundOptions {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Largest answer read; more is an error. */
  maxBytes?: number;
  timeoutMs?: number;
  /** `host:port` (and bare hosts) that may resolve to private addresses. */
  trusted: readonly string[];
}

export interface OutboundAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A lookup that refuses private addresses for an untrusted host. */
function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const ok = addresses.filter((a) => allowPrivate || !isPrivateAddress(a.address));
      if (ok.length === 0) return callback(new OutboundError(`${hostname} resolves to a private address`), '', 0);
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, ok);
      const first = ok[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}

function isTrusted(url: URL, trusted: readonly string[]): boolean {
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return trusted.some((t) => {
    const entry = t.trim().toLowerCase();
    return entry === host || entry === `${host}:${port}` || entry === `[${host}]:${port}`;
  });
}

/** One request through the guard (see the module's comment). */
export async function outbound(rawUrl: string, options: OutboundOptions, hops = 3): Promise<OutboundAnswer> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new OutboundError('invalid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new OutboundError('only http(s) URLs are fetched');
  const allowPrivate = isTrusted(url, options.trusted);
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(literal) !== 0 && !allowPrivate && isPrivateAddress(literal)) throw new OutboundError(`${literal} is a private address`);
  const answer = await send(url, options, allowPrivate);
  const location = answer.headers.location;
  if (answer.status >= 300 && answer.status < 400 && location && (options.method ?? 'GET') === 'GET') {
    if (hops <= 0) throw new OutboundError('too many redirects');
    return outbound(new URL(location, url).toString(), options, hops - 1);
  }
  return answer;
}

function send(url: URL, options: OutboundOptions, allowPrivate: boolean): Promise<OutboundAnswer> {
  const maxBytes = options.maxBytes ?? 1 << 20;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const headers: Record<string, string> = { 'user-agent': 'Mainspring', ...options.headers };
  if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
  const make = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = make(url, { method: options.method ?? 'GET', headers, lookup: guardedLookup(allowPrivate), timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let over = false;
      res.on('data', (chunk: Buffer) => {
        if (over) return;
        size += chunk.length;
        if (size > maxBytes) {
          over = true;
          reject(new OutboundError(`the answer is larger than ${maxBytes} bytes`));
          res.destroy();
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        if (!over) resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', (err) => reject(new OutboundError(err.message)));
    });
    const deadline = setTimeout(() => req.destroy(new OutboundError('timed out')), timeoutMs);
    req.on('close', () => clearTimeout(deadline));
    req.on('timeout', () => req.destroy(new OutboundError('timed out')));
    req.on('error', (err) => reject(err instanceof OutboundError ? err : new OutboundError(err.message)));
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** The JSON of an answer, or an error naming what came instead. */
export function jsonOf(answer: OutboundAnswer): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(answer.body.toString('utf8'));
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    if (Array.isArray(v)) return { items: v };
  } catch {
    // below
  }
  throw new OutboundError(`expected JSON, got status ${answer.status}`);
}
