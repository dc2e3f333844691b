import { EventSource } from 'eventsource';
import PocketBase, { ClientResponseError } from 'pocketbase';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { typescriptTypes } from '../src/core/collections/typegen.js';
import { startServer, superuserToken, TEST_ENGINE, type TestServer } from './helpers/server.js';

/*
 * View collections (PocketBase's `type: "view"`) through the official SDK and
 * raw HTTP, on the engine the suite runs on: records that are the rows of a
 * SELECT, with fields inferred from it, list and view rules, filter, sort and
 * expand on their columns, writes refused, queries checked before they are
 * saved, and schema changes that would break a view refused.
 *
 * members (users)  ann, bob, cid (cid has no posts)
 * posts            title, author → users, amount, tags (select, many), secret (hidden), status
 *   ann: "alpha" 5 published [a], "beta" 7.5 draft [a, b]      bob: "gamma" 20 published [b]
 */

(globalThis as { EventSource?: unknown }).EventSource = EventSource;

let s: TestServer;
let admin: PocketBase;
const PASSWORD = 'password-123';
const people: Record<'ann' | 'bob' | 'cid', { id: string; pb: PocketBase }> = {} as never;

/** A client of the server, signed in with `token` when given. */
function client(token?: string): PocketBase {
  const pb = new PocketBase(s.url);
  pb.autoCancellation(false);
  if (token) pb.authStore.save(token, null);
  return pb;
}

