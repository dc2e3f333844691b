import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import PocketBase, { ClientResponseError } from 'pocketbase';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { linkToken, type MailCatcher, parseMail, sleep, startMailCatcher } from './helpers/mail.js';
import { sdkStatus } from './helpers/sdk-scenario.js';
import { startServer, superuserToken, type TestServer } from './helpers/server.js';

/**
 * Every auth flow of issue #3 through the official SDK (and plain fetch for
 * Mainspring's own /api/ms/* routes), against a real server and a real SMTP
 * server: each mailed link, token and code is followed as a user would.
 */

const APP_URL = 'http://example.test';
const SMTP_USER = 'mailer';
const SMTP_PASS = 'smtp-secret-1';
const PASSWORD = 'password-123';

let s: TestServer;
let smtp: MailCatcher;
let admin: PocketBase;
let seq = 0;

/** A fresh, unique address. */
const email = (what: string) => `${what}-${++seq}@example.com`;

/** An SDK client, optionally holding a token. */
function client(token?: string): PocketBase {
  const pb = new PocketBase(s.url);
  pb.autoCancellation(false);
  if (token) pb.authStore.save(token, null);
  return pb;
}

/** The SDK error a call must end with. */
async function failure(p: Promise<unknown>): Promise<ClientResponseError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ClientResponseError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

/** The claims of a JWT, read without checking it. */
function claims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8'));
}

/** Whether a token is still a valid session: PocketBase's auth-refresh answers 401 when it is not. */
async function refreshStatus(collection: string, token: string): Promise<number> {
  return (await s.request('POST', `/api/collections/${collection}/auth-refresh`, { token })).status;
}

async function signUp(collection: string, address: string, password = PASSWORD, extra: Record<string, unknown> = {}) {
  return client()
    .collection(collection)
    .create({ email: address, password, passwordConfirm: password, ...extra });
}

async function signIn(collection: string, identity: string, password = PASSWORD): Promise<PocketBase> {
  const pb = client();
  await pb.collection(collection).authWithPassword(identity, password);
  return pb;
}

/** An auth collection anyone may sign up to, where each record sees and edits itself. */
async function authCollection(name: string, options: Record<string, unknown> = {}) {
  const owner = 'id = @request.auth.id';
  return admin.collections.create({
    name,
    type: 'auth',
    createRule: '',
    listRule: owner,
    viewRule: owner,
    updateRule: owner,
    deleteRule: owner,
    ...options,
  });
}

// A 10-second token (PocketBase's shortest authToken.duration) and a 2-second
// impersonation token, issued early and checked at the end of the file.
let shortToken = '';
let impersonatedShort = '';

beforeAll(async () => {
  s = await startServer();
  smtp = await startMailCatcher({ username: SMTP_USER, password: SMTP_PASS });
  const token = await superuserToken(s, 'admin@example.com', 'admin-password-1');
  admin = client(token);
  await admin.collection('_superusers').authWithPassword('admin@example.com', 'admin-password-1');
  await admin.settings.update({
    smtp: { enabled: true, host: '127.0.0.1', port: smtp.port, tls: false, username: SMTP_USER, password: SMTP_PASS },
    meta: { appURL: APP_URL, appName: 'Acme', senderName: 'Acme Support', senderAddress: 'support@acme.test' },
  });
});

afterAll(async () => {
  await s?.close();
  await smtp?.close();
});

// ---------------------------------------------------------------- options

