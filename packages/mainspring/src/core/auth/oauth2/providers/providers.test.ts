import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeProtectedHeader, exportJWK, exportPKCS8, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OAuth2ProviderConfig } from '../options.js';
import type { ProviderContext, ProviderModule, TokenSet } from '../provider.js';
import { apple, appleClientSecret } from './apple.js';
import { providerModule } from './index.js';

/**
 * Each named provider's profile mapping, on answers shaped as its
 * documentation shows them (hand-written fixtures), and Apple's client
 * secret and ID token.
 */

const token: TokenSet = { accessToken: 'at-1', refreshToken: 'rt-1', expiry: '', idToken: '', raw: {} };

function config(name: string, extra: Record<string, string> = {}): OAuth2ProviderConfig {
  return { name, clientId: 'client-1', clientSecret: '', authURL: '', tokenURL: '', userInfoURL: '', displayName: '', pkce: null, extra };
}

/** A context whose profile endpoint answers `fixture`; the URLs and headers asked are kept. */
function ctx(m: ProviderModule, fixture: Record<string, unknown>, asked: string[] = []): ProviderContext {
  return {
    config: config('x'),
    endpoints: { authURL: m.authURL, tokenURL: m.tokenURL, userInfoURL: m.userInfoURL },
    nonce: 'n',
    trusted: [],
    redirectName: '',
    getJSON: async (url, headers) => {
      asked.push(`${url} ${headers?.authorization ?? ''}`);
      return fixture;
    },
  };
}

const user = async (name: string, fixture: Record<string, unknown>) => {
  const m = providerModule(name) as ProviderModule;
  const asked: string[] = [];
  const u = await m.user(ctx(m, fixture, asked), token);
  return { u, asked };
};

describe('provider profile mapping', () => {
  it('Google: userinfo claims; the email only when verified', async () => {
    const fixture = {
      sub: '1098',
      name: 'Ada Lovelace',
      picture: 'https://lh3.googleusercontent.com/a/ada',
      email: 'ada@example.com',
      email_verified: true,
    };
    const { u, asked } = await user('google', fixture);
    expect(asked).toEqual(['https://openidconnect.googleapis.com/v1/userinfo Bearer at-1']);
    expect(u).toMatchObject({
      id: '1098',
      name: 'Ada Lovelace',
      email: 'ada@example.com',
      avatarURL: 'https://lh3.googleusercontent.com/a/ada',
      accessToken: 'at-1',
    });
    expect((await user('google', { ...fixture, email_verified: false })).u.email).toBe('');
  });

  it('Microsoft: Graph /me; its mail is never taken as verified', async () => {
    const { u } = await user('microsoft', {
      id: '87d349ed',
      displayName: 'Megan Bowen',
      mail: 'MeganB@contoso.com',
      userPrincipalName: 'MeganB@contoso.com',
    });
    expect(u).toMatchObject({ id: '87d349ed', name: 'Megan Bowen', email: '' });
    const m = providerModule('microsoft') as ProviderModule;
    expect((await m.endpoints?.(config('microsoft', { tenant: 'contoso.onmicrosoft.com' }), []))?.authURL).toBe(
      'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize',
    );
  });

  it('GitLab: /api/v4/user; the email once confirmed', async () => {
    const fixture = {
      id: 1,
      username: 'john_smith',
      name: 'John Smith',
      email: 'john@example.com',
      avatar_url: 'https://gitlab.example/a.png',
      confirmed_at: '2012-05-23T09:05:22Z',
    };
    expect((await user('gitlab', fixture)).u).toMatchObject({
      id: '1',
      username: 'john_smith',
      name: 'John Smith',
      email: 'john@example.com',
    });
    expect((await user('gitlab', { ...fixture, confirmed_at: null })).u.email).toBe('');
  });

  it('Discord: /users/@me; the avatar on the CDN from its hash; the email when verified', async () => {
    const fixture = {
      id: '80351110224678912',
      username: 'nelly',
      global_name: 'Nelly',
      avatar: '8342729096ea3675442027381ff50dfe',
      verified: true,
      email: 'nelly@discord.example',
    };
    expect((await user('discord', fixture)).u).toMatchObject({
      id: '80351110224678912',
      name: 'Nelly',
      username: 'nelly',
      email: 'nelly@discord.example',
      avatarURL: 'https://cdn.discordapp.com/avatars/80351110224678912/8342729096ea3675442027381ff50dfe.png',
    });
    expect((await user('discord', { ...fixture, verified: false, avatar: '../../x' })).u).toMatchObject({ email: '', avatarURL: '' });
  });

  it('Facebook: /me with the picture’s URL', async () => {
    const { u } = await user('facebook', {
      id: '10',
      name: 'Mark',
      email: 'mark@example.com',
      picture: { data: { url: 'https://fb.example/p.jpg' } },
    });
    expect(u).toMatchObject({ id: '10', name: 'Mark', email: 'mark@example.com', avatarURL: 'https://fb.example/p.jpg' });
  });

  it('a profile without an id is refused', async () => {
    await expect(user('facebook', { name: 'No id' })).rejects.toThrow(/no id/);
  });

  it('unknown names have no module (and inherited keys are no names)', () => {
    expect(providerModule('myspace')).toBeUndefined();
    expect(providerModule('constructor')).toBeUndefined();
    expect(providerModule('oidc2')).toBe(providerModule('oidc'));
  });
});