/** The error a call fails with, or a failure if it succeeds. */
async function failure(call: Promise<unknown>): Promise<ClientResponseError> {
  try {
    await call;
  } catch (err) {
    if (err instanceof ClientResponseError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

const STATS_QUERY = `SELECT u.id AS id, u.name AS name, u.email AS email, COUNT(p.id) AS posts, SUM(p.amount) AS total
  FROM users u LEFT JOIN posts p ON p.author = u.id GROUP BY u.id, u.name, u.email`;
const PUBLISHED_QUERY = "SELECT p.id, p.title, p.author, p.tags, p.secret AS note, p.amount FROM posts p WHERE p.status = 'published'";

beforeAll(async () => {
  s = await startServer({ realtime: { idleTimeoutMs: 60_000 } });
  admin = client(await superuserToken(s));
  await admin.collections.create({
    name: 'posts',
    type: 'base',
    listRule: '',
    viewRule: '',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'author', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
      { name: 'amount', type: 'number' },
      { name: 'tags', type: 'select', values: ['a', 'b'], maxSelect: 2 },
      { name: 'secret', type: 'text', hidden: true },
      { name: 'status', type: 'select', values: ['draft', 'published'], maxSelect: 1 },
    ],
  });
  for (const name of ['ann', 'bob', 'cid'] as const) {
    const email = `${name}@example.com`;
    const rec = await admin.collection('users').create({ email, password: PASSWORD, passwordConfirm: PASSWORD, name });
    const pb = client();
    await pb.collection('users').authWithPassword(email, PASSWORD);
    people[name] = { id: rec.id, pb };
  }
  const post = (title: string, author: string, amount: number, tags: string[], status: string) =>
    admin.collection('posts').create({ title, author, amount, tags, status, secret: `secret of ${title}` });
  await post('alpha', people.ann.id, 5, ['a'], 'published');
  await post('beta', people.ann.id, 7.5, ['a', 'b'], 'draft');
  await post('gamma', people.bob.id, 20, ['b'], 'published');
  await admin.collections.create({ name: 'stats', type: 'view', listRule: '', viewRule: '', viewQuery: STATS_QUERY });
  await admin.collections.create({
    name: 'published',
    type: 'view',
    listRule: 'author = @request.auth.id',
    viewRule: 'author = @request.auth.id',
    viewQuery: PUBLISHED_QUERY,
  });
});

afterAll(async () => {
  await s?.close();
});

describe('a view collection', () => {
  test('its fields are inferred from the query: collection fields keep their type, aggregates are numbers', async () => {
    const stats = await admin.collections.getOne('stats');
    expect(stats.type).toBe('view');
    expect(stats.viewQuery).toBe(STATS_QUERY);
    expect(stats.indexes).toEqual([]);
    expect([stats.createRule, stats.updateRule, stats.deleteRule]).toEqual([null, null, null]);
    const shape = (f: Record<string, unknown>) => ({ name: f.name, type: f.type, hidden: f.hidden });
    expect(stats.fields.map(shape)).toEqual([
      { name: 'id', type: 'text', hidden: false },
      { name: 'name', type: 'text', hidden: false },
      // an auth collection's email is hidden in a view: emailVisibility cannot be honoured there
      { name: 'email', type: 'email', hidden: true },
      { name: 'posts', type: 'number', hidden: false },
      { name: 'total', type: 'number', hidden: false },
    ]);
    const published = await admin.collections.getOne('published');
    expect(published.fields.map(shape)).toEqual([
      { name: 'id', type: 'text', hidden: false },
      { name: 'title', type: 'text', hidden: false },
      { name: 'author', type: 'relation', hidden: false },
      { name: 'tags', type: 'select', hidden: false },
      // a hidden field stays hidden under another name
      { name: 'note', type: 'text', hidden: true },
      { name: 'amount', type: 'number', hidden: false },
    ]);
    expect(published.fields.find((f: { name: string }) => f.name === 'author')).toMatchObject({
      collectionId: '_pb_users_auth_',
      maxSelect: 1,
    });
    expect(published.fields.find((f: { name: string }) => f.name === 'tags')).toMatchObject({ values: ['a', 'b'], maxSelect: 2 });
  });

  test('list, view, filter and sort through the SDK', async () => {
    const rows = await admin.collection('stats').getFullList({ sort: '-total' });
    expect(rows.map((r) => [r.name, r.posts, r.total])).toEqual([
      ['bob', 1, 20],
      ['ann', 2, 12.5],
      ['cid', 0, 0],
    ]);
    const page = await admin.collection('stats').getList(1, 2, { filter: 'posts >= 1', sort: 'name' });
    expect(page.totalItems).toBe(2);
    expect(page.items.map((r) => r.name)).toEqual(['ann', 'bob']);
    const one = await client().collection('stats').getOne(people.ann.id);
    expect(one).toMatchObject({ collectionName: 'stats', id: people.ann.id, name: 'ann', posts: 2, total: 12.5 });
    expect(one).not.toHaveProperty('email');
    expect((await client().collection('stats').getList(1, 10, { skipTotal: true, filter: 'total > 10' })).items).toHaveLength(2);
  });

  test('the list and view rules decide who sees which row', async () => {
    expect((await people.ann.pb.collection('published').getFullList()).map((r) => r.title)).toEqual(['alpha']);
    expect((await people.bob.pb.collection('published').getFullList()).map((r) => r.title)).toEqual(['gamma']);
    expect(await people.cid.pb.collection('published').getFullList()).toEqual([]);
    expect(await client().collection('published').getFullList()).toEqual([]);
    const gamma = (await admin.collection('published').getFullList({ filter: 'title = "gamma"' }))[0] as { id: string };
    expect((await failure(people.ann.pb.collection('published').getOne(gamma.id))).status).toBe(404);
    expect((await people.bob.pb.collection('published').getOne(gamma.id)).title).toBe('gamma');
  });

  test('expand follows a relation read from a collection; ? operators on a list field work', async () => {
    const rows = await admin.collection('published').getFullList({ expand: 'author', filter: 'tags ?= "b"' });
    expect(rows.map((r) => [r.title, r.expand?.author?.name])).toEqual([['gamma', 'bob']]);
    expect((await admin.collection('published').getFullList({ filter: 'author.name = "ann"' })).map((r) => r.title)).toEqual(['alpha']);
  });

  test('hidden columns: never answered to others, and no filter or sort on them', async () => {
    const mine = await people.ann.pb.collection('published').getFullList();
    expect(mine[0]).not.toHaveProperty('note');
    expect((await admin.collection('published').getFullList({ filter: 'title = "alpha"' }))[0]?.note).toBe('secret of alpha');
    expect((await failure(people.ann.pb.collection('published').getList(1, 10, { filter: 'note ~ "secret"' }))).status).toBe(400);
    expect((await failure(people.ann.pb.collection('published').getList(1, 10, { sort: 'note' }))).status).toBe(400);
    expect((await failure(client().collection('stats').getList(1, 10, { filter: 'email ~ "ann"' }))).status).toBe(400);
  });

  test('its records cannot be written, by anyone, by any route', async () => {
    const [row] = await admin.collection('stats').getFullList();
    const refused = async (call: Promise<unknown>) => {
      const err = await failure(call);
      expect(err.status).toBe(400);
      expect(err.response.message).toBe('Unsupported collection type.');
    };
    await refused(admin.collection('stats').create({ id: 'x12345678901234', name: 'x' }));
    await refused(admin.collection('stats').update(row?.id as string, { name: 'x' }));
    await refused(admin.collection('stats').delete(row?.id as string));
    const truncated = await failure(admin.collections.truncate('stats'));
    expect(truncated.status).toBe(400);
    expect(truncated.response.message).toBe("View collections cannot be truncated since they don't store their own records.");
    const batch = await s.request('POST', '/api/batch', {
      token: admin.authStore.token,
      body: { requests: [{ method: 'POST', url: '/api/collections/stats/records', body: { name: 'x' } }] },
    });
    expect(batch.status).toBe(400);
    expect(await admin.collection('stats').getFullList()).toHaveLength(3);
  });

  test('a view of a view, and ids that the query numbers', async () => {
    await admin.collections.create({
      name: 'active',
      type: 'view',
      listRule: '',
      viewQuery: 'SELECT s.id, s.name, s.posts FROM stats s WHERE s.posts > 0',
    });
    const active = await admin.collections.getOne('active');
    expect(active.fields.map((f: { name: string; type: string }) => [f.name, f.type])).toEqual([
      ['id', 'text'],
      ['name', 'text'],
      ['posts', 'number'],
    ]);
    expect((await client().collection('active').getFullList({ sort: 'name' })).map((r) => r.name)).toEqual(['ann', 'bob']);

    await admin.collections.create({
      name: 'numbered',
      type: 'view',
      listRule: '',
      viewRule: '',
      viewQuery: 'SELECT ROW_NUMBER() OVER (ORDER BY title) AS id, title FROM posts',
    });
    const numbered = await client().collection('numbered').getFullList({ sort: 'id' });
    expect(numbered.map((r) => [r.id, r.title])).toEqual([
      ['1', 'alpha'],
      ['2', 'beta'],
      ['3', 'gamma'],
    ]);
    expect((await client().collection('numbered').getOne('2')).title).toBe('beta');
    await admin.collections.delete('numbered');
    await admin.collections.delete('active');
  });

  test('realtime: a view has no events, and writes to what it reads send none in its name', async () => {
    const got: unknown[] = [];
    await people.ann.pb.collection('published').subscribe('*', (e) => got.push(e));
    await people.ann.pb.collection('stats').subscribe('*', (e) => got.push(e));
    const p = await admin.collection('posts').create({ title: 'delta', author: people.ann.id, status: 'published', amount: 1 });
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toEqual([]);
    await people.ann.pb.realtime.unsubscribe();
    await admin.collection('posts').delete(p.id);
  });
});

describe('a view in the generated API description and types', () => {
  test('OpenAPI lists only its reads, for superusers and for anyone its rules admit', async () => {
    for (const token of [admin.authStore.token, undefined]) {
      const doc = (await s.request('GET', '/api/ms/openapi.json', { token })).body;
      expect(Object.keys(doc.paths['/api/collections/stats/records'])).toEqual(['get']);
      expect(Object.keys(doc.paths['/api/collections/stats/records/{id}'])).toEqual(['get']);
      expect(doc.components.schemas.StatsRecord.properties).toHaveProperty('total');
      expect(doc.components.schemas).not.toHaveProperty('StatsCreate');
    }
  });

  test('typegen: a record type, and nothing to write', () => {
    const types = typescriptTypes(s.app.collections.registry.all());
    const stats = types.slice(types.indexOf('export type StatsRecord = {'), types.indexOf('export type StatsExpand'));
    expect(stats).toContain('  posts: number;\n');
    expect(stats).toContain('  name: string;\n');
    expect(types).toContain('export type StatsCreate = never;');
    expect(types).toContain('export type StatsUpdate = never;');
    expect(types).toContain('author?: UsersResponse;');
  });
});

describe('files through a view', () => {
  test("a view's file field serves the file of the record it reads, with the view's rules for protected files", async () => {
    await admin.collections.create({
      name: 'docs',
      type: 'base',
      listRule: '',
      viewRule: '',
      fields: [
        { name: 'name', type: 'text' },
        { name: 'file', type: 'file', maxSelect: 1, maxSize: 10_000 },
        { name: 'private', type: 'file', maxSelect: 2, maxSize: 10_000, protected: true },
      ],
    });
    const form = new FormData();
    form.append('name', 'report');
    form.append('file', new Blob(['public bytes'], { type: 'text/plain' }), 'report.txt');
    form.append('private', new Blob(['private bytes'], { type: 'text/plain' }), 'secret.txt');
    const doc = await admin.collection('docs').create(form);
    await admin.collections.create({
      name: 'doc_files',
      type: 'view',
      listRule: '',
      viewRule: `@request.auth.id = "${people.ann.id}"`,
      viewQuery: 'SELECT d.id, d.file, d.private AS locked FROM docs d',
    });
    const row = await admin.collection('doc_files').getOne(doc.id);
    expect(row.file).toBe(doc.file);
    expect(row.locked).toEqual(doc.private);

    const get = (path: string) => fetch(`${s.url}${path}`);
    const open = await get(`/api/files/doc_files/${doc.id}/${row.file}`);
    expect(open.status).toBe(200);
    expect(await open.text()).toBe('public bytes');
    // protected: the view's rule decides, for the file token's caller
    const locked = `/api/files/doc_files/${doc.id}/${row.locked[0]}`;
    expect((await get(locked)).status).toBe(404);
    const annToken = await people.ann.pb.files.getToken();
    const mine = await get(`${locked}?token=${annToken}`);
    expect(mine.status).toBe(200);
    expect(await mine.text()).toBe('private bytes');
    expect((await get(`${locked}?token=${await people.bob.pb.files.getToken()}`)).status).toBe(404);
    // a name the view's record does not hold, and a record the view does not have
    expect((await get(`/api/files/doc_files/${doc.id}/other_0123456789.txt`)).status).toBe(404);
    expect((await get(`/api/files/doc_files/nope00000000000/${row.file}`)).status).toBe(404);
    await admin.collections.delete('doc_files');
    await admin.collections.delete('docs');
  });
});

describe('saving a view', () => {
  /** The field errors a collection create answers, or a failure if it succeeds. */
  async function createRefused(body: Record<string, unknown>): Promise<Record<string, { code: string; message: string }>> {
    const before = (await admin.collections.getFullList()).map((c) => c.name).sort();
    const err = await failure(admin.collections.create({ name: 'refused', type: 'view', ...body }));
    expect(err.status).toBe(400);
    expect((await admin.collections.getFullList()).map((c) => c.name).sort()).toEqual(before);
    return err.response.data;
  }

  test('the query is required and must name an id column', async () => {
    expect((await createRefused({})).viewQuery?.code).toBe('validation_required');
    expect((await createRefused({ viewQuery: '  ' })).viewQuery?.code).toBe('validation_required');
    const noId = await createRefused({ viewQuery: 'SELECT title FROM posts' });
    expect(noId.viewQuery).toMatchObject({ code: 'validation_invalid_view_query' });
    expect(noId.viewQuery?.message).toMatch(/"id" column/);
  });

  test('write rules must be null and a view has no indexes', async () => {
    const q = 'SELECT id, title FROM posts';
    expect((await createRefused({ viewQuery: q, createRule: '' })).createRule?.code).toBe('validation_nil');
    expect((await createRefused({ viewQuery: q, updateRule: 'id != ""' })).updateRule?.code).toBe('validation_nil');
    expect((await createRefused({ viewQuery: q, deleteRule: '' })).deleteRule?.code).toBe('validation_nil');
    expect((await createRefused({ viewQuery: q, indexes: ['CREATE INDEX idx_v ON refused (title)'] })).indexes?.code).toBe(
      'validation_indexes_not_supported',
    );
  });

  test('rules are checked on the inferred fields', async () => {
    expect((await createRefused({ viewQuery: 'SELECT id, title FROM posts', listRule: 'nope = 1' })).listRule?.code).toBe(
      'validation_invalid_rule',
    );
    const ok = await admin.collections.create({
      name: 'titles',
      type: 'view',
      viewQuery: 'SELECT id, title FROM posts',
      listRule: 'title != ""',
    });
    expect(ok.listRule).toBe('title != ""');
    await admin.collections.delete('titles');
  });

  const hostile: [string, string][] = [
    ['two statements', 'SELECT id FROM posts; DELETE FROM posts'],
    ['two statements without space', 'SELECT id FROM posts;SELECT id FROM posts'],
    ['a write', 'DELETE FROM posts'],
    ['an insert', "INSERT INTO posts (id) VALUES ('x')"],
    ['an update', "UPDATE posts SET title = 'x'"],
    ['a write in a WITH', 'WITH gone AS (DELETE FROM posts RETURNING id) SELECT id FROM gone'],
    ['attaching a database', "ATTACH DATABASE '/tmp/other.db' AS other"],
    ['a pragma', 'PRAGMA writable_schema = 1'],
    ['schema changes', 'DROP TABLE posts'],
    ['loading an extension', "SELECT load_extension('/tmp/evil.so') AS id"],
    ['reading a server file', "SELECT pg_read_file('/etc/passwd') AS id"],
    ['sleeping', 'SELECT pg_sleep(600) AS id'],
    ['running SQL from text', "SELECT query_to_xml('DELETE FROM posts', true, false, '') AS id"],
    ['a sequence write', "SELECT nextval('x') AS id"],
    ['wildcard columns', 'SELECT * FROM posts'],
    ['a table wildcard', 'SELECT p.* FROM posts p'],
    ['an unterminated string', "SELECT id FROM posts WHERE title = 'x"],
    ['an unterminated comment', 'SELECT id FROM posts /* no end'],
    ['an unmatched parenthesis', 'SELECT (id FROM posts'],
    ['an unknown table', 'SELECT id FROM nowhere'],
    ['an unknown column', 'SELECT id, nope FROM posts'],
    ['two columns of one name', 'SELECT id, title, title FROM posts'],
    // SQLite names it by its text, PostgreSQL "?column?": neither is a field name
    ['a column without a usable name', "SELECT id, title || 'x' FROM posts"],
    ['a reserved column name', 'SELECT id, title AS expand FROM posts'],
    ['not a query at all', 'hello'],
    ['a SELECT hidden after a comment', '/* x */ DELETE FROM posts'],
  ];
  test.each(hostile)('refused: %s', async (_what, viewQuery) => {
    const data = await createRefused({ viewQuery });
    expect(data.viewQuery?.code).toBe('validation_invalid_view_query');
    expect(await admin.collection('posts').getFullList()).toHaveLength(3);
  });

  test('a ";" or a keyword inside a string, a comment or a quoted name is no statement', async () => {
    const v = await admin.collections.create({
      name: 'quoted',
      type: 'view',
      listRule: '',
      viewQuery: `SELECT id, title AS "delete", 'a;b -- DROP TABLE x' AS label /* ; INSERT */ FROM posts WHERE title <> 'x;y';`,
    });
    expect(v.fields.map((f: { name: string }) => f.name)).toEqual(['id', 'delete', 'label']);
    const rows = await client().collection('quoted').getFullList({ sort: 'delete' });
    expect(rows.map((r) => [r.delete, r.label])).toEqual([
      ['alpha', 'a;b -- DROP TABLE x'],
      ['beta', 'a;b -- DROP TABLE x'],
      ['gamma', 'a;b -- DROP TABLE x'],
    ]);
    await admin.collections.delete('quoted');
  });
});

describe('schema changes around a view', () => {
  test('a change to a field the view reads carries into the view', async () => {
    await admin.collections.create({ name: 'tagged', type: 'view', listRule: '', viewQuery: 'SELECT id, tags FROM posts' });
    const posts = await admin.collections.getOne('posts');
    const fields = posts.fields.map((f: Record<string, unknown>) => (f.name === 'tags' ? { ...f, maxSelect: 1 } : f));
    // one value at most: each list becomes its last value (PocketBase's conversion)
    await admin.collections.update('posts', { fields });
    expect((await admin.collections.getOne('tagged')).fields.find((f: { name: string }) => f.name === 'tags')).toMatchObject({
      maxSelect: 1,
    });
    expect((await client().collection('tagged').getFullList({ sort: 'tags' })).map((r) => r.tags)).toEqual(['a', 'b', 'b']);
    await admin.collections.update('posts', {
      fields: fields.map((f: Record<string, unknown>) => (f.name === 'tags' ? { ...f, maxSelect: 2 } : f)),
    });
    expect((await client().collection('tagged').getFullList({ sort: 'tags' })).map((r) => r.tags)).toEqual([['a'], ['b'], ['b']]);
    await admin.collections.delete('tagged');
  });

  test('a new field in a collection a view reads leaves the view as it is', async () => {
    const posts = await admin.collections.getOne('posts');
    const before = (await admin.collections.getOne('stats')).fields;
    await admin.collections.update('posts', { fields: [...posts.fields, { name: 'extra', type: 'text' }] });
    expect((await admin.collections.getOne('stats')).fields).toEqual(before);
    await admin.collections.update('posts', { fields: posts.fields });
  });

  test('a change that would break a view is refused, naming the view, and changes nothing', async () => {
    const posts = await admin.collections.getOne('posts');
    const renamed = posts.fields.map((f: Record<string, unknown>) => (f.name === 'amount' ? { ...f, name: 'price' } : f));
    const err = await failure(admin.collections.update('posts', { fields: renamed }));
    expect(err.status).toBe(400);
    expect(err.response.message).toMatch(/"(stats|published)"/);
    expect((await admin.collections.getOne('posts')).fields.map((f: { name: string }) => f.name)).toContain('amount');
    expect((await admin.collection('stats').getFullList()).length).toBe(3);

    const deleted = await failure(admin.collections.delete('posts'));
    expect(deleted.status).toBe(400);
    expect(deleted.response.message).toMatch(/"(stats|published)"/);
    expect((await admin.collection('posts').getFullList()).length).toBe(3);
  });

  test('an import changes a view and what it reads together', async () => {
    const all = await admin.collections.getFullList();
    const posts = all.find((c) => c.name === 'posts') as Record<string, any>;
    const renamed = {
      ...posts,
      fields: posts.fields.map((f: Record<string, unknown>) => (f.name === 'amount' ? { ...f, name: 'price' } : f)),
    };
    const stats = {
      ...(all.find((c) => c.name === 'stats') as Record<string, unknown>),
      viewQuery: STATS_QUERY.replace('p.amount', 'p.price'),
    };
    const published = {
      ...(all.find((c) => c.name === 'published') as Record<string, unknown>),
      viewQuery: PUBLISHED_QUERY.replace('p.amount', 'p.price'),
    };
    await admin.collections.import([renamed, stats, published] as never, false);
    expect((await admin.collection('stats').getFullList({ sort: 'name' })).map((r) => r.total)).toEqual([12.5, 20, 0]);
    // and back, so the other tests see the fixture as described
    await admin.collections.import(
      [posts, { ...stats, viewQuery: STATS_QUERY }, { ...published, viewQuery: PUBLISHED_QUERY }] as never,
      false,
    );
    expect((await admin.collection('stats').getFullList({ sort: 'name' })).map((r) => r.total)).toEqual([12.5, 20, 0]);
  });

  test('renaming a view and changing its query', async () => {
    await admin.collections.create({ name: 'v1', type: 'view', listRule: '', viewQuery: 'SELECT id, title FROM posts' });
    await admin.collections.update('v1', { name: 'v2', viewQuery: 'SELECT id, amount FROM posts WHERE amount > 6' });
    expect((await failure(client().collection('v1').getFullList())).status).toBe(404);
    expect((await client().collection('v2').getFullList({ sort: 'amount' })).map((r) => r.amount)).toEqual([7.5, 20]);
    await admin.collections.delete('v2');
    expect((await failure(client().collection('v2').getFullList())).status).toBe(404);
  });

  test('a view its rules keep from a caller leaks nothing through another view: filter, sort, expand, realtime', async () => {
    // superusers only
    await admin.collections.create({ name: 'secret_stats', type: 'view', viewQuery: 'SELECT s.id, s.posts, s.total FROM stats s' });
    await admin.collections.create({
      name: 'open_links',
      type: 'view',
      listRule: '',
      viewRule: '',
      viewQuery: 'SELECT s.id AS id, s.id AS stat FROM secret_stats s',
    });
    try {
      const guest = client();
      const rows = await guest.collection('open_links').getFullList({ expand: 'stat' });
      expect(rows).toHaveLength(3);
      for (const r of rows) expect(r.expand).toBeUndefined();
      for (const query of [{ filter: 'stat.posts > 0' }, { filter: 'stat.total > 100' }, { sort: 'stat.total' }]) {
        expect((await failure(guest.collection('open_links').getList(1, 10, query))).status, JSON.stringify(query)).toBe(400);
      }
      expect((await failure(guest.collection('secret_stats').getList())).status).toBe(403);
      expect((await failure(guest.collection('secret_stats').getOne(people.ann.id))).status).toBe(403);
      // a subscription to it is accepted (PocketBase's) and hears nothing: a view has no events
      const got: unknown[] = [];
      await guest.collection('secret_stats').subscribe('*', (e) => got.push(e));
      await admin.collection('posts').create({ title: 'epsilon', author: people.ann.id, amount: 1 });
      await new Promise((r) => setTimeout(r, 300));
      expect(got).toEqual([]);
      await guest.realtime.unsubscribe();
      const added = await admin.collection('posts').getFirstListItem('title = "epsilon"');
      await admin.collection('posts').delete(added.id);
    } finally {
      await admin.collections.delete('open_links');
      await admin.collections.delete('secret_stats');
    }
  });

  test('a base collection may not relate to a view; a view may', async () => {
    const err = await failure(
      admin.collections.create({
        name: 'refers',
        type: 'base',
        fields: [{ name: 'stat', type: 'relation', collectionId: 'stats', maxSelect: 1 }],
      }),
    );
    expect(err.status).toBe(400);
    expect(JSON.stringify(err.response.data)).toContain('validation_relation_field_non_view_base_collection');
    await admin.collections.create({
      name: 'linked',
      type: 'view',
      listRule: '',
      viewQuery: 'SELECT s.id AS id, s.id AS stat FROM stats s',
    });
    expect((await admin.collections.getOne('linked')).fields.find((f: { name: string }) => f.name === 'stat')).toMatchObject({
      type: 'relation',
    });
    const rows = await admin.collection('linked').getFullList({ expand: 'stat', sort: 'id' });
    expect(rows.map((r) => r.expand?.stat?.collectionName)).toEqual(['stats', 'stats', 'stats']);
    await admin.collections.delete('linked');
  });
});

describe('limits', () => {
  // on SQLite the aggregate runs inside SQLite from start to end, never calling back into JavaScript:
  // only the end of the reader process stops it (Engine.read)
  test('a view whose query runs past the statement timeout answers the timeout 400 and the server keeps serving', async () => {
    process.env.MS_STATEMENT_TIMEOUT_MS = '500';
    const slow = await startServer();
    delete process.env.MS_STATEMENT_TIMEOUT_MS;
    try {
      const pb = new PocketBase(slow.url);
      pb.authStore.save(await superuserToken(slow), null);
      // a count over a cross join of 2^24 generated rows: minutes of work
      const viewQuery =
        TEST_ENGINE === 'postgres'
          ? 'SELECT 1 AS id, COUNT(*) AS n FROM generate_series(1, 5000) a, generate_series(1, 5000) b, generate_series(1, 5000) c'
          : 'WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 100000000) SELECT 1 AS id, COUNT(*) AS n FROM r';
      await pb.collections.create({ name: 'slow', type: 'view', listRule: '', viewQuery });
      // a view of its own first: on SQLite it starts the reader process, whose start (slow on a busy machine)
      // the statement's limit does not count, and this test does not measure
      await pb.collections.create({ name: 'quick', type: 'view', listRule: '', viewQuery: 'SELECT 1 AS id' });
      expect((await slow.request('GET', '/api/collections/quick/records')).status).toBe(200);
      const started = Date.now();
      const res = await slow.request('GET', '/api/collections/slow/records');
      const took = Date.now() - started;
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/took too long/);
      expect(took).toBeLessThan(500 * 1.1 + 400);
      expect((await slow.request('GET', '/api/health')).status).toBe(200);
    } finally {
      await slow.close();
    }
  });
});