describe('auth collection options', () => {
  test('auth-methods lists password, OTP and MFA as configured', async () => {
    const methods = await client().collection('users').listAuthMethods();
    expect(methods.password).toEqual({ enabled: true, identityFields: ['email'] });
    expect(methods.otp.enabled).toBe(false);
    expect(methods.mfa.enabled).toBe(false);
    expect(methods.oauth2.enabled).toBe(false);

    await authCollection('methods_demo', { otp: { enabled: true, duration: 120 }, mfa: { enabled: true, duration: 600 } });
    const more = await client().collection('methods_demo').listAuthMethods();
    expect(more.otp).toEqual({ enabled: true, duration: 120 });
    expect(more.mfa).toEqual({ enabled: true, duration: 600 });
    expect(await sdkStatus(client().collection('nonexistent').listAuthMethods())).toBe(404);

    // password sign-in off: PocketBase's shape names no identity fields (apis/record_auth_methods_test.go)
    await authCollection('no_password', { passwordAuth: { enabled: false } });
    const none = await client().collection('no_password').listAuthMethods();
    expect(none.password).toEqual({ enabled: false, identityFields: [] });
    expect(none.otp).toEqual({ enabled: false, duration: 0 });
    expect(none.mfa).toEqual({ enabled: false, duration: 0 });
  });

  test("default token lifetimes are PocketBase's: 7 days for users, 1 day for superusers", async () => {
    const address = email('lifetime');
    await signUp('users', address);
    const user = await signIn('users', address);
    const left = (token: string) => (claims(token).exp as number) - Date.now() / 1000;
    expect(left(user.authStore.token)).toBeGreaterThan(604_800 - 60);
    expect(left(user.authStore.token)).toBeLessThanOrEqual(604_800);
    expect(left(admin.authStore.token)).toBeGreaterThan(86_400 - 60);
    expect(left(admin.authStore.token)).toBeLessThanOrEqual(86_400);
  });

  test('identity fields: sign in with the email or a unique username', async () => {
    const c = await authCollection('handles');
    // an identity field needs a unique index
    const noIndex = await failure(
      admin.collections.update(c.id, {
        fields: [...c.fields, { name: 'username', type: 'text', max: 50 }],
        passwordAuth: { identityFields: ['email', 'username'] },
      }),
    );
    expect(noIndex.status).toBe(400);
    expect(noIndex.response.data.passwordAuth).toBeDefined();

    const updated = await admin.collections.update(c.id, {
      fields: [...c.fields, { name: 'username', type: 'text', max: 50 }],
      indexes: ['CREATE UNIQUE INDEX idx_handles_username ON handles (username)'],
      passwordAuth: { identityFields: ['email', 'username'] },
    });
    expect(updated.passwordAuth.identityFields).toEqual(['email', 'username']);
    expect((await client().collection('handles').listAuthMethods()).password.identityFields).toEqual(['email', 'username']);

    const address = email('handle');
    await signUp('handles', address, PASSWORD, { username: 'the_handle' });
    const byEmail = await signIn('handles', address);
    const byName = await signIn('handles', 'the_handle');
    expect(byName.authStore.record?.id).toBe(byEmail.authStore.record?.id);
    expect(byName.authStore.record?.email).toBe(address);
    // a duplicate username is refused by the unique index
    expect(await sdkStatus(signUp('handles', email('handle'), PASSWORD, { username: 'the_handle' }))).toBe(400);
    // identityField narrows the lookup to one field
    expect(
      await sdkStatus(
        client()
          .collection('handles')
          .authWithPassword('the_handle', PASSWORD, {
            body: { identity: 'the_handle', password: PASSWORD, identityField: 'email' },
          }),
      ),
    ).toBe(400);
    expect(
      await sdkStatus(
        client()
          .collection('handles')
          .authWithPassword('the_handle', PASSWORD, {
            body: { identity: 'the_handle', password: PASSWORD, identityField: 'username' },
          }),
      ),
    ).toBe(200);
    // users still sign in with the email only
    const u = email('plain');
    await signUp('users', u, PASSWORD, { name: 'the_handle' });
    expect(await sdkStatus(client().collection('users').authWithPassword('the_handle', PASSWORD))).toBe(400);
  });

  test('minimum password length through the password field', async () => {
    const c = await authCollection('strict');
    const fields = c.fields.map((f) => (f.type === 'password' ? { ...f, min: 12 } : f));
    const updated = await admin.collections.update(c.id, { fields });
    expect(updated.fields.find((f) => f.type === 'password')?.min).toBe(12);

    const short = await failure(signUp('strict', email('strict'), 'elevenchars'));
    expect(short.status).toBe(400);
    expect(short.response.data.password.code).toBe('validation_min_text_constraint');
    const ok = email('strict');
    await signUp('strict', ok, 'twelve-chars');
    expect((await signIn('strict', ok, 'twelve-chars')).authStore.isValid).toBe(true);

    // a user's own password change is held to the same minimum
    const pb = await signIn('strict', ok, 'twelve-chars');
    const change = await failure(
      pb.collection('strict').update(pb.authStore.record?.id as string, {
        oldPassword: 'twelve-chars',
        password: 'too-short',
        passwordConfirm: 'too-short',
      }),
    );
    expect(change.response.data.password.code).toBe('validation_min_text_constraint');
  });

  test('token durations: authToken.duration sets the token lifetime (PocketBase refuses less than 10 s)', async () => {
    const c = await authCollection('shortlived');
    const tooShort = await failure(admin.collections.update(c.id, { authToken: { duration: 1 } }));
    expect(tooShort.status).toBe(400);
    expect(tooShort.response.data.authToken).toBeDefined();

    const updated = await admin.collections.update(c.id, { authToken: { duration: 10 } });
    expect(updated.authToken.duration).toBe(10);
    expect(updated.authToken.secret).toBeUndefined();
    const address = email('short');
    await signUp('shortlived', address);
    const pb = await signIn('shortlived', address);
    shortToken = pb.authStore.token;
    const exp = claims(shortToken).exp as number;
    expect(exp - Date.now() / 1000).toBeGreaterThan(8);
    expect(exp - Date.now() / 1000).toBeLessThanOrEqual(10);
    expect(await refreshStatus('shortlived', shortToken)).toBe(200);
    // its expiry is checked by the last test of this file
  });
});

// ------------------------------------------------------------ mail flows

describe('verification by mail and authRule', () => {
  test('sign up, get the verification mail, follow its link; authRule "verified = true" admits only verified users', async () => {
    await authCollection('members', {
      verificationTemplate: {
        subject: 'Welcome to {APP_NAME}',
        body: '<p>Hello! <a href="{APP_URL}/_/#/auth/confirm-verification/{TOKEN}">Confirm</a></p>',
      },
    });
    const address = email('member');
    const created = await signUp('members', address);
    expect(created.verified).toBe(false);
    // signed in before the rule, to check auth-refresh against it later
    const early = await signIn('members', address);

    await admin.collections.update('members', { authRule: 'verified = true' });
    const refused = await failure(client().collection('members').authWithPassword(address, PASSWORD));
    expect(refused.status).toBe(400);
    expect(refused.response.message).toBe('Failed to authenticate.');
    // a wrong password and an unverified account look the same
    const wrong = await failure(client().collection('members').authWithPassword(address, 'wrong-password'));
    expect(wrong.response).toEqual(refused.response);
    // the earlier session cannot be refreshed while the rule refuses it
    expect(await sdkStatus(early.collection('members').authRefresh())).toBe(403);

    expect(await client().collection('members').requestVerification(address)).toBe(true);
    const mail = await smtp.next(address);
    expect(mail.subject).toBe('Welcome to Acme');
    expect(mail.from).toContain('support@acme.test');
    expect(mail.user).toBe(SMTP_USER);
    const token = linkToken(mail, APP_URL, 'confirm-verification');
    expect(claims(token)).toMatchObject({ type: 'verification', id: created.id });

    expect(await sdkStatus(client().collection('members').confirmVerification('not-a-token'))).toBe(400);
    expect(await client().collection('members').confirmVerification(token)).toBe(true);
    const pb = await signIn('members', address);
    expect(pb.authStore.record?.verified).toBe(true);
    expect(await sdkStatus(early.collection('members').authRefresh())).toBe(200);

    // verified users get no more verification mails; unknown addresses get none and the same 204
    expect(await client().collection('members').requestVerification(address)).toBe(true);
    expect(await client().collection('members').requestVerification('nobody-here@example.com')).toBe(true);
    await smtp.expectNone(address);
    await smtp.expectNone('nobody-here@example.com', 0);
    expect(await sdkStatus(client().collection('members').requestVerification('not an email'))).toBe(400);
  });

  test("the default template's link is {APP_URL}/_/#/auth/confirm-verification/{TOKEN}", async () => {
    const address = email('verify');
    const rec = await signUp('users', address);
    await client().collection('users').requestVerification(address);
    const mail = await smtp.next(address);
    expect(mail.html).toContain(`${APP_URL}/_/#/auth/confirm-verification/`);
    await client()
      .collection('users')
      .confirmVerification(linkToken(mail, APP_URL, 'confirm-verification'));
    expect((await admin.collection('users').getOne(rec.id)).verified).toBe(true);
  });

  test('a verification token of one collection is refused by another', async () => {
    const address = email('cross');
    await signUp('users', address);
    await client().collection('users').requestVerification(address);
    const token = linkToken(await smtp.next(address), APP_URL, 'confirm-verification');
    expect(await sdkStatus(client().collection('members').confirmVerification(token))).toBe(400);
  });
});

