import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventSource } from 'eventsource';
import pino from 'pino';
import PocketBase from 'pocketbase';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { App } from '../src/core/app.js';
import { hashPassword } from '../src/core/auth/passwords.js';
import { buildServer } from '../src/http/server.js';
import { type CallOptions, call, expectApiError } from './helpers/hostile.js';
import { MAIL, Mailbox } from './helpers/mailbox.js';
import { freshDatabase, relaxProtections, requester, startServer, superuserToken, type TestServer } from './helpers/server.js';

/**
 * PocketBase's system collections of the auth flows (`_mfas`, `_otps`,
 * `_externalAuths`, `_authOrigins`): their JSON as PocketBase's first
 * migration defines them, who may list, view, create, update and delete
 * their records, the flows writing rows there, the OTP hash never leaving
 * the server, the cleanup when an auth record or collection goes or a
 * password changes, and a database of the shape before they were
 * collections keeping its rows. On both engines.
 */

(globalThis as { EventSource?: unknown }).EventSource = EventSource;

const PASSWORD = 'password-123';
/** PocketBase's owner rule of the four (migrations/1640988000_init.go). */
const OWNER = "@request.auth.id != '' && recordRef = @request.auth.id && collectionRef = @request.auth.collectionId";
const DATE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$/;
const ID = /^[a-z0-9]{15}$/;

let s: TestServer;
let su: string;
let mailbox: Mailbox;
let seq = 0;

const email = (name: string) => `${name}-${++seq}@example.com`;

/** A request to the test server, answered with its text too (for {@link expectApiError}). */
const req = (method: string, path: string, options?: CallOptions) => call(s.url, method, path, options);

async function ok(method: string, path: string, options: CallOptions = {}) {
  const res = await req(method, path, options);
  expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(method === 'DELETE' || method === 'PUT' ? 204 : 200);
  return res.body;
}

/**
 * A new user of `collection`, made by a superuser, and its token: from a
 * password sign-in (which records an origin), or, where MFA would stand in
 * the way, from impersonation (which records nothing).
 */
async function user(name: string, collection = 'users', agent = 'Test/1'): Promise<{ id: string; email: string; token: string }> {
  const address = email(name);
  const rec = await ok('POST', `/api/collections/${collection}/records`, {
    token: su,
    body: { email: address, password: PASSWORD, passwordConfirm: PASSWORD },
  });
  if (collection === 'guarded') {
    return { id: rec.id, email: address, token: (await ok('POST', `/api/collections/guarded/impersonate/${rec.id}`, { token: su })).token };
  }
  const signed = await ok('POST', `/api/collections/${collection}/auth-with-password`, {
    body: { identity: address, password: PASSWORD },
    headers: { 'user-agent': agent },
  });
  return { id: rec.id, email: address, token: signed.token };
}

/** The records of a system collection `recordRef` points at, as a superuser lists them. */
async function rowsOf(collection: string, recordRef: string): Promise<Record<string, any>[]> {
  const list = await ok('GET', `/api/collections/${collection}/records?filter=${encodeURIComponent(`recordRef = "${recordRef}"`)}`, {
    token: su,
  });
  return list.items;
}

/** Waits until `check` passes (the flows write some rows after their answer). */
async function eventually<T>(check: () => Promise<T>, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/** The records of `collection` for `recordRef`, once there are `n` of them (the flows write some after their answer). */
function rowsOnceThere(collection: string, recordRef: string, n = 1): Promise<Record<string, any>[]> {
  return eventually(async () => {
    const rows = await rowsOf(collection, recordRef);
    expect(rows).toHaveLength(n);
    return rows;
  });
}

/** A user of `collection` with a record in each of the four, made by a superuser. */
async function userWithRows(name: string, collection = 'users') {
  const u = await user(name, collection);
  const ref = { collectionRef: (await ok('GET', `/api/collections/${collection}`, { token: su })).id, recordRef: u.id };
  await ok('POST', '/api/collections/_mfas/records', { token: su, body: { ...ref, method: 'password' } });
  await ok('POST', '/api/collections/_otps/records', { token: su, body: { ...ref, password: '11223344' } });
  await ok('POST', '/api/collections/_externalAuths/records', { token: su, body: { ...ref, provider: 'google', providerId: u.id } });
  await ok('POST', '/api/collections/_authOrigins/records', { token: su, body: { ...ref, fingerprint: `fp-${u.id}` } });
  for (const n of NAMES) expect((await rowsOf(n, u.id)).length, n).toBeGreaterThan(0);
  return u;
}

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  mailbox = new Mailbox(s.dir);
  await ok('PATCH', '/api/collections/users', { token: su, body: { otp: { enabled: true } } });
  await ok('POST', '/api/collections', {
    token: su,
    body: { name: 'guarded', type: 'auth', mfa: { enabled: true }, otp: { enabled: true } },
  });
  await ok('POST', '/api/collections', { token: su, body: { name: 'notes', type: 'base', fields: [{ name: 'title', type: 'text' }] } });
});
afterAll(() => s?.close());

