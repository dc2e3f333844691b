import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPrivateAddress, outbound } from './http.js';

/** The outbound guard against a real server on 127.0.0.1: refused unless trusted, by address and by name, and bounded. */

let server: Server;
let port = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/big') res.end(Buffer.alloc(4096, 1));
    else if (req.url === '/hop') res.writeHead(302, { location: 'http://localhost:1/elsewhere' }).end();
    else res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => server.close());

describe('the OAuth2 outbound guard', () => {
  it('knows private, loopback, link-local and mapped addresses', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '::1',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '0.0.0.0',
      'nonsense',
    ]) {
      expect(isPrivateAddress(a), a).toBe(true);
    }
    for (const a of ['93.184.216.34', '2606:2800:220:1::1', '::ffff:8.8.8.8']) expect(isPrivateAddress(a), a).toBe(false);
  });

  it('refuses a loopback address, and a name that resolves to one, unless the host:port is trusted', async () => {
    await expect(outbound(`http://127.0.0.1:${port}/`, { trusted: [] })).rejects.toThrow(/private address/);
    await expect(outbound(`http://localhost:${port}/`, { trusted: [] })).rejects.toThrow(/private address/);
    await expect(outbound(`http://127.0.0.1:${port}/`, { trusted: ['127.0.0.1:1'] })).rejects.toThrow(/private address/);
    const ok = await outbound(`http://127.0.0.1:${port}/`, { trusted: [`127.0.0.1:${port}`] });
    expect(ok.body.toString()).toBe('ok');
  });

  it('checks every redirect hop, bounds the answer, and fetches only http(s)', async () => {
    await expect(outbound(`http://127.0.0.1:${port}/hop`, { trusted: [`127.0.0.1:${port}`] })).rejects.toThrow(/private address/);
    await expect(outbound(`http://127.0.0.1:${port}/big`, { trusted: [`127.0.0.1:${port}`], maxBytes: 1000 })).rejects.toThrow(/larger/);
    await expect(outbound('file:///etc/passwd', { trusted: [] })).rejects.toThrow(/http/);
    await expect(outbound('not a url', { trusted: [] })).rejects.toThrow(/invalid URL/);
  });
});
