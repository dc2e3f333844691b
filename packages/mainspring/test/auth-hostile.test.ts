/**
 * An attacker's suite for authentication: forged and stale tokens, reused
 * and cross-used mailed tokens and codes, account enumeration (answers and
 * timing), mass assignment on auth records, oversized passwords, brute force
 * against the rate limits and lockouts, and hostile bodies on every auth
 * endpoint. Real servers, real HTTP; every refusal must be a 4xx in
 * PocketBase's error shape, never a 500 and never a hang.
 *
 * Behaviour is pinned to Mainspring's source (src/core/auth, src/http/routes/auth.ts,
 * src/http/routes/ms-sessions.ts, src/core/settings.ts) and, where the two
 * are meant to agree, to PocketBase's apis/*_test.go.
 */
import { createHmac } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hashPassword } from '../src/core/auth/passwords.js';
import { issueToken, type TokenKind } from '../src/core/auth/token-kinds.js';
import { type Answer, type CallOptions, call as callAt, expectApiError, jwtClaims, makeJwt } from './helpers/hostile.js';
import { MAIL, Mailbox } from './helpers/mailbox.js';
import { startServer, superuserToken, type TestServer } from './helpers/server.js';

let s: TestServer;
let su = '';
let mailbox: Mailbox;
let seq = 0;

const PASSWORD = 'password-123';
const FAILED = { status: 400, message: 'Failed to authenticate.', data: {} };

interface User {
  id: string;
  email: string;
  password: string;
  token: string;
}

const alice: User = { id: '', email: 'alice@example.com', password: 'alice-password-1', token: '' };
const bob: User = { id: '', email: 'bob@example.com', password: 'bob-password-1', token: '' };
const ids = { note: '', staff: '', superusers: '', su: '' };

const call = (method: string, path: string, opts?: CallOptions): Promise<Answer> => callAt(s.url, method, path, opts);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const address = (what: string) => `${what}-${++seq}@example.com`;
const nowSeconds = () => Math.floor(Date.now() / 1000);
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

async function ok(res: Answer, label: string, status = 200): Promise<any> {
  expect(res.status, `${label}: ${res.text.slice(0, 300)}`).toBe(status);
  return res.body;
}

function signIn(collection: string, identity: unknown, password: unknown, extra: Record<string, unknown> = {}): Promise<Answer> {
  return call('POST', `/api/collections/${collection}/auth-with-password`, { body: { identity, password, ...extra } });
}

async function signUp(collection: string, email: string, password = PASSWORD, extra: Record<string, unknown> = {}): Promise<any> {
  return ok(
    await call('POST', `/api/collections/${collection}/records`, { body: { email, password, passwordConfirm: password, ...extra } }),
    `sign up ${email}`,
  );
}

/** A new user, signed in. */
async function newUser(collection = 'users', what = 'user', password = PASSWORD): Promise<User> {
  const email = address(what);
  const rec = await signUp(collection, email, password);
  const auth = await ok(await signIn(collection, email, password), `sign in ${email}`);
  return { id: rec.id, email, password, token: auth.token };
}

const refreshStatus = async (collection: string, token: string) =>
  (await call('POST', `/api/collections/${collection}/auth-refresh`, { token })).status;

/** The signing key of a record's tokens of one kind: its tokenKey and the collection's secret. */
async function keyOf(collection: string, id: string, option: 'authToken' | 'passwordResetToken' = 'authToken'): Promise<string> {
  const c = s.app.records.collection(collection);
  const row = await s.app.engine.get<{ tokenKey: string }>(`SELECT "tokenKey" FROM "${c.name}" WHERE id = $1`, [id]);
  return `${row?.tokenKey}${c.auth?.[option].secret}`;
}

/** A token made by the app's own signing code, e.g. with a past expiry. */
async function appToken(collection: string, id: string, kind: TokenKind, extra: Record<string, unknown> = {}, duration?: number) {
  const c = s.app.records.collection(collection);
  const rec = await s.app.records.findById(c, id);
  if (!rec) throw new Error(`no ${collection} record ${id}`);
  return issueToken(c, rec, kind, extra, duration);
}

async function storedSecrets(collection: string, id: string): Promise<{ password: string; tokenKey: string; email: string }> {
  const row = await s.app.engine.get<{ password: string; tokenKey: string; email: string }>(
    `SELECT password, "tokenKey", email FROM "${collection}" WHERE id = $1`,
    [id],
  );
  if (!row) throw new Error(`no ${collection} record ${id}`);
  return row;
}

/** Asserts no mail reaches `to` within `ms`. */
async function expectNoMail(to: string, ms = 300): Promise<void> {
  await expect(mailbox.take(to, /([\s\S]+)/, ms)).rejects.toThrow(/no mail/);
}

/**
 * A POST to auth-refresh over a raw socket with the given header lines. The
 * server may answer (431) or drop the connection while the client is still
 * writing; either way the outcome arrives before a deadline.
 */
function rawHttp(headerLines: string): Promise<{ outcome: 'answered' | 'closed' | 'timeout'; status?: number }> {
  const url = new URL(s.url);
  return new Promise((resolve) => {
    let data = '';
    let done = false;
    const finish = (outcome: 'answered' | 'closed' | 'timeout') => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      resolve(m ? { outcome: 'answered', status: Number(m[1]) } : { outcome });
    };
    const timer = setTimeout(() => finish('timeout'), 5000);
    const socket = connect(Number(url.port), url.hostname, () => {
      socket.write(
        `POST /api/collections/users/auth-refresh HTTP/1.1\r\nHost: ${url.host}\r\n${headerLines}Content-Length: 0\r\nConnection: close\r\n\r\n`,
      );
    });
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
      if (/\r\n\r\n/.test(data)) finish('answered');
    });
    socket.on('error', () => finish('closed'));
    socket.on('close', () => finish('closed'));
  });
}

async function createCollection(body: Record<string, unknown>): Promise<any> {
  return ok(await call('POST', '/api/collections', { token: su, body }), `create collection ${body.name}`);
}

const owner = 'id = @request.auth.id';

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  ids.su = jwtClaims(su).id as string;
  ids.superusers = jwtClaims(su).collectionId as string;
  mailbox = new Mailbox(s.dir);

  const notes = await createCollection({
    name: 'notes',
    listRule: '@request.auth.id != ""',
    viewRule: '@request.auth.id != ""',
    createRule: '@request.auth.id != ""',
    fields: [
      { name: 'text', type: 'text' },
      { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
    ],
  });
  expect(notes.id).toBeTruthy();
  // superuser-only sign-up; its records may share an id with a user (see below)
  ids.staff = (await createCollection({ name: 'staff', type: 'auth', listRule: owner, viewRule: owner, updateRule: owner })).id;
  // anyone signs up, everyone sees everyone: the place where emailVisibility matters
  await createCollection({ name: 'members', type: 'auth', listRule: '', viewRule: '', createRule: '', updateRule: owner });
  await createCollection({ name: 'gated', type: 'auth', createRule: '', authRule: 'verified = true' });
  await createCollection({ name: 'otp_users', type: 'auth', createRule: '', otp: { enabled: true } });
  await createCollection({ name: 'otp_other', type: 'auth', createRule: '', otp: { enabled: true } });
  await createCollection({ name: 'mfa_users', type: 'auth', createRule: '', otp: { enabled: true }, mfa: { enabled: true } });

  for (const u of [alice, bob]) {
    const rec = await signUp('users', u.email, u.password);
    u.id = rec.id;
    u.token = (await ok(await signIn('users', u.email, u.password), 'sign in')).token;
  }
  ids.note = (
    await ok(await call('POST', '/api/collections/notes/records', { token: su, body: { text: 'members only', owner: alice.id } }), 'note')
  ).id;
}, 60_000);

afterAll(async () => {
  await s?.close();
});

/** What a token that is no session must get: 401 where auth is required, guest answers elsewhere. */
async function expectNoAuth(token: string, label: string): Promise<void> {
  expectApiError(await call('POST', '/api/collections/users/auth-refresh', { token }), 401, `${label}: auth-refresh`);
  const list = await call('GET', '/api/collections/notes/records', { token });
  expect(list.status, `${label}: list ${list.text.slice(0, 200)}`).toBe(200);
  expect(list.body.totalItems, `${label}: a guest sees no notes`).toBe(0);
  expectApiError(await call('GET', `/api/collections/notes/records/${ids.note}`, { token }), 404, `${label}: view note`);
  expectApiError(await call('GET', `/api/collections/users/records/${alice.id}`, { token }), 404, `${label}: view alice`);
  expectApiError(await call('POST', '/api/collections/notes/records', { token, body: { text: 'pwned' } }), 400, `${label}: create`);
  expectApiError(
    await call('POST', '/api/collections/users/request-email-change', { token, body: { newEmail: 'pwned@example.com' } }),
    401,
    `${label}: request-email-change`,
  );
  expectApiError(await call('POST', '/api/ms/logout-all', { token }), 401, `${label}: logout-all`);
  expectApiError(await call('GET', '/api/ms/sessions', { token }), 401, `${label}: sessions`);
}

// ================================================================== tokens

