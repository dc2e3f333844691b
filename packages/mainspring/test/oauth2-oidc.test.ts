import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import PocketBase, { ClientResponseError } from 'pocketbase';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorize, startOidc, type TestOidc } from './helpers/oidc.js';
import { startServer, superuserToken, TEST_ENGINE, type TestServer } from './helpers/server.js';

/**
 * OAuth2 sign-in end to end against a real OpenID provider (oidc-provider)
 * on 127.0.0.1, through the official SDK's `authWithOAuth2Code`: sign-up
 * with the mapped name and the avatar downloaded into the file field,
 * sign-in, linking to an account by its verified email, unlinking through
 * the records API, and the attacks on the flow.
 */

const APP_REDIRECT = 'http://127.0.0.1:5173/callback';
/** A 1×1 PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

let s: TestServer;
let op: TestOidc;
let avatars: Server;
let avatarHost = '';
let admin = '';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  avatars = createServer((req, res) => {
    if (req.url === '/me.png') res.writeHead(200, { 'content-type': 'image/png' }).end(PNG);
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<html><script>alert(1)</script></html>');
  });
  avatarHost = await listen(avatars);
  op = await startOidc(
    [
      { client_id: 'ms-app', client_secret: 'ms-app-secret', redirect_uris: [APP_REDIRECT] },
      { client_id: 'other-app', client_secret: 'other-app-secret', redirect_uris: [APP_REDIRECT] },
    ],
    [
      {
        sub: 'alice',
        email: 'alice@example.com',
        email_verified: true,
        name: 'Alice Liddell',
        preferred_username: 'alice',
        picture: `http://${avatarHost}/me.png`,
      },
      { sub: 'bob', email: 'bob@example.com', email_verified: true, name: 'Bob', preferred_username: 'bob' },
      { sub: 'mallory', email: 'carol@example.com', email_verified: false, name: 'Not Carol', preferred_username: 'mallory' },
      {
        sub: 'dave',
        email: 'dave@example.com',
        email_verified: true,
        name: 'Dave',
        preferred_username: 'dave',
        picture: `http://${avatarHost}/page.html`,
      },
    ],
  );
  s = await startServer();
  admin = await superuserToken(s);
  const settings = await s.request('PATCH', '/api/settings', {
    token: admin,
    body: { oauth2: { redirectURLs: [APP_REDIRECT], trustedHosts: [op.host, avatarHost] } },
  });
  expect(settings.status).toBe(200);
  const res = await s.request('PATCH', '/api/collections/users', {
    token: admin,
    body: {
      oauth2: {
        enabled: true,
        mappedFields: { name: 'name', avatarURL: 'avatar' },
        providers: [
          { name: 'oidc', clientId: 'ms-app', clientSecret: 'ms-app-secret', displayName: 'Test OP', extra: { issuer: op.issuer } },
        ],
      },
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}, 60_000);

afterAll(async () => {
  await s?.close();
  await op?.close();
  avatars?.close();
});

/** auth-methods' oidc provider, as a fresh client sees it. */
async function oidcProvider(pb: PocketBase) {
  const methods = await pb.collection('users').listAuthMethods();
  const p = methods.oauth2.providers.find((x) => x.name === 'oidc');
  if (!p) throw new Error('no oidc provider listed');
  return p;
}

/** The whole code flow for `account`: auth-methods, the provider's pages, then the SDK's authWithOAuth2Code. */
async function signIn(account: string, pb = new PocketBase(s.url), createData?: Record<string, unknown>) {
  const p = await oidcProvider(pb);
  const back = await authorize(p.authURL + encodeURIComponent(APP_REDIRECT), APP_REDIRECT, account);
  expect(back.state).toBe(p.state);
  return pb.collection('users').authWithOAuth2Code('oidc', back.code, p.codeVerifier, APP_REDIRECT, createData);
}