describe('password reset by mail', () => {
  test('the mailed token sets a new password once; earlier sessions end', async () => {
    const address = email('reset');
    await signUp('users', address);
    const first = await signIn('users', address);
    const second = await signIn('users', address);

    expect(await client().collection('users').requestPasswordReset(address)).toBe(true);
    const mail = await smtp.next(address);
    expect(mail.html).toContain(`${APP_URL}/_/#/auth/confirm-password-reset/`);
    const token = linkToken(mail, APP_URL, 'confirm-password-reset');

    const users = client().collection('users');
    const mismatch = await failure(users.confirmPasswordReset(token, 'new-password-1', 'new-password-2'));
    expect(mismatch.status).toBe(400);
    expect(mismatch.response.data.passwordConfirm).toBeDefined();
    const short = await failure(users.confirmPasswordReset(token, 'short', 'short'));
    expect(short.response.data.password.code).toBe('validation_min_text_constraint');
    expect(await sdkStatus(users.confirmPasswordReset('bogus.token.value', 'new-password-1', 'new-password-1'))).toBe(400);

    expect(await users.confirmPasswordReset(token, 'new-password-1', 'new-password-1')).toBe(true);
    // every earlier token is revoked
    expect(await refreshStatus('users', first.authStore.token)).toBe(401);
    expect(await refreshStatus('users', second.authStore.token)).toBe(401);
    // the old password no longer works, the new one does
    expect(await sdkStatus(client().collection('users').authWithPassword(address, PASSWORD))).toBe(400);
    const after = await signIn('users', address, 'new-password-1');
    expect(after.authStore.isValid).toBe(true);
    // the token cannot be used again
    expect(await sdkStatus(users.confirmPasswordReset(token, 'new-password-2', 'new-password-2'))).toBe(400);
    expect(await sdkStatus(client().collection('users').authWithPassword(address, 'new-password-2'))).toBe(400);
  });

  test('an unknown address answers the same 204 and gets no mail', async () => {
    expect(await client().collection('users').requestPasswordReset('ghost@example.com')).toBe(true);
    await smtp.expectNone('ghost@example.com');
  });
});

describe('email change by mail', () => {
  test('request with a token, confirm with the password; the old address no longer signs in', async () => {
    const oldAddress = email('old');
    const newAddress = email('new');
    const taken = email('taken');
    await signUp('users', oldAddress);
    await signUp('users', taken);
    const pb = await signIn('users', oldAddress);
    const oldToken = pb.authStore.token;

    expect(await sdkStatus(client().collection('users').requestEmailChange(newAddress))).toBe(401);
    const dup = await failure(pb.collection('users').requestEmailChange(taken));
    expect(dup.status).toBe(400);
    expect(dup.response.data.newEmail).toBeDefined();

    expect(await pb.collection('users').requestEmailChange(newAddress)).toBe(true);
    const mail = await smtp.next(newAddress);
    expect(mail.html).toContain(`${APP_URL}/_/#/auth/confirm-email-change/`);
    const token = linkToken(mail, APP_URL, 'confirm-email-change');
    await smtp.expectNone(oldAddress, 0);

    const users = client().collection('users');
    const wrong = await failure(users.confirmEmailChange(token, 'wrong-password'));
    expect(wrong.status).toBe(400);
    expect(wrong.response.data.password).toBeDefined();
    expect(await users.confirmEmailChange(token, PASSWORD)).toBe(true);

    expect(await sdkStatus(client().collection('users').authWithPassword(oldAddress, PASSWORD))).toBe(400);
    const fresh = await signIn('users', newAddress);
    expect(fresh.authStore.record?.email).toBe(newAddress);
    expect(fresh.authStore.record?.verified).toBe(true);
    // PocketBase renews the tokenKey when the email changes: the old session ends
    expect(await refreshStatus('users', oldToken)).toBe(401);
    // the token is single-use
    expect(await sdkStatus(users.confirmEmailChange(token, PASSWORD))).toBe(400);
  });
});

describe('one-time passwords', () => {
  test('request-otp answers an otpId for any address; the mailed code signs in once', async () => {
    const c = await authCollection('otp_users');
    expect(await sdkStatus(client().collection('otp_users').requestOTP('someone@example.com'))).toBe(403);
    await admin.collections.update(c.id, { otp: { enabled: true } });
    expect((await client().collection('otp_users').listAuthMethods()).otp).toEqual({ enabled: true, duration: 180 });

    const unknown = await client().collection('otp_users').requestOTP('unknown-otp@example.com');
    expect(unknown.otpId).toMatch(/^[a-z0-9]{15}$/);
    await smtp.expectNone('unknown-otp@example.com');
    expect(await sdkStatus(client().collection('otp_users').authWithOTP(unknown.otpId, '12345678'))).toBe(400);

    const address = email('otp');
    const rec = await signUp('otp_users', address);
    const { otpId } = await client().collection('otp_users').requestOTP(address);
    expect(otpId).not.toBe(unknown.otpId);
    const mail = await smtp.next(address);
    const code = /\b(\d{8})\b/.exec(mail.text)?.[1] as string;
    expect(code).toMatch(/^\d{8}$/);

    expect(
      await sdkStatus(
        client()
          .collection('otp_users')
          .authWithOTP(otpId, code === '00000000' ? '11111111' : '00000000'),
      ),
    ).toBe(400);
    const pb = client();
    const auth = await pb.collection('otp_users').authWithOTP(otpId, code);
    expect(auth.record.id).toBe(rec.id);
    // the code proved the address
    expect(auth.record.verified).toBe(true);
    expect(await refreshStatus('otp_users', auth.token)).toBe(200);
    // once only
    expect(await sdkStatus(client().collection('otp_users').authWithOTP(otpId, code))).toBe(400);
  });
});

