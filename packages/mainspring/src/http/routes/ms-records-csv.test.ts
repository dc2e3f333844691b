import { readdirSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, superuserToken, type TestServer } from '../../../test/helpers/server.js';

/**
 * CSV out and in: `GET /api/ms/collections/{c}/export.csv` under the
 * caller's list rule and filter, and `POST /api/ms/collections/{c}/import`
 * (superusers), on the engine the suite runs on. Exports are read back
 * with csv-parse, and compared with values written here by hand.
 */

let s: TestServer;
let su: string;
let ann: { token: string; id: string };
let bob: { token: string; id: string };
let cats: string[];
const items: Record<string, Record<string, unknown>> = {};

const CSV = { 'content-type': 'text/csv' };
const get = (path: string, token = su) => fetch(s.url + path, { headers: token ? { authorization: token } : {} });
const exportRows = async (path: string, token = su): Promise<string[][]> => {
  const res = await get(path, token);
  expect(res.status, await res.clone().text()).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
  return parse(await res.text(), { relax_column_count: false });
};
const importCsv = (collection: string, body: string, query = '', headers: Record<string, string> = CSV, token = su) =>
  s.request('POST', `/api/ms/collections/${collection}/import${query}`, { token, raw: body, headers });

async function signUp(email: string): Promise<{ token: string; id: string }> {
  const body = { email, password: 'password-123', passwordConfirm: 'password-123' };
  expect((await s.request('POST', '/api/collections/users/records', { body })).status).toBe(200);
  const auth = await s.request('POST', '/api/collections/users/auth-with-password', {
    body: { identity: email, password: 'password-123' },
  });
  return { token: auth.body.token, id: auth.body.record.id };
}

/** The fields of `items` (and of its empty copies), relations pointing at `cats` and `users`. */
function itemFields(catsId: string, usersId: string) {
  return [
    { name: 'title', type: 'text' },
    { name: 'code', type: 'text' },
    { name: 'n', type: 'number' },
    { name: 'flag', type: 'bool' },
    { name: 'due', type: 'date' },
    { name: 'tags', type: 'select', values: ['red', 'green', 'blue, dark', 'say "hi"'], maxSelect: 4 },
    { name: 'cat', type: 'relation', collectionId: catsId, maxSelect: 1 },
    { name: 'cats', type: 'relation', collectionId: catsId, maxSelect: 5 },
    { name: 'data', type: 'json' },
    { name: 'pics', type: 'file', maxSelect: 3, maxSize: 1000 },
    { name: 'spot', type: 'geoPoint' },
    { name: 'owner', type: 'relation', collectionId: usersId, maxSelect: 1 },
    { name: 'secret', type: 'text', hidden: true },
    { name: 'created', type: 'autodate', onCreate: true, onUpdate: false },
    { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
  ];
}

async function createCollection(body: Record<string, unknown>): Promise<string> {
  const r = await s.request('POST', '/api/collections', { token: su, body });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.id;
}

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  ann = await signUp('ann@example.com');
  bob = await signUp('bob@example.com');
  const catsId = await createCollection({ name: 'cats', type: 'base', listRule: '', fields: [{ name: 'name', type: 'text' }] });
  cats = [];
  for (const name of ['one', 'two'])
    cats.push((await s.request('POST', '/api/collections/cats/records', { token: su, body: { name } })).body.id);
  const usersId = (await s.request('GET', '/api/collections/users', { token: su })).body.id;
  const rule = 'owner = @request.auth.id';
  await createCollection({
    name: 'items',
    type: 'base',
    listRule: rule,
    viewRule: rule,
    fields: itemFields(catsId, usersId),
    indexes: ['CREATE UNIQUE INDEX `idx_items_code` ON `items` (`code`)'],
  });
  await createCollection({ name: 'items_copy', type: 'base', fields: itemFields(catsId, usersId) });
  await createCollection({ name: 'items_sep', type: 'base', fields: itemFields(catsId, usersId) });
  await createCollection({
    name: 'simple',
    type: 'base',
    fields: [
      { name: 'title', type: 'text', max: 100 },
      { name: 'n', type: 'number' },
    ],
  });
  await createCollection({
    name: 'keyed',
    type: 'base',
    fields: [
      { name: 'code', type: 'text' },
      { name: 'n', type: 'number' },
    ],
    indexes: ['CREATE UNIQUE INDEX `idx_keyed_code` ON `keyed` (`code`)'],
  });

  // i1 with two uploaded files (multipart), i2 and i3 as JSON
  const form = new FormData();
  const i1 = {
    title: 'Plain',
    code: 'c1',
    n: '1.5',
    flag: 'true',
    due: '2024-05-06 07:08:09.123Z',
    tags: ['red', 'blue, dark'],
    cat: cats[0],
    cats,
    data: JSON.stringify({ a: [1, 'x'], b: null }),
    spot: JSON.stringify({ lon: 2.35, lat: 48.85 }),
    owner: ann.id,
    secret: 's1',
  };
  // a form sends a list as the same key repeated
  for (const [k, v] of Object.entries(i1)) for (const one of [v].flat()) form.append(k, one as string);
  form.append('pics', new Blob(['first']), 'a.txt');
  form.append('pics', new Blob(['second']), 'b.txt');
  const created1 = await fetch(`${s.url}/api/collections/items/records`, { method: 'POST', headers: { authorization: su }, body: form });
  expect(created1.status, await created1.clone().text()).toBe(200);
  items.i1 = (await created1.json()) as Record<string, unknown>;
  const json = [
    ['i2', { title: 'Multi\nline, "quoted"\r\nend', code: 'c2', n: 0, flag: false, tags: [], data: 'just text', owner: bob.id }],
    ['i3', { title: '=1+2 Ünïcödé ✓', code: 'c3', n: -3, data: null, tags: ['say "hi"'], cats: [cats[1]], owner: ann.id }],
  ] as const;
  for (const [key, body] of json) {
    const r = await s.request('POST', '/api/collections/items/records', { token: su, body });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    items[key] = r.body;
  }
});

