import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { signedUpUser, startServer, superuserToken, type TestServer } from './helpers/server.js';

/**
 * Idempotency-Key on record writes and batch: a retried write is answered
 * from the first run, never run twice, whatever the timing.
 */

let s: TestServer;
let su: string;
let ann: string;
let bob: string;

const signUp = async (email: string): Promise<string> => (await signedUpUser(s, email)).token;

const count = async () => (await s.request('GET', '/api/collections/items/records?perPage=1', { token: su })).body.totalItems as number;
const create = (key: string, body: unknown, token = ann) =>
  s.request('POST', '/api/collections/items/records', { token, body, headers: { 'idempotency-key': key } });

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  const made = await s.request('POST', '/api/collections', {
    token: su,
    body: {
      name: 'items',
      listRule: '@request.auth.id != ""',
      viewRule: '@request.auth.id != ""',
      createRule: '@request.auth.id != ""',
      updateRule: '@request.auth.id != ""',
      deleteRule: '@request.auth.id != ""',
      fields: [
        { name: 'title', type: 'text', max: 50 },
        { name: 'n', type: 'number' },
      ],
    },
  });
  expect(made.status).toBe(200);
  ann = await signUp('ann@example.com');
  bob = await signUp('bob@example.com');
});

afterAll(async () => {
  await s?.close();
});

describe('Idempotency-Key', () => {
  test('a repeated create answers the first answer again and writes once', async () => {
    const before = await count();
    const first = await create('order-1', { title: 'one' });
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const again = await create('order-1', { title: 'one' });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await count()).toBe(before + 1);
  });

  test('the same key with another body is a 422 and writes nothing', async () => {
    await create('order-2', { title: 'two' });
    const before = await count();
    const other = await create('order-2', { title: 'something else' });
    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ status: 422, data: {} });
    expect(await count()).toBe(before);
  });

  test('concurrent requests with one key run once and get the same answer', async () => {
    const before = await count();
    const answers = await Promise.all(Array.from({ length: 10 }, () => create('order-3', { title: 'three' })));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(await count()).toBe(before + 1);
  });

  test('a key belongs to its caller: another user with the same key makes their own record', async () => {
    const a = await create('shared-key', { title: 'ann' });
    const b = await create('shared-key', { title: 'ann' }, bob);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(b.body.id).not.toBe(a.body.id);
  });

  test('a refused write is remembered too; updates, deletes and batches honour keys', async () => {
    const bad = await create('bad-1', { title: 'x'.repeat(60) });
    expect(bad.status).toBe(400);
    const badAgain = await create('bad-1', { title: 'x'.repeat(60) });
    expect(badAgain.status).toBe(400);
    expect(badAgain.headers.get('idempotent-replayed')).toBe('true');

    const rec = (await create('for-update', { title: 'u', n: 1 })).body;
    const inc = () =>
      s.request('PATCH', `/api/collections/items/records/${rec.id}`, {
        token: ann,
        body: { 'n+': 5 },
        headers: { 'idempotency-key': 'inc-1' },
      });
    expect((await inc()).body.n).toBe(6);
    expect((await inc()).body.n).toBe(6);
    expect((await s.request('GET', `/api/collections/items/records/${rec.id}`, { token: ann })).body.n).toBe(6);

    const del = () =>
      s.request('DELETE', `/api/collections/items/records/${rec.id}`, { token: ann, headers: { 'idempotency-key': 'del-1' } });
    expect((await del()).status).toBe(204);
    expect((await del()).status).toBe(204);

    const before = await count();
    const batch = () =>
      s.request('POST', '/api/batch', {
        token: ann,
        headers: { 'idempotency-key': 'batch-1' },
        body: {
          requests: [
            { method: 'POST', url: '/api/collections/items/records', body: { title: 'b1' } },
            { method: 'POST', url: '/api/collections/items/records', body: { title: 'b2' } },
          ],
        },
      });
    const b1 = await batch();
    const b2 = await batch();
    expect(b1.status).toBe(200);
    expect(b2.body).toEqual(b1.body);
    expect(await count()).toBe(before + 2);
  });

  test('malformed keys are a 400; requests without a key are untouched', async () => {
    for (const key of ['', 'x'.repeat(256), 'bad key', 'tab\there']) {
      const res = await s.request('POST', '/api/collections/items/records', {
        token: ann,
        body: { title: 'k' },
        headers: { 'idempotency-key': key },
      });
      expect(res.status, JSON.stringify(key)).toBe(400);
      expect(res.body.message).toMatch(/Idempotency-Key/);
    }
    const before = await count();
    await s.request('POST', '/api/collections/items/records', { token: ann, body: { title: 'free' } });
    await s.request('POST', '/api/collections/items/records', { token: ann, body: { title: 'free' } });
    expect(await count()).toBe(before + 2);
  });
});