describe('multi-factor authentication', () => {
  test('password answers 401 {mfaId}; an OTP with that mfaId completes; the same method twice is refused', async () => {
    await authCollection('vault', { otp: { enabled: true }, mfa: { enabled: true } });
    const address = email('vault');
    const rec = await signUp('vault', address);

    const first = await failure(client().collection('vault').authWithPassword(address, PASSWORD));
    expect(first.status).toBe(401);
    const mfaId = first.response.mfaId as string;
    expect(mfaId).toMatch(/^[a-z0-9]{15}$/);

    // the same method again does not count as a second factor
    const again = await failure(client().collection('vault').authWithPassword(address, PASSWORD, { mfaId }));
    expect(again.status).toBe(400);
    // an unknown mfaId is refused
    expect(await sdkStatus(client().collection('vault').authWithPassword(address, PASSWORD, { mfaId: 'aaaaaaaaaaaaaaa' }))).toBe(400);

    const { otpId } = await client().collection('vault').requestOTP(address);
    const code = /\b(\d{8})\b/.exec((await smtp.next(address)).text)?.[1] as string;
    const pb = client();
    const auth = await pb.collection('vault').authWithOTP(otpId, code, { mfaId });
    expect(auth.record.id).toBe(rec.id);
    expect(pb.authStore.isValid).toBe(true);
    // refreshing a completed session asks for no further factor
    expect(await sdkStatus(pb.collection('vault').authRefresh())).toBe(200);

    // the MFA session is spent
    expect(await sdkStatus(client().collection('vault').authWithPassword(address, PASSWORD, { mfaId }))).toBe(400);
    // OTP alone is only a first factor too
    const { otpId: otp2 } = await client().collection('vault').requestOTP(address);
    const code2 = /\b(\d{8})\b/.exec((await smtp.next(address)).text)?.[1] as string;
    const otpFirst = await failure(client().collection('vault').authWithOTP(otp2, code2));
    expect(otpFirst.status).toBe(401);
    expect(otpFirst.response.mfaId).toMatch(/^[a-z0-9]{15}$/);
    const done = await client().collection('vault').authWithPassword(address, PASSWORD, { mfaId: otpFirst.response.mfaId });
    expect(done.record.id).toBe(rec.id);
  });
});

// -------------------------------------------------------------- superuser

describe('impersonation', () => {
  let target = '';

  test('a superuser gets a non-refreshable token for a user; others may not', async () => {
    const address = email('imp');
    const rec = await signUp('users', address);
    target = rec.id;
    const user = await signIn('users', address);

    expect(await sdkStatus(user.collection('users').impersonate(rec.id, 0))).toBe(403);
    expect(await sdkStatus(client().collection('users').impersonate(rec.id, 0))).toBe(401);
    expect(await sdkStatus(admin.collection('users').impersonate('nosuchrecord123', 0))).toBe(404);

    const imp = await admin.collection('users').impersonate(rec.id, 0);
    imp.autoCancellation(false);
    expect(imp.authStore.record?.id).toBe(rec.id);
    expect(claims(imp.authStore.token)).toMatchObject({ id: rec.id, type: 'auth', refreshable: false });
    expect((await imp.collection('users').getOne(rec.id)).email).toBe(address);

    // a custom duration (seconds); its expiry is checked by the last test of this file
    const short = await admin.collection('users').impersonate(rec.id, 2);
    impersonatedShort = short.authStore.token;
    const exp = claims(impersonatedShort).exp as number;
    expect(exp - Date.now() / 1000).toBeLessThanOrEqual(2);
    expect(await sdkStatus(short.collection('users').getOne(rec.id))).toBe(200);
  });

  test('auth-refresh of an impersonation token answers 200 with the same token, never a fresh one (PocketBase)', async () => {
    const imp = await admin.collection('users').impersonate(target, 0);
    const token = imp.authStore.token;
    const refreshed = await imp.collection('users').authRefresh();
    expect(refreshed.token).toBe(token);
    expect(refreshed.record.id).toBe(target);
  });

  test('an impersonation token cannot be turned into a refreshable session through /api/ms/sessions', async () => {
    const imp = await admin.collection('users').impersonate(target, 0);
    const session = await s.request('POST', '/api/ms/sessions', { token: imp.authStore.token });
    expect([401, 403]).toContain(session.status);
  });
});

describe('_superusers management', () => {
  test('a superuser creates another superuser through the API; users and guests cannot', async () => {
    const created = await admin.collection('_superusers').create({
      email: 'second-admin@example.com',
      password: 'second-admin-pass',
      passwordConfirm: 'second-admin-pass',
    });
    expect(created.collectionName).toBe('_superusers');
    const second = client();
    await second.collection('_superusers').authWithPassword('second-admin@example.com', 'second-admin-pass');
    expect(second.authStore.isSuperuser).toBe(true);
    expect((await second.collections.getFullList()).some((c) => c.name === 'users')).toBe(true);

    const address = email('wannabe');
    await signUp('users', address);
    const user = await signIn('users', address);
    const body = { email: 'evil@example.com', password: 'evil-password-1', passwordConfirm: 'evil-password-1' };
    expect(await sdkStatus(user.collection('_superusers').create(body))).toBe(403);
    expect(await sdkStatus(client().collection('_superusers').create(body))).toBe(403);
    expect(await sdkStatus(user.collection('_superusers').getList())).toBe(403);
    // a user's credentials do not open the superusers collection, nor its token another collection
    expect(await sdkStatus(client().collection('_superusers').authWithPassword(address, PASSWORD))).toBe(400);
    expect(await sdkStatus(user.collection('_superusers').authRefresh())).toBe(403);
    expect(await sdkStatus(user.collections.getFullList())).toBe(403);

    // superusers change and remove superusers
    await second.collection('_superusers').update(created.id, {
      password: 'renewed-admin-pass',
      passwordConfirm: 'renewed-admin-pass',
    });
    await signIn('_superusers', 'second-admin@example.com', 'renewed-admin-pass');
    await admin.collection('_superusers').delete(created.id);
    expect(await sdkStatus(client().collection('_superusers').authWithPassword('second-admin@example.com', 'renewed-admin-pass'))).toBe(
      400,
    );
  });

  test('the only remaining superuser cannot be deleted (PocketBase: 400)', async () => {
    const solo = await startServer();
    try {
      const pb = new PocketBase(solo.url);
      pb.autoCancellation(false);
      pb.authStore.save(await superuserToken(solo, 'only@example.com', 'only-password-1'), null);
      const all = await pb.collection('_superusers').getFullList();
      const me = all.find((r) => r.email === 'only@example.com');
      for (const r of all) if (r.id !== me?.id) await pb.collection('_superusers').delete(r.id);
      const last = await failure(pb.collection('_superusers').delete(me?.id as string));
      expect(last.status).toBe(400);
      expect(await sdkStatus(pb.collection('_superusers').getOne(me?.id as string))).toBe(200);
    } finally {
      await solo.close();
    }
  });
});