describe('forged, tampered and malformed tokens', () => {
  const HS = { alg: 'HS256', typ: 'JWT' };

  async function badTokens(): Promise<Record<string, string>> {
    const key = await keyOf('users', alice.id);
    const [h, p, sig] = alice.token.split('.') as [string, string, string];
    const claims = jwtClaims(alice.token);
    const tamper = (over: Record<string, unknown>) => `${h}.${b64({ ...claims, ...over })}.${sig}`;
    const secret = s.app.records.collection('users').auth?.authToken.secret as string;
    const tokenKey = (await storedSecrets('users', alice.id)).tokenKey;
    const hs512 = (() => {
      const head = `${b64({ alg: 'HS512', typ: 'JWT' })}.${b64(claims)}`;
      return `${head}.${createHmac('sha512', key).update(head).digest('base64url')}`;
    })();
    return {
      'alg none, no signature': makeJwt({ alg: 'none', typ: 'JWT' }, claims, null),
      'alg None, no signature': makeJwt({ alg: 'None', typ: 'JWT' }, claims, null),
      'alg NONE with the real signature': `${b64({ alg: 'NONE', typ: 'JWT' })}.${p}.${sig}`,
      'alg none signed with the real key': makeJwt({ alg: 'none', typ: 'JWT' }, claims, key),
      'alg HS512 header, HS256 signature by the real key': makeJwt({ alg: 'HS512', typ: 'JWT' }, claims, key),
      'alg HS512, a real HS512 signature by the real key': hs512,
      'alg RS256 header, HS256 signature by the real key': makeJwt({ alg: 'RS256', typ: 'JWT' }, claims, key),
      'no alg, signed by the real key': makeJwt({ typ: 'JWT' }, claims, key),
      'wrong secret': makeJwt(HS, claims, 'secret'),
      'empty secret': makeJwt(HS, claims, ''),
      'the collection secret without the tokenKey': makeJwt(HS, claims, secret),
      'the tokenKey without the collection secret': makeJwt(HS, claims, tokenKey),
      "the record's password-reset key": makeJwt(HS, claims, await keyOf('users', alice.id, 'passwordResetToken')),
      "bob's key": makeJwt(HS, claims, await keyOf('users', bob.id)),
      'id changed to bob, original signature': tamper({ id: bob.id }),
      "id changed to bob, signed with alice's key": makeJwt(HS, { ...claims, id: bob.id }, key),
      'collectionId changed to _superusers, original signature': tamper({ collectionId: ids.superusers }),
      'collectionId changed to staff, original signature': tamper({ collectionId: ids.staff }),
      'collectionId given by name, real key': makeJwt(HS, { ...claims, collectionId: 'users' }, key),
      'type changed to admin': tamper({ type: 'admin' }),
      'type changed to verification': tamper({ type: 'verification' }),
      'type changed to passwordReset': tamper({ type: 'passwordReset' }),
      'type changed to file': tamper({ type: 'file' }),
      'type removed': tamper({ type: undefined }),
      'exp extended by a year': tamper({ exp: (claims.exp as number) + 31_536_000 }),
      'a claim added': tamper({ superuser: true }),
      'the same claims re-serialized': `${h}.${Buffer.from(JSON.stringify(claims, null, 1)).toString('base64url')}.${sig}`,
      'expired a minute ago (app signing)': await appToken('users', alice.id, 'auth', { refreshable: true }, -60),
      'expiring this second (app signing)': await appToken('users', alice.id, 'auth', { refreshable: true }, 0),
      'type verification signed with the auth key (app signing)': await appToken('users', alice.id, 'auth', { type: 'verification' }),
      'a verification token of the user (app signing)': await appToken('users', alice.id, 'verification', { email: alice.email }),
      'a password-reset token of the user (app signing)': await appToken('users', alice.id, 'passwordReset', { email: alice.email }),
      'exp as a string, real key': makeJwt(HS, { ...claims, exp: String(nowSeconds() + 3600) }, key),
      'no exp, real key': makeJwt(HS, { id: alice.id, type: 'auth', collectionId: claims.collectionId }, key),
      'claims as a JSON array, real key': makeJwt(HS, [claims], key),
      'payload not JSON': `${h}.${b64('not json')}.${sig}`,
      'two parts': `${h}.${p}`,
      'four parts': `${alice.token}.x`,
      '"Bearer Bearer " prefix': `Bearer Bearer ${alice.token}`,
      '"Token " scheme': `Token ${alice.token}`,
      '"JWT " scheme': `JWT ${alice.token}`,
      'Basic credentials': `Basic ${Buffer.from(`${alice.email}:${alice.password}`).toString('base64')}`,
      'two tokens joined by a comma': `${alice.token},${alice.token}`,
      'two tokens after Bearer': `Bearer ${alice.token} ${alice.token}`,
      garbage: 'garbage',
      '"Bearer" alone': 'Bearer',
      'a lone dot': '.',
      'latin-1 bytes': 'Bearer \u00ff\u00fe\u00fd',
      '14 KB token': `Bearer ${'a'.repeat(14_000)}`,
    };
  }

  const LABELS = [
    'alg none, no signature',
    'alg None, no signature',
    'alg NONE with the real signature',
    'alg none signed with the real key',
    'alg HS512 header, HS256 signature by the real key',
    'alg HS512, a real HS512 signature by the real key',
    'alg RS256 header, HS256 signature by the real key',
    'no alg, signed by the real key',
    'wrong secret',
    'empty secret',
    'the collection secret without the tokenKey',
    'the tokenKey without the collection secret',
    "the record's password-reset key",
    "bob's key",
    'id changed to bob, original signature',
    "id changed to bob, signed with alice's key",
    'collectionId changed to _superusers, original signature',
    'collectionId changed to staff, original signature',
    'collectionId given by name, real key',
    'type changed to admin',
    'type changed to verification',
    'type changed to passwordReset',
    'type changed to file',
    'type removed',
    'exp extended by a year',
    'a claim added',
    'the same claims re-serialized',
    'expired a minute ago (app signing)',
    'expiring this second (app signing)',
    'type verification signed with the auth key (app signing)',
    'a verification token of the user (app signing)',
    'a password-reset token of the user (app signing)',
    'exp as a string, real key',
    'no exp, real key',
    'claims as a JSON array, real key',
    'payload not JSON',
    'two parts',
    'four parts',
    '"Bearer Bearer " prefix',
    '"Token " scheme',
    '"JWT " scheme',
    'Basic credentials',
    'two tokens joined by a comma',
    'two tokens after Bearer',
    'garbage',
    '"Bearer" alone',
    'a lone dot',
    'latin-1 bytes',
    '14 KB token',
  ];

  test('the real token works raw and after "Bearer " in any case (PocketBase accepts both, the scheme case-insensitively)', async () => {
    for (const token of [alice.token, `Bearer ${alice.token}`, `bearer ${alice.token}`, `BeArEr ${alice.token}`, `BEARER ${alice.token}`]) {
      expect(await refreshStatus('users', token)).toBe(200);
      const list = await ok(await call('GET', '/api/collections/notes/records', { token }), 'notes');
      expect(list.totalItems).toBe(1);
      await ok(await call('GET', `/api/collections/users/records/${alice.id}`, { token }), 'view self');
    }
  });

  test('the table of bad tokens is complete', async () => {
    expect(Object.keys(await badTokens()).sort()).toEqual([...LABELS].sort());
  });

  test.each(LABELS)('%s → no auth: 401 on auth-refresh, a guest on records, never a 500', async (label) => {
    const token = (await badTokens())[label] as string;
    expect(token).toBeTruthy();
    await expectNoAuth(token, label);
  });

  test('nothing was written by a forged token, and the real one still works', async () => {
    const pwned = await ok(
      await call('GET', `/api/collections/notes/records?filter=${encodeURIComponent('text = "pwned"')}`, { token: su }),
      'x',
    );
    expect(pwned.totalItems).toBe(0);
    expect(await refreshStatus('users', alice.token)).toBe(200);
    expect(await refreshStatus('users', bob.token)).toBe(200);
  });

  test('an Authorization header over the header limit is refused (4xx or a closed connection), never a 5xx; the server lives on', async () => {
    for (const size of [20_000, 100_000]) {
      const res = await rawHttp(`Authorization: Bearer ${'a'.repeat(size)}\r\n`);
      expect(res.outcome, `${size}`).not.toBe('timeout');
      if (res.status !== undefined) {
        expect(res.status, `${size}`).toBeGreaterThanOrEqual(400);
        expect(res.status, `${size}`).toBeLessThan(500);
      }
    }
    // many headers adding up past the limit
    let many = `Authorization: ${alice.token}\r\n`;
    for (let i = 0; i < 200; i++) many += `X-Pad-${i}: ${'p'.repeat(200)}\r\n`;
    const res = await rawHttp(many);
    expect(res.outcome).not.toBe('timeout');
    if (res.status !== undefined) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
    expect((await call('GET', '/api/health')).status).toBe(200);
    expect(await refreshStatus('users', alice.token)).toBe(200);
  });
});

describe('tokens that were valid once', () => {
  test('a token of a deleted user is refused (one never used before the deletion)', async () => {
    const u = await newUser('users', 'deleted-cold');
    await ok(await call('DELETE', `/api/collections/users/records/${u.id}`, { token: su }), 'delete', 204);
    await expectNoAuth(u.token, 'deleted user');
  });

  test('a token of a deleted user is refused (one in use right before the deletion)', async () => {
    const u = await newUser('users', 'deleted-warm');
    expect(await refreshStatus('users', u.token)).toBe(200);
    await ok(await call('GET', '/api/collections/notes/records', { token: u.token }), 'in use');
    await ok(await call('DELETE', `/api/collections/users/records/${u.id}`, { token: u.token }), 'delete self', 204);
    await expectNoAuth(u.token, 'deleted user, token in use');
  });

  test("a record re-created with a deleted user's id does not revive its tokens", async () => {
    const u = await newUser('users', 'reborn');
    await ok(await call('DELETE', `/api/collections/users/records/${u.id}`, { token: su }), 'delete', 204);
    await signUp('users', u.email, PASSWORD, { id: u.id });
    await expectNoAuth(u.token, 're-created id');
  });

  test('a token issued before a password change is refused, whether or not it was in use', async () => {
    const u = await newUser('users', 'pwchange');
    const unused = (await ok(await signIn('users', u.email, PASSWORD), 'second sign-in')).token as string;
    expect(await refreshStatus('users', u.token)).toBe(200);
    await ok(
      await call('PATCH', `/api/collections/users/records/${u.id}`, {
        token: u.token,
        body: { oldPassword: PASSWORD, password: 'changed-pass-1', passwordConfirm: 'changed-pass-1' },
      }),
      'change password',
    );
    await expectNoAuth(u.token, 'used before the change');
    await expectNoAuth(unused, 'unused before the change');
    expect(await refreshStatus('users', (await ok(await signIn('users', u.email, 'changed-pass-1'), 'new sign-in')).token)).toBe(200);
  });

  test('tokens and refresh sessions issued before /api/ms/logout-all are refused', async () => {
    const u = await newUser('users', 'logoutall');
    const other = (await ok(await signIn('users', u.email, PASSWORD), 'second sign-in')).token as string;
    const session = await ok(await call('POST', '/api/ms/sessions', { token: u.token }), 'session');
    expect(await refreshStatus('users', session.token)).toBe(200);
    await ok(await call('POST', '/api/ms/logout-all', { token: other }), 'logout-all', 204);
    await expectNoAuth(u.token, 'before logout-all');
    await expectNoAuth(other, 'the caller itself');
    await expectNoAuth(session.token, 'session access token');
    expectApiError(await call('POST', '/api/ms/sessions/refresh', { body: { refreshToken: session.refreshToken } }), 401);
    // bystanders keep their sessions
    expect(await refreshStatus('users', alice.token)).toBe(200);
  });
});