afterAll(async () => {
  await s?.close();
});

const HEADER = [
  'id',
  'title',
  'code',
  'n',
  'flag',
  'due',
  'tags',
  'cat',
  'cats',
  'data',
  'pics',
  'spot',
  'owner',
  'secret',
  'created',
  'updated',
];

/** The row each item exports as, written out by hand from what was created above. */
function expectedRow(key: 'i1' | 'i2' | 'i3', separator: string | null = null, withSecret = true): string[] {
  const r = items[key] as Record<string, unknown>;
  const list = (v: string[]) => (v.length === 0 ? '' : separator === null ? JSON.stringify(v) : v.join(separator));
  const byKey = {
    i1: [
      'Plain',
      'c1',
      '1.5',
      'true',
      '2024-05-06 07:08:09.123Z',
      list(['red', 'blue, dark']),
      cats[0],
      list(cats),
      '{"a":[1,"x"],"b":null}',
      list(r.pics as string[]),
      '{"lon":2.35,"lat":48.85}',
      ann.id,
      's1',
    ],
    i2: ['Multi\nline, "quoted"\r\nend', 'c2', '0', 'false', '', '', '', '', '"just text"', '', '{"lon":0,"lat":0}', bob.id, ''],
    i3: [
      '=1+2 Ünïcödé ✓',
      'c3',
      '-3',
      'false',
      '',
      list(['say "hi"']),
      '',
      list([cats[1] as string]),
      '',
      '',
      '{"lon":0,"lat":0}',
      ann.id,
      '',
    ],
  }[key] as string[];
  const row = [r.id as string, ...byKey, r.created as string, r.updated as string];
  return withSecret ? row : row.filter((_, i) => HEADER[i] !== 'secret');
}
const byId = (rows: string[][]) => [...rows].sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1));