describe(`OAuth2 with a real OpenID provider (${TEST_ENGINE})`, () => {
  it('lists the provider with a PKCE challenge, state and nonce, and never shows the client secret', async () => {
    const p = await oidcProvider(new PocketBase(s.url));
    expect(p.displayName).toBe('Test OP');
    const url = new URL(p.authURL);
    expect(`${url.origin}${url.pathname}`).toBe(`${op.issuer}/auth`);
    expect(url.searchParams.get('client_id')).toBe('ms-app');
    expect(url.searchParams.get('state')).toBe(p.state);
    expect(url.searchParams.get('code_challenge')).toBe(p.codeChallenge);
    expect(p.codeChallengeMethod).toBe('S256');
    expect(url.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(p.authURL.endsWith('&redirect_uri=')).toBe(true);
    const c = await s.request('GET', '/api/collections/users', { token: admin });
    expect(c.body.oauth2.providers[0].clientId).toBe('ms-app');
    expect(JSON.stringify(c.body)).not.toContain('ms-app-secret');
  });

  it('signs up: a new verified account with the mapped name, the avatar downloaded, the identity linked', async () => {
    const pb = new PocketBase(s.url);
    const auth = await signIn('alice', pb);
    expect(auth.meta?.isNew).toBe(true);
    expect(auth.meta?.id).toBe('alice');
    expect(auth.meta?.email).toBe('alice@example.com');
    expect(auth.meta?.rawUser?.preferred_username).toBe('alice');
    expect(auth.meta?.accessToken).toBeTruthy();
    expect(auth.record.email).toBe('alice@example.com');
    expect(auth.record.verified).toBe(true);
    expect(auth.record.name).toBe('Alice Liddell');
    expect(auth.record.avatar).toMatch(/^avatar_[a-z0-9]+\.png$/);
    const file = await fetch(pb.files.getURL(auth.record, auth.record.avatar));
    expect(Buffer.from(await file.arrayBuffer()).equals(PNG)).toBe(true);
    const links = await pb.collection('_externalAuths').getFullList();
    expect(links.map((l) => [l.provider, l.providerId, l.recordRef])).toEqual([['oidc', 'alice', auth.record.id]]);
  });

  it('signs in again to the same account', async () => {
    const first = await s.request('GET', `/api/collections/users/records?filter=${encodeURIComponent("email='alice@example.com'")}`, {
      token: admin,
    });
    const again = await signIn('alice');
    expect(again.meta?.isNew).toBe(false);
    expect(again.record.id).toBe(first.body.items[0].id);
  });

  it('links to an existing account whose email the provider verified', async () => {
    const bob = await s.request('POST', '/api/collections/users/records', {
      token: admin,
      body: { email: 'bob@example.com', password: 'bob-password-1', passwordConfirm: 'bob-password-1', verified: true },
    });
    expect(bob.status).toBe(200);
    const auth = await signIn('bob');
    expect(auth.meta?.isNew).toBe(false);
    expect(auth.record.id).toBe(bob.body.id);
    // the password still works: a verified account keeps it
    const pw = await new PocketBase(s.url).collection('users').authWithPassword('bob@example.com', 'bob-password-1');
    expect(pw.record.id).toBe(bob.body.id);
  });

  it('never links an unverified email to the account that owns it: a clear 400 instead', async () => {
    const carol = await s.request('POST', '/api/collections/users/records', {
      token: admin,
      body: { email: 'carol@example.com', password: 'carol-password-1', passwordConfirm: 'carol-password-1', verified: true },
    });
    expect(carol.status).toBe(200);
    const err = await signIn('mallory').catch((e: ClientResponseError) => e);
    expect(err).toBeInstanceOf(ClientResponseError);
    expect((err as ClientResponseError).status).toBe(400);
    expect((err as ClientResponseError).message).toContain('no verified email');
    const links = await s.request(
      'GET',
      `/api/collections/_externalAuths/records?filter=${encodeURIComponent(`recordRef='${carol.body.id}'`)}`,
      { token: admin },
    );
    expect(links.body.totalItems).toBe(0);
  });

  it('a signed-in caller links a provider whose email is unverified to their own account', async () => {
    const carol = new PocketBase(s.url);
    await carol.collection('users').authWithPassword('carol@example.com', 'carol-password-1');
    const auth = await signIn('mallory', carol);
    expect(auth.record.id).toBe(carol.authStore.record?.id);
    expect(auth.meta?.email).toBe('');
    // and from then on the identity signs in to that account without a token
    const again = await signIn('mallory');
    expect(again.record.id).toBe(auth.record.id);
    // a second identity of the same provider is refused while the first is linked
    op.accounts.set('frank', {
      sub: 'frank',
      email: 'frank@example.com',
      email_verified: true,
      name: 'Frank',
      preferred_username: 'frank',
    });
    const second = await signIn('frank', carol).catch((e: ClientResponseError) => e);
    expect((second as ClientResponseError).status).toBe(400);
    expect((second as ClientResponseError).message).toContain('linked to another oidc identity');
  });

  it('unlinks through the records API: the owner deletes the link, another user cannot', async () => {
    const bob = new PocketBase(s.url);
    await bob.collection('users').authWithPassword('bob@example.com', 'bob-password-1');
    const [link] = await bob.collection('_externalAuths').getFullList();
    expect(link?.provider).toBe('oidc');
    const alice = new PocketBase(s.url);
    await signIn('alice', alice);
    const stranger = await alice
      .collection('_externalAuths')
      .delete(link?.id as string)
      .catch((e: ClientResponseError) => e.status);
    expect(stranger).toBe(404);
    await bob.collection('_externalAuths').delete(link?.id as string);
    expect(await bob.collection('_externalAuths').getFullList()).toEqual([]);
  });

  it('fills an avatar only with an image: an HTML page is not stored', async () => {
    const auth = await signIn('dave');
    expect(auth.meta?.isNew).toBe(true);
    expect(auth.meta?.avatarURL).toContain('/page.html');
    expect(auth.record.avatar).toBe('');
  });

  it('createData goes into the new account; the create rule and field checks apply', async () => {
    op.accounts.set('erin', { sub: 'erin', email: 'erin@example.com', email_verified: true, name: 'Erin', preferred_username: 'erin' });
    const auth = await signIn('erin', new PocketBase(s.url), { name: 'Erin Chosen', emailVisibility: true });
    expect(auth.record.name).toBe('Erin Chosen');
    expect(auth.record.emailVisibility).toBe(true);
  });
});
