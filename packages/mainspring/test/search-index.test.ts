import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RecordReads } from '../src/core/records/reads.js';
import type { SqlValue } from '../src/storage/engine.js';
import { startServer, superuserToken, TEST_ENGINE, type TestServer } from './helpers/server.js';

/*
 * Searchable fields (`CREATE INDEX … USING search (…)`): `~` and `!~` served
 * by a trigram index answer exactly as the scan does, on the engine the
 * suite runs on. Two collections hold the same hand-written rows, one with
 * its text fields declared searchable and one without; every filter below
 * must list the same rows on both, and a few are worked out by hand. Then
 * ranked full-text search (`search()`, `sort=-@rank`).
 *
 * Case: both engines ignore the case of ASCII letters only (SQLite's LIKE;
 * PostgreSQL's ILIKE on the columns' "C" collation), so "É" and "é" differ.
 */

let s: TestServer;
let su: string;

const TITLES = [
  'Hello World', // 1
  'HELLO world', // 2
  'héllo wörld', // 3
  'HÉLLO WÖRLD', // 4
  'Straße', // 5
  'STRASSE', // 6
  '100% pure', // 7
  '100 percent', // 8
  'a_b_c', // 9
  'abc', // 10
  'a\\b\\c', // 11 (backslashes)
  'under_score_here', // 12
  '', // 13
  'İstanbul', // 14
  'istanbul', // 15
  'Kelvin \u212a sign', // 16 (KELVIN SIGN, whose lowercase is an ASCII k)
  'kelvin', // 17
  'ΣΑΣ σας', // 18
  'emoji 😀 text 😀😀', // 19
  "quote \" and 'single'", // 20
  'NEAR(a b) OR c*', // 21
  '* star -minus', // 22
  'ab', // 23
  'aaaaaaa', // 24
  '%%% ___', // 25
  'apple apple apple', // 26
  'apple pie with many other words in a long title', // 27
];
const BODIES = ['first body', 'Second BODY text', 'hello again', 'nothing', 'pure apple'];

/** Values after `~`/`!~` (as written in a filter's double-quoted text): patterns of every kind, hostile ones too. */
const VALUES = [
  'hello',
  'HELLO',
  'héllo',
  'HÉLLO',
  'wörld',
  'straße',
  'STRASSE',
  '100%',
  '100\\\\%',
  '100\\%',
  '% pure',
  'a_b',
  'a\\\\_b',
  '_b_',
  'h_llo',
  'ab',
  'a',
  '',
  'istanbul',
  'İst',
  'kelvin',
  '\u212a',
  'σας',
  'ΣΑΣ',
  '😀 t',
  '😀😀',
  '\\"',
  'NEAR(',
  '* star',
  '-minus',
  'abc%',
  '%abc',
  'a%c',
  'a\\\\b',
  'xyz',
  'aaa',
  'aaaa',
  'quote \\" and',
  "'single'",
  'r_e',
  'e%e',
  '%%%',
  '___',
  'apple',
  'ell',
  'el',
  'lo wo',
  'traß',
  'ÖRL',
  'örl',
  'ice',
  'be%ins',
];