// ----------------------------------------------------------- manageRule

describe('manageRule', () => {
  test("a manager changes another user's email, verified state and password without oldPassword", async () => {
    const c = await authCollection('staff', {
      listRule: 'id = @request.auth.id || @request.auth.role = "manager"',
      viewRule: 'id = @request.auth.id || @request.auth.role = "manager"',
      updateRule: 'id = @request.auth.id || @request.auth.role = "manager"',
      manageRule: '@request.auth.role = "manager"',
    });
    await admin.collections.update(c.id, {
      fields: [...c.fields, { name: 'role', type: 'select', values: ['manager', 'worker'], maxSelect: 1 }],
    });
    const bossAddress = email('boss');
    const workerAddress = email('worker');
    const boss = await admin
      .collection('staff')
      .create({ email: bossAddress, password: PASSWORD, passwordConfirm: PASSWORD, role: 'manager' });
    const worker = await admin.collection('staff').create({
      email: workerAddress,
      password: PASSWORD,
      passwordConfirm: PASSWORD,
      role: 'worker',
    });
    expect(boss.role).toBe('manager');
    const bossPb = await signIn('staff', bossAddress);
    const workerPb = await signIn('staff', workerAddress);

    // the worker may not do these to itself
    expect(await sdkStatus(workerPb.collection('staff').update(worker.id, { verified: true }))).toBe(400);
    expect(await sdkStatus(workerPb.collection('staff').update(worker.id, { email: email('self') }))).toBe(400);
    expect(
      await sdkStatus(workerPb.collection('staff').update(worker.id, { password: 'another-pass-1', passwordConfirm: 'another-pass-1' })),
    ).toBe(400);

    // the manager may, without the worker's password
    const moved = email('moved');
    const changed = await bossPb.collection('staff').update(worker.id, { email: moved, verified: true });
    expect(changed.verified).toBe(true);
    expect((await admin.collection('staff').getOne(worker.id)).email).toBe(moved);
    await bossPb.collection('staff').update(worker.id, { password: 'managed-pass-1', passwordConfirm: 'managed-pass-1' });
    expect(await sdkStatus(client().collection('staff').authWithPassword(moved, PASSWORD))).toBe(400);
    expect((await signIn('staff', moved, 'managed-pass-1')).authStore.record?.verified).toBe(true);
  });
});

describe('manageRule: what PocketBase does besides', () => {
  /** A manager and a worker in `staff` (made by the manageRule suite above). */
  async function bossAndWorker() {
    const bossAddress = email('boss');
    const workerAddress = email('worker');
    await admin.collection('staff').create({ email: bossAddress, password: PASSWORD, passwordConfirm: PASSWORD, role: 'manager' });
    const worker = await admin.collection('staff').create({
      email: workerAddress,
      password: PASSWORD,
      passwordConfirm: PASSWORD,
      role: 'worker',
    });
    return { bossAddress, workerAddress, worker };
  }

  test("an email change by a manager ends the record's earlier tokens (PocketBase renews tokenKey on any email change)", async () => {
    const { bossAddress, workerAddress, worker } = await bossAndWorker();
    const bossPb = await signIn('staff', bossAddress);
    const workerToken = (await signIn('staff', workerAddress)).authStore.token;
    await bossPb.collection('staff').update(worker.id, { email: email('moved') });
    expect(await refreshStatus('staff', workerToken)).toBe(401);
  });

  test('a manager sees the email of the records it manages (PocketBase ignores emailVisibility for managers)', async () => {
    const { bossAddress, workerAddress, worker } = await bossAndWorker();
    const bossPb = await signIn('staff', bossAddress);
    expect((await bossPb.collection('staff').getOne(worker.id)).email).toBe(workerAddress);
    // as the owner always does
    const workerPb = await signIn('staff', workerAddress);
    expect((await workerPb.collection('staff').getOne(worker.id)).email).toBe(workerAddress);
  });
});

// -------------------------------------------------------------- revoking

describe('revoking tokens', () => {
  test('a password change revokes every earlier token', async () => {
    const address = email('change');
    await signUp('users', address);
    const a = await signIn('users', address);
    const b = await signIn('users', address);
    const id = a.authStore.record?.id as string;

    const wrong = await failure(
      a.collection('users').update(id, { oldPassword: 'not-it', password: 'changed-pass-1', passwordConfirm: 'changed-pass-1' }),
    );
    expect(wrong.response.data.oldPassword).toBeDefined();
    expect(await sdkStatus(a.collection('users').update(id, { password: 'changed-pass-1', passwordConfirm: 'changed-pass-1' }))).toBe(400);
    await a.collection('users').update(id, { oldPassword: PASSWORD, password: 'changed-pass-1', passwordConfirm: 'changed-pass-1' });

    expect(await refreshStatus('users', a.authStore.token)).toBe(401);
    expect(await refreshStatus('users', b.authStore.token)).toBe(401);
    expect(await sdkStatus(client().collection('users').authWithPassword(address, PASSWORD))).toBe(400);
    expect((await signIn('users', address, 'changed-pass-1')).authStore.isValid).toBe(true);
  });

  test('POST /api/ms/logout-all ends every token and refresh session of the caller only', async () => {
    const address = email('logout');
    const other = email('bystander');
    await signUp('users', address);
    await signUp('users', other);
    const a = await signIn('users', address);
    const b = await signIn('users', address);
    const bystander = await signIn('users', other);
    const session = await s.request('POST', '/api/ms/sessions', { token: a.authStore.token });
    expect(session.status).toBe(200);

    expect((await s.request('POST', '/api/ms/logout-all')).status).toBe(401);
    expect((await s.request('POST', '/api/ms/logout-all', { token: b.authStore.token })).status).toBe(204);
    expect(await refreshStatus('users', a.authStore.token)).toBe(401);
    expect(await refreshStatus('users', b.authStore.token)).toBe(401);
    expect(await refreshStatus('users', session.body.token)).toBe(401);
    expect((await s.request('POST', '/api/ms/sessions/refresh', { body: { refreshToken: session.body.refreshToken } })).status).toBe(401);
    expect(await refreshStatus('users', bystander.authStore.token)).toBe(200);
    // signing in again works
    expect((await signIn('users', address)).authStore.isValid).toBe(true);
  });
});