describe('tokens of another collection', () => {
  test('a user token on superuser-only routes → 403 (PocketBase), never a superuser', async () => {
    const t = { token: alice.token };
    expectApiError(await call('GET', '/api/collections', t), 403, 'collections');
    expectApiError(await call('POST', '/api/collections', { ...t, body: { name: 'pwned' } }), 403, 'create collection');
    expectApiError(await call('GET', '/api/settings', t), 403, 'settings');
    expectApiError(await call('PATCH', '/api/settings', { ...t, body: { meta: { appName: 'pwned' } } }), 403, 'settings update');
    expectApiError(await call('GET', '/api/collections/_superusers/records', t), 403, 'superusers list');
    expectApiError(
      await call('POST', '/api/collections/_superusers/records', {
        ...t,
        body: { email: 'evil@example.com', password: PASSWORD, passwordConfirm: PASSWORD },
      }),
      403,
      'superuser create',
    );
    expectApiError(await call('POST', `/api/collections/users/impersonate/${bob.id}`, t), 403, 'impersonate');
    expectApiError(await call('POST', '/api/collections/_superusers/auth-refresh', t), 403, 'superusers auth-refresh');
    expectApiError(await call('POST', '/api/collections/staff/auth-refresh', t), 403, 'staff auth-refresh');
    const sus = await ok(await call('GET', '/api/collections/_superusers/records', { token: su }), 'su list');
    expect(sus.items.some((r: any) => r.email === 'evil@example.com')).toBe(false);
  });

  test('an auth record id already used in another auth collection is refused (PocketBase: id validation_invalid_auth_id)', async () => {
    const created: [string, string][] = [];
    try {
      const twin = await call('POST', '/api/collections/members/records', {
        body: { id: alice.id, email: address('twin'), password: PASSWORD, passwordConfirm: PASSWORD },
      });
      if (twin.status === 200) created.push(['members', twin.body.id]);
      expectApiError(twin, 400, 'a members record with the id of a user');
      expect(twin.body.data.id, twin.text).toBeDefined();

      const suTwin = await call('POST', '/api/collections/users/records', {
        body: { id: ids.su, email: address('su-twin'), password: PASSWORD, passwordConfirm: PASSWORD },
      });
      if (suTwin.status === 200) created.push(['users', suTwin.body.id]);
      expectApiError(suTwin, 400, 'a user with the id of a superuser');
      expect(suTwin.body.data.id, suTwin.text).toBeDefined();
    } finally {
      for (const [c, id] of created) await call('DELETE', `/api/collections/${c}/records/${id}`, { token: su });
    }
  });

  test('a record sharing its id with a user in another auth collection gets none of that user’s powers', async () => {
    // PocketBase refuses such a record through the API; it is made here behind the API's back
    const email = address('staff-twin');
    const rec = await ok(
      await call('POST', '/api/collections/staff/records', { token: su, body: { email, password: PASSWORD, passwordConfirm: PASSWORD } }),
      'staff',
    );
    await s.app.engine.run('UPDATE "staff" SET id = $1 WHERE id = $2', [alice.id, rec.id]);
    const twin = (await ok(await signIn('staff', email, PASSWORD), 'twin sign-in')).token as string;
    expect(jwtClaims(twin)).toMatchObject({ id: alice.id, collectionId: ids.staff, type: 'auth' });

    expectApiError(await call('POST', '/api/collections/users/auth-refresh', { token: twin }), 403, 'users auth-refresh');
    expectApiError(
      await call('POST', '/api/collections/users/request-email-change', { token: twin, body: { newEmail: address('hijack') } }),
      403,
      'users request-email-change',
    );
    expectApiError(await call('POST', '/api/collections/staff/auth-refresh', { token: alice.token }), 403, 'staff auth-refresh');
    // each key signs for its own collection only
    const twinKey = await keyOf('staff', alice.id);
    const aliceKey = await keyOf('users', alice.id);
    const claims = jwtClaims(alice.token);
    await expectNoAuth(makeJwt({ alg: 'HS256', typ: 'JWT' }, { ...claims, collectionId: ids.staff }, aliceKey), 'users key, staff claim');
    await expectNoAuth(makeJwt({ alg: 'HS256', typ: 'JWT' }, claims, twinKey), 'staff key, users claim');
    // the twin signing out everywhere ends its own sessions only
    await ok(await call('POST', '/api/ms/logout-all', { token: twin }), 'twin logout-all', 204);
    expect(await refreshStatus('staff', twin)).toBe(401);
    expect(await refreshStatus('users', alice.token)).toBe(200);
    await s.app.engine.run('DELETE FROM "staff" WHERE id = $1', [alice.id]);
  });
});

// ======================================================= single-use tokens