async function ok(method: string, path: string, body?: unknown, token = su): Promise<any> {
  const res = await s.request(method, path, { body, token });
  if (res.status !== 200 && res.status !== 204) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** The `k` of every record a list answers, in order; fails unless it answers 200 with the total. */
async function ks(collection: string, filter: string, sort = 'k', token = su): Promise<number[]> {
  const q = new URLSearchParams({ perPage: '500', filter, sort });
  const res = await s.request('GET', `/api/collections/${collection}/records?${q}`, { token });
  if (res.status !== 200) throw new Error(`${collection} ${filter}: ${res.status} ${JSON.stringify(res.body)}`);
  expect(res.body.totalItems, filter).toBe(res.body.items.length);
  return res.body.items.map((r: { k: number }) => r.k);
}

/** Both collections answer `filter` alike; returns what they answer. */
async function same(filter: string): Promise<number[]> {
  const plain = await ks('plain', filter);
  const indexed = await ks('indexed', filter);
  expect(indexed, filter).toEqual(plain);
  return indexed;
}

/** The id of person `i` of the people collection of `suffix` (`plain` or `indexed`). */
const personId = (suffix: string, i: number) => `${suffix.slice(0, 1)}${String(i).padStart(14, '0')}`;

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  for (const suffix of ['plain', 'indexed']) {
    await ok('POST', '/api/collections', {
      name: `people_${suffix}`,
      type: 'base',
      listRule: '',
      viewRule: '',
      fields: [{ name: 'name', type: 'text' }],
      indexes: suffix === 'indexed' ? ['CREATE INDEX idx_people_name ON people_indexed USING search (name)'] : [],
    });
    const people = await ok('GET', `/api/collections/people_${suffix}`);
    for (const [i, name] of ['ann smith', 'bob jones', 'Cid SMITHSON'].entries()) {
      await ok('POST', `/api/collections/people_${suffix}/records`, { id: personId(suffix, i), name });
    }
    await ok('POST', '/api/collections', {
      name: suffix,
      type: 'base',
      listRule: 'public = true',
      viewRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'body', type: 'editor' },
        { name: 'k', type: 'number' },
        { name: 'public', type: 'bool' },
        { name: 'lead', type: 'relation', collectionId: people.id, maxSelect: 1 },
        { name: 'team', type: 'relation', collectionId: people.id, maxSelect: 3 },
      ],
      indexes: [],
    });
  }
  // the plain rows first; the indexed collection gets its rows, then its index (built by the migration
  // from the rows there), then more rows (kept in step by the writes)
  const row = (k: number, suffix: string) => {
    const p = (i: number) => personId(suffix, i);
    return {
      title: TITLES[k - 1],
      body: BODIES[k % BODIES.length],
      k,
      public: k % 3 !== 0,
      lead: p(k % 3),
      team: [p(k % 3), p((k + 1) % 3)].slice(0, 1 + (k % 2)),
    };
  };
  for (let k = 1; k <= TITLES.length; k++) await ok('POST', '/api/collections/plain/records', row(k, 'plain'));
  const half = Math.floor(TITLES.length / 2);
  for (let k = 1; k <= half; k++) await ok('POST', '/api/collections/indexed/records', row(k, 'indexed'));
  await ok('PATCH', '/api/collections/indexed', { indexes: ['CREATE INDEX idx_indexed_text ON indexed USING search (title, body)'] });
  for (let k = half + 1; k <= TITLES.length; k++) await ok('POST', '/api/collections/indexed/records', row(k, 'indexed'));
});

afterAll(async () => {
  await s?.close();
});

