import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, superuserToken, TEST_ENGINE, type TestServer } from './helpers/server.js';

/**
 * What the database must hold whatever runs beside a write (docs/DESIGN.md,
 * "PostgreSQL writes"): a relation never names a record deleted at the same
 * moment, a unique field holds one record's value, and `field+` stays within
 * the field's max, however many requests race. On PostgreSQL the writes are
 * concurrent transactions; on SQLite they take turns on the one writer, and
 * the answers must be the same.
 */

let s: TestServer;
let su: string;
let parentsId = '';

const post = (collection: string, body: unknown) => s.request('POST', `/api/collections/${collection}/records`, { token: su, body });
const del = (collection: string, id: string) => s.request('DELETE', `/api/collections/${collection}/records/${id}`, { token: su });

async function collection(body: Record<string, unknown>): Promise<string> {
  const made = await s.request('POST', '/api/collections', { token: su, body: { type: 'base', ...body } });
  expect(made.status, JSON.stringify(made.body)).toBe(200);
  return made.body.id as string;
}

/** Every record of a collection, as the superuser sees them. */
async function all(name: string): Promise<Record<string, any>[]> {
  const res = await s.request('GET', `/api/collections/${name}/records?perPage=1000&skipTotal=1`, { token: su });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.items;
}

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  parentsId = await collection({ name: 'parents', fields: [{ name: 'name', type: 'text' }] });
  await collection({
    name: 'children',
    fields: [{ name: 'parent', type: 'relation', collectionId: parentsId, maxSelect: 1 }],
  });
  await collection({
    name: 'owned',
    fields: [{ name: 'parent', type: 'relation', collectionId: parentsId, maxSelect: 1, cascadeDelete: true }],
  });
  await collection({
    name: 'tags',
    fields: [{ name: 'slug', type: 'text' }],
    indexes: ['CREATE UNIQUE INDEX idx_tags_slug ON tags (slug)'],
  });
  await collection({ name: 'stock', fields: [{ name: 'n', type: 'number', min: 0, max: 100 }] });
}, 60_000);

afterAll(async () => {
  await s?.close();
});

describe(`write races (${TEST_ENGINE})`, () => {
  test('records created with a relation while its target is deleted: no relation is left naming a deleted record', async () => {
    for (const target of ['children', 'owned']) {
      const parents = await Promise.all(Array.from({ length: 8 }, (_, i) => post('parents', { name: `p${i}` })));
      const ids = parents.map((p) => p.body.id as string);
      // records already naming each parent make its delete a long transaction (each is unlinked or deleted)
      for (const id of ids) await Promise.all(Array.from({ length: 25 }, () => post(target, { parent: id })));
      // each parent is deleted while more records naming it are created
      const answers = await Promise.all(
        ids.flatMap((id) => [del('parents', id), ...Array.from({ length: 15 }, () => post(target, { parent: id }))]),
      );
      for (const a of answers) expect([200, 204, 400], JSON.stringify(a.body)).toContain(a.status);
      // a create either came first (the delete unlinked or cascaded it) or after (a 400 naming the relation)
      for (const a of answers.filter((x) => x.status === 400)) expect(Object.keys(a.body.data)).toEqual(['parent']);
      const left = new Set((await all('parents')).map((p) => p.id));
      for (const id of ids) expect(left.has(id)).toBe(false);
      for (const child of await all(target)) expect(child.parent === '' || left.has(child.parent), JSON.stringify(child)).toBe(true);
    }
  }, 120_000);

  test('30 concurrent creates of one unique value: exactly one commits, the others answer 400 naming the field', async () => {
    const answers = await Promise.all(Array.from({ length: 30 }, () => post('tags', { slug: 'same' })));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 200)) {
      expect(a.status).toBe(400);
      expect(a.body.data.slug.code).toBe('validation_not_unique');
    }
    expect((await all('tags')).filter((t) => t.slug === 'same')).toHaveLength(1);
  }, 60_000);

  test('60 concurrent {"n+": 1} on 90 with max 100: ten answer 200, the rest 400, and n ends at 100', async () => {
    const rec = await post('stock', { n: 90 });
    expect(rec.status).toBe(200);
    const answers = await Promise.all(
      Array.from({ length: 60 }, () =>
        s.request('PATCH', `/api/collections/stock/records/${rec.body.id}`, { token: su, body: { 'n+': 1 } }),
      ),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(10);
    for (const a of answers.filter((x) => x.status !== 200)) {
      expect(a.status, JSON.stringify(a.body)).toBe(400);
      expect(Object.keys(a.body.data)).toEqual(['n']);
    }
    const after = await s.request('GET', `/api/collections/stock/records/${rec.body.id}`, { token: su });
    expect(after.body.n).toBe(100);
  }, 60_000);
});
