import PocketBase, { type ClientResponseError } from 'pocketbase';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GithubStandIn, startGithub } from './helpers/github-standin.js';
import { startServer, superuserToken, TEST_ENGINE, type TestServer } from './helpers/server.js';

/**
 * The GitHub (non-OpenID) flow against a local stand-in answering as
 * GitHub's documented endpoints: the email is the primary verified one of
 * `/user/emails`; an unverified primary (even one that `/user` shows as
 * public) never reaches an existing account.
 */

const APP_REDIRECT = 'http://127.0.0.1:5173/gh-callback';
let s: TestServer;
let gh: GithubStandIn;
let admin = '';

beforeAll(async () => {
  gh = await startGithub({ id: 'gh-client', secret: 'gh-secret' }, [
    {
      login: 'octocat',
      id: 583231,
      name: 'The Octocat',
      email: null,
      emails: [
        { email: 'old@example.com', primary: false, verified: true, visibility: null },
        { email: 'octocat@example.com', primary: true, verified: true, visibility: 'public' },
      ],
    },
    {
      login: 'sneaky',
      id: 1001,
      name: 'Sneaky',
      email: 'victim@example.com',
      emails: [
        { email: 'victim@example.com', primary: true, verified: false, visibility: 'public' },
        { email: 'sneaky@example.com', primary: false, verified: true, visibility: null },
      ],
    },
  ]);
  s = await startServer();
  admin = await superuserToken(s);
  await s.request('PATCH', '/api/settings', { token: admin, body: { oauth2: { redirectURLs: [APP_REDIRECT], trustedHosts: [gh.host] } } });
  const res = await s.request('PATCH', '/api/collections/users', {
    token: admin,
    body: {
      oauth2: {
        enabled: true,
        mappedFields: { name: 'name' },
        providers: [
          {
            name: 'github',
            clientId: 'gh-client',
            clientSecret: 'gh-secret',
            authURL: `${gh.base}/login/oauth/authorize`,
            tokenURL: `${gh.base}/login/oauth/access_token`,
            userInfoURL: `${gh.base}/user`,
          },
        ],
      },
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}, 60_000);

afterAll(async () => {
  await s?.close();
  await gh?.close();
});

async function signIn(login: string, pb = new PocketBase(s.url)) {
  gh.as = login;
  const methods = await pb.collection('users').listAuthMethods();
  const p = methods.oauth2.providers.find((x) => x.name === 'github');
  if (!p) throw new Error('github not listed');
  expect(p.displayName).toBe('GitHub');
  const res = await fetch(p.authURL + encodeURIComponent(APP_REDIRECT), { redirect: 'manual' });
  const back = new URL(res.headers.get('location') ?? '');
  expect(back.searchParams.get('state')).toBe(p.state);
  return pb.collection('users').authWithOAuth2Code('github', back.searchParams.get('code') ?? '', p.codeVerifier, APP_REDIRECT);
}

describe(`OAuth2 with GitHub's endpoints (${TEST_ENGINE})`, () => {
  it('signs up with the primary verified email and the mapped name', async () => {
    const auth = await signIn('octocat');
    expect(auth.meta?.isNew).toBe(true);
    expect(auth.meta?.id).toBe('583231');
    expect(auth.meta?.username).toBe('octocat');
    expect(auth.record.email).toBe('octocat@example.com');
    expect(auth.record.verified).toBe(true);
    expect(auth.record.name).toBe('The Octocat');
    const again = await signIn('octocat');
    expect(again.meta?.isNew).toBe(false);
    expect(again.record.id).toBe(auth.record.id);
  });

  it('an unverified primary email never reaches the account that owns the address', async () => {
    const victim = await s.request('POST', '/api/collections/users/records', {
      token: admin,
      body: { email: 'victim@example.com', password: 'victim-password-1', passwordConfirm: 'victim-password-1', verified: true },
    });
    expect(victim.status).toBe(200);
    const err = await signIn('sneaky').catch((e: ClientResponseError) => e);
    expect((err as ClientResponseError).status).toBe(400);
    expect((err as ClientResponseError).message).toContain('no verified email');
    const links = await s.request('GET', '/api/collections/_externalAuths/records', { token: admin });
    expect(links.body.items.map((l: { providerId: string }) => l.providerId)).toEqual(['583231']);
    // the victim's password still signs in: nothing of the account changed
    const pw = await new PocketBase(s.url).collection('users').authWithPassword('victim@example.com', 'victim-password-1');
    expect(pw.record.id).toBe(victim.body.id);
  });

  it('a made-up or reused code is GitHub’s error, a clear 400', async () => {
    gh.as = 'octocat';
    const ticket = async () =>
      (await new PocketBase(s.url).collection('users').listAuthMethods()).oauth2.providers[0] as { authURL: string; codeVerifier: string };
    const exchange = (code: string, codeVerifier: string) =>
      s.request('POST', '/api/collections/users/auth-with-oauth2', {
        body: { provider: 'github', code, codeVerifier, redirectURL: APP_REDIRECT },
      });
    const madeUp = await exchange('made-up', (await ticket()).codeVerifier);
    expect(madeUp.status).toBe(400);
    expect(madeUp.body.message).toBe('Failed to fetch OAuth2 token: the provider refused the code (bad_verification_code).');
    const p = await ticket();
    const res = await fetch(p.authURL + encodeURIComponent(APP_REDIRECT), { redirect: 'manual' });
    const code = new URL(res.headers.get('location') ?? '').searchParams.get('code') ?? '';
    expect((await exchange(code, p.codeVerifier)).status).toBe(200);
    const reused = await exchange(code, (await ticket()).codeVerifier);
    expect(reused.status).toBe(400);
    expect(reused.body.message).toContain('bad_verification_code');
  });
});