describe(`searchable fields on ${TEST_ENGINE}`, () => {
  test('the declaration round-trips through the collections API as PocketBase-style index text', async () => {
    const c = await ok('GET', '/api/collections/indexed');
    expect(c.indexes).toEqual(['CREATE INDEX `idx_indexed_text` ON `indexed` USING search (`title`, `body`)']);
  });

  test('a search index takes only text fields of a table, and only column names', async () => {
    const bad = [
      'CREATE INDEX idx_bad1 ON indexed USING search (k)',
      'CREATE INDEX idx_bad2 ON indexed USING search (lead)',
      'CREATE UNIQUE INDEX idx_bad3 ON indexed USING search (title)',
      'CREATE INDEX idx_bad4 ON indexed USING search (title DESC)',
      'CREATE INDEX idx_bad5 ON indexed USING gin (title)',
      "CREATE INDEX idx_bad6 ON indexed USING search (title) WHERE title != ''",
      'CREATE INDEX idx_bad7 ON indexed USING search (nope)',
    ];
    for (const sql of bad) {
      const res = await s.request('PATCH', '/api/collections/indexed', { body: { indexes: [sql] }, token: su });
      expect(res.status, sql).toBe(400);
      expect(res.body.data.indexes?.[0]?.code, sql).toMatch(/^validation_/);
    }
  });

  test('a few answers worked out by hand: ASCII case only, wildcards as written, short patterns scan', async () => {
    expect(await same('title ~ "hello"')).toEqual([1, 2]);
    expect(await same('title ~ "HÉLLO"')).toEqual([4]);
    expect(await same('title ~ "héllo"')).toEqual([3]);
    expect(await same('title ~ "100%"')).toEqual([7, 8]); // a `%` of the user's: a pattern, "starts with 100"
    expect(await same('title ~ "100\\%"')).toEqual([7]); // an escaped `%`: the character itself
    expect(await same('title ~ "a_b"')).toEqual([9]); // `_` is a character here, not a wildcard
    expect(await same('title ~ "ab"')).toEqual([10, 23]); // two characters: no trigram, the scan
    expect(await same('title ~ "kelvin"')).toEqual([16, 17]);
    expect(await same('title ~ "K sign"')).toEqual([16]);
    expect(await same('title ~ "k sign"')).toEqual([]); // the Kelvin sign is no k to LIKE
    expect(await same('title ~ "aaaa"')).toEqual([24]);
    expect(await same('title !~ "hello"')).toEqual(
      Array.from({ length: TITLES.length }, (_, i) => i + 1).filter((k) => k !== 1 && k !== 2),
    );
  });

  test('every pattern, with `~` and `!~`, on one field, on either field, and through relations, answers as the scan does', async () => {
    await same(`title ~ "${'abc%'.repeat(300)}"`);
    await same(`title !~ "${'%a_b'.repeat(200)}"`);
    for (const v of VALUES) {
      await same(`title ~ "${v}"`);
      await same(`title !~ "${v}"`);
      await same(`body ~ "${v}" || title ~ "${v}"`);
      await same(`title ~ "${v}" && body !~ "${v}"`);
      await same(`lead.name ~ "${v}"`);
      await same(`lead.name !~ "${v}"`);
      await same(`team.name ?~ "${v}"`);
      await same(`team.name ~ "${v}"`);
    }
    // some 900 requests: far more than the default's time on a busy machine
  }, 300_000);

  test('writes keep the index in step, in their transaction: updates, deletes, a failed write', async () => {
    const created = await ok('POST', '/api/collections/indexed/records', { title: 'zebra crossing', k: 100, public: true });
    expect(await ks('indexed', 'title ~ "zebra"')).toEqual([100]);
    await ok('PATCH', `/api/collections/indexed/records/${created.id}`, { title: 'giraffe neck' });
    expect(await ks('indexed', 'title ~ "zebra"')).toEqual([]);
    expect(await ks('indexed', 'title ~ "giraffe"')).toEqual([100]);
    // a batch that fails rolls the index back with the rows
    const batch = await s.request('POST', '/api/batch', {
      token: su,
      body: {
        requests: [
          { method: 'PATCH', url: `/api/collections/indexed/records/${created.id}`, body: { title: 'okapi' } },
          { method: 'POST', url: '/api/collections/indexed/records', body: { k: 'not a number' } },
        ],
      },
    });
    expect(batch.status).toBe(400);
    expect(await ks('indexed', 'title ~ "okapi"')).toEqual([]);
    expect(await ks('indexed', 'title ~ "giraffe"')).toEqual([100]);
    await ok('DELETE', `/api/collections/indexed/records/${created.id}`);
    expect(await ks('indexed', 'title ~ "giraffe"')).toEqual([]);
  });

  test('renames of the collection and of its fields keep the index working', async () => {
    await ok('POST', '/api/collections', {
      name: 'renamed_a',
      type: 'base',
      listRule: '',
      fields: [
        { name: 'words', type: 'text' },
        { name: 'k', type: 'number' },
      ],
      indexes: ['CREATE INDEX idx_renamed_words ON renamed_a USING search (words)'],
    });
    await ok('POST', '/api/collections/renamed_a/records', { words: 'the quick brown fox', k: 1 });
    const c = await ok('GET', '/api/collections/renamed_a');
    await ok('PATCH', `/api/collections/${c.id}`, {
      name: 'renamed_b',
      fields: c.fields.map((f: { name: string }) => (f.name === 'words' ? { ...f, name: 'text' } : f)),
    });
    const after = await ok('GET', '/api/collections/renamed_b');
    expect(after.indexes).toEqual(['CREATE INDEX `idx_renamed_words` ON `renamed_b` USING search (`text`)']);
    await ok('POST', '/api/collections/renamed_b/records', { text: 'a lazy brown dog', k: 2 });
    expect(await ks('renamed_b', 'text ~ "brown"')).toEqual([1, 2]);
    expect(await ks('renamed_b', 'search(text, "quick")')).toEqual([1]);
    await ok('DELETE', `/api/collections/${c.id}`);
    // nothing of the index is left behind (SQLite: its FTS5 tables)
    const tables = await s.app.engine.all<{ name: string }>(s.app.engine.dialect.listTables());
    expect(tables.map((t) => t.name).filter((n) => n.includes('renamed'))).toEqual([]);
    if (TEST_ENGINE === 'sqlite') {
      const left = await s.app.engine.all("SELECT name FROM sqlite_master WHERE name LIKE '%renamed%'");
      expect(left).toEqual([]);
    }
  });
});

