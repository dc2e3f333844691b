import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { App } from '../src/core/app.js';
import { buildServer } from '../src/http/server.js';
import { addAuthenticator, call, passkeyPageHooks } from './helpers/passkey-browser.js';
import {
  freshDatabase,
  relaxProtections,
  requester,
  signedUpUser,
  superuserToken,
  TEST_ENGINE,
  type TestServer,
} from './helpers/server.js';

/**
 * Passkeys in real Chromium, with virtual authenticators (DevTools'
 * WebAuthn domain), on a page served by the test server at
 * http://localhost:PORT (rp id `localhost`), through the README's helper
 * and the `pocketbase` SDK: register, sign in with no email typed, list,
 * rename, remove; MFA; answers replayed, tampered with or bound elsewhere;
 * and a cloned authenticator, whose signature counter lags, refused. On
 * PostgreSQL a second instance over the same database verifies what the
 * first one issued.
 */

const CHROMIUM = '/usr/bin/chromium';
const PASSWORD = 'password-123';

let s: TestServer;
/** On PostgreSQL: another instance over the same database. */
let other: { url: string; close: () => Promise<void> } | undefined;
let browser: Browser;
let page: Page;
/** The page's authenticator, which holds ann's passkey. */
let main: Awaited<ReturnType<typeof addAuthenticator>>;
let origin = '';
let su = '';
const authMethods: string[] = [];
/** Set: the hook refuses every sign-in. */
let refuseInHook = false;