describe('export', () => {
  test('a superuser gets every record and every field, each cell as written', async () => {
    expect(items.i1?.pics).toHaveLength(2);
    const rows = await exportRows('/api/ms/collections/items/export.csv');
    expect(rows[0]).toEqual(HEADER);
    expect(byId(rows.slice(1))).toEqual(byId([expectedRow('i1'), expectedRow('i2'), expectedRow('i3')]));
  });

  test('a separator joins multi-valued fields; fields picks the columns', async () => {
    const rows = await exportRows('/api/ms/collections/items/export.csv?separator=%7C');
    expect(byId(rows.slice(1))).toEqual(byId([expectedRow('i1', '|'), expectedRow('i2', '|'), expectedRow('i3', '|')]));
    const picked = await exportRows(`/api/ms/collections/items/export.csv?fields=${encodeURIComponent('code, tags,id')}`);
    expect(picked[0]).toEqual(['code', 'tags', 'id']);
    expect(picked.slice(1).sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1))).toEqual([
      ['c1', '["red","blue, dark"]', items.i1?.id],
      ['c2', '', items.i2?.id],
      ['c3', '["say \\"hi\\""]', items.i3?.id],
    ]);
  });

  test("the caller's list rule and filter apply; hidden fields stay hidden", async () => {
    const mine = await exportRows('/api/ms/collections/items/export.csv', ann.token);
    expect(mine[0]).toEqual(HEADER.filter((h) => h !== 'secret'));
    expect(byId(mine.slice(1))).toEqual(byId([expectedRow('i1', null, false), expectedRow('i3', null, false)]));
    const filtered = await exportRows(`/api/ms/collections/items/export.csv?filter=${encodeURIComponent('n > 0')}`, ann.token);
    expect(filtered.slice(1)).toEqual([expectedRow('i1', null, false)]);
    expect((await exportRows('/api/ms/collections/items/export.csv', bob.token)).slice(1)).toEqual([expectedRow('i2', null, false)]);
    // a guest: the rule admits nothing, the header is all there is
    expect(await exportRows('/api/ms/collections/items/export.csv', '')).toEqual([HEADER.filter((h) => h !== 'secret')]);
  });

  test('bad requests are 4xx in the PocketBase shape', async () => {
    const cases: [string, string, number][] = [
      ['/api/ms/collections/items/export.csv?fields=secret', ann.token, 400],
      ['/api/ms/collections/items/export.csv?fields=nope', su, 400],
      ['/api/ms/collections/items/export.csv?filter=%28%28', su, 400],
      ['/api/ms/collections/items/export.csv?filter=nope%3D1', su, 400],
      [`/api/ms/collections/items/export.csv?filter=${encodeURIComponent('@collection.cats.name = "one"')}`, ann.token, 403],
      ['/api/ms/collections/items/export.csv?separator=%22', su, 400],
      ['/api/ms/collections/items/export.csv?separator=toolong', su, 400],
      ['/api/ms/collections/keyed/export.csv', ann.token, 403],
      ['/api/ms/collections/nothing/export.csv', su, 404],
    ];
    for (const [path, token, status] of cases) {
      const res = await get(path, token);
      expect(res.status, path).toBe(status);
      expect(await res.json()).toMatchObject({ status, data: {} });
    }
  });
});