describe(`a page sorted by an index walks it or reads the candidates, alike on ${TEST_ENGINE}`, () => {
  // 600 rows in each of two collections, one searchable: "dense" in every third title (200, some in capitals),
  // "middle" in every thirtieth (20), "rare" in 3; n sorts them in another order than insertion, two rows to each
  // n (ties go to the insertion order); a guest's rule hides every fourth
  const ROWS = 600;
  const title = (i: number) =>
    [i % 3 === 0 ? (i % 9 === 0 ? 'DENSE' : 'dense') : 'dens e', i % 30 === 0 ? 'middle' : '', i % 200 === 7 ? 'rare' : ''].join(' ');
  const row = (i: number) => ({ title: title(i), n: Math.floor(((i * 37) % ROWS) / 2), k: i, public: i % 4 !== 1 });

  beforeAll(async () => {
    for (const suffix of ['plain', 'indexed']) {
      const name = `walk_${suffix}`;
      await ok('POST', '/api/collections', {
        name,
        type: 'base',
        listRule: 'public = true',
        fields: [
          { name: 'title', type: 'text' },
          { name: 'n', type: 'number' },
          { name: 'k', type: 'number' },
          { name: 'public', type: 'bool' },
        ],
        indexes: [
          `CREATE INDEX idx_${name}_n ON ${name} (n)`,
          ...(suffix === 'indexed' ? [`CREATE INDEX idx_${name}_s ON ${name} USING search (title)`] : []),
        ],
      });
      for (let from = 1; from <= ROWS; from += 50) {
        const requests = Array.from({ length: 50 }, (_, j) => ({
          method: 'POST',
          url: `/api/collections/${name}/records`,
          body: row(from + j),
        }));
        await ok('POST', '/api/batch', { requests });
      }
    }
  }, 120_000);

  /** The `k` of a page's records and its total, as the collection of `suffix` answers `q`. */
  async function page(suffix: string, q: Record<string, string>, token?: string) {
    const res = await s.request('GET', `/api/collections/walk_${suffix}/records?${new URLSearchParams(q)}`, { token });
    if (res.status !== 200) throw new Error(`${JSON.stringify(q)}: ${res.status} ${JSON.stringify(res.body)}`);
    return { total: res.body.totalItems, ks: res.body.items.map((r: { k: number }) => r.k) };
  }

  /** Both collections answer `q` alike, for a superuser and for a guest (through the rule); returns the superuser's answer. */
  async function alike(q: Record<string, string>) {
    let first: { total: number; ks: number[] } | undefined;
    for (const token of [su, undefined]) {
      const plain = await page('plain', q, token);
      expect(await page('indexed', q, token), `${JSON.stringify(q)} as ${token ? 'superuser' : 'guest'}`).toEqual(plain);
      first ??= plain;
    }
    return first as { total: number; ks: number[] };
  }

  test('dense and rare words, sorted by the indexed field either way, page after page', async () => {
    for (const word of ['dense', 'middle', 'rare', 'DeNsE', 'nowhere'])
      for (const sort of ['n', '-n', 'n,-k'])
        for (const [perPage, pageNo] of [
          [5, 1],
          [5, 3],
          [7, 20],
          [50, 2],
          [40, 100],
          [1000, 1],
        ]) {
          await alike({ filter: `title ~ "${word}"`, sort, perPage: String(perPage), page: String(pageNo) });
        }
    // a few worked out by hand: every third row has "dense"; n = floor((37k mod 600) / 2), ties by insertion
    const dense = Array.from({ length: ROWS }, (_, i) => i + 1).filter((k) => k % 3 === 0);
    const byN = (a: number, b: number) => row(a).n - row(b).n || a - b;
    const first = await alike({ filter: 'title ~ "dense"', sort: '-n', perPage: '5', page: '3' });
    expect(first).toEqual({ total: 200, ks: [...dense].sort(byN).reverse().slice(10, 15) });
    expect(await alike({ filter: 'title ~ "rare"', sort: 'n', perPage: '2' })).toEqual({
      total: 3,
      ks: [7, 207, 407].sort(byN).slice(0, 2),
    });
  }, 300_000);

  test('beside other conditions, under ||, negated, twice: the same answers', async () => {
    const filters = [
      'title ~ "dense" && k > 100',
      'k < 300 && title ~ "middle"',
      'title !~ "dense"',
      'title ~ "dense" || k = 5',
      '(title ~ "dense" || title ~ "rare") && k < 300',
      'title ~ "dense" && title ~ "middle"',
      'title ~ "dense" && title !~ "middle"',
    ];
    for (const filter of filters)
      for (const sort of ['-n', 'n'])
        for (const [perPage, pageNo] of [
          [5, 1],
          [5, 4],
          [30, 3],
        ]) {
          await alike({ filter, sort, perPage: String(perPage), page: String(pageNo) });
        }
  }, 120_000);

  test('the page walks only where it may, and the probe chooses by the candidates and the page', async () => {
    if (TEST_ENGINE !== 'sqlite') return; // PostgreSQL's planner chooses from pg_trgm's statistics
    const reads = (s.app.records as unknown as { reads: RecordReads }).reads;
    const c = s.app.records.collection('walk_indexed');
    const source = (filter: string, sort?: string) => reads.source(c, { filter, sort }, null);
    // a page of 5 ending at row `need` walks where C² > need·N/30, N = 600 rows: 200 and 20 walk at 5, 20 not at 50
    const walks = async (filter: string, need: number) => {
      const walk = source(filter, '-n').walk;
      if (!walk) throw new Error(`${filter}: no walk`);
      const [rows = []] = await s.app.engine.read([{ sql: walk.probe(String(need)), params: source(filter, '-n').params.values }]);
      return rows.length === 1;
    };
    expect(await walks('title ~ "dense"', 5)).toBe(true);
    expect(await walks('title ~ "middle"', 5)).toBe(true);
    expect(await walks('title ~ "middle"', 50)).toBe(false);
    expect(await walks('title ~ "rare"', 5)).toBe(false);
    expect(await walks('k > 3 && title ~ "dense"', 5)).toBe(true);
    // no walk: not sorted by an index, negated, under ||, two of them, beside search(), too short for the index
    expect(source('title ~ "dense"', '-n').walk).toBeDefined();
    expect(source('title ~ "dense"', 'k').walk).toBeUndefined();
    expect(source('title ~ "dense"').walk).toBeUndefined();
    expect(source('title !~ "dense"', 'n').walk).toBeUndefined();
    expect(source('title ~ "dense" || k = 5', 'n').walk).toBeUndefined();
    expect(source('title ~ "dense" && title ~ "middle"', 'n').walk).toBeUndefined();
    expect(source('title ~ "dense" && search(title, "middle")', 'n').walk).toBeUndefined();
    expect(source('title ~ "de"', 'n').walk).toBeUndefined();
  });
});

