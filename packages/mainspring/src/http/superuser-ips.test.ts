import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, superuserToken, TEST_ENGINE, type TestServer } from '../../test/helpers/server.js';
import { superuserCommand } from '../cli/superuser.js';
import { IpList, ipEntryProblem, normalizeIp } from '../core/ip-lists.js';

/**
 * The superuser IP allow-list (`superuserIPs`) and the rate-limit
 * exclusions (`rateLimits.excludedIPs`), PocketBase's settings, over a real
 * server. Every test client is 127.0.0.1: other addresses come through the
 * trusted proxy header, which is also how the list honours `trustedProxy`.
 */

type Res = { status: number; body: any };

function expectError(r: Res, status: number): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body).toMatchObject({ status, message: expect.any(String), data: expect.any(Object) });
}

describe('address lists', () => {
  test('entries: IPv4 and IPv6 addresses and networks; anything else named', () => {
    for (const ok of ['203.0.113.7', '10.0.0.0/8', '0.0.0.0/0', '::1', '2001:db8::/32', '::/0', '::ffff:10.0.0.0/104']) {
      expect(ipEntryProblem(ok), ok).toBeNull();
    }
    for (const bad of [
      '',
      ' 10.0.0.1',
      '10.0.0.0/33',
      '10.0.0.0/-1',
      '10.0.0.0/',
      '1.2.3.4/8/9',
      '::1/129',
      'fe80::1%eth0',
      'localhost',
      7,
      null,
      'a'.repeat(200),
    ]) {
      expect(ipEntryProblem(bad), String(bad)).not.toBeNull();
    }
  });

  test('matching: networks of both families, IPv4-mapped IPv6, ports and brackets; unreadable addresses match nothing', () => {
    const list = new IpList(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', '::1']);
    for (const inside of ['10.255.0.1', '::ffff:10.1.2.3', '10.1.2.3:5555', '192.168.1.7', '2001:db8::5', '[2001:db8:0:1::9]:443', '::1']) {
      expect(list.has(inside), inside).toBe(true);
    }
    for (const outside of ['11.0.0.1', '192.168.1.8', '2001:db9::1', '::2', '', 'unknown', '10.0.0.1, 10.0.0.2']) {
      expect(list.has(outside), outside).toBe(false);
    }
    expect(normalizeIp('::FFFF:127.0.0.1')).toBe('127.0.0.1');
  });
});

describe(`superuser IP allow-list and rate-limit exclusions on ${TEST_ENGINE}`, () => {
  let s: TestServer;
  let su: string;
  let user: string;
  const from = (ip: string) => ({ 'x-forwarded-for': ip });
  const login = (ip?: string, password = 'admin-password-1') =>
    s.request('POST', '/api/collections/_superusers/auth-with-password', {
      body: { identity: 'admin@example.com', password },
      headers: ip ? from(ip) : {},
    });
  const setIps = (superuserIPs: string[]) => s.app.settings.update({ superuserIPs });

  beforeAll(async () => {
    s = await startServer();
    su = await superuserToken(s);
    const body = { email: 'ann@example.com', password: 'ann-password-1', passwordConfirm: 'ann-password-1' };
    expect((await s.request('POST', '/api/collections/users/records', { body })).status).toBe(200);
    user = (
      await s.request('POST', '/api/collections/users/auth-with-password', { body: { identity: body.email, password: body.password } })
    ).body.token;
  });
  afterAll(async () => {
    await s?.close();
  });

  test('hostile lists in the settings are a 400 that names the setting, and change nothing', async () => {
    const hostile: unknown[] = [
      { superuserIPs: ['10.0.0.0/33'] },
      { superuserIPs: ['not-an-ip'] },
      { superuserIPs: ['1.2.3.4/8/9'] },
      { superuserIPs: [123] },
      { superuserIPs: [{}] },
      { superuserIPs: ['::1/129'] },
      { superuserIPs: ['fe80::1%eth0'] },
      { superuserIPs: ['10.0.0.1; DROP TABLE _params'] },
      { superuserIPs: '10.0.0.0/8' },
      { superuserIPs: Array.from({ length: 1001 }, (_, i) => `10.0.${i >> 8}.${i & 255}`) },
      { rateLimits: { excludedIPs: ['300.1.1.1'] } },
      { rateLimits: { excludedIPs: 'everyone' } },
    ];
    for (const body of hostile) {
      const r = await s.request('PATCH', '/api/settings', { body, token: su });
      expectError(r, 400);
      const key = 'superuserIPs' in (body as object) ? 'superuserIPs' : 'rateLimits';
      expect(r.body.data[key], JSON.stringify(r.body.data)).toBeDefined();
    }
    const settings = await s.request('GET', '/api/settings', { token: su });
    expect(settings.body.superuserIPs).toEqual([]);
    expect(settings.body.rateLimits.excludedIPs).toEqual([]);
  });

  test('with a trusted proxy header, superusers act only from listed addresses and networks (IPv4 and IPv6)', async () => {
    await s.app.settings.update({ trustedProxy: { headers: ['X-Forwarded-For'], useLeftmostIP: false } });
    await setIps(['10.0.0.0/8', '2001:db8::/32']);
    try {
      for (const ip of ['10.1.2.3', '2001:db8::5']) {
        expect((await login(ip)).status, ip).toBe(200);
        expect((await s.request('GET', '/api/collections', { token: su, headers: from(ip) })).status, ip).toBe(200);
      }
      for (const ip of ['203.0.113.9', '2001:db9::1', '11.0.0.1']) {
        expectError(await login(ip), 403);
        // refused before the password is judged: a wrong one is no oracle from elsewhere
        expectError(await login(ip, 'wrong-password'), 403);
        expectError(await s.request('GET', '/api/collections', { token: su, headers: from(ip) }), 403);
        expectError(await s.request('GET', '/api/settings', { token: su, headers: from(ip) }), 403);
        expectError(
          await s.request('POST', '/api/collections/_superusers/request-otp', { body: { email: 'admin@example.com' }, headers: from(ip) }),
          403,
        );
        // the collection by its id, and its name in another case
        const id = s.app.records.collection('_superusers').id;
        for (const name of [id, '_SUPERUSERS']) {
          expectError(
            await s.request('POST', `/api/collections/${name}/auth-with-password`, {
              body: { identity: 'admin@example.com', password: 'admin-password-1' },
              headers: from(ip),
            }),
            403,
          );
        }
        // other callers are not concerned
        expect((await s.request('GET', '/api/collections/users/records', { token: user, headers: from(ip) })).status).toBe(200);
        expect((await s.request('GET', '/api/health', { headers: from(ip) })).status).toBe(200);
      }
      // the last address of the header is the client's unless useLeftmostIP: a client cannot prepend its way in
      expectError(await login('10.1.2.3, 203.0.113.9'), 403);
      expect((await login('203.0.113.9, 10.1.2.3')).status).toBe(200);
    } finally {
      await setIps([]);
      await s.app.settings.update({ trustedProxy: { headers: [], useLeftmostIP: false } });
    }
  });

  test('without a trusted proxy header, a forwarded address is not believed', async () => {
    await setIps(['10.0.0.0/8']);
    try {
      expectError(await login('10.1.2.3'), 403);
      expectError(await s.request('GET', '/api/collections', { token: su, headers: from('10.1.2.3') }), 403);
    } finally {
      await setIps([]);
    }
    expect((await login()).status).toBe(200);
  });

  test('a list that shuts every superuser out is undone with the CLI, which it never locks out', async () => {
    // the superuser saves a list without its own address: from now on the API refuses it
    const saved = await s.request('PATCH', '/api/settings', { body: { superuserIPs: ['203.0.113.0/24'] }, token: su });
    expect(saved.status).toBe(200);
    expectError(await s.request('GET', '/api/settings', { token: su }), 403);
    expectError(await login(), 403);
    // `mainspring superuser` works on the database beside the running server
    await superuserCommand(['upsert', 'rescue@example.com', 'rescue-password-1'], s.dir, s.databaseUrl ?? '');
    await expect(superuserCommand(['ips', '10.0.0.0/99'], s.dir, s.databaseUrl ?? '')).rejects.toThrow(/prefix length/);
    await superuserCommand(['ips', 'clear'], s.dir, s.databaseUrl ?? '');
    // the server reads the list again once the other process wrote it
    let r = await login();
    for (let i = 0; i < 40 && r.status !== 200; i++) {
      await new Promise((done) => setTimeout(done, 250));
      r = await login();
    }
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const rescue = await s.request('POST', '/api/collections/_superusers/auth-with-password', {
      body: { identity: 'rescue@example.com', password: 'rescue-password-1' },
    });
    expect(rescue.status).toBe(200);
  });

  test('excluded addresses are never rate limited; others still are', async () => {
    await s.app.settings.update({
      trustedProxy: { headers: ['X-Forwarded-For'], useLeftmostIP: false },
      rateLimits: {
        enabled: true,
        rules: [{ label: '*:list', maxRequests: 2, duration: 60, audience: '' }],
        excludedIPs: ['198.51.100.0/24', '2001:db8:1::/48'],
      },
    });
    // guests are counted by address
    const list = (ip: string) => s.request('GET', '/api/collections/users/records', { headers: from(ip) });
    try {
      for (const ip of ['198.51.100.20', '2001:db8:1::7']) {
        for (let i = 0; i < 6; i++) expect((await list(ip)).status, `${ip} #${i}`).toBe(200);
      }
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await list('192.0.2.1')).status);
      expect(statuses).toEqual([200, 200, 429, 429]);
    } finally {
      await s.app.settings.update({
        rateLimits: { enabled: false, rules: [], excludedIPs: [] },
        trustedProxy: { headers: [], useLeftmostIP: false },
      });
    }
  });
});