/** A server over `databaseUrl` ('' for SQLite in a new folder), with the test page and a hook that notes each sign-in's method. */
async function serve(databaseUrl: string) {
  const dir = mkdtempSync(join(tmpdir(), 'ms-passkeys-'));
  const app = await App.open({
    dataDir: dir,
    databaseUrl,
    logger: pino({ level: process.env.MS_TEST_LOG ?? 'silent' }),
    hooks: [
      passkeyPageHooks(),
      (ms) => {
        ms.onRecordAuthRequest(async (e) => {
          authMethods.push(e.authMethod);
          if (refuseInHook) throw new ms.ForbiddenError('Not today.');
          await e.next();
        }, 'users');
      },
    ],
  });
  await relaxProtections(app);
  const server: FastifyInstance = await buildServer(app, { accessLog: false, idleCloseGraceMs: 0 });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const port = (server.server.address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    await server.close();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { url, port, app, server, dir, close };
}

const hasBrowser = existsSync(CHROMIUM) || process.env.CI === 'true';

beforeAll(async () => {
  if (!hasBrowser) return;
  const db = await freshDatabase();
  const first = await serve(db.url);
  s = {
    ...first,
    request: requester(first.url),
    close: async () => {
      await first.close();
      await db.drop();
    },
  };
  origin = `http://localhost:${first.port}`;
  const origins = [origin];
  if (TEST_ENGINE === 'postgres') {
    const second = await serve(db.url);
    other = second;
    origins.push(`http://localhost:${second.port}`);
  }
  su = await superuserToken(s);
  const patched = await s.request('PATCH', '/api/collections/users', {
    token: su,
    body: { passkeys: { enabled: true, rpID: 'localhost', rpName: 'Passkey test', origins } },
  });
  expect(patched.status, JSON.stringify(patched.body)).toBe(200);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await (await browser.newContext()).newPage();
  await page.goto(`${origin}/passkeys-page`);
  main = await addAuthenticator(page);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await other?.close();
  await s?.close();
});

const user = (email: string) => signedUpUser(s, email, PASSWORD);
const recordOf = async (token: string, id: string) => (await s.request('GET', `/api/collections/users/records/${id}`, { token })).body;
const post = (path: string, body: unknown, token?: string) => s.request('POST', path, { body, ...(token ? { token } : {}) });
const AUTH = '/api/ms/passkeys/users/auth-with-passkey';

describe.runIf(hasBrowser)('passkeys in Chromium', () => {
  let ann: { id: string; token: string };
  let bob: { id: string; token: string };
  let annPasskey = '';

  test('register while signed in: the challenge is bound to the account that asked', async () => {
    ann = await user('ann@example.com');
    bob = await user('bob@example.com');
    const made = await call(page, 'testAttestation', ann.token);
    expect(made.error).toBeUndefined();
    // bob cannot register a credential made on ann's challenge, and trying does not use it up
    const stolen = await post('/api/ms/passkeys/users/register', { credential: made.ok }, bob.token);
    expect(stolen.status).toBe(400);
    expect(stolen.body.message).toMatch(/challenge/);
    const saved = await post('/api/ms/passkeys/users/register', { credential: made.ok, name: 'Laptop' }, ann.token);
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    expect(saved.body).toMatchObject({
      name: 'Laptop',
      deviceType: 'singleDevice',
      backedUp: false,
      transports: ['internal'],
      lastUsed: '',
    });
    annPasskey = saved.body.id;
    // the same answer again: its challenge is used
    expect((await post('/api/ms/passkeys/users/register', { credential: made.ok }, ann.token)).status).toBe(400);

    // the README's helper through the SDK: the authenticator already holds ann's passkey, which the options exclude
    const again = await call(page, 'testRegister', ann.token, await recordOf(ann.token, ann.id), 'Twice');
    expect(again.error?.name).toBe('InvalidStateError');
  });

  test('sign in with no email typed, through the helper and the SDK; the hook sees "passkey"', async () => {
    authMethods.length = 0;
    const signed = await call(page, 'testSignIn');
    expect(signed.error, JSON.stringify(signed.error)).toBeUndefined();
    expect(signed.ok.record).toMatchObject({ id: ann.id, email: 'ann@example.com' });
    expect(signed.stored).toBe(true);
    expect(authMethods).toEqual(['passkey']);
    // the token is a session like any other
    expect((await recordOf(signed.ok.token, ann.id)).id).toBe(ann.id);
    // the sign-in went through the login alerts: Chromium is a new origin for ann
    await expect
      .poll(
        async () =>
          (await s.request('GET', `/api/collections/_authOrigins/records?filter=recordRef='${ann.id}'`, { token: su })).body.totalItems,
      )
      .toBe(2);
  });

  test('list, rename; others cannot see, rename or remove them; superusers can see anyone’s', async () => {
    const list = await s.request('GET', '/api/ms/passkeys/users', { token: ann.token });
    expect(list.body.items).toHaveLength(1);
    expect(list.body.items[0]).toMatchObject({ id: annPasskey, name: 'Laptop' });
    expect(list.body.items[0].lastUsed).not.toBe('');
    expect(Object.keys(list.body.items[0]).sort()).toEqual([
      'aaguid',
      'backedUp',
      'created',
      'deviceType',
      'id',
      'lastUsed',
      'name',
      'transports',
    ]);
    expect(
      (await s.request('PATCH', `/api/ms/passkeys/users/${annPasskey}`, { token: ann.token, body: { name: 'Work laptop' } })).body.name,
    ).toBe('Work laptop');

    expect((await s.request('GET', '/api/ms/passkeys/users', { token: bob.token })).body.items).toEqual([]);
    // bob naming ann's passkey, even with her id in the query, finds nothing of his
    expect((await s.request('DELETE', `/api/ms/passkeys/users/${annPasskey}?recordId=${ann.id}`, { token: bob.token })).status).toBe(404);
    expect((await s.request('PATCH', `/api/ms/passkeys/users/${annPasskey}`, { token: bob.token, body: { name: 'mine' } })).status).toBe(
      404,
    );
    expect((await s.request('GET', `/api/ms/passkeys/users?recordId=${ann.id}`, { token: bob.token })).body.items).toEqual([]);
    const seen = await s.request('GET', `/api/ms/passkeys/users?recordId=${ann.id}`, { token: su });
    expect(seen.body.items.map((p: { name: string }) => p.name)).toEqual(['Work laptop']);
  });

  test('an answer is used once, for the collection it was asked for, and within its time', async () => {
    const answer = (await call(page, 'testAssertion', 'users')).ok;
    expect((await post(AUTH, { credential: answer })).status).toBe(200);
    const replay = await post(AUTH, { credential: answer });
    expect(replay.status).toBe(400);
    expect(replay.body.message).toMatch(/used or expired/);
    // two copies of one answer at once: one signs in
    const twice = (await call(page, 'testAssertion', 'users')).ok;
    const raced = await Promise.all([post(AUTH, { credential: twice }), post(AUTH, { credential: twice })]);
    expect(raced.map((r) => r.status).sort()).toEqual([200, 400]);

    // a registration's challenge does not sign in
    const created = (await call(page, 'testAttestation', bob.token)).ok;
    const crossed = await post(AUTH, {
      credential: { ...created, response: { ...created.response, authenticatorData: 'AA', signature: 'AA' } },
    });
    expect(crossed.body.message).toMatch(/used or expired/);
    // bob's new credential stays on no server: off the authenticator, so ann's is the only one it offers
    await main.cdp.send('WebAuthn.removeCredential', {
      authenticatorId: main.authenticatorId,
      credentialId: Buffer.from(created.id, 'base64url').toString('base64'),
    });

    // expired
    const late = (await call(page, 'testAssertion', 'users')).ok;
    await s.app.engine.run('UPDATE _ms_passkey_challenges SET expires = 1');
    expect((await post(AUTH, { credential: late })).body.message).toMatch(/used or expired/);
  });

  test('tampered answers are refused: another user’s handle, a changed signature, a foreign origin', async () => {
    const handle = (await call(page, 'testAssertion', 'users')).ok;
    const swapped = { ...handle, response: { ...handle.response, userHandle: Buffer.from(bob.id).toString('base64url') } };
    const refused = await post(AUTH, { credential: swapped });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(/Unknown passkey/);

    const signed = (await call(page, 'testAssertion', 'users')).ok;
    const sig = Buffer.from(signed.response.signature, 'base64url');
    sig[sig.length - 1] = (sig[sig.length - 1] as number) ^ 1;
    const forged = await post(AUTH, { credential: { ...signed, response: { ...signed.response, signature: sig.toString('base64url') } } });
    expect(forged.status).toBe(400);
    expect(forged.body.message).toMatch(/could not be verified/);

    const saved = (await s.request('GET', '/api/collections/users', { token: su })).body.passkeys;
    await s.request('PATCH', '/api/collections/users', { token: su, body: { passkeys: { origins: ['http://localhost:1'] } } });
    const foreign = await post(AUTH, { credential: (await call(page, 'testAssertion', 'users')).ok });
    await s.request('PATCH', '/api/collections/users', { token: su, body: { passkeys: saved } });
    expect(foreign.status).toBe(400);
    expect(foreign.body.message).toMatch(/origin/i);
  });

  test('another collection on the same rp id: its challenge, and a users passkey, do not sign in there', async () => {
    const staff = await s.request('POST', '/api/collections', {
      token: su,
      body: { name: 'staff', type: 'auth', passkeys: { enabled: true, rpID: 'localhost', origins: [origin] } },
    });
    expect(staff.status, JSON.stringify(staff.body)).toBe(200);
    // an answer to a users challenge, sent to staff
    const forUsers = (await call(page, 'testAssertion', 'users')).ok;
    expect((await post('/api/ms/passkeys/staff/auth-with-passkey', { credential: forUsers })).body.message).toMatch(/used or expired/);
    // ann's passkey answering a staff challenge: no staff record has it
    const forStaff = (await call(page, 'testAssertion', 'staff')).ok;
    const crossed = await post('/api/ms/passkeys/staff/auth-with-passkey', { credential: forStaff });
    expect(crossed.status).toBe(400);
    expect(crossed.body.message).toMatch(/Unknown passkey/);
  });

  test('the authRule and the recordAuthRequest hook can refuse a passkey sign-in', async () => {
    await s.request('PATCH', '/api/collections/users', { token: su, body: { authRule: 'verified = true' } });
    const unverified = await call(page, 'testSignIn');
    await s.request('PATCH', '/api/collections/users', { token: su, body: { authRule: '' } });
    expect(unverified.error?.status).toBe(400);

    refuseInHook = true;
    const hooked = await call(page, 'testSignIn').finally(() => {
      refuseInHook = false;
    });
    expect(hooked.error?.status).toBe(403);
    expect(hooked.error.data.message).toBe('Not today.');
    expect((await call(page, 'testSignIn')).ok?.record.id).toBe(ann.id);
  });

  test('MFA: a passkey is one method, as OTP is; a password completes it, or it completes a password', async () => {
    await s.request('PATCH', '/api/collections/users', { token: su, body: { mfa: { enabled: true } } });
    try {
      const first = await call(page, 'testSignIn');
      expect(first.error?.status).toBe(401);
      const mfaId = first.error.data.mfaId;
      expect(mfaId).toEqual(expect.any(String));
      const done = await post('/api/collections/users/auth-with-password', { identity: 'ann@example.com', password: PASSWORD, mfaId });
      expect(done.status).toBe(200);

      const pw = await post('/api/collections/users/auth-with-password', { identity: 'ann@example.com', password: PASSWORD });
      expect(pw.status).toBe(401);
      const second = await call(page, 'testSignIn', pw.body.mfaId);
      expect(second.error, JSON.stringify(second.error)).toBeUndefined();
      expect(second.ok.record.id).toBe(ann.id);
    } finally {
      await s.request('PATCH', '/api/collections/users', { token: su, body: { mfa: { enabled: false } } });
    }
  });

  test.runIf(TEST_ENGINE === 'postgres')('instances sharing PostgreSQL: one issues the challenge, another verifies it, once', async () => {
    const answer = (await call(page, 'testAssertion', 'users')).ok;
    const there = await requester(other?.url as string)('POST', AUTH, { body: { credential: answer } });
    expect(there.status, JSON.stringify(there.body)).toBe(200);
    expect(there.body.record.id).toBe(ann.id);
    expect((await post(AUTH, { credential: answer })).status).toBe(400);
  });

  test('a cloned authenticator, whose signature counter lags, is refused; the original goes on working', async () => {
    const held = async () => (await main.cdp.send('WebAuthn.getCredentials', { authenticatorId: main.authenticatorId })).credentials;
    const [original] = await held();
    expect(original?.rpId).toBe('localhost');
    const clonePage = await (await browser.newContext()).newPage();
    await clonePage.goto(`${origin}/passkeys-page`);
    const clone = await addAuthenticator(clonePage);
    await clone.cdp.send('WebAuthn.addCredential', { authenticatorId: clone.authenticatorId, credential: original as never });
    // the original is used on, its counter going past the copy's
    for (let i = 0; i < 2; i++) expect((await call(page, 'testSignIn')).ok?.record.id).toBe(ann.id);
    expect((await held())[0]?.signCount).toBeGreaterThan(original?.signCount as number);

    const cloned = await call(clonePage, 'testSignIn');
    expect(cloned.error?.status).toBe(400);
    expect(cloned.error.data.message).toMatch(/counter went backwards/);
    expect((await call(page, 'testSignIn')).ok?.record.id).toBe(ann.id);
    await clonePage.context().close();
  });

  test('removed, a passkey signs in no more; a deleted account takes its passkeys with it', async () => {
    expect((await s.request('DELETE', `/api/ms/passkeys/users/${annPasskey}`, { token: ann.token })).status).toBe(204);
    expect((await s.request('DELETE', `/api/ms/passkeys/users/${annPasskey}`, { token: ann.token })).status).toBe(404);
    const gone = await call(page, 'testSignIn');
    expect(gone.error?.status).toBe(400);
    expect(gone.error.data.message).toMatch(/Unknown passkey/);
    expect((await s.request('GET', '/api/ms/passkeys/users', { token: ann.token })).body.items).toEqual([]);

    // registered again on the same authenticator (the server forgot the old one), then the account is deleted
    await main.cdp.send('WebAuthn.clearCredentials', { authenticatorId: main.authenticatorId });
    const again = await call(page, 'testRegister', ann.token, await recordOf(ann.token, ann.id), 'Again');
    expect(again.error, JSON.stringify(again.error)).toBeUndefined();
    const count = async () =>
      Number((await s.app.engine.get<{ n: number }>('SELECT COUNT(*) AS n FROM _ms_passkeys WHERE record_ref = $1', [ann.id]))?.n);
    expect(await count()).toBe(1);
    expect((await s.request('DELETE', `/api/collections/users/records/${ann.id}`, { token: su })).status).toBe(204);
    expect(await count()).toBe(0);
  });
});
