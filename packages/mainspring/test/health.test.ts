import PocketBase from 'pocketbase';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { signedUpUser, startServer, superuserToken, type TestServer } from './helpers/server.js';

/**
 * `GET /api/health` as PocketBase answers it (apis/health.go and its test):
 * guests and users get `data: {}`; superusers get `canBackup`, `realIP` and
 * `possibleProxyHeader`.
 */

const GUEST = { message: 'API is healthy.', code: 200, data: {} };

let s: TestServer;
let su: string;

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
});

afterAll(async () => {
  await s?.close();
});

test('guests, users and bad tokens get the plain answer', async () => {
  const user = await signedUpUser(s, 'health-user@example.com');
  for (const token of [undefined, user.token, `Bearer ${user.token}`, 'not-a-token', `${su}x`]) {
    const res = await s.request('GET', '/api/health', { token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(GUEST);
  }
});

test('a superuser gets canBackup, realIP and possibleProxyHeader', async () => {
  const res = await s.request('GET', '/api/health', { token: su });
  expect(res.status).toBe(200);
  // no backups can be made yet (they come with a later issue), so a backup cannot start
  expect(res.body).toEqual({ ...GUEST, data: { canBackup: true, realIP: '127.0.0.1', possibleProxyHeader: '' } });
  // through the SDK too, with any case of the scheme
  const pb = new PocketBase(s.url);
  pb.authStore.save(su, null);
  expect((await pb.health.check()).data).toEqual({ canBackup: true, realIP: '127.0.0.1', possibleProxyHeader: '' });
  const lower = await s.request('GET', '/api/health', { token: `bearer ${su}` });
  expect(lower.body.data.realIP).toBe('127.0.0.1');
});

test('possibleProxyHeader names the first proxy header the request carries; realIP trusts only the configured ones', async () => {
  const forwarded = await s.request('GET', '/api/health', { token: su, headers: { 'x-forwarded-for': '198.51.100.7' } });
  // not trusted: the IP is the connection's, the header is only pointed at
  expect(forwarded.body.data).toEqual({ canBackup: true, realIP: '127.0.0.1', possibleProxyHeader: 'X-Forwarded-For' });
  const fly = await s.request('GET', '/api/health', {
    token: su,
    headers: { 'fly-client-ip': '198.51.100.8', 'x-forwarded-for': '1.2.3.4' },
  });
  expect(fly.body.data.possibleProxyHeader).toBe('Fly-Client-IP');
  const cf = await s.request('GET', '/api/health', {
    token: su,
    headers: { 'cf-connecting-ip': '198.51.100.9', 'fly-client-ip': '1.2.3.4' },
  });
  expect(cf.body.data.possibleProxyHeader).toBe('CF-Connecting-IP');

  // a configured header comes first, and realIP is read from it
  expect((await s.request('PATCH', '/api/settings', { token: su, body: { trustedProxy: { headers: ['X-Real-IP'] } } })).status).toBe(200);
  try {
    const real = await s.request('GET', '/api/health', {
      token: su,
      headers: { 'x-real-ip': '203.0.113.5', 'x-forwarded-for': '1.2.3.4' },
    });
    expect(real.body.data).toEqual({ canBackup: true, realIP: '203.0.113.5', possibleProxyHeader: 'X-Real-IP' });
    // guests still learn nothing
    const guest = await s.request('GET', '/api/health', { headers: { 'x-real-ip': '203.0.113.5' } });
    expect(guest.body).toEqual(GUEST);
  } finally {
    await s.request('PATCH', '/api/settings', { token: su, body: { trustedProxy: { headers: [] } } });
  }
});

test('HEAD answers 200 without a body', async () => {
  const res = await fetch(`${s.url}/api/health`, { method: 'HEAD', headers: { authorization: su } });
  expect(res.status).toBe(200);
  expect(await res.text()).toBe('');
});
