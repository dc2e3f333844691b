import PocketBase from 'pocketbase';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HooksModule } from '../src/core/hooks/api.js';
import { authorize, startOidc, type TestOidc, useOidc } from './helpers/oidc.js';
import { startServer, superuserToken, TEST_ENGINE, type TestServer } from './helpers/server.js';

/**
 * Attacks on OAuth2 sign-in, each refused with a clear 400 in PocketBase's
 * error shape and nothing written: a replayed, forged or foreign sign-in
 * ticket (the PKCE verifier that carries the state), a state that does not
 * match, a code issued to another client, a redirect URL outside the
 * allow-list, the provider's refusals, hostile bodies; and the
 * `onRecordAuthWithOAuth2Request` hook refusing or changing a sign-in.
 */

const APP_REDIRECT = 'http://127.0.0.1:5173/callback';
let s: TestServer;
let op: TestOidc;
let admin = '';

const hooks: HooksModule = (ms) => {
  ms.onRecordAuthWithOAuth2Request(async (e) => {
    if (e.oauth2User.id === 'blocked') throw new ms.ForbiddenError('Not this one.');
    if (e.oauth2User.id === 'renamed') e.createData = { ...e.createData, name: `hooked ${e.providerName}` };
    await e.next();
  }, 'users');
};

beforeAll(async () => {
  op = await startOidc(
    [
      { client_id: 'ms-app', client_secret: 'ms-app-secret', redirect_uris: [APP_REDIRECT] },
      { client_id: 'other-app', client_secret: 'other-app-secret', redirect_uris: [APP_REDIRECT] },
    ],
    ['alice', 'blocked', 'renamed', 'eve'].map((sub) => ({
      sub,
      email: `${sub}@example.com`,
      email_verified: true,
      name: sub,
      preferred_username: sub,
    })),
  );
  s = await startServer({ hooks: [hooks] });
  admin = await superuserToken(s);
  await useOidc(s.request, admin, op, APP_REDIRECT);
}, 60_000);

afterAll(async () => {
  await s?.close();
  await op?.close();
});

async function provider() {
  const m = await new PocketBase(s.url).collection('users').listAuthMethods();
  return m.oauth2.providers.find((p) => p.name === 'oidc') as NonNullable<(typeof m.oauth2.providers)[number]>;
}

/** A code from the provider for `account`, through the auth URL of `p` (or of another client). */
async function codeFor(account: string, authURL: string) {
  const back = await authorize(authURL + encodeURIComponent(APP_REDIRECT), APP_REDIRECT, account);
  return back.code;
}

const post = (body: unknown) => s.request('POST', '/api/collections/users/auth-with-oauth2', { body });
const usersCount = async () => (await s.request('GET', '/api/collections/users/records?perPage=1', { token: admin })).body.totalItems;