describe('mailed tokens and codes are single-use, short-lived and of one kind', () => {
  const confirm = {
    verification: (token: unknown) => call('POST', '/api/collections/users/confirm-verification', { body: { token } }),
    passwordReset: (token: unknown, password = 'reset-pass-1') =>
      call('POST', '/api/collections/users/confirm-password-reset', { body: { token, password, passwordConfirm: password } }),
    emailChange: (token: unknown, password: unknown = PASSWORD) =>
      call('POST', '/api/collections/users/confirm-email-change', { body: { token, password } }),
  };
  const request = {
    verification: (email: string) => call('POST', '/api/collections/users/request-verification', { body: { email } }),
    passwordReset: (email: string) => call('POST', '/api/collections/users/request-password-reset', { body: { email } }),
    emailChange: (token: string, newEmail: string) =>
      call('POST', '/api/collections/users/request-email-change', { token, body: { newEmail } }),
  };
  const near = (exp: unknown, seconds: number) => {
    expect(typeof exp).toBe('number');
    expect(Math.abs((exp as number) - (nowSeconds() + seconds))).toBeLessThanOrEqual(5);
  };

  test('verification: a token of the right kind works once; other kinds and the Authorization header refuse it', async () => {
    const u = await newUser('users', 'verify');
    await ok(await request.verification(u.email), 'request', 204);
    const token = await mailbox.take(u.email, MAIL.verification);
    const claims = jwtClaims(token);
    expect(claims).toMatchObject({ id: u.id, type: 'verification', email: u.email });
    near(claims.exp, s.app.records.collection('users').auth?.verificationToken.duration as number);

    expectApiError(await confirm.passwordReset(token), 400, 'as a reset token');
    expectApiError(await confirm.emailChange(token), 400, 'as an email-change token');
    await expectNoAuth(token, 'verification token as a session');
    // refused uses did not spend it
    await ok(await confirm.verification(token), 'confirm', 204);
    const again = await confirm.verification(token);
    expectApiError(again, 400, 'reuse');
    expect(again.body.data.token?.code).toBe('validation_invalid_token');
    expect((await ok(await signIn('users', u.email, PASSWORD), 'sign in')).record.verified).toBe(true);
  });

  test('password reset: works once; other outstanding reset tokens die with it; other kinds and sessions refuse it', async () => {
    const u = await newUser('users', 'reset');
    await ok(await request.passwordReset(u.email), 'request', 204);
    const first = await mailbox.take(u.email, MAIL.passwordReset);
    // another outstanding reset token of the same record (made by the app's signing, another expiry)
    const second = await appToken('users', u.id, 'passwordReset', { email: u.email }, 1000);
    expect(second).not.toBe(first);
    const claims = jwtClaims(first);
    expect(claims).toMatchObject({ id: u.id, type: 'passwordReset', email: u.email });
    near(claims.exp, 1800);

    expectApiError(await confirm.verification(first), 400, 'as a verification token');
    expectApiError(await confirm.emailChange(first), 400, 'as an email-change token');
    await expectNoAuth(first, 'reset token as a session');

    await ok(await confirm.passwordReset(first, 'reset-pass-1'), 'confirm', 204);
    expectApiError(await confirm.passwordReset(first, 'reset-pass-2'), 400, 'reuse');
    expectApiError(await confirm.passwordReset(second, 'reset-pass-3'), 400, 'the other outstanding token');
    await ok(await signIn('users', u.email, 'reset-pass-1'), 'the reset password');
    for (const p of [PASSWORD, 'reset-pass-2', 'reset-pass-3']) expect((await signIn('users', u.email, p)).status).toBe(400);
  });

  test('password reset: a token stops working once the password changed another way', async () => {
    const u = await newUser('users', 'reset-stale');
    await ok(await request.passwordReset(u.email), 'request', 204);
    const token = await mailbox.take(u.email, MAIL.passwordReset);
    await ok(
      await call('PATCH', `/api/collections/users/records/${u.id}`, {
        token: u.token,
        body: { oldPassword: PASSWORD, password: 'changed-pass-1', passwordConfirm: 'changed-pass-1' },
      }),
      'change',
    );
    expectApiError(await confirm.passwordReset(token, 'attacker-pass-1'), 400, 'stale reset token');
    expect((await signIn('users', u.email, 'attacker-pass-1')).status).toBe(400);
    await ok(await signIn('users', u.email, 'changed-pass-1'), 'sign in');
  });

  test('email change: works once, a wrong password does not spend it; other kinds refuse it', async () => {
    const u = await newUser('users', 'ec');
    const next = address('ec-new');
    await ok(await request.emailChange(u.token, next), 'request', 204);
    const token = await mailbox.take(next, MAIL.emailChange);
    const claims = jwtClaims(token);
    expect(claims).toMatchObject({ id: u.id, type: 'emailChange', email: u.email, newEmail: next });
    near(claims.exp, 1800);

    expectApiError(await confirm.verification(token), 400, 'as a verification token');
    expectApiError(await confirm.passwordReset(token), 400, 'as a reset token');
    await expectNoAuth(token, 'email-change token as a session');
    const wrong = await confirm.emailChange(token, 'wrong-password');
    expectApiError(wrong, 400, 'wrong password');
    expect(wrong.body.data.password).toBeDefined();
    await ok(await confirm.emailChange(token, PASSWORD), 'confirm', 204);
    expectApiError(await confirm.emailChange(token, PASSWORD), 400, 'reuse');
    await ok(await signIn('users', next, PASSWORD), 'new address');
  });

  test('email change: a token stops working once the password changed', async () => {
    const u = await newUser('users', 'ec-stale');
    const next = address('ec-stale-new');
    await ok(await request.emailChange(u.token, next), 'request', 204);
    const token = await mailbox.take(next, MAIL.emailChange);
    await ok(
      await call('PATCH', `/api/collections/users/records/${u.id}`, {
        token: u.token,
        body: { oldPassword: PASSWORD, password: 'changed-pass-1', passwordConfirm: 'changed-pass-1' },
      }),
      'change',
    );
    expectApiError(await confirm.emailChange(token, 'changed-pass-1'), 400, 'stale email-change token');
    expect((await storedSecrets('users', u.id)).email).toBe(u.email);
  });

  test('an auth token is no mailed token, and expired mailed tokens (app signing) are refused', async () => {
    const u = await newUser('users', 'kinds');
    expectApiError(await confirm.verification(u.token), 400, 'auth as verification');
    expectApiError(await confirm.passwordReset(u.token), 400, 'auth as reset');
    expectApiError(await confirm.emailChange(u.token), 400, 'auth as email change');
    const expired = {
      verification: await appToken('users', u.id, 'verification', { email: u.email }, -1),
      passwordReset: await appToken('users', u.id, 'passwordReset', { email: u.email }, -1),
      emailChange: await appToken('users', u.id, 'emailChange', { email: u.email, newEmail: address('late') }, -1),
    };
    expectApiError(await confirm.verification(expired.verification), 400, 'expired verification');
    expectApiError(await confirm.passwordReset(expired.passwordReset), 400, 'expired reset');
    expectApiError(await confirm.emailChange(expired.emailChange), 400, 'expired email change');
    // the same tokens, still valid, work: only the expiry was wrong
    await ok(await confirm.verification(await appToken('users', u.id, 'verification', { email: u.email })), 'fresh', 204);
    // a mailed token of another collection is refused
    const m = await newUser('members', 'kinds-m');
    const foreign = await appToken('members', m.id, 'passwordReset', { email: m.email });
    expectApiError(await confirm.passwordReset(foreign), 400, 'a members reset token on users');
  });

  test("mailed tokens' exp follows the collection's durations", async () => {
    const u = await newUser('users', 'durations');
    await ok(
      await call('PATCH', '/api/collections/users', {
        token: su,
        body: { passwordResetToken: { duration: 600 }, verificationToken: { duration: 3600 }, emailChangeToken: { duration: 900 } },
      }),
      'shorten',
    );
    try {
      await ok(await request.passwordReset(u.email), 'reset', 204);
      near(jwtClaims(await mailbox.take(u.email, MAIL.passwordReset)).exp, 600);
      await ok(await request.verification(u.email), 'verify', 204);
      near(jwtClaims(await mailbox.take(u.email, MAIL.verification)).exp, 3600);
      const next = address('durations-new');
      await ok(await request.emailChange(u.token, next), 'email change', 204);
      near(jwtClaims(await mailbox.take(next, MAIL.emailChange)).exp, 900);
    } finally {
      await ok(
        await call('PATCH', '/api/collections/users', {
          token: su,
          body: { passwordResetToken: { duration: 1800 }, verificationToken: { duration: 259_200 }, emailChangeToken: { duration: 1800 } },
        }),
        'restore',
      );
    }
  });

  describe('one-time passwords', () => {
    const requestOtp = async (collection: string, email: string) =>
      (await ok(await call('POST', `/api/collections/${collection}/request-otp`, { body: { email } }), 'request-otp')).otpId as string;
    const withOtp = (collection: string, otpId: unknown, password: unknown) =>
      call('POST', `/api/collections/${collection}/auth-with-otp`, { body: { otpId, password } });
    const wrongCode = (code: string) => code.replace(/\d$/, (d) => String((Number(d) + 1) % 10));

    test('a code signs in once', async () => {
      const email = address('otp');
      await signUp('otp_users', email);
      const otpId = await requestOtp('otp_users', email);
      const code = await mailbox.take(email, MAIL.otp);
      await ok(await withOtp('otp_users', otpId, code), 'first use');
      expectApiError(await withOtp('otp_users', otpId, code), 400, 'reuse');
    });

    test('five wrong codes burn the OTP: the right one is refused after', async () => {
      const email = address('otp-guess');
      await signUp('otp_users', email);
      const otpId = await requestOtp('otp_users', email);
      const code = await mailbox.take(email, MAIL.otp);
      for (let i = 0; i < 5; i++) expectApiError(await withOtp('otp_users', otpId, wrongCode(code)), 400, `guess ${i}`);
      expectApiError(await withOtp('otp_users', otpId, code), 400, 'the right code after five guesses');
    });

    test('an expired OTP, another collection, or another OTP id refuse the code', async () => {
      const email = address('otp-x');
      await signUp('otp_users', email);
      await signUp('otp_other', email);

      const expiring = await requestOtp('otp_users', email);
      const expiringCode = await mailbox.take(email, MAIL.otp);
      // made 181 s ago: past the collection's 180 s
      const past = new Date(Date.now() - 181_000).toISOString().replace('T', ' ');
      await s.app.engine.run('UPDATE _otps SET created = $1 WHERE id = $2', [past, expiring]);
      expectApiError(await withOtp('otp_users', expiring, expiringCode), 400, 'expired');

      const a = await requestOtp('otp_users', email);
      const codeA = await mailbox.take(email, MAIL.otp);
      expectApiError(await withOtp('otp_other', a, codeA), 400, 'another collection');

      const b = await requestOtp('otp_users', email);
      const codeB = await mailbox.take(email, MAIL.otp);
      if (codeA !== codeB) {
        expectApiError(await withOtp('otp_users', b, codeA), 400, "another OTP's code");
        expectApiError(await withOtp('otp_users', a, codeB), 400, "another OTP's code");
      }
      await ok(await withOtp('otp_users', a, codeA), 'a still works');
      await ok(await withOtp('otp_users', b, codeB), 'b still works');
    });

    test("an MFA session of one user cannot complete another user's sign-in", async () => {
      const victim = address('mfa-victim');
      const attacker = address('mfa-attacker');
      await signUp('mfa_users', victim);
      await signUp('mfa_users', attacker);
      // the attacker knows the victim's password (first factor) and owns a mailbox of its own
      const first = await signIn('mfa_users', victim, PASSWORD);
      expect(first.status).toBe(401);
      const mfaId = first.body.mfaId as string;
      expect(mfaId).toMatch(/^[a-z0-9]{15}$/);
      const otpId = await requestOtp('mfa_users', attacker);
      const code = await mailbox.take(attacker, MAIL.otp);
      const res = await call('POST', '/api/collections/mfa_users/auth-with-otp', { body: { otpId, password: code, mfaId } });
      expectApiError(res, 400, "the attacker's OTP with the victim's mfaId");
      expect(res.body.token).toBeUndefined();
    });
  });
});

// ============================================================ enumeration

