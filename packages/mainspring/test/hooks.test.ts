import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Mainspring } from '../src/core/hooks/api.js';
import { signedUpUser, startServer, superuserToken, type TestServer } from './helpers/server.js';

/**
 * Record hooks, request hooks and custom routes, through real HTTP: what a
 * before-hook refuses leaves nothing behind, an after-hook's failure undoes
 * nothing and is logged, and routes answer in PocketBase's shape.
 */

let s: TestServer;
let su: string;
let ann: string;
const logged: Record<string, unknown>[] = [];
/** What the after-hooks saw, in order. */
const seen: string[] = [];

function hooks(ms: Mainspring): void {
  // notes: a slug is derived; "forbidden" titles are refused before the write, "late" ones after it
  ms.onRecordCreate(async (e) => {
    const title = String(e.record.title ?? '');
    if (title === 'forbidden')
      throw new ms.BadRequestError('Titles may not be "forbidden".', { title: { code: 'forbidden', message: 'No.' } });
    e.record.slug = title.toLowerCase().replaceAll(' ', '-');
    // a write of its own, in the same transaction: it stands or falls with the note
    await e.tx.create('audit', { what: `create ${title}` });
    await e.next();
    if (title === 'late') throw new ms.BadRequestError('Refused after the write.');
  }, 'notes');
  ms.onRecordUpdate(async (e) => {
    if (e.original?.title === 'frozen') throw new ms.ForbiddenError('This note is frozen.');
    await e.next();
  }, 'notes');
  ms.onRecordDelete(async (e) => {
    if (e.record.title === 'keep') throw new ms.BadRequestError('This note is kept.');
    await e.next();
  }, 'notes');
  ms.onRecordAfterCreateSuccess(async (e) => {
    // after the commit: the record is there for everyone
    const stored = await ms.records.findById('notes', e.record.id);
    seen.push(`created ${stored?.title}`);
    await e.next();
    if (e.record.title === 'explode') throw new Error('the after-hook broke');
  }, 'notes');
  ms.onRecordAfterCreateError(async (e) => {
    seen.push(`failed ${e.record.title}`);
    await e.next();
  }, 'notes');

  // memos: the hook uses the unbound helpers, which join the write's transaction rather than wait for it
  ms.onRecordCreate(async (e) => {
    const what = `unbound ${e.record.title}`;
    await ms.records.create('audit', { what });
    const seenInside = await ms.runInTransaction((tx) => tx.count('audit', 'what = {:what}', { what }));
    if (seenInside !== 1) throw new Error('the nested transaction did not see the write before it');
    if (e.record.title === 'refuse') throw new ms.BadRequestError('Refused.');
    // work left behind runs after the commit, in transactions of its own
    setTimeout(() => void ms.records.create('audit', { what: `later ${e.record.title}` }).catch(() => {}), 30);
    await e.next();
  }, 'memos');

  // scores: the hook sets values the fields must still judge (n: 0 to 10, label: at most 5 characters)
  ms.onRecordCreate(async (e) => {
    const plan = e.record.label;
    if (plan === 'neg') e.record.n = -1;
    if (plan === 'str') e.record.n = 'five';
    if (plan === 'ok') e.record.n = 7;
    if (plan === 'long') e.record.label = 'much too long';
    // changed in place, not replaced
    if (plan === 'far') (e.record.spot as { lat: number }).lat = 100;
    await e.next();
  }, 'scores');
  ms.onRecordUpdate(async (e) => {
    if (e.record.label === 'move') e.record.id = 'elsewhere123456';
    await e.next();
  }, 'scores');

  ms.onRecordsListRequest(async (e) => {
    e.result.items = e.result.items.map((r) => ({ ...(r as object), listed: true }));
    await e.next();
  }, 'notes');
  ms.onRecordViewRequest(async (e) => {
    if (e.record.title === 'secret') throw new ms.ForbiddenError('Not this one.');
    await e.next();
  }, 'notes');
  ms.onRecordCreateRequest(async (e) => {
    if (typeof e.body.title === 'string') e.body.title = e.body.title.trim();
    await e.next();
  }, 'notes');
  ms.onRecordAuthRequest(async (e) => {
    e.meta = { greeting: `hello ${e.record.email}` };
    await e.next();
  }, 'users');
  ms.onRecordAuthWithPasswordRequest(async (e) => {
    if (e.identity === 'banned@example.com') throw new ms.ForbiddenError('Banned.');
    await e.next();
  }, 'users');

  ms.routerAdd('GET', '/api/hello/:name', (e) => e.json(200, { hello: e.params.name, q: e.query.q ?? null }));
  ms.routerAdd(
    'POST',
    '/api/me/bump',
    async (e) => {
      const auth = e.auth;
      if (!auth) throw new ms.UnauthorizedError();
      return e.runInTransaction(async (tx) => {
        const counter = await tx.findFirst('counters', 'owner = {:owner}', { owner: auth.record.id });
        if (!counter) return tx.create('counters', { owner: auth.record.id, n: 1 });
        return tx.update('counters', counter.id, { 'n+': 1 });
      });
    },
    ms.requireAuth('users'),
  );
  ms.routerAdd('GET', '/api/admin/only', () => ({ ok: true }), ms.requireSuperuser());
  ms.routerAdd('POST', '/api/broken', () => {
    throw new Error('internal detail that must not leak');
  });
  ms.routerAdd('POST', '/api/echo', (e) => ({ body: e.body }));
  ms.routerAdd('DELETE', '/api/nothing', () => undefined);
}

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) logged.push(JSON.parse(line));
      done();
    },
  });
  s = await startServer({ hooks: [hooks], logger: pino({ level: 'error' }, sink) });
  su = await superuserToken(s);
  const collection = (body: unknown) => s.request('POST', '/api/collections', { token: su, body });
  const open = { listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '' };
  expect((await collection({ name: 'audit', fields: [{ name: 'what', type: 'text' }] })).status).toBe(200);
  expect(
    (
      await collection({
        name: 'notes',
        ...open,
        fields: [
          { name: 'title', type: 'text' },
          { name: 'slug', type: 'text' },
        ],
      })
    ).status,
  ).toBe(200);
  expect((await collection({ name: 'memos', ...open, fields: [{ name: 'title', type: 'text' }] })).status).toBe(200);
  expect(
    (
      await collection({
        name: 'scores',
        ...open,
        fields: [
          { name: 'label', type: 'text', max: 5 },
          { name: 'n', type: 'number', min: 0, max: 10 },
          { name: 'spot', type: 'geoPoint' },
        ],
      })
    ).status,
  ).toBe(200);
  expect(
    (
      await collection({
        name: 'counters',
        fields: [
          { name: 'owner', type: 'text' },
          { name: 'n', type: 'number', min: 0 },
        ],
      })
    ).status,
  ).toBe(200);
  ann = (await signedUpUser(s, 'ann@example.com')).token;
  // signs up, but the auth hook refuses its sign-ins
  const password = 'password-123';
  await s.request('POST', '/api/collections/users/records', { body: { email: 'banned@example.com', password, passwordConfirm: password } });
});
afterAll(() => s.close());

