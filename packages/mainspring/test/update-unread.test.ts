import { EventSource } from 'eventsource';
import PocketBase from 'pocketbase';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { signedUpUser, startServer, superuserToken, type TestServer } from './helpers/server.js';

/**
 * An update of plain values reads nothing before it writes (docs/DESIGN.md,
 * "PostgreSQL writes in fewer round trips"): the UPDATE is guarded by the
 * rule and returns the row. What PocketBase's update answers must not
 * change with it: a record missing or hidden by the rule is a 404 and
 * stays as it was, a unique value taken is a 400 naming the field, the
 * answer and the realtime event hold the whole record, fields not sent
 * keep their values, and the SDK's habit of sending a record back whole
 * (its `created`, `updated`, `collectionName`…) is accepted.
 */

(globalThis as { EventSource?: unknown }).EventSource = EventSource;

let s: TestServer;
let su: string;
let ann: { id: string; token: string };
let bob: { id: string; token: string };

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  const users = await s.request('GET', '/api/collections/users', { token: su });
  const notes = await s.request('POST', '/api/collections', {
    token: su,
    body: {
      name: 'notes',
      type: 'base',
      listRule: 'owner = @request.auth.id',
      viewRule: 'owner = @request.auth.id',
      createRule: '@request.auth.id != "" && owner = @request.auth.id',
      // the body's title is judged by the rule too
      updateRule: 'owner = @request.auth.id && (@request.body.title:isset = false || @request.body.title != "forbidden")',
      fields: [
        { name: 'title', type: 'text', max: 20 },
        { name: 'slug', type: 'text' },
        { name: 'done', type: 'bool' },
        { name: 'n', type: 'number', min: 0 },
        { name: 'owner', type: 'relation', collectionId: users.body.id, maxSelect: 1 },
        { name: 'created', type: 'autodate', onCreate: true },
        { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
      ],
      indexes: ["CREATE UNIQUE INDEX idx_notes_slug ON notes (slug) WHERE slug != ''"],
    },
  });
  expect(notes.status, JSON.stringify(notes.body)).toBe(200);
  ann = await signedUpUser(s, 'unread-ann@example.com');
  bob = await signedUpUser(s, 'unread-bob@example.com');
}, 60_000);

afterAll(async () => {
  await s?.close();
});