describe('account enumeration', () => {
  test('request-password-reset, request-verification and request-otp answer unknown addresses exactly like known ones', async () => {
    const known = await newUser('users', 'enum-known');
    const ghost = address('enum-ghost');
    for (const route of ['request-password-reset', 'request-verification']) {
      const a = await call('POST', `/api/collections/users/${route}`, { body: { email: known.email } });
      const b = await call('POST', `/api/collections/users/${route}`, { body: { email: ghost } });
      expect(a.status, route).toBe(204);
      expect(b.status, route).toBe(204);
      expect(b.text, route).toBe(a.text);
    }
    await mailbox.take(known.email, MAIL.passwordReset);
    await mailbox.take(known.email, MAIL.verification);
    await expectNoMail(ghost);

    const knownOtp = address('enum-otp');
    await signUp('otp_users', knownOtp);
    const a = await ok(await call('POST', '/api/collections/otp_users/request-otp', { body: { email: knownOtp } }), 'known');
    const b = await ok(await call('POST', '/api/collections/otp_users/request-otp', { body: { email: ghost } }), 'unknown');
    expect(Object.keys(a)).toEqual(['otpId']);
    expect(Object.keys(b)).toEqual(['otpId']);
    expect(b.otpId).toMatch(/^[a-z0-9]{15}$/);
    await mailbox.take(knownOtp, MAIL.otp);
    await expectNoMail(ghost);
  });

  test('auth-with-password: unknown email, wrong password and an unverified account (authRule "verified = true") answer the same', async () => {
    const verified = address('gated-ok');
    const unverified = address('gated-no');
    const rec = await signUp('gated', verified);
    await signUp('gated', unverified);
    await ok(await call('PATCH', `/api/collections/gated/records/${rec.id}`, { token: su, body: { verified: true } }), 'verify');

    const answers = {
      unknown: await signIn('gated', address('gated-ghost'), PASSWORD),
      'wrong password': await signIn('gated', verified, 'wrong-password'),
      'wrong password, other case': await signIn('gated', verified.toUpperCase(), 'wrong-password'),
      'unverified, right password': await signIn('gated', unverified, PASSWORD),
      'unverified, wrong password': await signIn('gated', unverified, 'wrong-password'),
    };
    for (const [label, res] of Object.entries(answers)) {
      expect(res.status, label).toBe(400);
      expect(res.body, label).toEqual(FAILED);
      expect(res.headers instanceof Headers ? res.headers.get('content-type') : undefined, label).toBe(
        (answers.unknown.headers as Headers).get('content-type'),
      );
    }
    await ok(await signIn('gated', verified, PASSWORD), 'the verified account signs in');
  });

  test('timing: unknown email, wrong password and an unverified account take about as long (bcrypt runs for all)', async () => {
    const known = address('timing');
    const unverified = address('timing-unverified');
    const rec = await signUp('gated', known);
    await signUp('gated', unverified);
    await ok(await call('PATCH', `/api/collections/gated/records/${rec.id}`, { token: su, body: { verified: true } }), 'verify');
    const once = async (identity: string, password: string) => {
      const started = performance.now();
      const res = await signIn('gated', identity, password);
      const ms = performance.now() - started;
      expect(res.status).toBe(400);
      return ms;
    };
    for (let i = 0; i < 3; i++) {
      await once(`warm-${i}@example.com`, 'wrong-password');
      await once(known, 'wrong-password');
    }
    const unknownMs: number[] = [];
    const wrongMs: number[] = [];
    const unverifiedMs: number[] = [];
    for (let i = 0; i < 15; i++) {
      unknownMs.push(await once(`nobody-${i}-${seq}@example.com`, 'wrong-password'));
      wrongMs.push(await once(known, 'wrong-password'));
      unverifiedMs.push(await once(unverified, PASSWORD));
    }
    const ratio = median(unknownMs) / median(wrongMs);
    const ratioUnverified = median(unverifiedMs) / median(wrongMs);
    const detail = `unknown ${median(unknownMs).toFixed(1)} ms, wrong ${median(wrongMs).toFixed(1)} ms, unverified ${median(unverifiedMs).toFixed(1)} ms`;
    expect(ratio, detail).toBeGreaterThan(0.5);
    expect(ratio, detail).toBeLessThan(2);
    expect(ratioUnverified, detail).toBeGreaterThan(0.5);
    expect(ratioUnverified, detail).toBeLessThan(2);
  });

  test("timing: unknown email vs wrong password stay alike when the password field's bcrypt cost is raised", async () => {
    const c = await createCollection({ name: 'costly', type: 'auth', createRule: '' });
    const fields = c.fields.map((f: any) => (f.type === 'password' ? { ...f, cost: 12 } : f));
    const updated = await ok(await call('PATCH', `/api/collections/${c.id}`, { token: su, body: { fields } }), 'cost 12');
    expect(updated.fields.find((f: any) => f.type === 'password').cost).toBe(12);
    const known = address('costly');
    const rec = await signUp('costly', known);
    expect((await storedSecrets('costly', rec.id)).password).toMatch(/^\$2[aby]\$12\$/);
    const once = async (identity: string) => {
      const started = performance.now();
      const res = await signIn('costly', identity, 'wrong-password');
      expect(res.body).toEqual(FAILED);
      return performance.now() - started;
    };
    await once('warm@example.com');
    await once(known);
    const unknownMs: number[] = [];
    const wrongMs: number[] = [];
    for (let i = 0; i < 7; i++) {
      unknownMs.push(await once(`costly-ghost-${i}@example.com`));
      wrongMs.push(await once(known));
    }
    const ratio = median(unknownMs) / median(wrongMs);
    const detail = `unknown ${median(unknownMs).toFixed(1)} ms, wrong password ${median(wrongMs).toFixed(1)} ms`;
    expect(ratio, detail).toBeGreaterThan(0.5);
    expect(ratio, detail).toBeLessThan(2);
  });
});

// ========================================================= mass assignment