describe('import', () => {
  test('a round trip: export, import into an empty collection, the same records', async () => {
    for (const [target, query] of [
      ['items_copy', ''],
      ['items_sep', '?separator=%7C'],
    ] as const) {
      const csv = await (await get(`/api/ms/collections/items/export.csv${query}`)).text();
      const imported = await importCsv(target, csv, query);
      expect(imported.status, JSON.stringify(imported.body)).toBe(200);
      expect(imported.body).toMatchObject({ rows: 3, created: 3, updated: 0, skipped: 0, errors: [], stopped: null, dryRun: false });
      const list = async (c: string) =>
        (await s.request('GET', `/api/collections/${c}/records?sort=id`, { token: su })).body.items.map(
          ({ collectionId: _, collectionName: __, ...rest }: Record<string, unknown>) => rest,
        );
      const original = await list('items');
      expect(original).toHaveLength(3);
      expect(await list(target)).toEqual(original);
    }
    // the body was written to a file of the uploads folder for the import, and removed after it
    expect(readdirSync(s.app.uploadsDir).filter((f) => f.startsWith('import-'))).toEqual([]);
  });

  test('BOM and CRLF are read as a spreadsheet writes them', async () => {
    const r = await importCsv('simple', '\uFEFFtitle,n\r\nalpha,1\r\n"multi\r\nline",2\r\n');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ rows: 2, created: 2 });
    const list = await s.request('GET', '/api/collections/simple/records?sort=n', { token: su });
    expect(list.body.items.map((i: { title: string; n: number }) => [i.title, i.n])).toEqual([
      ['alpha', 1],
      ['multi\r\nline', 2],
    ]);
    await s.request('DELETE', '/api/collections/simple/truncate', { token: su });
  });

  test('malformed rows are named by row and line, and nothing is written', async () => {
    const file = [
      '\uFEFFtitle,n', // row 1: the header
      'ok one,1',
      '"bad "quote",2',
      'too,many,cells',
      'not a number,abc',
      `${'x'.repeat(101)},5`,
      'ok two,2',
    ].join('\r\n');
    const r = await importCsv('simple', `${file}\r\n`);
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/nothing was written/);
    const report = r.body.data;
    expect(report).toMatchObject({ rows: 6, created: 0, updated: 0, skipped: 6, stopped: null });
    expect(report.errors.map((e: { row: number }) => e.row)).toEqual([3, 4, 5, 6]);
    expect(report.errors[0].message).toMatch(/quote/i);
    expect(report.errors[1].message).toMatch(/record length|fields length|columns/i);
    expect(report.errors[2]).toEqual({
      row: 5,
      line: 5,
      data: { n: { code: 'validation_invalid_type', message: 'Invalid value type: expected a number.' } },
    });
    expect(report.errors[3].data.title.code).toBe('validation_max_text_constraint');
    expect((await s.request('GET', '/api/collections/simple/records', { token: su })).body.totalItems).toBe(0);
  });

  test('a 10 MB cell stops the import at its line, and nothing is written', async () => {
    const r = await importCsv('simple', `title,n\nfine,1\n"${'y'.repeat(10 << 20)}",2\nlater,3\n`);
    expect(r.status).toBe(400);
    expect(r.body.data).toMatchObject({ stopped: { line: 3 }, errors: [], created: 0 });
    expect(r.body.data.stopped.message).toMatch(/Max Record Size: record exceed the maximum number of tolerated bytes of 8388608/);
    expect((await s.request('GET', '/api/collections/simple/records', { token: su })).body.totalItems).toBe(0);
    expect((await s.request('GET', '/api/health')).status).toBe(200);
  });

  test('batch mode commits each batch without a failed row', async () => {
    const r = await importCsv('simple', 'title,n\na,1\nb,2\nc,x\nd,4\ne,5\n', '?mode=batch&batchSize=2');
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/3 rows were written, 2 were not/);
    expect(r.body.data).toMatchObject({ mode: 'batch', rows: 5, created: 3, skipped: 2 });
    expect(r.body.data.errors).toEqual([
      { row: 4, line: 4, data: { n: { code: 'validation_invalid_type', message: 'Invalid value type: expected a number.' } } },
    ]);
    const list = await s.request('GET', '/api/collections/simple/records?sort=n', { token: su });
    expect(list.body.items.map((i: { title: string }) => i.title)).toEqual(['a', 'b', 'e']);
    await s.request('DELETE', '/api/collections/simple/truncate', { token: su });
  });

  test('a dry run reports and writes nothing', async () => {
    const ok = await importCsv('simple', 'title,n\na,1\nb,2\n', '?dryRun=true');
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ dryRun: true, rows: 2, created: 2, errors: [] });
    const bad = await importCsv('simple', 'title,n\na,1\nb,zz\n', '?dryRun=1&mode=batch&batchSize=1');
    expect(bad.status).toBe(200);
    expect(bad.body.errors.map((e: { row: number }) => e.row)).toEqual([3]);
    expect((await s.request('GET', '/api/collections/simple/records', { token: su })).body.totalItems).toBe(0);
  });

  test('upsert by a unique field, or by id', async () => {
    const first = await s.request('POST', '/api/collections/keyed/records', { token: su, body: { code: 'k1', n: 1 } });
    const r = await importCsv('keyed', 'code,n\nk1,10\nk2,20\n', '?upsert=code');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ created: 1, updated: 1 });
    const byId1 = await s.request('GET', `/api/collections/keyed/records/${first.body.id}`, { token: su });
    expect(byId1.body).toMatchObject({ code: 'k1', n: 10 });
    const again = await importCsv('keyed', `id,n\n${first.body.id},30\n`, '?upsert=id');
    expect(again.body).toMatchObject({ created: 0, updated: 1 });
    expect((await s.request('GET', `/api/collections/keyed/records/${first.body.id}`, { token: su })).body).toMatchObject({
      code: 'k1',
      n: 30,
    });
    // without upsert the same code is a unique-index error on its row
    const dup = await importCsv('keyed', 'code,n\nk2,1\n');
    expect(dup.status).toBe(400);
    expect(dup.body.data.errors).toEqual([{ row: 2, line: 2, data: { code: expect.objectContaining({ code: 'validation_not_unique' }) } }]);
    expect((await importCsv('keyed', 'code,n\nk9,1\n', '?upsert=n')).status).toBe(400);
    // a refusal in the middle of a batch names its row alone; the rows around it are judged and not written
    const mixed = await importCsv('keyed', 'code,n\nk5,1\nk2,2\nk6,3\n');
    expect(mixed.status).toBe(400);
    expect(mixed.body.data).toMatchObject({ rows: 3, created: 0, skipped: 3 });
    expect(mixed.body.data.errors.map((e: { row: number }) => e.row)).toEqual([3]);
    const dry = await importCsv('keyed', 'code,n\nk5,1\nk2,2\nk6,3\n', '?dryRun=true');
    expect(dry.body).toMatchObject({ rows: 3, created: 2, skipped: 1 });
  });

  test('JSON lines: typed values, row numbers are lines', async () => {
    const lines = ['{"code":"j1","n":1}', '', 'not json', '{"code":"j2","n":"7"}', '[1]', '{"code":"j3","n":3}'].join('\n');
    const r = await importCsv('keyed', lines, '', { 'content-type': 'application/x-ndjson' });
    expect(r.status).toBe(400);
    expect(r.body.data.errors.map((e: { row: number }) => e.row)).toEqual([3, 4, 5]);
    expect(r.body.data.errors[1].data.n.code).toBe('validation_invalid_type');
    const good = await importCsv('keyed', '{"code":"j1","n":1}\n{"code":"j3","n":3}', '?format=jsonl', { 'content-type': 'text/plain' });
    expect(good.status, JSON.stringify(good.body)).toBe(200);
    expect(good.body).toMatchObject({ created: 2 });
  });

  test('hostile requests are 4xx, never a 500', async () => {
    const cases: [string, string, Record<string, string>, string, number][] = [
      ['simple', 'title\na\n', CSV, '', 401],
      ['simple', 'title\na\n', CSV, ann.token, 403],
      ['simple', '{"title":"a"}', { 'content-type': 'application/json' }, su, 415],
      ['simple', 'nope\na\n', CSV, su, 400],
      ['simple', 'title,title\na,b\n', CSV, su, 400],
      ['simple', '', CSV, su, 400],
      ['nothing', 'title\na\n', CSV, su, 404],
    ];
    for (const [c, body, headers, token, status] of cases) {
      const r = await importCsv(c, body, '', headers, token);
      expect(r.status, `${c} ${body} ${token.slice(0, 5)}`).toBe(status);
      expect(r.body).toMatchObject({ status });
    }
    for (const query of [
      '?mode=some',
      '?batchSize=0',
      '?batchSize=100000',
      '?dryRun=maybe',
      '?upsert=a-b',
      '?format=xml',
      '?separator=%0A',
    ]) {
      const r = await importCsv('simple', 'title\na\n', query);
      expect(r.status, query).toBe(400);
    }
    expect((await s.request('GET', '/api/collections/simple/records', { token: su })).body.totalItems).toBe(0);
  });
});