describe(`OAuth2 attacks (${TEST_ENGINE})`, () => {
  it('a sign-in ticket works once: replayed with a fresh code it is refused', async () => {
    const p = await provider();
    const code = await codeFor('alice', p.authURL);
    const first = await post({ provider: 'oidc', code, codeVerifier: p.codeVerifier, redirectURL: APP_REDIRECT });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const fresh = await codeFor('alice', p.authURL);
    const replay = await post({ provider: 'oidc', code: fresh, codeVerifier: p.codeVerifier, redirectURL: APP_REDIRECT });
    expect(replay.status).toBe(400);
    expect(replay.body).toEqual({ status: 400, message: 'Invalid or expired OAuth2 state.', data: {} });
  });

  it('a forged ticket, or one of another provider or collection, is refused before the provider is asked', async () => {
    const p = await provider();
    const code = await codeFor('eve', p.authURL);
    const [id, exp] = p.codeVerifier.split('.');
    for (const codeVerifier of [
      '',
      'a'.repeat(43),
      `${id}.${exp}.${'A'.repeat(43)}`,
      `${'B'.repeat(22)}.${exp}.${p.codeVerifier.split('.')[2]}`,
      `${id}.${(Number.parseInt(exp as string, 36) + 9999).toString(36)}.${p.codeVerifier.split('.')[2]}`,
    ]) {
      const res = await post({ provider: 'oidc', code, codeVerifier, redirectURL: APP_REDIRECT });
      expect(res.status, codeVerifier).toBe(400);
      expect(res.body.message).toBe('Invalid or expired OAuth2 state.');
    }
    // the ticket was never spent: it still works with its code
    const ok = await post({ provider: 'oidc', code, codeVerifier: p.codeVerifier, redirectURL: APP_REDIRECT });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
  });

  it('a state that is not the ticket’s is refused', async () => {
    const p = await provider();
    const code = await codeFor('eve', p.authURL);
    const res = await post({ provider: 'oidc', code, codeVerifier: p.codeVerifier, redirectURL: APP_REDIRECT, state: `${p.state}x` });
    expect(res.status).toBe(400);
    expect(res.body.message).toBe('Invalid or expired OAuth2 state.');
  });

  it('a code issued to another client is refused by the provider: a clear 400, nothing written', async () => {
    const p = await provider();
    const theirs = new URL(p.authURL);
    theirs.searchParams.set('client_id', 'other-app');
    theirs.searchParams.delete('redirect_uri');
    const code = await codeFor('eve', `${theirs.toString()}&redirect_uri=`);
    const before = await usersCount();
    const res = await post({ provider: 'oidc', code, codeVerifier: p.codeVerifier, redirectURL: APP_REDIRECT });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^Failed to fetch OAuth2 token: the provider refused the code \(invalid_grant\)\.$/);
    expect(await usersCount()).toBe(before);
  });

  it('a bad code and a used code are the provider’s invalid_grant, a clear 400', async () => {
    const p = await provider();
    const bad = await post({ provider: 'oidc', code: 'not-a-code', codeVerifier: p.codeVerifier, redirectURL: APP_REDIRECT });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('invalid_grant');
  });

  it('access_denied at the provider comes back without a code, which the API refuses as a missing code', async () => {
    const p = await provider();
    const back = await authorize(p.authURL + encodeURIComponent(APP_REDIRECT), APP_REDIRECT, 'eve', true);
    expect(back.error).toBe('access_denied');
    expect(back.code).toBe('');
    const res = await post({ provider: 'oidc', code: back.code, codeVerifier: p.codeVerifier, redirectURL: APP_REDIRECT });
    expect(res.status).toBe(400);
    expect(res.body.data.code.code).toBe('validation_required');
  });

  it('a redirect URL outside the allow-list is refused', async () => {
    const p = await provider();
    for (const redirectURL of [
      'https://evil.example/callback',
      `${APP_REDIRECT}/../x`,
      'http://127.0.0.1:5173/callbackx',
      'javascript:alert(1)',
    ]) {
      const res = await post({ provider: 'oidc', code: 'x', codeVerifier: p.codeVerifier, redirectURL });
      expect(res.status, redirectURL).toBe(400);
      expect(res.body.data.redirectURL.code).toBe('validation_redirect_url_not_allowed');
    }
    // PocketBase's old spelling is read too, and checked the same
    const legacy = await post({ provider: 'oidc', code: 'x', codeVerifier: p.codeVerifier, redirectUrl: 'https://evil.example/callback' });
    expect(legacy.body.data.redirectURL.code).toBe('validation_redirect_url_not_allowed');
  });

  it('hostile bodies get PocketBase’s 400s, never a 500', async () => {
    const p = await provider();
    const bodies: unknown[] = [
      {},
      { provider: 'github', code: 'x', redirectURL: APP_REDIRECT },
      { provider: ['oidc'], code: 'x', redirectURL: APP_REDIRECT },
      { provider: 'oidc', code: { $ne: 1 }, redirectURL: APP_REDIRECT, codeVerifier: p.codeVerifier },
      { provider: 'oidc', code: 'x'.repeat(5000), redirectURL: APP_REDIRECT, codeVerifier: p.codeVerifier },
      { provider: 'oidc', code: 'x', redirectURL: APP_REDIRECT, codeVerifier: p.codeVerifier, createData: 'nope' },
      { provider: '__proto__', code: 'x', redirectURL: APP_REDIRECT },
    ];
    for (const body of bodies) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(Object.keys(res.body).sort()).toEqual(['data', 'message', 'status']);
    }
    const unknown = await s.request('POST', '/api/collections/nope/auth-with-oauth2', { body: {} });
    expect(unknown.status).toBe(404);
  });

  it('the hook refuses a sign-in, or changes what a sign-up writes', async () => {
    let p = await provider();
    const before = await usersCount();
    const refused = await post({
      provider: 'oidc',
      code: await codeFor('blocked', p.authURL),
      codeVerifier: p.codeVerifier,
      redirectURL: APP_REDIRECT,
    });
    expect(refused.status).toBe(403);
    expect(await usersCount()).toBe(before);
    p = await provider();
    const changed = await post({
      provider: 'oidc',
      code: await codeFor('renamed', p.authURL),
      codeVerifier: p.codeVerifier,
      redirectURL: APP_REDIRECT,
    });
    expect(changed.status).toBe(200);
    expect(changed.body.record.name).toBe('hooked oidc');
    expect(changed.body.meta.isNew).toBe(true);
  });

  it('an auth collection without OAuth2 answers 403', async () => {
    const res = await s.request('POST', '/api/collections/_superusers/auth-with-oauth2', { body: { provider: 'oidc', code: 'x' } });
    expect(res.status).toBe(403);
  });
});