describe('mass assignment on auth records', () => {
  const patch = (u: User, body: Record<string, unknown>, collection = 'users') =>
    call('PATCH', `/api/collections/${collection}/records/${u.id}`, { token: u.token, body });

  test('sign-up cannot set verified = true (JSON or form), and nothing is created', async () => {
    const email = address('self-verified');
    const res = await call('POST', '/api/collections/users/records', {
      body: { email, password: PASSWORD, passwordConfirm: PASSWORD, verified: true },
    });
    expectApiError(res, 400);
    expect(res.body.data.verified).toBeDefined();
    const form = await call('POST', '/api/collections/users/records', {
      raw: new URLSearchParams({ email, password: PASSWORD, passwordConfirm: PASSWORD, verified: 'true' }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expectApiError(form, 400);
    expect(form.body.data.verified).toBeDefined();
    const found = await ok(
      await call('GET', `/api/collections/users/records?filter=${encodeURIComponent(`email = "${email}"`)}`, { token: su }),
      'lookup',
    );
    expect(found.totalItems).toBe(0);
  });

  test('sign-up ignores a chosen tokenKey', async () => {
    const email = address('chosen-key');
    const chosen = 'attacker-chosen-token-key-0123456789';
    const rec = await signUp('users', email, PASSWORD, { tokenKey: chosen });
    expect((await storedSecrets('users', rec.id)).tokenKey).not.toBe(chosen);
  });

  test('the owner cannot set verified, change the email directly, or set the tokenKey', async () => {
    const u = await newUser('users', 'owner');
    const before = await storedSecrets('users', u.id);

    const verified = await patch(u, { verified: true });
    expectApiError(verified, 400, 'verified');
    expect(verified.body.data.verified).toBeDefined();
    const verifiedForm = await call('PATCH', `/api/collections/users/records/${u.id}`, {
      token: u.token,
      raw: 'verified=true',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expectApiError(verifiedForm, 400, 'verified (form)');

    const moved = await patch(u, { email: address('moved') });
    expectApiError(moved, 400, 'email');
    expect(moved.body.data.email).toBeDefined();

    const keyed = await patch(u, { tokenKey: 'attacker-chosen-token-key-0123456789', name: 'renamed' });
    expect(keyed.status, keyed.text).toBe(200);
    const after = await storedSecrets('users', u.id);
    expect(after).toEqual(before);
    expect(await refreshStatus('users', u.token)).toBe(200);
    const self = await ok(await call('GET', `/api/collections/users/records/${u.id}`, { token: u.token }), 'self');
    expect(self.verified).toBe(false);
    expect(self.email).toBe(u.email);
  });

  test('a password change needs the right oldPassword; modifiers and passwordConfirm alone change nothing', async () => {
    const u = await newUser('users', 'oldpw');
    const { password: hash } = await storedSecrets('users', u.id);
    const np = 'new-password-1';
    const cases: [string, Record<string, unknown>][] = [
      ['no oldPassword', { password: np, passwordConfirm: np }],
      ['wrong oldPassword', { oldPassword: 'not-it-at-all', password: np, passwordConfirm: np }],
      ['oldPassword as a number', { oldPassword: 12345678, password: np, passwordConfirm: np }],
      ['oldPassword as a list', { oldPassword: [PASSWORD], password: np, passwordConfirm: np }],
      ['oldPassword as an object', { oldPassword: { $ne: '' }, password: np, passwordConfirm: np }],
      ['mismatched confirm', { oldPassword: PASSWORD, password: np, passwordConfirm: 'other-password-1' }],
      ['passwordConfirm alone', { passwordConfirm: np }],
      ['password as a list', { oldPassword: PASSWORD, password: [np], passwordConfirm: np }],
    ];
    for (const [label, body] of cases) {
      const res = await patch(u, body);
      expectApiError(res, 400, label);
    }
    for (const body of [{ 'password+': np }, { '+password': np }, { 'password-': PASSWORD }]) {
      const res = await patch(u, body);
      expect(res.status, JSON.stringify(body)).toBeLessThan(500);
    }
    expect((await storedSecrets('users', u.id)).password).toBe(hash);
    expect(await refreshStatus('users', u.token)).toBe(200);
    expect((await signIn('users', u.email, np)).status).toBe(400);
    await ok(await patch(u, { oldPassword: PASSWORD, password: np, passwordConfirm: np }), 'the real change');
    await ok(await signIn('users', u.email, np), 'new password');
  });

  test('a bcrypt hash sent as a password is a plain string, hashed again', async () => {
    const plain = 'the-hidden-plain-1';
    const hash = await hashPassword(plain, 4);
    const email = address('hash-as-password');
    const rec = await signUp('users', email, hash);
    expect((await storedSecrets('users', rec.id)).password).not.toBe(hash);
    expectApiError(await signIn('users', email, plain), 400);
    await ok(await signIn('users', email, hash), 'the hash string itself is the password');
  });

  test('password and tokenKey never appear in any response', async () => {
    const u = await newUser('users', 'leak');
    const secrets = await storedSecrets('users', u.id);
    const bodies: [string, Answer][] = [];
    const grab = async (label: string, res: Promise<Answer>) => {
      const r = await res;
      expect(r.status, `${label}: ${r.text.slice(0, 200)}`).toBeLessThan(500);
      bodies.push([label, r]);
      return r;
    };
    await grab(
      'sign-up',
      call('POST', '/api/collections/users/records', {
        body: { email: address('leak2'), password: PASSWORD, passwordConfirm: PASSWORD },
      }),
    );
    await grab('auth-with-password', signIn('users', u.email, PASSWORD));
    await grab('auth-refresh', call('POST', '/api/collections/users/auth-refresh', { token: u.token }));
    await grab('view self', call('GET', `/api/collections/users/records/${u.id}`, { token: u.token }));
    await grab('list self', call('GET', '/api/collections/users/records', { token: u.token }));
    await grab('fields=*,tokenKey,password', call('GET', '/api/collections/users/records?fields=*,tokenKey,password', { token: u.token }));
    await grab('superuser list', call('GET', '/api/collections/users/records?perPage=500', { token: su }));
    await grab('superuser fields', call('GET', '/api/collections/users/records?fields=tokenKey,password', { token: su }));
    await grab('update', call('PATCH', `/api/collections/users/records/${u.id}`, { token: u.token, body: { name: 'Leaky' } }));
    await grab(
      'notes expand owner',
      call('GET', '/api/collections/notes/records?expand=owner&fields=*,expand.owner.tokenKey,expand.owner.password', { token: su }),
    );
    await grab('impersonate', call('POST', `/api/collections/users/impersonate/${u.id}`, { token: su }));
    const session = await grab('ms session', call('POST', '/api/ms/sessions', { token: u.token }));
    await grab('ms session refresh', call('POST', '/api/ms/sessions/refresh', { body: { refreshToken: session.body.refreshToken } }));
    await grab('ms sessions list', call('GET', '/api/ms/sessions', { token: u.token }));
    const changed = await grab(
      'password change',
      call('PATCH', `/api/collections/users/records/${u.id}`, {
        token: u.token,
        body: { oldPassword: PASSWORD, password: 'leak-pass-2', passwordConfirm: 'leak-pass-2' },
      }),
    );
    expect(changed.status).toBe(200);
    const after = await storedSecrets('users', u.id);
    for (const [label, r] of bodies) {
      expect(r.text, label).not.toMatch(/"(password|tokenKey|passwordConfirm|oldPassword)"\s*:/);
      expect(r.text, label).not.toMatch(/\$2[aby]\$\d\d\$/);
      for (const secret of [secrets.tokenKey, after.tokenKey, secrets.password, after.password])
        expect(r.text, label).not.toContain(secret);
    }
    // filtering or sorting on them is refused to users
    for (const q of ['filter=tokenKey!=""', 'filter=password~"$2"', 'sort=tokenKey', 'sort=-password']) {
      expectApiError(await call('GET', `/api/collections/users/records?${q}`, { token: u.token }), 400, q);
    }
  });

  test('emailVisibility: others see, filter and sort by an email only when it is shown', async () => {
    const hidden = address('hidden');
    const shown = address('shown');
    const h = await signUp('members', hidden);
    const v = await signUp('members', shown, PASSWORD, { emailVisibility: true });
    const viewer = await newUser('members', 'viewer');
    const hiddenSelf = (await ok(await signIn('members', hidden, PASSWORD), 'hidden sign-in')).token as string;

    for (const [who, token] of [
      ['another member', viewer.token],
      ['a guest', undefined],
    ] as const) {
      const opts = token ? { token } : {};
      const view = await ok(await call('GET', `/api/collections/members/records/${h.id}`, opts), `${who} view`);
      expect(view.email, who).toBeUndefined();
      expect(JSON.stringify(view), who).not.toContain(hidden);
      const shownView = await ok(await call('GET', `/api/collections/members/records/${v.id}`, opts), `${who} view shown`);
      expect(shownView.email, who).toBe(shown);
      const list = await ok(await call('GET', '/api/collections/members/records?perPage=500', opts), `${who} list`);
      expect(JSON.stringify(list), who).not.toContain(hidden);
      for (const filter of [`email = "${hidden}"`, `email ~ "${hidden.split('@')[0]}"`, `email ?= "${hidden}"`]) {
        const res = await call('GET', `/api/collections/members/records?filter=${encodeURIComponent(filter)}`, opts);
        expect(res.status, `${who} ${filter}: ${res.text.slice(0, 200)}`).toBeLessThan(500);
        if (res.status === 200) expect(res.body.totalItems, `${who} ${filter}`).toBe(0);
      }
      const control = await ok(
        await call('GET', `/api/collections/members/records?filter=${encodeURIComponent(`email = "${shown}"`)}`, opts),
        `${who} control`,
      );
      expect(control.totalItems, who).toBe(1);
    }
    // the owner sees its own address, and may choose to show it
    const self = await ok(await call('GET', `/api/collections/members/records/${h.id}`, { token: hiddenSelf }), 'self');
    expect(self.email).toBe(hidden);
    await ok(
      await call('PATCH', `/api/collections/members/records/${h.id}`, { token: hiddenSelf, body: { emailVisibility: true } }),
      'show',
    );
    expect((await ok(await call('GET', `/api/collections/members/records/${h.id}`, { token: viewer.token }), 'after')).email).toBe(hidden);
  });
});

// ===================================================== oversized passwords

describe('oversized passwords (bcrypt reads 72 bytes)', () => {
  test('sign-up: 72 bytes are accepted; 73 bytes, or fewer characters over 72 bytes, are a 400 validation error', async () => {
    await signUp('users', address('p72'), 'p'.repeat(72));
    await signUp('users', address('euro72'), '€'.repeat(24));
    for (const [label, password] of [
      ['73 ASCII bytes', 'p'.repeat(73)],
      ['25 × € (75 bytes)', '€'.repeat(25)],
      ['71 bytes and a 3-byte character', `${'p'.repeat(71)}€`],
      ['18 emoji (72 bytes) and one more', '😀'.repeat(19)],
    ]) {
      const res = await call('POST', '/api/collections/users/records', {
        body: { email: address('too-long'), password, passwordConfirm: password },
      });
      expectApiError(res, 400, label);
      expect(res.body.data.password?.code, label).toBe('validation_max_text_constraint');
    }
  });

  test('two passwords sharing the first 72 bytes do not both sign in', async () => {
    const p72 = `${'k'.repeat(40)}${Math.random().toString(36).slice(2).padEnd(32, 'z').slice(0, 32)}`;
    expect(Buffer.byteLength(p72)).toBe(72);
    const email = address('prefix');
    const rec = await signUp('users', email, p72);
    const token = (await ok(await signIn('users', email, p72), 'exact')).token as string;
    for (const longer of [`${p72}x`, `${p72}€`, `${p72}${'x'.repeat(1000)}`]) {
      expect((await signIn('users', email, longer)).body, `${longer.length}`).toEqual(FAILED);
    }
    // and none of them can be set as a new password either
    for (const [route, res] of [
      [
        'update',
        await call('PATCH', `/api/collections/users/records/${rec.id}`, {
          token,
          body: { oldPassword: p72, password: `${p72}y`, passwordConfirm: `${p72}y` },
        }),
      ],
      [
        'confirm-password-reset',
        await call('POST', '/api/collections/users/confirm-password-reset', {
          body: { token: 'a.b.c', password: `${p72}y`, passwordConfirm: `${p72}y` },
        }),
      ],
    ] as const) {
      expectApiError(res, 400, route);
      expect(res.body.data.password?.code, route).toBe('validation_max_text_constraint');
    }
  });

  test('a NUL byte is part of the password, not its end', async () => {
    const email = address('nul');
    await signUp('users', email, 'nul-pass\u0000one');
    for (const p of ['nul-pass', 'nul-pass\u0000two', 'nul-pass\u0000']) expect((await signIn('users', email, p)).body).toEqual(FAILED);
    await ok(await signIn('users', email, 'nul-pass\u0000one'), 'exact');
  });

  test('a 10 MB password is a quick 4xx everywhere, never a 500 or a hang', async () => {
    const huge = 'x'.repeat(10 * 1024 * 1024);
    const u = await newUser('users', 'huge');
    const otpEmail = address('huge-otp');
    await signUp('otp_users', otpEmail);
    const otpId = (await ok(await call('POST', '/api/collections/otp_users/request-otp', { body: { email: otpEmail } }), 'otp')).otpId;
    const attempts: [string, () => Promise<Answer>][] = [
      ['sign-in', () => signIn('users', u.email, huge)],
      ['superuser sign-in', () => signIn('_superusers', 'admin@example.com', huge)],
      [
        'sign-up',
        () => call('POST', '/api/collections/users/records', { body: { email: address('h'), password: huge, passwordConfirm: huge } }),
      ],
      [
        'update, huge new password',
        () =>
          call('PATCH', `/api/collections/users/records/${u.id}`, {
            token: u.token,
            body: { oldPassword: PASSWORD, password: huge, passwordConfirm: huge },
          }),
      ],
      [
        'update, huge oldPassword',
        () =>
          call('PATCH', `/api/collections/users/records/${u.id}`, {
            token: u.token,
            body: { oldPassword: huge, password: 'fine-password-1', passwordConfirm: 'fine-password-1' },
          }),
      ],
      [
        'confirm-password-reset',
        () =>
          call('POST', '/api/collections/users/confirm-password-reset', {
            body: { token: 'a.b.c', password: huge, passwordConfirm: huge },
          }),
      ],
      [
        'confirm-email-change',
        () => call('POST', '/api/collections/users/confirm-email-change', { body: { token: 'a.b.c', password: huge } }),
      ],
      ['auth-with-otp', () => call('POST', '/api/collections/otp_users/auth-with-otp', { body: { otpId, password: huge } })],
    ];
    for (const [label, attempt] of attempts) {
      const started = Date.now();
      const res = await attempt();
      const ms = Date.now() - started;
      expectApiError(res, [400, 413], label);
      expect(ms, label).toBeLessThan(3000);
    }
    await ok(await signIn('users', u.email, PASSWORD), 'the password is unchanged');
    expect((await call('GET', '/api/health')).status).toBe(200);
  });
});

// ========================================================= hostile bodies

describe('hostile bodies on auth endpoints', () => {
  const LONG = 'x'.repeat(1_000_000);
  const SQL = ["' OR '1'='1", "'; DROP TABLE users; --", '" OR 1=1 --', "admin@example.com' --", '1) OR (1=1'];
  const WEIRD = [
    '\u0000',
    '\ud800',
    '\u202e',
    '𝕒𝕝𝕚𝕔𝕖@example.com',
    'ａｌｉｃｅ@example.com',
    'alice@example.com\u200b',
    '%',
    '_lice@example.com',
  ];
  const TYPES: unknown[] = [123, 0, -1, 1.5, true, false, null, [], ['x'], {}, { $ne: '' }, { $gt: '' }];

  type Case = [string, string, unknown, string?];
  const cases = (): Case[] => {
    const out: Case[] = [];
    const add = (route: string, label: string, body: unknown, token?: string) => out.push([route, label, body, token]);
    const pw = '/api/collections/users/auth-with-password';
    add(pw, 'empty object', {});
    add(pw, 'identity only', { identity: alice.email });
    add(pw, 'password only', { password: alice.password });
    for (const t of TYPES) {
      add(pw, `identity ${JSON.stringify(t)}`, { identity: t, password: alice.password });
      add(pw, `password ${JSON.stringify(t)}`, { identity: alice.email, password: t });
      add(pw, `identityField ${JSON.stringify(t)}`, { identity: alice.email, password: alice.password, identityField: t });
    }
    for (const v of [...SQL, ...WEIRD]) {
      add(pw, `identity ${JSON.stringify(v)}`, { identity: v, password: alice.password });
      add(pw, `password ${JSON.stringify(v)}`, { identity: alice.email, password: v });
    }
    add(pw, 'identity of 1 MB', { identity: LONG, password: alice.password });
    add(pw, 'identityField password', { identity: alice.email, password: alice.password, identityField: 'password' });
    add(pw, 'identityField tokenKey', { identity: alice.email, password: alice.password, identityField: 'tokenKey' });
    add(pw, 'identityField id', { identity: alice.id, password: alice.password, identityField: 'id' });

    const mfa = '/api/collections/mfa_users/auth-with-password';
    for (const t of [123, true, [], ['x'], {}, { $ne: '' }, LONG, "' OR '1'='1", 'zzzzzzzzzzzzzzz']) {
      add(mfa, `mfaId ${JSON.stringify(t).slice(0, 30)}`, { identity: 'mfa-body@example.com', password: PASSWORD, mfaId: t });
    }

    const otp = '/api/collections/otp_users/auth-with-otp';
    add(otp, 'empty object', {});
    for (const t of [...TYPES, LONG, ...SQL, 'zzzzzzzzzzzzzzz']) {
      add(otp, `otpId ${JSON.stringify(t).slice(0, 30)}`, { otpId: t, password: '12345678' });
      add(otp, `password ${JSON.stringify(t).slice(0, 30)}`, { otpId: 'zzzzzzzzzzzzzzz', password: t });
    }

    const emailRoutes = [
      '/api/collections/otp_users/request-otp',
      '/api/collections/users/request-verification',
      '/api/collections/users/request-password-reset',
    ];
    for (const route of emailRoutes) {
      add(route, 'empty object', {});
      for (const t of [...TYPES, '', '   ', 'not-an-email', `${LONG}@example.com`, ...SQL]) {
        add(route, `email ${JSON.stringify(t).slice(0, 30)}`, { email: t });
      }
    }
    const change = '/api/collections/users/request-email-change';
    add(change, 'empty object', {}, alice.token);
    for (const t of [...TYPES, '', 'not-an-email', `${LONG}@example.com`, ...SQL, alice.email, bob.email]) {
      add(change, `newEmail ${JSON.stringify(t).slice(0, 30)}`, { newEmail: t }, alice.token);
    }

    const tokens: unknown[] = [...TYPES, '', 'garbage', 'a.b.c', LONG, ...SQL, '\u0000'];
    for (const t of tokens) {
      const label = `token ${JSON.stringify(t).slice(0, 30)}`;
      add('/api/collections/users/confirm-verification', label, { token: t });
      add('/api/collections/users/confirm-password-reset', label, {
        token: t,
        password: 'new-password-1',
        passwordConfirm: 'new-password-1',
      });
      add('/api/collections/users/confirm-email-change', label, { token: t, password: alice.password });
    }
    for (const t of TYPES) {
      add('/api/collections/users/confirm-password-reset', `password ${JSON.stringify(t)}`, {
        token: 'a.b.c',
        password: t,
        passwordConfirm: t,
      });
      add('/api/collections/users/confirm-password-reset', `passwordConfirm ${JSON.stringify(t)}`, {
        token: 'a.b.c',
        password: 'new-password-1',
        passwordConfirm: t,
      });
      add('/api/collections/users/confirm-email-change', `password ${JSON.stringify(t)}`, { token: 'a.b.c', password: t });
    }
    add('/api/collections/users/confirm-password-reset', 'no passwordConfirm', { token: 'a.b.c', password: 'new-password-1' });
    add('/api/collections/users/confirm-email-change', 'no password', { token: 'a.b.c' });

    for (const d of ['60', -1, 1.5, 1e20, true, [], {}, [60], { $gt: 0 }]) {
      add(`/api/collections/users/impersonate/${alice.id}`, `duration ${JSON.stringify(d)}`, { duration: d }, su);
    }
    return out;
  };

  beforeAll(async () => {
    await signUp('mfa_users', 'mfa-body@example.com');
  });

  test('the table covers every auth endpoint', () => {
    const routes = new Set(cases().map(([r]) => r.replace(/\/api\/collections\/[^/]+\//, '').replace(/\/[a-z0-9]{15}$/, '')));
    expect([...routes].sort()).toEqual(
      [
        'auth-with-password',
        'auth-with-otp',
        'request-otp',
        'request-verification',
        'request-password-reset',
        'request-email-change',
        'confirm-verification',
        'confirm-password-reset',
        'confirm-email-change',
        'impersonate',
      ].sort(),
    );
  });

  test('wrong types, missing fields, huge strings, unicode and SQL in fields → 400 in PocketBase shape, nothing signed in', async () => {
    const failures: string[] = [];
    const all = cases();
    for (let i = 0; i < all.length; i += 16) {
      await Promise.all(
        all.slice(i, i + 16).map(async ([route, label, body, token]) => {
          const res = await call('POST', route, { body, ...(token ? { token } : {}) });
          try {
            expectApiError(res, 400, `${route} ${label}`);
            expect(res.body.token).toBeUndefined();
          } catch {
            failures.push(`${route} ${label} -> ${res.status} ${res.text.slice(0, 160)}`);
          }
        }),
      );
    }
    expect(failures).toEqual([]);
    // alice is untouched
    const me = await ok(await call('GET', `/api/collections/users/records/${alice.id}`, { token: alice.token }), 'alice');
    expect(me.email).toBe(alice.email);
  });

  const ROUTES = [
    '/api/collections/users/auth-with-password',
    '/api/collections/otp_users/auth-with-otp',
    '/api/collections/otp_users/request-otp',
    '/api/collections/users/request-verification',
    '/api/collections/users/request-password-reset',
    '/api/collections/users/request-email-change',
    '/api/collections/users/confirm-verification',
    '/api/collections/users/confirm-password-reset',
    '/api/collections/users/confirm-email-change',
    '/api/ms/sessions/refresh',
  ];
  const RAW = [
    '[]',
    '[{"identity":"alice@example.com","password":"alice-password-1"}]',
    '"alice@example.com"',
    '42',
    'true',
    'null',
    '{',
    '{"identity":',
    '{"identity":"a"}}',
    '\u0000',
    '{"__proto__":{"admin":true},"identity":"alice@example.com","password":"x"}',
    '{"constructor":{"prototype":{"admin":true}}}',
    `${'['.repeat(5000)}${']'.repeat(5000)}`,
  ];

  test.each(ROUTES)('%s: non-object, broken or poisoned JSON bodies → 4xx in PocketBase shape', async (route) => {
    const token = route.endsWith('request-email-change') ? alice.token : undefined;
    for (const raw of RAW) {
      const res = await call('POST', route, { raw, ...(token ? { token } : {}) });
      // Mainspring's refresh route answers any unusable refresh token with 401
      const allowed = route === '/api/ms/sessions/refresh' && raw === 'null' ? [400, 401] : [400];
      expectApiError(res, allowed, `${route} ${raw.slice(0, 40)}`);
    }
    const form = await call('POST', route, {
      raw: 'identity=a&identity=b&password=x&email=a&email=b&token=a&token=b&otpId=a&otpId=b&refreshToken=a&refreshToken=b',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      ...(token ? { token } : {}),
    });
    expectApiError(form, route === '/api/ms/sessions/refresh' ? [400, 401] : 400, `${route} repeated form keys`);
    const text = await call('POST', route, {
      raw: 'identity=alice',
      headers: { 'content-type': 'text/plain' },
      ...(token ? { token } : {}),
    });
    expectApiError(text, [400, 415], `${route} text/plain`);
  });

  test('request-* with odd but well-formed addresses answer 204 and mail nobody', async () => {
    const before = mailbox.count();
    for (const route of ['request-verification', 'request-password-reset']) {
      for (const email of [
        "a'OR'1'='1@example.com",
        'alice@example.com\u0000@x.y',
        '"alice"@example.com',
        'alice@example.com;bob@example.com',
      ]) {
        const res = await call('POST', `/api/collections/users/${route}`, { body: { email } });
        expect(res.status, `${route} ${JSON.stringify(email)}: ${res.text}`).toBeLessThan(500);
        if (res.status !== 204) expectApiError(res, 400, `${route} ${JSON.stringify(email)}`);
      }
    }
    await sleep(300);
    expect(mailbox.count()).toBe(before);
  });
});

// ================================================ rate limits and lockout

describe('brute force against rate limits and lockout (protections on)', () => {
  let g: TestServer;
  const WINDOW = 3;
  const MAX = 10;
  // lockout per (identity, client address) after maxFailures; for every address after maxFailuresPerIdentity
  const LOCK = { maxFailures: 5, maxFailuresPerIdentity: 50, lockSeconds: 1, maxLockSeconds: 2 };
  const victim = { email: 'victim@example.com', password: 'victim-password-1' };

  const attempt = (identity: string, password: string, ip?: string) =>
    callAt(g.url, 'POST', '/api/collections/users/auth-with-password', {
      body: { identity, password },
      headers: ip ? { 'x-forwarded-for': ip } : {},
    });
  const retryAfter = (res: Answer) => Number((res.headers as Headers).get('retry-after'));
  const expect429 = (res: Answer, label: string) => {
    expectApiError(res, 429, label);
    const retry = retryAfter(res);
    expect(Number.isInteger(retry) && retry >= 1 && retry <= Math.max(WINDOW, LOCK.maxLockSeconds), `${label}: Retry-After ${retry}`).toBe(
      true,
    );
  };
  const newVictim = async (what: string) => {
    const email = `${what}-${++seq}@example.com`;
    const res = await callAt(g.url, 'POST', '/api/collections/users/records', {
      body: { email, password: victim.password, passwordConfirm: victim.password },
    });
    expect(res.status, res.text).toBe(200);
    return email;
  };
  /** Runs `fn` with some settings changed, then puts them back. */
  const withSettings = async (patch: Record<string, unknown>, fn: () => Promise<void>) => {
    const before = structuredClone(g.app.settings.get()) as unknown as Record<string, unknown>;
    await g.app.settings.update(patch);
    try {
      await fn();
    } finally {
      await g.app.settings.update(Object.fromEntries(Object.keys(patch).map((k) => [k, before[k]])));
    }
  };

  beforeAll(async () => {
    g = await startServer({ protections: true });
    // behind a proxy that appends the client address to X-Forwarded-For; short windows so the test takes seconds
    await g.app.settings.update({
      trustedProxy: { headers: ['X-Forwarded-For'], useLeftmostIP: false },
      rateLimits: {
        enabled: true,
        rules: [
          { label: '*:auth', maxRequests: MAX, duration: WINDOW, audience: '' },
          { label: '*:request', maxRequests: 5, duration: WINDOW, audience: '' },
          { label: '*:confirm', maxRequests: 10, duration: WINDOW, audience: '' },
        ],
      },
      loginProtection: LOCK,
    });
    const res = await callAt(g.url, 'POST', '/api/collections/users/records', {
      body: { email: victim.email, password: victim.password, passwordConfirm: victim.password },
    });
    expect(res.status, res.text).toBe(200);
  });

  afterAll(async () => {
    await g?.close();
  });

  test('X-Forwarded-For is ignored unless a trusted proxy header is configured', async () => {
    await withSettings({ trustedProxy: { headers: [], useLeftmostIP: false } }, async () => {
      const statuses: number[] = [];
      for (let i = 0; i < MAX + 3; i++) statuses.push((await attempt(`spoof-${i}@example.com`, 'wrong', `10.9.0.${i}`)).status);
      expect(statuses).toEqual([...Array(MAX).fill(400), 429, 429, 429]);
    });
  });

  test('with the proxy trusted, addresses the client prepends to X-Forwarded-For do not reset its limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < MAX + 3; i++)
      statuses.push((await attempt(`prepend-${i}@example.com`, 'wrong', `198.18.${i}.1, 192.0.2.44`)).status);
    expect(statuses).toEqual([...Array(MAX).fill(400), 429, 429, 429]);
  });

  test('1,000 rapid wrong passwords from one address: 429s with Retry-After, never a 500; the user still signs in elsewhere, and there after the window', async () => {
    const attacker = '203.0.113.66';
    const honest = '198.51.100.7';
    const statuses: number[] = [];
    let during: Answer | undefined;
    const started = Date.now();
    for (let batch = 0; batch < 20; batch++) {
      const answers = await Promise.all([
        ...Array.from({ length: 50 }, (_, i) => attempt(victim.email, `wrong-${batch}-${i}`, attacker)),
        ...(batch === 10 ? [attempt(victim.email, victim.password, honest)] : []),
      ]);
      if (batch === 10) during = answers.pop();
      for (const res of answers) {
        statuses.push(res.status);
        if (res.status === 429) expect429(res, `batch ${batch}`);
        else expectApiError(res, 400, `batch ${batch}`);
      }
    }
    const elapsed = Date.now() - started;
    const windows = Math.ceil(elapsed / (WINDOW * 1000)) + 1;
    const checked = statuses.filter((x) => x === 400).length;
    expect(statuses).toHaveLength(1000);
    expect(checked, `${checked} passwords checked in ${elapsed} ms`).toBeLessThanOrEqual(MAX * windows);
    expect(statuses.filter((x) => x === 429).length).toBeGreaterThanOrEqual(1000 - MAX * windows);
    // meanwhile the real user, from another address, is not locked out by someone else's guesses
    expect(during?.status, during?.text).toBe(200);
    // from the attacker's address, while it is refused, even the right password waits… (the attack goes on
    // until it is refused again: on a loaded machine the batches may have ended just as a new window began)
    let refused = false;
    for (let i = 0; i <= MAX && !refused; i++) refused = (await attempt(victim.email, `wrong-again-${i}`, attacker)).status === 429;
    expect(refused, 'the attacking address is refused again within one window').toBe(true);
    expect429(await attempt(victim.email, victim.password, attacker), 'the right password from the attacking address');
    // …until the window and the lock have passed
    await sleep(Math.max(WINDOW, LOCK.maxLockSeconds) * 1000 + 300);
    const later = await attempt(victim.email, victim.password, attacker);
    expect(later.status, later.text).toBe(200);
    expect(later.body.record.email).toBe(victim.email);
  }, 30_000);

  test('locks are per identity and address; many addresses lock the identity for all; unknown identities lock exactly like known ones', async () => {
    await withSettings({ loginProtection: { ...LOCK, maxFailuresPerIdentity: 8 } }, async () => {
      const fromOne = async (identity: string, ip: string) => {
        const out: number[] = [];
        for (let i = 0; i < LOCK.maxFailures + 1; i++) out.push((await attempt(identity, 'wrong-password', ip)).status);
        return out;
      };
      const fromMany = async (identity: string, net: number) => {
        const out: number[] = [];
        for (let i = 0; i < 8; i++) out.push((await attempt(identity, 'wrong-password', `100.${net}.${i}.1`)).status);
        return out;
      };
      const known = await newVictim('lock-known');
      const ghost = `lock-ghost-${++seq}@example.com`;
      const perAddress = [...Array(LOCK.maxFailures - 1).fill(400), 429, 429];
      expect(await fromOne(known, '100.64.1.1')).toEqual(perAddress);
      expect429(await attempt(known, victim.password, '100.64.1.1'), 'the right password from the locked address');
      expect(await fromOne(ghost, '100.64.2.1')).toEqual(perAddress);
      await ok(await attempt(known, victim.password, '100.64.9.9'), 'the owner from another address');

      const spreadKnown = await newVictim('spread-known');
      const spreadGhost = `spread-ghost-${++seq}@example.com`;
      const spread = [...Array(7).fill(400), 429];
      // each lock is checked right after it starts: it lasts only LOCK.lockSeconds
      expect(await fromMany(spreadKnown, 65)).toEqual(spread);
      expect429(await attempt(spreadKnown, victim.password, '100.67.0.1'), 'the owner while the identity is locked for all');
      expect(await fromMany(spreadGhost, 66)).toEqual(spread);
      expect429(await attempt(spreadGhost, 'wrong-password', '100.67.0.2'), 'an unknown identity locked for all');
      await sleep(LOCK.lockSeconds * 1000 + 300);
      await ok(await attempt(spreadKnown, victim.password, '100.67.0.3'), 'the owner after the lock');
    });
  });

  test('concurrent wrong passwords from one address get no more password checks than the per-address lockout allows', async () => {
    await withSettings({ rateLimits: { enabled: false, rules: g.app.settings.get().rateLimits.rules } }, async () => {
      const email = await newVictim('race-one');
      const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => attempt(email, `wrong-${i}`, '100.70.0.1')));
      for (const res of answers) expectApiError(res, [400, 429]);
      const checked = answers.filter((r) => r.status === 400).length;
      expect(
        checked,
        `${checked} of 30 concurrent guesses answered "wrong password"; the lockout allows ${LOCK.maxFailures - 1}`,
      ).toBeLessThan(LOCK.maxFailures);
    });
  });

  test('concurrent wrong passwords from many addresses get no more password checks than the per-identity lockout allows', async () => {
    const ceiling = 8;
    await withSettings({ loginProtection: { ...LOCK, maxFailuresPerIdentity: ceiling } }, async () => {
      const email = await newVictim('race-many');
      const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => attempt(email, `wrong-${i}`, `100.71.${i}.1`)));
      for (const res of answers) expectApiError(res, [400, 429]);
      const checked = answers.filter((r) => r.status === 400).length;
      expect(checked, `${checked} of 30 concurrent guesses answered "wrong password"; the lockout allows ${ceiling - 1}`).toBeLessThan(
        ceiling,
      );
    });
  });
});
