import { afterAll, beforeAll, expect, test } from 'vitest';
import type { ReaderPool } from '../src/storage/sqlite/readers.js';
import { startServer, superuserToken, TEST_ENGINE, type TestServer } from './helpers/server.js';

/*
 * Which reads run apart (Engine.read): on SQLite, a list that walks at most
 * one index (every condition and sort key on a column an index leads with)
 * is read on the event loop, where it costs no round trip; one that scans,
 * matches text or joins runs in a reader process. PostgreSQL runs every
 * read on its own server, so there is nothing to tell apart there.
 */

let s: TestServer;
let su: string;
const readers = () => (s.app.engine as unknown as { readers: ReaderPool | null }).readers;

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  const made = await s.request('POST', '/api/collections', {
    token: su,
    body: {
      name: 'items',
      type: 'base',
      listRule: '',
      fields: [
        { name: 'n', type: 'number' },
        { name: 'title', type: 'text' },
      ],
      indexes: ['CREATE INDEX idx_items_n ON items (n)'],
    },
  });
  expect(made.status).toBe(200);
  const fields = [...made.body.fields, { name: 'parent', type: 'relation', collectionId: made.body.id, maxSelect: 1 }];
  expect((await s.request('PATCH', '/api/collections/items', { token: su, body: { fields } })).status).toBe(200);
  for (let i = 0; i < 20; i++) await s.request('POST', '/api/collections/items/records', { token: su, body: { n: i, title: `item ${i}` } });
});

afterAll(async () => {
  await s?.close();
});

const list = async (query: Record<string, string>) => {
  const res = await s.request('GET', `/api/collections/items/records?${new URLSearchParams(query)}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
};

test.skipIf(TEST_ENGINE !== 'sqlite')(
  'SQLite: a list an index serves stays on the event loop; scans, text matches and joins go to a reader',
  async () => {
    const pool = readers();
    if (!pool) throw new Error('the SQLite engine has no reader pool');
    const apart = async (query: Record<string, string>) => {
      const before = pool.stats().runs;
      await list(query);
      return pool.stats().runs > before;
    };
    expect(await apart({ filter: 'n >= 5 && n < 8', sort: '-n' })).toBe(false);
    expect(await apart({ filter: 'id != ""', sort: 'n' })).toBe(false);
    expect(await apart({})).toBe(false);
    // none of them needed a reader: none was started
    expect(pool.stats().readers).toBe(0);
    // text matching and an unindexed field scan, a relation path joins, a sort on an unindexed field sorts every row
    const scans: Record<string, string>[] = [
      { filter: 'title ~ "item 1"' },
      { filter: 'title = "item 3"' },
      { filter: 'parent.n > 0' },
      { sort: 'title' },
    ];
    for (const query of scans) {
      expect(await apart(query), JSON.stringify(query)).toBe(true);
    }
    expect((await list({ filter: 'title ~ "item 1"' })).totalItems).toBe(11);
  },
);