// ------------------------------------------------------ refresh sessions

describe('refresh-token sessions (/api/ms/sessions)', () => {
  async function newUser(what: string) {
    const address = email(what);
    await signUp('users', address);
    return signIn('users', address);
  }

  test('create, rotate, list and revoke', async () => {
    const pb = await newUser('sess');
    const token = pb.authStore.token;
    expect((await s.request('POST', '/api/ms/sessions')).status).toBe(401);

    const created = await s.request('POST', '/api/ms/sessions', { token, headers: { 'user-agent': 'auth-test/1.0' } });
    expect(created.status).toBe(200);
    const { token: access1, refreshToken: r1, session } = created.body;
    expect(typeof access1).toBe('string');
    expect(typeof r1).toBe('string');
    expect(session).toMatchObject({ id: expect.stringMatching(/^[a-z0-9]{15}$/), userAgent: 'auth-test/1.0' });
    expect(await refreshStatus('users', access1)).toBe(200);

    const rotated = await s.request('POST', '/api/ms/sessions/refresh', { body: { refreshToken: r1 } });
    expect(rotated.status).toBe(200);
    expect(rotated.body.record).toMatchObject({ id: pb.authStore.record?.id, collectionName: 'users' });
    expect(rotated.body.refreshToken).not.toBe(r1);
    const access2 = rotated.body.token as string;
    const r2 = rotated.body.refreshToken as string;
    expect(claims(access2).sid).toBe(session.id);
    expect(await refreshStatus('users', access2)).toBe(200);

    // rotation goes on
    const r3 = (await s.request('POST', '/api/ms/sessions/refresh', { body: { refreshToken: r2 } })).body.refreshToken as string;
    expect(typeof r3).toBe('string');

    expect((await s.request('POST', '/api/ms/sessions/refresh', { body: { refreshToken: 'msr_nope' } })).status).toBe(401);
    expect((await s.request('POST', '/api/ms/sessions/refresh', { body: {} })).status).toBe(401);

    // a second session; listing marks the caller's own
    const other = await s.request('POST', '/api/ms/sessions', { token });
    const list = await s.request('GET', '/api/ms/sessions', { token: access2 });
    expect(list.status).toBe(200);
    const ids = (list.body.items as { id: string; current: boolean }[]).map((i) => i.id).sort();
    expect(ids).toEqual([session.id, other.body.session.id].sort());
    expect(list.body.items.find((i: { id: string }) => i.id === session.id).current).toBe(true);
    expect(list.body.items.find((i: { id: string }) => i.id === other.body.session.id).current).toBe(false);
    expect((await s.request('GET', '/api/ms/sessions')).status).toBe(401);

    // someone else cannot see or end it
    const stranger = await newUser('stranger');
    expect((await s.request('GET', '/api/ms/sessions', { token: stranger.authStore.token })).body.items).toEqual([]);
    expect((await s.request('DELETE', `/api/ms/sessions/${session.id}`, { token: stranger.authStore.token })).status).toBe(404);
    expect(await refreshStatus('users', access2)).toBe(200);

    // ending it ends its access tokens and its refresh token
    expect((await s.request('DELETE', `/api/ms/sessions/${session.id}`, { token })).status).toBe(204);
    expect(await refreshStatus('users', access1)).toBe(401);
    expect(await refreshStatus('users', access2)).toBe(401);
    expect((await s.request('POST', '/api/ms/sessions/refresh', { body: { refreshToken: r3 } })).status).toBe(401);
    const remaining = await s.request('GET', '/api/ms/sessions', { token });
    expect(remaining.body.items.map((i: { id: string }) => i.id)).toEqual([other.body.session.id]);
    // the plain sign-in token and the other session live on
    expect(await refreshStatus('users', token)).toBe(200);
    expect(await refreshStatus('users', other.body.token)).toBe(200);
  });

  test('a spent refresh token replayed within the grace window is tolerated; after it, the family and its access tokens are revoked', async () => {
    const pb = await newUser('reuse');
    const token = pb.authStore.token;
    const created = (await s.request('POST', '/api/ms/sessions', { token })).body;

    // default grace (10 s): a concurrent second use of the same token still works
    const a = await s.request('POST', '/api/ms/sessions/refresh', { body: { refreshToken: created.refreshToken } });
    const b = await s.request('POST', '/api/ms/sessions/refresh', { body: { refreshToken: created.refreshToken } });
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);

    await admin.settings.update({ sessions: { reuseGraceSeconds: 1 } });
    try {
      const next = await s.request('POST', '/api/ms/sessions/refresh', { body: { refreshToken: a.body.refreshToken } });
      expect(next.status).toBe(200);
      const liveAccess = next.body.token as string;
      const liveRefresh = next.body.refreshToken as string;
      expect(await refreshStatus('users', liveAccess)).toBe(200);

      await sleep(1300);
      // the stolen, spent token comes back
      const replay = await s.request('POST', '/api/ms/sessions/refresh', { body: { refreshToken: a.body.refreshToken } });
      expect(replay.status).toBe(401);
      // the whole family is gone: the latest refresh token and every access token it issued
      expect((await s.request('POST', '/api/ms/sessions/refresh', { body: { refreshToken: liveRefresh } })).status).toBe(401);
      expect((await s.request('POST', '/api/ms/sessions/refresh', { body: { refreshToken: b.body.refreshToken } })).status).toBe(401);
      expect(await refreshStatus('users', liveAccess)).toBe(401);
      expect(await refreshStatus('users', created.token)).toBe(401);
      expect(await refreshStatus('users', a.body.token)).toBe(401);
      expect((await s.request('GET', '/api/ms/sessions', { token })).body.items).toEqual([]);
      // the sign-in token outside the family is untouched
      expect(await refreshStatus('users', token)).toBe(200);
    } finally {
      await admin.settings.update({ sessions: { reuseGraceSeconds: 10 } });
    }
  });

  test("a session's access token refreshed through auth-refresh stays bound to the session", async () => {
    const pb = await newUser('bound');
    const created = (await s.request('POST', '/api/ms/sessions', { token: pb.authStore.token })).body;
    const derived = await client(created.token).collection('users').authRefresh();
    expect((await s.request('DELETE', `/api/ms/sessions/${created.session.id}`, { token: pb.authStore.token })).status).toBe(204);
    expect(await refreshStatus('users', created.token)).toBe(401);
    // otherwise revoking a stolen session (or reuse detection) is escaped with one auth-refresh call
    expect(await refreshStatus('users', derived.token)).toBe(401);
  });

  test('a password change also ends refresh sessions', async () => {
    const pb = await newUser('pwsess');
    const created = (await s.request('POST', '/api/ms/sessions', { token: pb.authStore.token })).body;
    await pb
      .collection('users')
      .update(pb.authStore.record?.id as string, { oldPassword: PASSWORD, password: 'rotated-pass-1', passwordConfirm: 'rotated-pass-1' });
    expect(await refreshStatus('users', created.token)).toBe(401);
    // "revokes every earlier token" includes the refresh token
    expect((await s.request('POST', '/api/ms/sessions/refresh', { body: { refreshToken: created.refreshToken } })).status).toBe(401);
  });
});