const count = async (collection: string) =>
  (await s.request('GET', `/api/collections/${collection}/records?perPage=1`, { token: su })).body.totalItems as number;
const eventually = async (check: () => boolean) => {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  expect(check()).toBe(true);
};

describe('record hooks', () => {
  test('a before-hook changes the record, and its own writes commit with it', async () => {
    const res = await s.request('POST', '/api/collections/notes/records', { body: { title: 'Hello World' } });
    expect(res.status).toBe(200);
    expect(res.body.slug).toBe('hello-world');
    const audit = await s.request('GET', '/api/collections/audit/records?filter=what="create Hello World"', { token: su });
    expect(audit.body.totalItems).toBe(1);
  });

  test('a before-hook that refuses leaves nothing written, and answers in PocketBase shape', async () => {
    const [notes, audit] = [await count('notes'), await count('audit')];
    const res = await s.request('POST', '/api/collections/notes/records', { body: { title: 'forbidden' } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      status: 400,
      message: 'Titles may not be "forbidden".',
      data: { title: { code: 'forbidden', message: 'No.' } },
    });
    const late = await s.request('POST', '/api/collections/notes/records', { body: { title: 'late' } });
    expect(late.status).toBe(400);
    // the row and the audit entry were written inside the transaction, then rolled back
    expect([await count('notes'), await count('audit')]).toEqual([notes, audit]);
    await eventually(() => seen.includes('failed late') && seen.includes('failed forbidden'));
  });

  test('an after-commit hook sees committed data; its failure undoes nothing and is logged', async () => {
    const res = await s.request('POST', '/api/collections/notes/records', { body: { title: 'explode' } });
    expect(res.status).toBe(200);
    const stored = await s.request('GET', `/api/collections/notes/records/${res.body.id}`);
    expect(stored.status).toBe(200);
    await eventually(() => seen.includes('created explode'));
    await eventually(() => logged.some((l) => String(l.msg).includes('after-write hook failed')));
    const line = logged.find((l) => String(l.msg).includes('after-write hook failed')) as { err: { message: string } };
    expect(line.err.message).toBe('the after-hook broke');
  });

  test('values a before-hook sets are judged by the fields as input is: a bad one fails the write naming the field, and nothing is stored', async () => {
    const before = await count('scores');
    for (const [label, field] of [
      ['neg', 'n'],
      ['str', 'n'],
      ['long', 'label'],
      ['far', 'spot'],
    ]) {
      const res = await s.request('POST', '/api/collections/scores/records', { body: { label } });
      expect(res.status, label).toBe(400);
      expect(res.body.message).toBe('Failed to create record.');
      expect(Object.keys(res.body.data), label).toEqual([field]);
    }
    expect(await count('scores')).toBe(before);
    const ok = await s.request('POST', '/api/collections/scores/records', { body: { label: 'ok' } });
    expect(ok.status).toBe(200);
    expect(ok.body.n).toBe(7);
    // an update hook may not move the record to another id
    const moved = await s.request('PATCH', `/api/collections/scores/records/${ok.body.id}`, { body: { label: 'move' } });
    expect(moved.status).toBe(400);
    expect(moved.body.data.id.code).toBe('validation_pk_change');
    expect((await s.request('GET', `/api/collections/scores/records/${ok.body.id}`)).body.label).toBe('ok');
  });

  test('update and delete hooks see the record and may refuse', async () => {
    const frozen = await s.request('POST', '/api/collections/notes/records', { body: { title: 'frozen' } });
    const upd = await s.request('PATCH', `/api/collections/notes/records/${frozen.body.id}`, { body: { title: 'thawed' } });
    expect(upd.status).toBe(403);
    expect((await s.request('GET', `/api/collections/notes/records/${frozen.body.id}`)).body.title).toBe('frozen');
    const keep = await s.request('POST', '/api/collections/notes/records', { body: { title: 'keep' } });
    expect((await s.request('DELETE', `/api/collections/notes/records/${keep.body.id}`)).status).toBe(400);
    expect((await s.request('GET', `/api/collections/notes/records/${keep.body.id}`)).status).toBe(200);
  });

  test('ms.records and runInTransaction inside a hook join its transaction; work left behind runs after it', async () => {
    const auditOf = async (what: string) =>
      (await s.request('GET', `/api/collections/audit/records?filter=${encodeURIComponent(`what="${what}"`)}`, { token: su })).body
        .totalItems;
    expect((await s.request('POST', '/api/collections/memos/records', { body: { title: 'joined' } })).status).toBe(200);
    expect(await auditOf('unbound joined')).toBe(1);
    const refused = await s.request('POST', '/api/collections/memos/records', { body: { title: 'refuse' } });
    expect(refused.status).toBe(400);
    expect(await auditOf('unbound refuse')).toBe(0);
    for (let i = 0; i < 100 && (await auditOf('later joined')) === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await auditOf('later joined')).toBe(1);
  });

  test('hooks also run for writes inside a batch, and a refusal rolls the batch back', async () => {
    const before = await count('notes');
    const res = await s.request('POST', '/api/batch', {
      body: {
        requests: [
          { method: 'POST', url: '/api/collections/notes/records', body: { title: 'in batch' } },
          { method: 'POST', url: '/api/collections/notes/records', body: { title: 'forbidden' } },
        ],
      },
    });
    expect(res.status).toBe(400);
    expect(await count('notes')).toBe(before);
  });
});

