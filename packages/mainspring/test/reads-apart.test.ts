import { afterAll, beforeAll, expect, test } from 'vitest';
import { LoopBudget, type ReaderPool } from '../src/storage/sqlite/readers.js';
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
    // a range of the index finds the rows; the unindexed title is checked on each of them
    expect(await apart({ filter: 'n >= 5 && n < 8 && title != "item 6"', sort: '-n' })).toBe(false);
    expect((await list({ filter: 'n >= 5 && n < 8 && title != "item 6"', sort: '-n' })).items.map((r: { n: number }) => r.n)).toEqual([
      7, 5,
    ]);
    // none of them needed a reader: none was started
    expect(pool.stats().readers).toBe(0);
    // text matching and an unindexed field scan, a relation path joins, a sort on an unindexed field sorts every row
    const scans: Record<string, string>[] = [
      { filter: 'title ~ "item 1"' },
      { filter: 'title = "item 3"' },
      // no seek ANDed at the top: an OR of an indexed and an unindexed column scans, as does `!=`
      { filter: 'n = 3 || title = "item 4"' },
      { filter: 'n != 3 && title != "item 4"' },
      { filter: 'n >= 5 && n < 8 && title ~ "item"' },
      { filter: 'parent.n > 0' },
      { sort: 'title' },
    ];
    for (const query of scans) {
      expect(await apart(query), JSON.stringify(query)).toBe(true);
    }
    expect((await list({ filter: 'title ~ "item 1"' })).totalItems).toBe(11);
  },
);

test.skipIf(TEST_ENGINE !== 'sqlite')(
  'SQLite: once a light list of a collection held the event loop past its budget, its light lists run apart for a while',
  async () => {
    const pool = readers();
    if (!pool) throw new Error('the SQLite engine has no reader pool');
    const engine = s.app.engine as unknown as { loopBudget: LoopBudget };
    const kept = engine.loopBudget;
    let now = 1_000_000;
    // a budget of 0 ms: the first light list counts as long
    engine.loopBudget = new LoopBudget(0, 60_000, () => now);
    try {
      const runs = () => pool.stats().runs;
      const before = runs();
      await list({ filter: 'n >= 5 && n < 8', sort: '-n' });
      expect(runs()).toBe(before);
      const second = await list({ filter: 'n >= 5 && n < 8', sort: '-n' });
      expect(runs()).toBe(before + 1);
      expect(second.totalItems).toBe(3);
      // the cool-down over, the loop is tried again
      now += 60_001;
      await list({ filter: 'n >= 5 && n < 8', sort: '-n' });
      expect(runs()).toBe(before + 1);
    } finally {
      engine.loopBudget = kept;
    }
  },
);