describe('Apple', () => {
  let server: Server;
  let jwksURL = '';
  let host = '';
  let signing: Awaited<ReturnType<typeof generateKeyPair>>;

  beforeAll(async () => {
    signing = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(signing.publicKey)), kid: 'apple-1', alg: 'RS256' };
    server = createServer((_q, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    jwksURL = `http://${host}/auth/keys`;
  });
  afterAll(() => server.close());

  it('makes its client secret as an ES256 JWT of the team for the service id', async () => {
    const team = await generateKeyPair('ES256', { extractable: true });
    const cfg = {
      ...config('apple', { teamId: 'TEAM123456', keyId: 'KEY1234567', privateKey: await exportPKCS8(team.privateKey) }),
      clientId: 'com.example.web',
    };
    const secret = await appleClientSecret(cfg);
    expect(decodeProtectedHeader(secret)).toEqual({ alg: 'ES256', kid: 'KEY1234567' });
    const { payload } = await jwtVerify(secret, team.publicKey, {
      issuer: 'TEAM123456',
      audience: 'https://appleid.apple.com',
      subject: 'com.example.web',
    });
    expect((payload.exp as number) - (payload.iat as number)).toBe(300);
    expect(apple.authParams?.(cfg)).toEqual({ response_mode: 'form_post' });
    await expect(appleClientSecret({ ...cfg, extra: { ...cfg.extra, privateKey: 'nope' } })).rejects.toThrow(/PKCS#8/);
    expect(apple.check?.(config('apple'))).toHaveProperty('extra');
  });

  it('reads the profile from the checked ID token, and the name the redirect page kept', async () => {
    const idToken = await new SignJWT({ email: 'x@privaterelay.appleid.com', email_verified: 'true', nonce: 'n-1' })
      .setProtectedHeader({ alg: 'RS256', kid: 'apple-1' })
      .setIssuer('https://appleid.apple.com')
      .setAudience('com.example.web')
      .setSubject('001234.abcd')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(signing.privateKey);
    const c = { ...config('apple', { jwksURL }), clientId: 'com.example.web' };
    const base = { ...ctx(apple, {}), config: c, trusted: [host], nonce: 'n-1' };
    const u = await apple.user({ ...base, redirectName: 'Tim Apple' }, { ...token, idToken });
    expect(u).toMatchObject({ id: '001234.abcd', name: 'Tim Apple', email: 'x@privaterelay.appleid.com' });
    // later sign-ins carry no name
    expect((await apple.user(base, { ...token, idToken })).name).toBe('');
    await expect(apple.user({ ...base, nonce: 'other' }, { ...token, idToken })).rejects.toThrow(/nonce/);
  });
});