describe(`ranked full-text search on ${TEST_ENGINE}`, () => {
  test('search() finds the records that hold every word, through the list rule, best first with -@rank', async () => {
    // k 26 has "apple" three times in three words, k 27 once among many: 26 ranks first; k 5's body "pure apple"
    expect(await ks('indexed', 'search(title, "apple")', '-@rank')).toEqual([26, 27]);
    // the bodies cycle with k % 5; "pure apple" is the fifth
    expect(await ks('indexed', 'search(title, body, "apple")', 'k')).toEqual([4, 9, 14, 19, 24, 26, 27]);
    expect(await ks('indexed', 'search(title, "apple pie")', '-@rank')).toEqual([27]);
    expect(await ks('indexed', 'search(title, "APPLE") = true && k > 26')).toEqual([27]);
    expect(await ks('indexed', 'search(title, "apple") = false && k > 25', 'k')).toEqual([]);
    // the list rule (public = true, so k % 3 != 0) still applies for a guest: k 27 is not public
    const guest = await s.request('GET', `/api/collections/indexed/records?${new URLSearchParams({ filter: 'search(title, "apple")' })}`);
    expect(guest.status).toBe(200);
    expect(guest.body.items.map((r: { k: number }) => r.k)).toEqual([26]);
  });

  test('best first pages through the ranked matches whole: ranks, ties, the rule, pages, and search() under || or = false', async () => {
    // ten words each; "fox" k times among them at most, so more foxes rank higher on both engines; equal titles tie
    const title = (foxes: number) => [...Array(foxes).fill('fox'), ...Array(10 - foxes).fill('dog')].join(' ');
    const foxes = [1, 5, 3, 5, 2, 0, 4, 3, 1, 6]; // the rows' k is their place here, 1 to 10
    await ok('POST', '/api/collections', {
      name: 'ranked',
      type: 'base',
      listRule: 'public = true',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'k', type: 'number' },
        { name: 'public', type: 'bool' },
      ],
      indexes: ['CREATE INDEX idx_ranked_title ON ranked USING search (title)'],
    });
    for (const [i, n] of foxes.entries()) {
      await ok('POST', '/api/collections/ranked/records', { title: title(n), k: i + 1, public: i + 1 !== 7 });
    }
    // most foxes first; equal ranks (2 and 4, 3 and 8, 1 and 9) newest first, as the tiebreak follows the last key
    expect(await ks('ranked', 'search(title, "fox")', '-@rank')).toEqual([10, 4, 2, 7, 8, 3, 5, 9, 1]);
    expect(await ks('ranked', 'search(title, "fox")', '@rank')).toEqual([1, 9, 5, 3, 8, 7, 2, 4, 10]);
    // a guest through the rule (7 is not public), a page at a time: each row once, the total on every page
    const pages: number[][] = [];
    for (const page of [1, 2, 3, 4]) {
      const q = new URLSearchParams({ filter: 'search(title, "fox") && k > 0', sort: '-@rank', perPage: '3', page: String(page) });
      const res = await s.request('GET', `/api/collections/ranked/records?${q}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ page, perPage: 3, totalItems: 8, totalPages: 3 });
      pages.push(res.body.items.map((r: { k: number }) => r.k));
    }
    expect(pages).toEqual([[10, 4, 2], [8, 3, 5], [9, 1], []]);
    // under ||, rows that do not match are still listed (they have no rank); = false is the rows without the words
    expect((await ks('ranked', 'search(title, "fox") || k = 6', '-@rank')).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await ks('ranked', 'search(title, "fox") = false', '-@rank')).toEqual([6]);
    // two searches (ranked per row, as the join takes one): by the first, every row meeting both (only 6 has no fox, and every row a dog)
    expect(await ks('ranked', 'search(title, "fox") && search(title, "dog")', '-@rank')).toEqual([10, 4, 2, 7, 8, 3, 5, 9, 1]);
  });

  test('a list compiled before its search index was dropped is read again against the schema now, not a 500', async () => {
    await ok('POST', '/api/collections', {
      name: 'dropping',
      type: 'base',
      listRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'k', type: 'number' },
      ],
      indexes: ['CREATE INDEX idx_dropping_title ON dropping USING search (title)'],
    });
    for (const [k, title] of ['red fox', 'blue fox', 'green owl'].entries()) {
      await ok('POST', '/api/collections/dropping/records', { title, k: k + 1 });
    }
    // the state a request is in when the index goes between its compile and its read: it holds the schema of before
    const before = s.app.records.collection('dropping');
    const c = await ok('GET', '/api/collections/dropping');
    await ok('PATCH', `/api/collections/${c.id}`, { indexes: [] });
    const page = await s.app.records.list(before, { filter: 'title ~ "fox"', sort: 'k' }, null);
    expect(page.items.map((r) => (r as { k: number }).k)).toEqual([1, 2]);
    expect(page.totalItems).toBe(2);
    // deleted meanwhile: a 404, as for a list asked after it
    const again = s.app.records.collection('dropping');
    await ok('DELETE', `/api/collections/${c.id}`);
    await expect(s.app.records.list(again, { filter: 'title ~ "fox"' }, null)).rejects.toMatchObject({ status: 404 });
  });

  test('hostile text is words, never query syntax: 200s, never a 500', async () => {
    const texts = [
      '"',
      '""',
      'NEAR(',
      'NEAR(a b)',
      '*',
      'a*',
      '-',
      '-apple',
      'AND',
      'OR NOT',
      '(',
      ')',
      '{title}',
      'title:apple',
      '^a',
      "'",
      'a\\b',
      '&',
      '!',
      ':',
      '',
    ];
    for (const t of texts) {
      // (the filter language unescapes only \" inside "…")
      const filter = `search(title, body, "${t.replaceAll('"', '\\"')}")`;
      const res = await s.request('GET', `/api/collections/indexed/records?${new URLSearchParams({ filter, sort: '-@rank' })}`, {
        token: su,
      });
      expect(res.status, filter).toBe(200);
    }
  });

  test('mistakes are 400s in the PocketBase error shape', async () => {
    const bad: Record<string, string>[] = [
      { filter: 'search(k, "x")' },
      { filter: 'search(title)' },
      { filter: 'search(lead.name, "x")' },
      { filter: 'search(title, title)' },
      { filter: 'search(nope, "x")' },
      { filter: 'title ~ "x"', sort: '-@rank' },
      { filter: `search(title, "${'w '.repeat(33)}")` },
      // a call alone must be a condition: search() is, a distance or a date text is not
      { filter: 'geoDistance(1, 2, 3, 4)' },
      { filter: 'strftime("%Y")' },
    ];
    for (const q of bad) {
      const res = await s.request('GET', `/api/collections/indexed/records?${new URLSearchParams(q)}`, { token: su });
      expect(res.status, JSON.stringify(q)).toBe(400);
      expect(res.body).toMatchObject({ status: 400, message: expect.any(String), data: expect.any(Object) });
    }
    const plain = await s.request('GET', `/api/collections/plain/records?${new URLSearchParams({ filter: 'search(title, "x")' })}`, {
      token: su,
    });
    expect(plain.status).toBe(400);
    expect(plain.body.message).toMatch(/search/);
  });
});

describe(`the index is what serves \`~\` on ${TEST_ENGINE}`, () => {
  test('the query plan reads the trigram index', async () => {
    const e = s.app.engine;
    const d = e.dialect;
    if (d.likeIndexed) {
      const params: SqlValue[] = [];
      const param = (v: SqlValue) => {
        params.push(v);
        return d.param(params.length);
      };
      const index = { index: 'idx_indexed_text', table: 'indexed', column: 'title', row: 't.rowid' };
      const cond = d.likeIndexed('t."title"', '%hello%', false, index, param);
      const plan = await e.all<{ detail: string }>(`EXPLAIN QUERY PLAN SELECT t.k FROM indexed t WHERE ${cond?.sql}`, params);
      expect(plan.map((p) => p.detail).join('\n')).toMatch(/VIRTUAL TABLE INDEX/);
      // and a list request goes through it: emptied, the index finds nothing, even where LIKE would
      const fts = '"_ms_fts_idx_indexed_text$t"';
      await e.run(`INSERT INTO ${fts}(${fts}) VALUES ('delete-all')`);
      expect(await ks('indexed', 'title ~ "hello"')).toEqual([]);
      expect(await ks('indexed', 'title ~ "el"')).toEqual([1, 2, 16, 17]); // under 3 characters: the scan
      await e.run(`INSERT INTO ${fts}(${fts}) VALUES ('rebuild')`);
      expect(await ks('indexed', 'title ~ "hello"')).toEqual([1, 2]);
    } else {
      // PostgreSQL: ILIKE itself uses the pg_trgm GIN index (a tiny table is scanned unless scans are off)
      const plan = await e.transaction(async (tx) => {
        await tx.run('SET LOCAL enable_seqscan = off');
        return tx.all<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT k FROM indexed WHERE title ILIKE $1 ESCAPE '\\'`, ['%hello%']);
      });
      expect(plan.map((p) => p['QUERY PLAN']).join('\n')).toMatch(/Index Scan on idx_indexed_text/);
    }
  });
});