async function note(owner: { id: string; token: string }, body: Record<string, unknown>): Promise<Record<string, any>> {
  const res = await s.request('POST', '/api/collections/notes/records', { token: owner.token, body: { owner: owner.id, ...body } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

const stored = async (id: string) => (await s.request('GET', `/api/collections/notes/records/${id}`, { token: su })).body;

describe('an update of plain values', () => {
  test('answers the whole record: the fields sent, the others as they were, updated moved', async () => {
    const before = await note(ann, { title: 'first', slug: 'first', n: 3 });
    await new Promise((r) => setTimeout(r, 5));
    const res = await s.request('PATCH', `/api/collections/notes/records/${before.id}`, { token: ann.token, body: { done: true, n: 4 } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      id: before.id,
      collectionName: 'notes',
      title: 'first',
      slug: 'first',
      done: true,
      n: 4,
      owner: ann.id,
      created: before.created,
    });
    expect(res.body.updated > before.updated).toBe(true);
    expect(await stored(before.id)).toEqual(res.body);
  });

  test('a record of someone else, or none, is a 404 and nothing changes', async () => {
    const theirs = await note(bob, { title: 'bob' });
    for (const id of [theirs.id, 'nosuchrecord123']) {
      const res = await s.request('PATCH', `/api/collections/notes/records/${id}`, { token: ann.token, body: { title: 'mine now' } });
      expect(res.status, id).toBe(404);
      expect(res.body).toEqual({ status: 404, message: "The requested resource wasn't found.", data: {} });
    }
    expect(await stored(theirs.id)).toEqual(theirs);
    // a guest is refused the same way
    const guest = await s.request('PATCH', `/api/collections/notes/records/${theirs.id}`, { body: { done: true } });
    expect(guest.status).toBe(404);
    expect(await stored(theirs.id)).toEqual(theirs);
  });

  test('the rule judges the body as sent: refused is a 404 and nothing changes', async () => {
    const mine = await note(ann, { title: 'allowed' });
    const res = await s.request('PATCH', `/api/collections/notes/records/${mine.id}`, { token: ann.token, body: { title: 'forbidden' } });
    expect(res.status).toBe(404);
    expect(await stored(mine.id)).toEqual(mine);
  });

  test('a unique value taken is a 400 naming the field, and nothing changes', async () => {
    await note(ann, { slug: 'taken' });
    const mine = await note(ann, { slug: 'free' });
    const res = await s.request('PATCH', `/api/collections/notes/records/${mine.id}`, { token: ann.token, body: { slug: 'taken', n: 9 } });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.data).toEqual({ slug: { code: 'validation_not_unique', message: 'Value must be unique.' } });
    expect(await stored(mine.id)).toEqual(mine);
  });

  test('an invalid value is a 400 naming the field; on a record the caller cannot see, a 404 first', async () => {
    const mine = await note(ann, { title: 'short' });
    const long = await s.request('PATCH', `/api/collections/notes/records/${mine.id}`, {
      token: ann.token,
      body: { title: 'far too long for the field', n: -1 },
    });
    expect(long.status).toBe(400);
    expect(Object.keys(long.body.data).sort()).toEqual(['n', 'title']);
    expect(long.body.data.title.code).toBe('validation_max_text_constraint');
    expect(long.body.data.n.code).toBe('validation_min_number_constraint');
    const theirs = await note(bob, { title: 'bob again' });
    const hidden = await s.request('PATCH', `/api/collections/notes/records/${theirs.id}`, { token: ann.token, body: { n: -1 } });
    expect(hidden.status).toBe(404);
    expect(await stored(mine.id)).toEqual(mine);
  });

  test("the SDK's whole record sent back is accepted; autodates and the id are the server's", async () => {
    const pb = new PocketBase(s.url);
    pb.authStore.save(ann.token, null);
    const mine = await pb.collection('notes').create({ owner: ann.id, title: 'round trip', n: 1 });
    const again = await pb.collection('notes').update(mine.id, { ...mine, n: 2, created: '2000-01-01 00:00:00.000Z', updated: '' });
    expect(again).toMatchObject({ id: mine.id, title: 'round trip', n: 2, created: mine.created });
    expect(again.updated >= mine.updated).toBe(true);
    const otherId = await s.request('PATCH', `/api/collections/notes/records/${mine.id}`, {
      token: ann.token,
      body: { id: 'another12345678', n: 3 },
    });
    expect(otherId.status).toBe(400);
    expect(otherId.body.data.id.code).toBe('validation_pk_change');
    expect((await stored(mine.id)).n).toBe(2);
  });

  test('the realtime event carries the whole record as written', async () => {
    const mine = await note(ann, { title: 'live', slug: 'live', n: 1 });
    const pb = new PocketBase(s.url);
    pb.autoCancellation(false);
    pb.authStore.save(ann.token, null);
    const got: Record<string, any>[] = [];
    const unsubscribe = await pb.collection('notes').subscribe(mine.id, (e) => got.push(e));
    try {
      const res = await s.request('PATCH', `/api/collections/notes/records/${mine.id}`, { token: ann.token, body: { n: 5 } });
      expect(res.status).toBe(200);
      const until = Date.now() + 5000;
      while (got.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(got).toHaveLength(1);
      expect(got[0]?.action).toBe('update');
      expect(got[0]?.record).toEqual(res.body);
    } finally {
      await unsubscribe();
    }
  });

  test('concurrent updates of one record all answer 200, and the last one written is what is stored', async () => {
    const mine = await note(ann, { n: 0 });
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        s.request('PATCH', `/api/collections/notes/records/${mine.id}`, { token: ann.token, body: { n: i + 1, title: `t${i + 1}` } }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    const final = await stored(mine.id);
    // each update sets both fields together: the stored pair is one update's, never a mix
    expect(final.title).toBe(`t${final.n}`);
  });
});
