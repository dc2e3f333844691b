import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, superuserToken, TEST_ENGINE, type TestServer } from './helpers/server.js';

/** The `oauth2` collection option and settings: hostile values refused with PocketBase's 400s; secrets kept and never answered. */

let s: TestServer;
let admin = '';
beforeAll(async () => {
  s = await startServer();
  admin = await superuserToken(s);
});
afterAll(() => s?.close());

const patch = (body: unknown) => s.request('PATCH', '/api/collections/users', { token: admin, body });
const google = { name: 'google', clientId: 'gid', clientSecret: 'gsecret-1' };

describe(`the oauth2 option (${TEST_ENGINE})`, () => {
  it('refuses hostile values, field by field', async () => {
    const cases: [unknown, string][] = [
      ['yes', 'oauth2'],
      [{ enabled: 'true' }, 'enabled'],
      [{ providers: {} }, 'providers'],
      [{ providers: [{ name: 'myspace', clientId: 'x' }] }, 'providers'],
      [{ providers: [{ name: '__proto__', clientId: 'x' }] }, 'providers'],
      [{ providers: [{ ...google, authURL: 'javascript:alert(1)' }] }, 'providers'],
      [{ providers: [{ ...google, extra: { a: 1 } }] }, 'providers'],
      [{ providers: [{ ...google, pkce: 'no' }] }, 'providers'],
      [{ providers: [google, google] }, 'providers'],
      [{ providers: [{ name: 'google' }] }, 'providers'],
      [{ providers: [{ name: 'oidc', clientId: 'x' }] }, 'providers'],
      [{ mappedFields: { name: 'nope' } }, 'mappedFields'],
      [{ mappedFields: [] }, 'mappedFields'],
    ];
    for (const [oauth2, key] of cases) {
      const res = await patch({ oauth2 });
      expect(res.status, JSON.stringify(oauth2)).toBe(400);
      const data = res.body.data.oauth2;
      expect(key === 'oauth2' ? data.code : data[key], JSON.stringify(res.body.data)).toBeTruthy();
    }
    const su = await s.request('PATCH', '/api/collections/_superusers', { token: admin, body: { oauth2: { enabled: true } } });
    expect(su.status).toBe(400);
  });

  it('keeps the client secret when a provider comes back without it, and never answers it', async () => {
    expect((await patch({ oauth2: { enabled: true, providers: [google] } })).status).toBe(200);
    const res = await patch({ oauth2: { providers: [{ name: 'google', clientId: 'gid-2', displayName: 'G' }] } });
    expect(res.status).toBe(200);
    expect(res.body.oauth2.providers).toEqual([
      { name: 'google', clientId: 'gid-2', authURL: '', tokenURL: '', userInfoURL: '', displayName: 'G', pkce: null, extra: {} },
    ]);
    expect(JSON.stringify(await s.request('GET', '/api/collections', { token: admin }))).not.toContain('gsecret-1');
    expect(s.app.collections.registry.find('users')?.auth?.oauth2.providers[0]?.clientSecret).toBe('gsecret-1');
    const methods = await s.request('GET', '/api/collections/users/auth-methods');
    expect(methods.body.oauth2.providers.map((p: { name: string; displayName: string }) => [p.name, p.displayName])).toEqual([
      ['google', 'G'],
    ]);
    expect(new URL(methods.body.oauth2.providers[0].authURL).searchParams.get('client_id')).toBe('gid-2');
  });

  it("keeps Apple's signing key (extra.privateKey) as a secret: never answered, kept when a form sends the provider back without it", async () => {
    const key = '-----BEGIN PRIVATE KEY-----\nnot-a-real-key-but-secret\n-----END PRIVATE KEY-----';
    const apple = { name: 'apple', clientId: 'com.example.app', extra: { teamId: 'TEAM', keyId: 'KEY', privateKey: key } };
    const set = await patch({ oauth2: { enabled: true, providers: [apple] } });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body.oauth2.providers[0].extra).toEqual({ teamId: 'TEAM', keyId: 'KEY' });
    for (const path of ['/api/collections', '/api/collections/users']) {
      expect(JSON.stringify((await s.request('GET', path, { token: admin })).body)).not.toContain('not-a-real-key');
    }
    // the form sends back what it was shown: the key stays, so Apple's check (a key or a secret) still passes
    const again = await patch({
      oauth2: { providers: [{ name: 'apple', clientId: 'com.example.app', extra: { teamId: 'TEAM2', keyId: 'KEY' } }] },
    });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    const stored = s.app.collections.registry.find('users')?.auth?.oauth2.providers[0];
    expect(stored?.extra).toEqual({ teamId: 'TEAM2', keyId: 'KEY', privateKey: key });
    // a new key replaces it
    const replaced = await patch({ oauth2: { providers: [{ ...apple, extra: { ...apple.extra, privateKey: 'another-key' } }] } });
    expect(replaced.status).toBe(200);
    expect(s.app.collections.registry.find('users')?.auth?.oauth2.providers[0]?.extra.privateKey).toBe('another-key');
    expect((await patch({ oauth2: { enabled: false, providers: [] } })).status).toBe(200);
  });

  it('refuses bad redirect URLs and trusted hosts in the settings', async () => {
    for (const oauth2 of [
      { redirectURLs: ['https://a.example*'] },
      { redirectURLs: ['ftp://a.example/x'] },
      { redirectURLs: ['https://a.example/*/x'] },
      { redirectURLs: 'https://a.example/' },
      { trustedHosts: ['a b'] },
      { unknown: true },
    ]) {
      const res = await s.request('PATCH', '/api/settings', { token: admin, body: { oauth2 } });
      expect(res.status, JSON.stringify(oauth2)).toBe(400);
    }
    const ok = await s.request('PATCH', '/api/settings', {
      token: admin,
      body: { oauth2: { redirectURLs: ['https://app.example/auth/*'], trustedHosts: ['sso.internal:8443'] } },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.oauth2).toEqual({ redirectURLs: ['https://app.example/auth/*'], trustedHosts: ['sso.internal:8443'] });
  });
});
