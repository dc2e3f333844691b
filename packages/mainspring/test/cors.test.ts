import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, type TestServer } from './helpers/server.js';

/** Cross-origin calls, as a browser makes them: a preflight, then the call. */

const preflight = (s: TestServer, origin: string, headers = 'authorization, content-type') =>
  s.request('OPTIONS', '/api/collections/users/records', {
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': headers },
  });

describe('CORS with the default "*"', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(() => s.close());

  test('a preflight from any origin is a 204 that admits the method and the asked headers', async () => {
    const r = await preflight(s, 'https://app.example.com');
    expect(r.status).toBe(204);
    expect(r.headers.get('access-control-allow-origin')).toBe('*');
    expect(r.headers.get('access-control-allow-methods')).toContain('PATCH');
    expect(r.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
    expect(r.headers.get('access-control-max-age')).toBe('86400');
  });

  test('a cross-origin call carries the header; a call without Origin does not need it', async () => {
    const cross = await s.request('GET', '/api/health', { headers: { origin: 'https://app.example.com' } });
    expect(cross.status).toBe(200);
    expect(cross.headers.get('access-control-allow-origin')).toBe('*');
    // errors too: the browser must be able to read a 400's body
    const bad = await s.request('GET', '/api/collections/users/records?filter=(((', { headers: { origin: 'https://x.test' } });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('access-control-allow-origin')).toBe('*');
    const plain = await s.request('GET', '/api/health');
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('an OPTIONS that is not a preflight is a bare 204, on any path', async () => {
    const r = await s.request('OPTIONS', '/api/no/such/path');
    expect(r.status).toBe(204);
    expect(r.headers.get('access-control-allow-methods')).toBeNull();
  });

  test('JSON answers say nosniff and nothing about framing; other answers refuse framing by other sites', async () => {
    const json = await s.request('GET', '/api/health');
    expect(json.headers.get('x-content-type-options')).toBe('nosniff');
    expect(json.headers.get('x-frame-options')).toBeNull();
    const empty = await s.request('OPTIONS', '/api/health');
    expect(empty.headers.get('x-frame-options')).toBe('SAMEORIGIN');
  });
});

describe('CORS with a list of origins', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ corsOrigins: ['https://app.example.com', 'http://localhost:5173'] });
  });
  afterAll(() => s.close());

  test('a listed origin is echoed, with Vary: Origin', async () => {
    const r = await preflight(s, 'http://localhost:5173');
    expect(r.status).toBe(204);
    expect(r.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(r.headers.get('vary')).toContain('Origin');
    const call = await s.request('GET', '/api/health', { headers: { origin: 'https://app.example.com' } });
    expect(call.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
  });

  test('another origin gets no CORS headers, so its browser refuses to read the answer', async () => {
    for (const origin of ['https://evil.example.com', 'https://app.example.com.evil.test', 'null', '*']) {
      const r = await preflight(s, origin);
      expect(r.headers.get('access-control-allow-origin'), origin).toBeNull();
      expect(r.headers.get('access-control-allow-methods'), origin).toBeNull();
      const call = await s.request('GET', '/api/health', { headers: { origin } });
      expect(call.headers.get('access-control-allow-origin'), origin).toBeNull();
      expect(call.headers.get('vary')).toContain('Origin');
    }
  });
});