// --------------------------------------------------------------- settings

describe('/api/settings', () => {
  test('superusers only: 401 for guests, 403 for users', async () => {
    const address = email('nosettings');
    await signUp('users', address);
    const user = await signIn('users', address);
    expect(await sdkStatus(client().settings.getAll())).toBe(401);
    expect(await sdkStatus(user.settings.getAll())).toBe(403);
    expect(await sdkStatus(client().settings.update({ meta: { appName: 'Hacked' } }))).toBe(401);
    expect(await sdkStatus(user.settings.update({ meta: { appName: 'Hacked' } }))).toBe(403);
    expect(await sdkStatus(user.settings.testEmail('users', 'x@example.com', 'verification'))).toBe(403);
    expect((await admin.settings.getAll()).meta.appName).toBe('Acme');
  });

  test('the SMTP password is never returned, and is kept when not resubmitted', async () => {
    const all = await admin.settings.getAll();
    expect(all.smtp).toMatchObject({ enabled: true, host: '127.0.0.1', port: smtp.port, tls: false, username: SMTP_USER });
    expect(all.smtp.password ?? '').toBe('');
    expect(JSON.stringify(all)).not.toContain(SMTP_PASS);
    const patched = await admin.settings.update({ meta: { appName: 'Acme' }, smtp: { host: '127.0.0.1' } });
    expect(JSON.stringify(patched)).not.toContain(SMTP_PASS);
    // mail still goes through with the stored password
    await admin.settings.testEmail('users', 'kept@example.com', 'password-reset');
    expect((await smtp.next('kept@example.com')).user).toBe(SMTP_USER);
  });

  test('invalid settings answer 400 and change nothing', async () => {
    const before = await admin.settings.getAll();
    for (const body of [
      { smtp: { port: 'twenty-five' } },
      { smtp: { port: 70_000 } },
      { meta: { appURL: 'not a url' } },
      { meta: { senderAddress: 'nobody' } },
      { sessions: { reuseGraceSeconds: -1 } },
      { noSuchSetting: true },
    ]) {
      expect(await sdkStatus(admin.settings.update(body)), JSON.stringify(body)).toBe(400);
    }
    expect(await admin.settings.getAll()).toEqual(before);
  });

  test("validation errors are nested as in PocketBase's settings ({meta:{appName:{code}}})", async () => {
    const err = await failure(admin.settings.update({ meta: { appName: '' } }));
    expect(err.status).toBe(400);
    expect(err.response.data.meta?.appName?.code).toBeTypeOf('string');
  });

  test('testEmail delivers through the configured SMTP server', async () => {
    expect(await admin.settings.testEmail('users', 'inbox@example.com', 'verification')).toBe(true);
    const mail = await smtp.next('inbox@example.com');
    expect(mail.user).toBe(SMTP_USER);
    expect(mail.from).toContain('support@acme.test');
    expect(mail.html).toContain(`${APP_URL}/_/#/auth/confirm-verification/`);
    for (const template of ['password-reset', 'email-change', 'otp']) {
      await admin.settings.testEmail('users', 'inbox@example.com', template);
      await smtp.next('inbox@example.com');
    }
    const bad = await failure(admin.settings.testEmail('users', 'inbox@example.com', 'no-such-template'));
    expect(bad.status).toBe(400);
    expect(bad.response.data.template).toBeDefined();
  });

  test("testEmail renders the named collection's own template (PocketBase)", async () => {
    await admin.collections.update('methods_demo', {
      verificationTemplate: { subject: 'Demo check for {APP_NAME}', body: '<p>{APP_URL}/_/#/auth/confirm-verification/{TOKEN}</p>' },
    });
    await admin.settings.testEmail('methods_demo', 'template@example.com', 'verification');
    expect((await smtp.next('template@example.com')).subject).toBe('Demo check for Acme');
  });

  test('a refused SMTP sign-in makes testEmail answer 400', async () => {
    await admin.settings.update({ smtp: { password: 'wrong-smtp-password' } });
    try {
      expect(await sdkStatus(admin.settings.testEmail('users', 'never@example.com', 'verification'))).toBe(400);
    } finally {
      await admin.settings.update({ smtp: { password: SMTP_PASS } });
    }
    await admin.settings.testEmail('users', 'again@example.com', 'verification');
    await smtp.next('again@example.com');
  });
});

// ------------------------------------------------------------ no SMTP

