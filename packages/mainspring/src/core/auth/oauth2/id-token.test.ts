import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyIdToken } from './id-token.js';

/** ID tokens checked against a JWKS served over real HTTP on 127.0.0.1: every forgery refused. */

const ISSUER = 'https://issuer.example';
const AUDIENCE = 'ms-app';
const NONCE = 'n-0123456789';
let server: Server;
let jwksURL = '';
let trusted: string[] = [];
let good: Awaited<ReturnType<typeof generateKeyPair>>;
let other: Awaited<ReturnType<typeof generateKeyPair>>;

beforeAll(async () => {
  good = await generateKeyPair('RS256');
  other = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(good.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  jwksURL = `http://${host}/jwks`;
  trusted = [host];
});
afterAll(() => server.close());

type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

function token(claims: Record<string, unknown> = {}, key: Key = good.privateKey, kid = 'k1', expires: number | string = '5m') {
  return new SignJWT({ nonce: NONCE, email: 'a@example.com', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject('user-1')
    .setIssuedAt()
    .setExpirationTime(expires)
    .sign(key);
}

const check = (idToken: string, overrides: Record<string, string> = {}) =>
  verifyIdToken({ idToken, issuer: ISSUER, jwksURL, audience: AUDIENCE, nonce: NONCE, trusted, ...overrides });

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('ID token checks', () => {
  it('accepts a token of the issuer, for us, current, with our nonce', async () => {
    const claims = await check(await token());
    expect(claims.sub).toBe('user-1');
  });

  it('refuses a token signed by another key', async () => {
    await expect(check(await token({}, other.privateKey))).rejects.toThrow(/invalid ID token/);
  });

  it('refuses a token for another audience', async () => {
    await expect(check(await token(), { audience: 'another-app' })).rejects.toThrow(/aud/);
  });

  it('refuses an expired token', async () => {
    await expect(check(await token({}, good.privateKey, 'k1', Math.floor(Date.now() / 1000) - 3600))).rejects.toThrow(/exp/);
  });

  it('refuses a token of another issuer', async () => {
    await expect(check(await token(), { issuer: 'https://elsewhere.example' })).rejects.toThrow(/iss/);
  });

  it('refuses a token made for another sign-in (nonce)', async () => {
    await expect(check(await token({ nonce: 'someone-else' }))).rejects.toThrow(/nonce/);
  });

  it('refuses alg "none" and HS256 signed with the public key', async () => {
    const now = Math.floor(Date.now() / 1000);
    const payload = { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', nonce: NONCE, iat: now, exp: now + 300 };
    await expect(check(`${b64({ alg: 'none' })}.${b64(payload)}.`)).rejects.toThrow(/invalid ID token/);
    const { createHmac } = await import('node:crypto');
    const head = `${b64({ alg: 'HS256', kid: 'k1' })}.${b64(payload)}`;
    const pem = JSON.stringify(await exportJWK(good.publicKey));
    const sig = createHmac('sha256', pem).update(head).digest('base64url');
    await expect(check(`${head}.${sig}`)).rejects.toThrow(/invalid ID token/);
  });

  it('refuses no token at all, and garbage', async () => {
    await expect(check('')).rejects.toThrow(/no ID token/);
    await expect(check('not.a.jwt')).rejects.toThrow(/invalid ID token/);
  });
});