describe('request hooks', () => {
  test('list and view answers pass through their hooks', async () => {
    const list = await s.request('GET', '/api/collections/notes/records');
    expect(list.status).toBe(200);
    expect(list.body.items.length).toBeGreaterThan(0);
    expect(list.body.items.every((r: { listed?: boolean }) => r.listed === true)).toBe(true);
    const secret = await s.request('POST', '/api/collections/notes/records', { body: { title: 'secret' } });
    expect((await s.request('GET', `/api/collections/notes/records/${secret.body.id}`)).status).toBe(403);
  });

  test('a create-request hook changes the submitted body before the write', async () => {
    const res = await s.request('POST', '/api/collections/notes/records', { body: { title: '   padded   ' } });
    expect(res.body.title).toBe('padded');
  });

  test('auth hooks add to the answer, or refuse a sign-in', async () => {
    const ok = await s.request('POST', '/api/collections/users/auth-with-password', {
      body: { identity: 'ann@example.com', password: 'password-123' },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.meta).toEqual({ greeting: 'hello ann@example.com' });
    expect(typeof ok.body.token).toBe('string');
    const banned = await s.request('POST', '/api/collections/users/auth-with-password', {
      body: { identity: 'banned@example.com', password: 'password-123' },
    });
    expect(banned.status).toBe(403);
    expect(banned.body.token).toBeUndefined();
  });
});

describe('custom routes', () => {
  test('params, query and body reach the handler', async () => {
    const res = await s.request('GET', '/api/hello/world?q=1');
    expect(res).toMatchObject({ status: 200, body: { hello: 'world', q: '1' } });
    expect((await s.request('POST', '/api/echo', { body: { a: [1, 2] } })).body).toEqual({ body: { a: [1, 2] } });
    expect((await s.request('DELETE', '/api/nothing')).status).toBe(204);
  });

  test('requireAuth and requireSuperuser answer 401 and 403', async () => {
    expect((await s.request('POST', '/api/me/bump')).status).toBe(401);
    expect((await s.request('POST', '/api/me/bump', { token: su })).status).toBe(403);
    expect((await s.request('GET', '/api/admin/only')).status).toBe(401);
    expect((await s.request('GET', '/api/admin/only', { token: ann })).status).toBe(403);
    expect((await s.request('GET', '/api/admin/only', { token: su })).body).toEqual({ ok: true });
  });

  test('a handler that fails answers a generic 500 that leaks nothing', async () => {
    const res = await s.request('POST', '/api/broken');
    expect(res.status).toBe(500);
    expect(JSON.stringify(res.body)).not.toContain('internal detail');
    expect(res.body).toMatchObject({ status: 500, data: {} });
  });

  test('runInTransaction increments atomically under concurrency', async () => {
    const first = await s.request('POST', '/api/me/bump', { token: ann });
    expect(first.status).toBe(200);
    const all = await Promise.all(Array.from({ length: 40 }, () => s.request('POST', '/api/me/bump', { token: ann })));
    expect(all.every((r) => r.status === 200)).toBe(true);
    const counter = await s.request('GET', `/api/collections/counters/records/${first.body.id}`, { token: su });
    expect(counter.body.n).toBe(41);
  });

  test('Idempotency-Key on a custom route: a repeat is replayed, another body is a 422', async () => {
    const headers = { 'idempotency-key': 'bump-once' };
    const first = await s.request('POST', '/api/me/bump', { token: ann, headers });
    const again = await Promise.all([1, 2, 3].map(() => s.request('POST', '/api/me/bump', { token: ann, headers })));
    for (const r of again) {
      expect(r.status).toBe(200);
      expect(r.body).toEqual(first.body);
      expect(r.headers.get('idempotent-replayed')).toBe('true');
    }
    const counter = await s.request('GET', `/api/collections/counters/records/${first.body.id}`, { token: su });
    expect(counter.body.n).toBe(first.body.n);
    const other = await s.request('POST', '/api/me/bump', { token: ann, headers, body: { different: true } });
    expect(other.status).toBe(422);
  });

  test('path rate limits apply to custom routes', async () => {
    await s.app.settings.update({
      rateLimits: { enabled: true, rules: [{ label: '/api/hello/', maxRequests: 3, duration: 60, audience: '' }] },
    });
    try {
      const answers = [];
      for (let i = 0; i < 5; i++) answers.push((await s.request('GET', '/api/hello/x')).status);
      expect(answers).toEqual([200, 200, 200, 429, 429]);
    } finally {
      await s.app.settings.update({ rateLimits: { enabled: false, rules: [] } });
    }
  });
});