describe('login alerts (authAlert)', () => {
  const login = (address: string, agent: string, collection = 'users') =>
    s.request('POST', `/api/collections/${collection}/auth-with-password`, {
      body: { identity: address, password: PASSWORD },
      headers: { 'user-agent': agent },
    });

  test('a sign-in from a new device mails its owner; the first sign-in and known devices do not', async () => {
    const address = email('alerted');
    await signUp('users', address);
    expect((await login(address, 'PhoneApp/1.0')).status).toBe(200);
    expect((await login(address, 'PhoneApp/1.0')).status).toBe(200);
    await smtp.expectNone(address);

    expect((await login(address, 'StrangeLaptop/9.9')).status).toBe(200);
    const alert = await smtp.next(address, /New sign-in/);
    expect(alert.html).toContain('StrangeLaptop/9.9');
    expect(alert.html).toContain('127.0.0.1');
    // known from now on
    expect((await login(address, 'StrangeLaptop/9.9')).status).toBe(200);
    await smtp.expectNone(address);
  });

  test('no alert when the collection turns authAlert off, nor for a failed sign-in', async () => {
    const c = await authCollection('quiet', { authAlert: { enabled: false } });
    const address = email('quiet');
    await admin.collection(c.name).create({ email: address, password: PASSWORD, passwordConfirm: PASSWORD });
    expect((await login(address, 'First/1', c.name)).status).toBe(200);
    expect((await login(address, 'Second/2', c.name)).status).toBe(200);
    const loud = email('loud');
    await signUp('users', loud);
    expect((await login(loud, 'First/1')).status).toBe(200);
    const wrong = await s.request('POST', '/api/collections/users/auth-with-password', {
      body: { identity: loud, password: 'not-the-password' },
      headers: { 'user-agent': 'Burglar/0' },
    });
    expect(wrong.status).toBe(400);
    await smtp.expectNone(address);
    await smtp.expectNone(loud);
  });
});

describe('without SMTP, mails are .eml files', () => {
  test('a verification mail lands in <dataDir>/mails with its link, and the link works', async () => {
    const local = await startServer();
    try {
      const pb = new PocketBase(local.url);
      pb.autoCancellation(false);
      const address = 'file-mail@example.com';
      const rec = await pb.collection('users').create({ email: address, password: PASSWORD, passwordConfirm: PASSWORD });
      await pb.collection('users').requestVerification(address);
      const dir = join(local.dir, 'mails');
      const until = Date.now() + 5000;
      let files: string[] = [];
      while (Date.now() < until) {
        files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.eml')) : [];
        if (files.length > 0) break;
        await sleep(15);
      }
      expect(files).toHaveLength(1);
      const raw = readFileSync(join(dir, files[0] as string), 'utf8');
      const mail = parseMail(raw);
      expect(mail.to).toEqual([address]);
      expect(mail.subject).not.toBe('');
      // the default app URL of a fresh install
      const token = linkToken(mail, 'http://127.0.0.1:8090', 'confirm-verification');
      await pb.collection('users').confirmVerification(token);
      const signedIn = await pb.collection('users').authWithPassword(address, PASSWORD);
      expect(signedIn.record.id).toBe(rec.id);
      expect(signedIn.record.verified).toBe(true);
    } finally {
      await local.close();
    }
  });
});

// ------------------------------------------------------------ protections

describe('rate limits and lockouts (protections on)', () => {
  test('repeated wrong passwords lock the identity; request-* routes are rate limited', async () => {
    const guarded = await startServer({ protections: true });
    try {
      const pb = new PocketBase(guarded.url);
      pb.autoCancellation(false);
      await pb.collection('users').create({ email: 'locked@example.com', password: PASSWORD, passwordConfirm: PASSWORD });
      const codes: number[] = [];
      for (let i = 0; i < 5; i++)
        codes.push(await sdkStatus(pb.collection('users').authWithPassword('locked@example.com', 'wrong-password')));
      expect(codes.slice(0, 4)).toEqual([400, 400, 400, 400]);
      expect(codes[4]).toBe(429);
      // even the right password waits out the lock
      const locked = await guarded.request('POST', '/api/collections/users/auth-with-password', {
        body: { identity: 'locked@example.com', password: PASSWORD },
      });
      expect(locked.status).toBe(429);
      expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);

      const resets: number[] = [];
      for (let i = 0; i < 6; i++) resets.push(await sdkStatus(pb.collection('users').requestPasswordReset(`r${i}@example.com`)));
      expect(resets.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
      expect(resets[5]).toBe(429);
    } finally {
      await guarded.close();
    }
  });

  test('a lock holds for the client that failed; many failures from many IPs lock the identity for all', async () => {
    const guarded = await startServer({ protections: true });
    try {
      await guarded.app.settings.update({
        rateLimits: { enabled: false },
        trustedProxy: { headers: ['X-Forwarded-For'], useLeftmostIP: false },
        loginProtection: { maxFailures: 3, maxFailuresPerIdentity: 8 },
      });
      const address = 'target@example.com';
      await guarded.request('POST', '/api/collections/users/records', {
        body: { email: address, password: PASSWORD, passwordConfirm: PASSWORD },
      });
      const login = (ip: string, password: string) =>
        guarded.request('POST', '/api/collections/users/auth-with-password', {
          body: { identity: address, password },
          headers: { 'x-forwarded-for': ip },
        });
      const attacker = [];
      for (let i = 0; i < 4; i++) attacker.push((await login('203.0.113.9', 'guess-password')).status);
      expect(attacker).toEqual([400, 400, 429, 429]);
      // the owner, elsewhere, is not locked out by someone else's guesses
      expect((await login('198.51.100.7', PASSWORD)).status).toBe(200);

      // guesses spread over many addresses: after 8 in all, nobody gets in for a while
      const spread = [];
      for (let i = 0; i < 8; i++) spread.push((await login(`192.0.2.${i + 1}`, 'guess-password')).status);
      expect(spread.slice(0, 7)).toEqual([400, 400, 400, 400, 400, 400, 400]);
      expect(spread[7]).toBe(429);
      const owner = await login('198.51.100.7', PASSWORD);
      expect(owner.status).toBe(429);
      expect(Number(owner.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await guarded.close();
    }
  });
});

// ----------------------------------------------------------- expiry (last)

describe('token expiry', () => {
  test('a token stops working once its duration has passed', async () => {
    expect(shortToken).not.toBe('');
    expect(impersonatedShort).not.toBe('');
    const waitUntil = Math.max(claims(shortToken).exp as number, claims(impersonatedShort).exp as number) * 1000 + 200;
    await sleep(Math.max(0, waitUntil - Date.now()));
    expect(await refreshStatus('shortlived', shortToken)).toBe(401);
    const id = claims(impersonatedShort).id as string;
    const viaImpersonation = await s.request('GET', `/api/collections/users/records/${id}`, { token: impersonatedShort });
    expect(viaImpersonation.status).toBe(404);
  });
});