// ------------------------------------------------------------------ schema

/** The four as PocketBase defines them: field name, type and flags; rules; indexes as PocketBase writes them. */
const text = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  type: 'text',
  system: true,
  hidden: false,
  required: true,
  ...extra,
});
const ID_FIELD = {
  name: 'id',
  type: 'text',
  system: true,
  hidden: false,
  required: true,
  primaryKey: true,
  min: 15,
  max: 15,
  pattern: '^[a-z0-9]+$',
  autogeneratePattern: '[a-z0-9]{15}',
};
const AUTODATES = [
  { name: 'created', type: 'autodate', system: true, hidden: false, onCreate: true, onUpdate: false },
  { name: 'updated', type: 'autodate', system: true, hidden: false, onCreate: true, onUpdate: true },
];
const SPEC: Record<string, { id: string; deleteRule: string | null; fields: Record<string, unknown>[]; indexes: string[] }> = {
  _mfas: {
    id: 'pbc_2279338944',
    deleteRule: null,
    fields: [ID_FIELD, text('collectionRef'), text('recordRef'), text('method'), ...AUTODATES],
    indexes: ['CREATE INDEX `idx_mfas_collectionRef_recordRef` ON `_mfas` (collectionRef,recordRef)'],
  },
  _otps: {
    id: 'pbc_1638494021',
    deleteRule: null,
    fields: [
      ID_FIELD,
      text('collectionRef'),
      text('recordRef'),
      { name: 'password', type: 'password', system: true, hidden: true, required: true, cost: 8 },
      text('sentTo', { hidden: true, required: false }),
      ...AUTODATES,
    ],
    indexes: ['CREATE INDEX `idx_otps_collectionRef_recordRef` ON `_otps` (collectionRef, recordRef)'],
  },
  _externalAuths: {
    id: 'pbc_2281828961',
    deleteRule: OWNER,
    fields: [ID_FIELD, text('collectionRef'), text('recordRef'), text('provider'), text('providerId'), ...AUTODATES],
    indexes: [
      'CREATE UNIQUE INDEX `idx_externalAuths_record_provider` ON `_externalAuths` (collectionRef, recordRef, provider)',
      'CREATE UNIQUE INDEX `idx_externalAuths_collection_provider` ON `_externalAuths` (collectionRef, provider, providerId)',
    ],
  },
  _authOrigins: {
    id: 'pbc_4275539003',
    deleteRule: OWNER,
    fields: [ID_FIELD, text('collectionRef'), text('recordRef'), text('fingerprint'), ...AUTODATES],
    indexes: ['CREATE UNIQUE INDEX `idx_authOrigins_unique_pairs` ON `_authOrigins` (collectionRef, recordRef, fingerprint)'],
  },
};
const NAMES = Object.keys(SPEC);
/** Index text without quoting or spacing, which PocketBase and we write differently. */
const bare = (sql: string) => sql.replace(/[`\s]/g, '');

describe('the collections', () => {
  test.each(NAMES)('%s: as PocketBase defines it, for superusers', async (name) => {
    const spec = SPEC[name] as (typeof SPEC)[string];
    const c = await ok('GET', `/api/collections/${name}`, { token: su });
    expect(c).toMatchObject({
      id: spec.id,
      name,
      type: 'base',
      system: true,
      listRule: OWNER,
      viewRule: OWNER,
      createRule: null,
      updateRule: null,
      deleteRule: spec.deleteRule,
    });
    expect(c.fields).toHaveLength(spec.fields.length);
    for (const [i, f] of spec.fields.entries()) expect(c.fields[i], `${name}.${String(f.name)}`).toMatchObject(f);
    expect(c.indexes.map(bare)).toEqual(spec.indexes.map(bare));
    expect(c.created).toMatch(DATE);
  });

  test('GET /api/collections lists them for superusers, and only for them', async () => {
    const all = await ok('GET', '/api/collections?perPage=500', { token: su });
    const system = all.items.filter((c: any) => c.system).map((c: any) => c.name);
    expect(system.sort()).toEqual([...NAMES, '_superusers'].sort());
    const filtered = await ok('GET', `/api/collections?filter=${encodeURIComponent('system = true && type = "base"')}`, { token: su });
    expect(filtered.items.map((c: any) => c.name).sort()).toEqual([...NAMES].sort());
    const someone = await user('lister');
    expectApiError(await req('GET', '/api/collections', { token: someone.token }), 403);
    expectApiError(await req('GET', '/api/collections/_otps', { token: someone.token }), 403);
    expectApiError(await req('GET', '/api/collections/_otps'), 401);
  });

  test.each(NAMES)('%s: cannot be deleted, renamed or have its rules changed (400), and stays as it was', async (name) => {
    const before = await ok('GET', `/api/collections/${name}`, { token: su });
    expectApiError(await req('DELETE', `/api/collections/${name}`, { token: su }), 400);
    const renamed = await req('PATCH', `/api/collections/${name}`, { token: su, body: { name: 'renamed' } });
    expectApiError(renamed, 400);
    expect(renamed.body.data.name.code).toBe('validation_collection_system_name_change');
    for (const rule of ['listRule', 'viewRule', 'createRule', 'updateRule', 'deleteRule']) {
      const changed = await req('PATCH', `/api/collections/${name}`, { token: su, body: { [rule]: '' } });
      expectApiError(changed, 400, rule);
      expect(changed.body.data[rule].code).toBe('validation_collection_system_rule_change');
    }
    const dropped = await req('PATCH', `/api/collections/${name}`, {
      token: su,
      body: { fields: before.fields.filter((f: any) => f.name !== 'recordRef') },
    });
    expectApiError(dropped, 400);
    expect(await ok('GET', `/api/collections/${name}`, { token: su })).toEqual(before);
    // an import that leaves them out does not delete them either
    const others = (await ok('GET', '/api/collections?perPage=500', { token: su })).items.filter((c: any) => !NAMES.includes(c.name));
    await ok('PUT', '/api/collections/import', { token: su, body: { collections: others, deleteMissing: true } });
    expect(await ok('GET', `/api/collections/${name}`, { token: su })).toEqual(before);
  });
});

// ------------------------------------------------------------------ flows and access

describe('rows the auth flows write', () => {
  test('request-otp writes an _otps record: the superuser sees it (not its hash), its owner without sentTo, others nothing', async () => {
    const owner = await user('otp-owner');
    const stranger = await user('otp-stranger');
    const { otpId } = await ok('POST', '/api/collections/users/request-otp', { body: { email: owner.email } });
    const [row] = await rowsOnceThere('_otps', owner.id);
    expect(row).toEqual({
      collectionId: SPEC._otps?.id,
      collectionName: '_otps',
      id: otpId,
      collectionRef: '_pb_users_auth_',
      recordRef: owner.id,
      sentTo: owner.email,
      created: expect.stringMatching(DATE),
      updated: row?.created,
    });
    expect(otpId).toMatch(ID);

    const { sentTo: _, ...visible } = row as Record<string, unknown>;
    expect((await ok('GET', '/api/collections/_otps/records', { token: owner.token })).items).toEqual([visible]);
    expect(await ok('GET', `/api/collections/_otps/records/${otpId}`, { token: owner.token })).not.toHaveProperty('sentTo');
    expect((await ok('GET', '/api/collections/_otps/records', { token: stranger.token })).totalItems).toBe(0);
    expect((await ok('GET', '/api/collections/_otps/records')).totalItems).toBe(0);
    expectApiError(await req('GET', `/api/collections/_otps/records/${otpId}`, { token: stranger.token }), 404);
    expectApiError(await req('GET', `/api/collections/_otps/records/${otpId}`), 404);
    // deleting is the superuser's (PocketBase's null delete rule)
    expectApiError(await req('DELETE', `/api/collections/_otps/records/${otpId}`, { token: owner.token }), 403);

    // the code signs in once, and its record goes
    const code = await mailbox.take(owner.email, MAIL.otp);
    await ok('POST', '/api/collections/users/auth-with-otp', { body: { otpId, password: code } });
    expect(await rowsOf('_otps', owner.id)).toEqual([]);
  });

  test('a first factor writes an _mfas record with its method, listed by the superuser and its owner', async () => {
    const guarded = await ok('GET', '/api/collections/guarded', { token: su });
    const owner = await user('mfa-owner', 'guarded');
    const stranger = await user('mfa-stranger', 'guarded');
    const first = await req('POST', '/api/collections/guarded/auth-with-password', {
      body: { identity: owner.email, password: PASSWORD },
    });
    expect(first.status).toBe(401);
    const mfaId = first.body.mfaId as string;
    expect(mfaId).toMatch(ID);
    const [row] = await rowsOf('_mfas', owner.id);
    expect(row).toEqual({
      collectionId: SPEC._mfas?.id,
      collectionName: '_mfas',
      id: mfaId,
      collectionRef: guarded.id,
      recordRef: owner.id,
      method: 'password',
      created: expect.stringMatching(DATE),
      updated: row?.created,
    });
    expect((await ok('GET', '/api/collections/_mfas/records', { token: owner.token })).items).toEqual([row]);
    expect((await ok('GET', '/api/collections/_mfas/records', { token: stranger.token })).items).toEqual([]);

    // the second factor completes it and the session goes
    const { otpId } = await ok('POST', '/api/collections/guarded/request-otp', { body: { email: owner.email } });
    const code = await mailbox.take(owner.email, MAIL.otp);
    await ok('POST', '/api/collections/guarded/auth-with-otp', { body: { otpId, password: code, mfaId } });
    expect(await rowsOf('_mfas', owner.id)).toEqual([]);
  });

  test('a sign-in writes an _authOrigins record; its owner lists it through the SDK and may delete it, no one else', async () => {
    const owner = await user('origin-owner', 'users', 'Phone/1');
    const stranger = await user('origin-stranger');
    const [row] = await rowsOnceThere('_authOrigins', owner.id);
    expect(row).toEqual({
      collectionId: SPEC._authOrigins?.id,
      collectionName: '_authOrigins',
      id: expect.stringMatching(ID),
      collectionRef: '_pb_users_auth_',
      recordRef: owner.id,
      fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/),
      created: expect.stringMatching(DATE),
      updated: expect.stringMatching(DATE),
    });

    const pb = new PocketBase(s.url);
    pb.autoCancellation(false);
    pb.authStore.save(owner.token, null);
    expect(await pb.collection('_authOrigins').getFullList()).toEqual([row]);
    const admin = new PocketBase(s.url);
    admin.authStore.save(su, null);
    const all = await admin.collection('_authOrigins').getFullList({ filter: `recordRef = "${owner.id}"` });
    expect(all).toEqual([row]);

    expectApiError(await req('DELETE', `/api/collections/_authOrigins/records/${row?.id}`, { token: stranger.token }), 404);
    expectApiError(await req('DELETE', `/api/collections/_authOrigins/records/${row?.id}`), 404);
    await pb.collection('_authOrigins').delete(row?.id as string);
    expect(await rowsOf('_authOrigins', owner.id)).toEqual([]);
  });
});

describe('the OTP hash', () => {
  test('never leaves: not to superusers (list, view, fields, a create, an update, realtime), not to owners', async () => {
    const owner = await user('hash-owner');
    await ok('POST', '/api/collections/users/request-otp', { body: { email: owner.email } });
    await rowsOnceThere('_otps', owner.id);
    const got: unknown[] = [];
    const admin = new PocketBase(s.url);
    admin.autoCancellation(false);
    admin.authStore.save(su, null);
    const unsubscribe = await admin.collection('_otps').subscribe('*', (e) => got.push(e));
    // the owner's subscriptions: one plain; one whose filter names the hash is refused when it is set, with
    // the error of a field that does not exist (the filter is judged then, not silenced at every event)
    const mine = new PocketBase(s.url);
    mine.autoCancellation(false);
    mine.authStore.save(owner.token, null);
    const ownerGot: unknown[] = [];
    const probed: unknown[] = [];
    await mine.collection('_otps').subscribe('*', () => {});
    const hashProbe = await mine
      .collection('_otps')
      .subscribe('*', (e) => probed.push(e), { filter: 'password != ""' })
      .then(
        () => null,
        (err: { status: number; response: { data: Record<string, { message: string }> } }) => err,
      );
    expect(hashProbe?.status).toBe(400);
    // the words of any field that does not exist (the resolver's checkField)
    expect(hashProbe?.response.data.subscriptions?.message).toBe('_otps/*: unknown field "password"');
    // the SDK resubmits the refused subscription with every later one: start over without it
    await mine.realtime.unsubscribe();
    await mine.collection('_otps').subscribe('*', (e) => ownerGot.push(e));

    const made = await ok('POST', '/api/collections/_otps/records', {
      token: su,
      body: { collectionRef: '_pb_users_auth_', recordRef: owner.id, password: '12345678', sentTo: owner.email },
    });
    const updated = await ok('PATCH', `/api/collections/_otps/records/${made.id}`, { token: su, body: { password: '87654321' } });
    const answers = [
      made,
      updated,
      await ok('GET', '/api/collections/_otps/records', { token: su }),
      await ok('GET', `/api/collections/_otps/records/${made.id}`, { token: su }),
      await ok('GET', '/api/collections/_otps/records?fields=*', { token: su }),
      await ok('GET', `/api/collections/_otps/records?filter=${encodeURIComponent('password != ""')}`, { token: su }),
      await ok('GET', '/api/collections/_otps/records', { token: owner.token }),
    ];
    await eventually(async () => expect(got).toHaveLength(2));
    await eventually(async () => expect(ownerGot).toHaveLength(2));
    await unsubscribe();
    mine.realtime.unsubscribe();
    expect(probed).toEqual([]);
    expect(JSON.stringify(ownerGot)).not.toContain('sentTo');
    const stored = await s.app.engine.all<{ password: string }>('SELECT password FROM _otps');
    expect(stored.length).toBeGreaterThan(1);
    for (const { password } of stored) expect(password).toMatch(/^\$2[aby]\$/);
    for (const answer of [...answers, ...got, ...ownerGot]) {
      const json = JSON.stringify(answer);
      expect(json).not.toContain('"password"');
      for (const { password } of stored) expect(json).not.toContain(password);
      expect(json).not.toMatch(/\$2[aby]\$/);
    }
    // a superuser's filter on it works (PocketBase's), and answers records, not hashes
    expect(answers[5].totalItems).toBeGreaterThan(1);
    expectApiError(await req('GET', '/api/collections/_otps/records?fields=password', { token: su }), 400);
  });

  test('the owner cannot filter or sort by password or sentTo: the same 400 as an unknown field', async () => {
    const owner = await user('filter-owner');
    await ok('POST', '/api/collections/users/request-otp', { body: { email: owner.email } });
    await rowsOnceThere('_otps', owner.id);
    const list = (query: string) => req('GET', `/api/collections/_otps/records?${query}`, { token: owner.token });
    for (const [hidden, unknown] of [
      ['password', 'passwore'],
      ['sentTo', 'sentTx'],
    ] as const) {
      const a = await list(`filter=${encodeURIComponent(`${hidden} != ""`)}`);
      const b = await list(`filter=${encodeURIComponent(`${unknown} != ""`)}`);
      expectApiError(a, 400, hidden);
      expectApiError(b, 400, unknown);
      expect(a.body.message.replaceAll(hidden, unknown)).toBe(b.body.message);
      expect(a.body.data).toEqual(b.body.data);
      const sa = await list(`sort=${hidden}`);
      const sb = await list(`sort=${unknown}`);
      expectApiError(sa, 400, `sort ${hidden}`);
      expect(sa.body.message.replaceAll(hidden, unknown)).toBe(sb.body.message);
      expectApiError(await list(`fields=${hidden}`), 400, `fields ${hidden}`);
    }
    // one character at a time is no oracle either
    expectApiError(await list(`filter=${encodeURIComponent('password ~ "$2"')}`), 400);
  });
});

// ------------------------------------------------------------------ who sees what

describe("access, per collection (PocketBase's apis/record_crud_*_test.go)", () => {
  test.each(NAMES)('%s: the owner lists and views its own; a stranger and a guest see none; delete as the rule says', async (name) => {
    const owner = await userWithRows(`access${name}`);
    const stranger = await userWithRows(`stranger${name}`);
    const own = await rowsOf(name, owner.id);
    const listed = await ok('GET', `/api/collections/${name}/records?perPage=500`, { token: owner.token });
    expect(listed.items.map((r: any) => r.id).sort()).toEqual(own.map((r) => r.id).sort());
    expect(listed.items.every((r: any) => r.recordRef === owner.id && r.collectionRef === '_pb_users_auth_')).toBe(true);
    const [first] = own;
    expect(await ok('GET', `/api/collections/${name}/records/${first?.id}`, { token: owner.token })).toMatchObject({ id: first?.id });
    expect((await ok('GET', `/api/collections/${name}/records?perPage=500`)).totalItems).toBe(0);
    const theirs = await ok('GET', `/api/collections/${name}/records?perPage=500`, { token: stranger.token });
    expect(theirs.items.some((r: any) => r.recordRef === owner.id)).toBe(false);
    for (const token of [stranger.token, undefined]) {
      expectApiError(await req('GET', `/api/collections/${name}/records/${first?.id}`, { token }), 404);
    }
    if (SPEC[name]?.deleteRule === null) {
      // superusers only: 403 for anyone else, whoever owns the record
      expectApiError(await req('DELETE', `/api/collections/${name}/records/${first?.id}`, { token: owner.token }), 403);
      expectApiError(await req('DELETE', `/api/collections/${name}/records/${first?.id}`), 403);
      await ok('DELETE', `/api/collections/${name}/records/${first?.id}`, { token: su });
    } else {
      expectApiError(await req('DELETE', `/api/collections/${name}/records/${first?.id}`, { token: stranger.token }), 404);
      expectApiError(await req('DELETE', `/api/collections/${name}/records/${first?.id}`), 404);
      await ok('DELETE', `/api/collections/${name}/records/${first?.id}`, { token: owner.token });
    }
    expect((await rowsOf(name, owner.id)).map((r) => r.id)).not.toContain(first?.id);
  });
});

// ------------------------------------------------------------------ writes through the API

describe('writes through the records API', () => {
  test('guests and users cannot create or update records (403), as the null rules say', async () => {
    const owner = await user('writer');
    const [origin] = await rowsOnceThere('_authOrigins', owner.id);
    for (const name of NAMES) {
      const body = { collectionRef: '_pb_users_auth_', recordRef: owner.id };
      expectApiError(await req('POST', `/api/collections/${name}/records`, { body }), 403, name);
      expectApiError(await req('POST', `/api/collections/${name}/records`, { token: owner.token, body }), 403, name);
    }
    expectApiError(
      await req('PATCH', `/api/collections/_authOrigins/records/${origin?.id}`, { token: owner.token, body: { fingerprint: 'x' } }),
      403,
    );
    expect(await rowsOf('_authOrigins', owner.id)).toEqual([origin]);
  });

  test('a superuser creates records whose refs name an auth record, and an _otps record signs in', async () => {
    const owner = await user('made-by-su');
    const ref = { collectionRef: '_pb_users_auth_', recordRef: owner.id };
    const mfa = await ok('POST', '/api/collections/_mfas/records', { token: su, body: { ...ref, method: 'password' } });
    expect(mfa).toMatchObject({ ...ref, method: 'password', id: expect.stringMatching(ID), created: expect.stringMatching(DATE) });
    const linked = await ok('POST', '/api/collections/_externalAuths/records', {
      token: su,
      body: { ...ref, provider: 'github', providerId: 'gh-1' },
    });
    expect(linked).toMatchObject({ ...ref, provider: 'github', providerId: 'gh-1' });
    const origin = await ok('POST', '/api/collections/_authOrigins/records', { token: su, body: { ...ref, fingerprint: 'abc' } });
    expect(origin).toMatchObject({ ...ref, fingerprint: 'abc' });
    const otp = await ok('POST', '/api/collections/_otps/records', { token: su, body: { ...ref, password: '24681357' } });
    expect(otp).toMatchObject({ ...ref, sentTo: '' });
    const signed = await ok('POST', '/api/collections/users/auth-with-otp', { body: { otpId: otp.id, password: '24681357' } });
    expect(signed.record.id).toBe(owner.id);

    // the unique indexes hold
    const again = await req('POST', '/api/collections/_externalAuths/records', {
      token: su,
      body: { ...ref, provider: 'github', providerId: 'gh-2' },
    });
    expectApiError(again, 400);
    expect(Object.keys(again.body.data).sort()).toEqual(['collectionRef', 'provider', 'recordRef']);
  });

  test('refs to no collection, a base collection or no record, a bad provider, a missing password: 400 naming the field', async () => {
    const owner = await user('bad-refs');
    const note = await ok('POST', '/api/collections/notes/records', { token: su, body: { title: 'n' } });
    const notes = await ok('GET', '/api/collections/notes', { token: su });
    const cases: [string, Record<string, unknown>, string, string][] = [
      ['_mfas', { collectionRef: 'pbc_nope', recordRef: owner.id, method: 'otp' }, 'collectionRef', 'validation_invalid_collection_id'],
      // by id, not by name (PocketBase's)
      ['_mfas', { collectionRef: 'users', recordRef: owner.id, method: 'otp' }, 'collectionRef', 'validation_invalid_collection_id'],
      ['_mfas', { collectionRef: notes.id, recordRef: note.id, method: 'otp' }, 'collectionRef', 'validation_invalid_collection_type'],
      [
        '_authOrigins',
        { collectionRef: '_pb_users_auth_', recordRef: 'nosuchrecord000', fingerprint: 'f' },
        'recordRef',
        'validation_invalid_record',
      ],
      ['_authOrigins', { collectionRef: '_pb_users_auth_', fingerprint: 'f' }, 'recordRef', 'validation_required'],
      [
        '_externalAuths',
        { collectionRef: '_pb_users_auth_', recordRef: owner.id, provider: 'myspace', providerId: '1' },
        'provider',
        'validation_in_invalid',
      ],
      ['_otps', { collectionRef: '_pb_users_auth_', recordRef: owner.id }, 'password', 'validation_required'],
    ];
    for (const [name, body, field, code] of cases) {
      const res = await req('POST', `/api/collections/${name}/records`, { token: su, body });
      expectApiError(res, 400, `${name} ${JSON.stringify(body)}`);
      expect(res.body.data[field]?.code, `${name} ${field}`).toBe(code);
    }
    // an update is checked the same way
    const mfa = await ok('POST', '/api/collections/_mfas/records', {
      token: su,
      body: { collectionRef: '_pb_users_auth_', recordRef: owner.id, method: 'otp' },
    });
    const moved = await req('PATCH', `/api/collections/_mfas/records/${mfa.id}`, {
      token: su,
      body: { recordRef: 'nosuchrecord000' },
    });
    expectApiError(moved, 400);
    expect(moved.body.data.recordRef.code).toBe('validation_invalid_record');
    for (const name of NAMES) expect((await rowsOf(name, 'nosuchrecord000')).length, name).toBe(0);
  });
});

// ------------------------------------------------------------------ cleanup

describe('cleanup', () => {
  test("deleting an auth record deletes its rows in the four, in the delete's transaction; others' stay", async () => {
    const gone = await userWithRows('cleanup-gone');
    const kept = await userWithRows('cleanup-kept');
    const deletes: string[] = [];
    const admin = new PocketBase(s.url);
    admin.autoCancellation(false);
    admin.authStore.save(su, null);
    const unsubscribe = await admin.collection('_authOrigins').subscribe('*', (e) => deletes.push(`${e.action}:${e.record.recordRef}`));
    await ok('DELETE', `/api/collections/users/records/${gone.id}`, { token: su });
    for (const n of NAMES) {
      expect(await rowsOf(n, gone.id), n).toEqual([]);
      expect((await rowsOf(n, kept.id)).length, n).toBeGreaterThan(0);
    }
    await eventually(async () => expect(deletes).toContain(`delete:${gone.id}`));
    await unsubscribe();

    // a delete that fails leaves them all
    const blocker = await userWithRows('cleanup-blocked');
    await ok('POST', '/api/collections', {
      token: su,
      body: {
        name: 'pins',
        fields: [{ name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1, required: true }],
      },
    });
    await ok('POST', '/api/collections/pins/records', { token: su, body: { owner: blocker.id } });
    expectApiError(await req('DELETE', `/api/collections/users/records/${blocker.id}`, { token: su }), 400);
    for (const n of NAMES) expect((await rowsOf(n, blocker.id)).length, n).toBeGreaterThan(0);
    await ok('DELETE', '/api/collections/pins', { token: su });
  });

  test("deleting an auth collection deletes its records' rows in the four", async () => {
    await ok('POST', '/api/collections', { token: su, body: { name: 'members', type: 'auth' } });
    const member = await userWithRows('member', 'members');
    const other = await userWithRows('not-a-member');
    await ok('DELETE', '/api/collections/members', { token: su });
    for (const n of NAMES) {
      expect(await rowsOf(n, member.id), n).toEqual([]);
      expect((await rowsOf(n, other.id)).length, n).toBeGreaterThan(0);
    }
  });

  test("a password change ends the record's MFA sessions and origins, a new tokenKey its OTPs (PocketBase's)", async () => {
    const u = await userWithRows('changer');
    await ok('PATCH', `/api/collections/users/records/${u.id}`, {
      token: u.token,
      body: { oldPassword: PASSWORD, password: 'new-password-1', passwordConfirm: 'new-password-1' },
    });
    expect(await rowsOf('_mfas', u.id)).toEqual([]);
    expect(await rowsOf('_authOrigins', u.id)).toEqual([]);
    expect(await rowsOf('_otps', u.id)).toEqual([]);
    expect(await rowsOf('_externalAuths', u.id)).toHaveLength(1);

    // a name change touches none of them
    const v = await userWithRows('renamer');
    await ok('PATCH', `/api/collections/users/records/${v.id}`, { token: v.token, body: { name: 'New Name' } });
    for (const n of NAMES) expect((await rowsOf(n, v.id)).length, n).toBeGreaterThan(0);
  });
});

// ------------------------------------------------------------------ migration

describe('a database made before they were collections', () => {
  test('keeps its OTPs, MFA sessions and auth origins, which go on driving sign-ins and alerts', async () => {
    const db = await freshDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'ms-system-'));
    const open = async () => {
      const app = await App.open({ dataDir: dir, databaseUrl: db.url, logger: pino({ level: 'silent' }) });
      await relaxProtections(app);
      const server = await buildServer(app, { accessLog: false });
      await server.listen({ host: '127.0.0.1', port: 0 });
      const address = server.server.address();
      const request = requester(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
      return {
        app,
        request,
        close: async () => {
          await server.close();
          await app.close();
        },
      };
    };
    const OLD_UPDATED = Date.UTC(2024, 0, 2, 3, 4, 5, 678);
    const address = 'migrated@example.com';
    const agent = { 'user-agent': 'OldPhone/1' };
    try {
      const first = await open();
      const token = await superuserToken({ request: first.request, app: first.app } as TestServer);
      const made = await first.request('POST', '/api/collections/users/records', {
        body: { email: address, password: PASSWORD, passwordConfirm: PASSWORD },
      });
      expect(made.status).toBe(200);
      const userId = made.body.id as string;
      expect(
        (
          await first.request('POST', '/api/collections/users/auth-with-password', {
            body: { identity: address, password: PASSWORD },
            headers: agent,
          })
        ).status,
      ).toBe(200);
      const d = first.app.engine.dialect;
      const origins = await eventually(async () => {
        const rows = await first.app.engine.all<{ collectionRef: string; recordRef: string; fingerprint: string }>(
          `SELECT ${d.ident('collectionRef')} AS "collectionRef", ${d.ident('recordRef')} AS "recordRef", fingerprint FROM ${d.ident('_authOrigins')}`,
        );
        expect(rows.map((r) => r.recordRef)).toContain(userId);
        return rows;
      });
      await first.request('PATCH', '/api/collections/users', { token, body: { otp: { enabled: true } } });

      // back to the shape migrations 0002 and 0006 made, with rows as the code of then wrote them
      const e = first.app.engine;
      for (const name of NAMES) {
        await e.run(`DELETE FROM _collections WHERE name = $1`, [name]);
        await e.run(d.dropTable(name));
      }
      const t = (name: string) => ({ name, kind: 'text' as const });
      const n = (name: string) => ({ name, kind: 'number' as const });
      const pk = { name: 'id', kind: 'text' as const, primaryKey: true };
      await e.run(d.createTable('_otps', [pk, t('collection_ref'), t('record_ref'), t('password'), t('sent_to'), n('created')]));
      await e.run(d.createTable('_mfas', [pk, t('collection_ref'), t('record_ref'), t('method'), n('created')]));
      await e.run(d.createTable('_ms_auth_origins', [pk, t('collection_ref'), t('record_ref'), t('fingerprint'), n('updated')]));
      const now = Date.now();
      await e.run('INSERT INTO _otps (id, collection_ref, record_ref, password, sent_to, created) VALUES ($1, $2, $3, $4, $5, $6)', [
        'oldotpcode00001',
        '_pb_users_auth_',
        userId,
        await hashPassword('13572468'),
        address,
        now - 10_000,
      ]);
      await e.run('INSERT INTO _mfas (id, collection_ref, record_ref, method, created) VALUES ($1, $2, $3, $4, $5)', [
        'oldmfasession01',
        '_pb_users_auth_',
        userId,
        'password',
        OLD_UPDATED,
      ]);
      for (const o of origins) {
        await e.run('INSERT INTO _ms_auth_origins (id, collection_ref, record_ref, fingerprint, updated) VALUES ($1, $2, $3, $4, $5)', [
          createHash('sha256').update(`${o.collectionRef}/${o.recordRef}/${o.fingerprint}`).digest('hex'),
          o.collectionRef,
          o.recordRef,
          o.fingerprint,
          o.recordRef === userId ? OLD_UPDATED : now,
        ]);
      }
      await e.run(`DELETE FROM _migrations WHERE file = '0013_auth_collections'`);
      await first.close();

      const second = await open();
      try {
        const su2 = await superuserToken({ request: second.request, app: second.app } as TestServer);
        const list = async (name: string) => {
          const res = await second.request(
            'GET',
            `/api/collections/${name}/records?filter=${encodeURIComponent(`recordRef = "${userId}"`)}`,
            {
              token: su2,
            },
          );
          expect(res.status, JSON.stringify(res.body)).toBe(200);
          return res.body.items as Record<string, unknown>[];
        };
        expect((await second.request('GET', '/api/collections/_authOrigins', { token: su2 })).body).toMatchObject({
          id: SPEC._authOrigins?.id,
          system: true,
        });
        const [origin] = await list('_authOrigins');
        expect(origin).toEqual({
          collectionId: SPEC._authOrigins?.id,
          collectionName: '_authOrigins',
          id: expect.stringMatching(ID),
          collectionRef: '_pb_users_auth_',
          recordRef: userId,
          fingerprint: origins.find((o) => o.recordRef === userId)?.fingerprint,
          created: '2024-01-02 03:04:05.678Z',
          updated: '2024-01-02 03:04:05.678Z',
        });
        expect(await list('_mfas')).toEqual([
          expect.objectContaining({ id: 'oldmfasession01', method: 'password', created: '2024-01-02 03:04:05.678Z' }),
        ]);
        const [otp] = await list('_otps');
        expect(otp).toMatchObject({ id: 'oldotpcode00001', sentTo: address, created: expect.stringMatching(DATE) });
        expect(otp).not.toHaveProperty('password');
        const tables = (await second.app.engine.all<{ name: string }>(second.app.engine.dialect.listTables())).map((r) => r.name);
        expect(tables).not.toContain('_ms_auth_origins');

        // the device signed in from before is known: no alert; a new one is
        const mails = new Mailbox(dir);
        const signIn = (headers: Record<string, string>) =>
          second.request('POST', '/api/collections/users/auth-with-password', { body: { identity: address, password: PASSWORD }, headers });
        expect((await signIn(agent)).status).toBe(200);
        await eventually(async () => expect((await list('_authOrigins'))[0]?.updated).not.toBe('2024-01-02 03:04:05.678Z'));
        expect((await signIn({ 'user-agent': 'NewTablet/2' })).status).toBe(200);
        expect(await mails.take(address, /(New sign-in)/)).toBe('New sign-in');
        expect(await list('_authOrigins')).toHaveLength(2);
        await expect(mails.take(address, /(New sign-in)/, 300)).rejects.toThrow();

        // the OTP's hash came along: its code signs in
        const signed = await second.request('POST', '/api/collections/users/auth-with-otp', {
          body: { otpId: 'oldotpcode00001', password: '13572468' },
          headers: agent,
        });
        expect(signed.status, JSON.stringify(signed.body)).toBe(200);
        expect(await list('_otps')).toEqual([]);
      } finally {
        await second.close();
      }
    } finally {
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
