import { EventSource } from 'eventsource';
import PocketBase from 'pocketbase';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, superuserToken, type TestServer } from './helpers/server.js';

(globalThis as { EventSource?: unknown }).EventSource = EventSource;

/*
 * The "any of" operators (`?=`, `?!=`, `?>`, `?>=`, `?<`, `?<=`, `?~`, `?!~`)
 * on every source of many values, on the engine the suite runs on. PocketBase's
 * meaning: one item satisfies the comparison; a list without items counts as
 * one empty item, as `:each` does (PocketBase joins the items with a LEFT
 * JOIN). A plain operator on a multi-valued field compares the stored list as
 * a whole. Every expected list below is worked out by hand from the fixture.
 *
 * people (auth)  ann: roles [admin, dev]   bob: roles [dev]   cid: roles []
 * items          tags (select, many)  picks (select, many)  owners (relation to people, many)
 *                files (file, many)   data (json)   nums (json)   meta (json)
 *   i1  tags [b, c]    picks [c]  owners [ann, bob]  files [alpha, beta]  data ["x","y"]   nums [1,5]  meta {list:[p,q]}
 *   i2  tags [a]       picks [b]  owners [cid]       files [gamma]        data "x"         nums [10]   meta {list:"p"}
 *   i3  tags []        picks []   owners []          files []             data {"k":"x"}   nums []     meta {}
 *   i4  tags [dd, a]   picks []   owners [ann]       files [alpha]        data null        nums [3]    meta {list:[]}
 * notes          n1 (i1, "hello", 5, labels [red])  n2 (i1, "bye", 1, labels [])  n3 (i2, "hello world", 3, labels [red, blue])
 * owned          the items' owners again, listRule `owners ?= @request.auth.id`
 */

let s: TestServer;
let su: string;

const rid = (name: string) => `${name}${'0'.repeat(15 - name.length)}`;
const PEOPLE = { ann: rid('ann'), bob: rid('bob'), cid: rid('cid') };
const I = { i1: rid('i1'), i2: rid('i2'), i3: rid('i3'), i4: rid('i4') };
const password = 'password-123';
const tokens: Record<keyof typeof PEOPLE, string> = { ann: '', bob: '', cid: '' };
/** The stored name of each uploaded file, by the name it was sent as. */
const stored: Record<string, string> = {};

async function ok(method: string, path: string, body?: unknown, token = su): Promise<any> {
  const res = await s.request(method, path, { body, token });
  if (res.status !== 200 && res.status !== 204) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Creates a record from JSON, then uploads its files with multipart form data, as a form would. */
async function createWithFiles(collection: string, data: Record<string, unknown>, files: string[]): Promise<any> {
  const record = await ok('POST', `/api/collections/${collection}/records`, data);
  if (files.length === 0) return record;
  const form = new FormData();
  for (const name of files) form.append('files', new Blob([`the file ${name}`], { type: 'text/plain' }), `${name}.txt`);
  const res = await fetch(`${s.url}/api/collections/${collection}/records/${record.id}`, {
    method: 'PATCH',
    body: form,
    headers: { Authorization: su },
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`upload to ${collection}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** The ids a list answers, in insertion order; fails unless it answers 200. */
async function ids(collection: string, filter: string, token = su): Promise<string[]> {
  const q = new URLSearchParams({ perPage: '100', filter });
  const res = await s.request('GET', `/api/collections/${collection}/records?${q}`, { token });
  if (res.status !== 200) throw new Error(`${filter}: ${res.status} ${JSON.stringify(res.body)}`);
  expect(res.body.totalItems, filter).toBe(res.body.items.length);
  return res.body.items.map((r: { id: string }) => r.id);
}

const items = (filter: string) => ids('items', filter);
/** Item ids by their short names. */
const the = (...names: (keyof typeof I)[]) => names.map((n) => I[n]);

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  await ok('POST', '/api/collections', {
    name: 'people',
    type: 'auth',
    listRule: '',
    viewRule: '',
    fields: [
      { name: 'name', type: 'text' },
      { name: 'roles', type: 'select', values: ['admin', 'dev'], maxSelect: 2 },
    ],
  });
  await ok('POST', '/api/collections', {
    name: 'items',
    type: 'base',
    listRule: '',
    viewRule: '',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'tags', type: 'select', values: ['a', 'b', 'c', 'dd'], maxSelect: 3 },
      { name: 'picks', type: 'select', values: ['a', 'b', 'c', 'dd'], maxSelect: 3 },
      { name: 'owners', type: 'relation', collectionId: 'people', maxSelect: 5 },
      { name: 'files', type: 'file', maxSelect: 3, maxSize: 1000 },
      { name: 'data', type: 'json' },
      { name: 'nums', type: 'json' },
      { name: 'meta', type: 'json' },
    ],
  });
  await ok('POST', '/api/collections', {
    name: 'notes',
    type: 'base',
    listRule: '',
    viewRule: '',
    fields: [
      { name: 'item', type: 'relation', collectionId: 'items', maxSelect: 1 },
      { name: 'text', type: 'text' },
      { name: 'stars', type: 'number' },
      { name: 'labels', type: 'select', values: ['red', 'blue'], maxSelect: 2 },
    ],
  });
  await ok('POST', '/api/collections', {
    name: 'owned',
    type: 'base',
    listRule: 'owners ?= @request.auth.id',
    fields: [{ name: 'owners', type: 'relation', collectionId: 'people', maxSelect: 5 }],
  });

  const person = (id: string, name: string, roles: string[]) =>
    ok('POST', '/api/collections/people/records', { id, name, roles, email: `${name}@example.com`, password, passwordConfirm: password });
  await person(PEOPLE.ann, 'ann', ['admin', 'dev']);
  await person(PEOPLE.bob, 'bob', ['dev']);
  await person(PEOPLE.cid, 'cid', []);
  for (const who of ['ann', 'bob', 'cid'] as const) {
    tokens[who] = (await ok('POST', '/api/collections/people/auth-with-password', { identity: `${who}@example.com`, password })).token;
  }

  const rows: [keyof typeof I, Record<string, unknown>, string[]][] = [
    [
      'i1',
      {
        tags: ['b', 'c'],
        picks: ['c'],
        owners: [PEOPLE.ann, PEOPLE.bob],
        data: ['x', 'y'],
        nums: [1, 5],
        meta: { list: ['p', 'q'] },
      },
      ['alpha', 'beta'],
    ],
    ['i2', { tags: ['a'], picks: ['b'], owners: [PEOPLE.cid], data: 'x', nums: [10], meta: { list: 'p' } }, ['gamma']],
    ['i3', { tags: [], picks: [], owners: [], data: { k: 'x' }, nums: [], meta: {} }, []],
    ['i4', { tags: ['dd', 'a'], picks: [], owners: [PEOPLE.ann], data: null, nums: [3], meta: { list: [] } }, ['alpha']],
  ];
  for (const [name, data, files] of rows) {
    const record = await createWithFiles('items', { id: I[name], title: name, ...data }, files);
    expect(record.files).toHaveLength(files.length);
    for (const [k, file] of files.entries()) stored[`${name}/${file}`] = record.files[k];
    await ok('POST', '/api/collections/owned/records', { id: I[name], owners: data.owners });
  }
  await ok('POST', '/api/collections/notes/records', { item: I.i1, text: 'hello', stars: 5, labels: ['red'] });
  await ok('POST', '/api/collections/notes/records', { item: I.i1, text: 'bye', stars: 1, labels: [] });
  await ok('POST', '/api/collections/notes/records', { item: I.i2, text: 'hello world', stars: 3, labels: ['red', 'blue'] });
});

afterAll(async () => {
  await s?.close();
});

describe('a multi select', () => {
  const cases: [string, (keyof typeof I)[]][] = [
    ['tags ?= "c"', ['i1']],
    ['tags ?= "a"', ['i2', 'i4']],
    // a list without items has none to satisfy anything
    ['tags ?= ""', []],
    ['tags ?!= "a"', ['i1', 'i4']],
    ['tags ?> "b"', ['i1', 'i4']],
    ['tags ?>= "b"', ['i1', 'i4']],
    ['tags ?< "b"', ['i2', 'i4']],
    ['tags ?<= "b"', ['i1', 'i2', 'i4']],
    ['tags ?~ "d"', ['i4']],
    ['tags ?!~ "a"', ['i1', 'i4']],
    ['tags:lower ?= "dd"', ['i4']],
    // both sides lists: a pair of items
    ['tags ?= picks', ['i1']],
    ['"c" ?= tags', ['i1']],
  ];
  test.each(cases)('%s', async (filter, expected) => {
    expect(await items(filter)).toEqual(the(...expected));
  });

  test('on a list with items, each ? operator means what it means with :each; an empty list differs', async () => {
    // :each keeps PocketBase's LEFT JOIN, where i3's empty list counts as one empty value
    const withItems = (list: string[]) => list.filter((id) => id !== I.i3);
    for (const op of ['?=', '?!=', '?>', '?>=', '?<', '?<=', '?~', '?!~']) {
      for (const value of ['a', 'b', 'dd', '']) {
        const filter = `tags ${op} "${value}"`;
        const found = await items(filter);
        expect(found, filter).not.toContain(I.i3);
        expect(found, filter).toEqual(withItems(await items(`tags:each ${op} "${value}"`)));
      }
    }
    expect(await items('tags:each ?!= "a"')).toContain(I.i3);
  });

  test('a plain operator still compares the stored list as a whole', async () => {
    expect(await items('tags = "c"')).toEqual([]);
    expect(await items('tags != "c"')).toEqual(the('i1', 'i2', 'i3', 'i4'));
    expect(await items('tags ~ "c"')).toEqual(the('i1'));
    expect(await items('tags ~ "a"')).toEqual(the('i2', 'i4'));
  });

  test('several ? conditions on one list may each be met by another item', async () => {
    expect(await items('tags ?= "a" && tags ?= "dd"')).toEqual(the('i4'));
    expect(await items('tags ?= "b" && tags ?= "a"')).toEqual([]);
    expect(await items('tags ?= "c" || tags ?= "dd"')).toEqual(the('i1', 'i4'));
  });
});

describe('a multi relation', () => {
  const cases: [string, (keyof typeof I)[]][] = [
    [`owners ?= "${PEOPLE.ann}"`, ['i1', 'i4']],
    [`"${PEOPLE.ann}" ?= owners`, ['i1', 'i4']],
    [`owners ?!= "${PEOPLE.ann}"`, ['i1', 'i2']],
    [`owners ?> "${PEOPLE.bob}"`, ['i2']],
    [`owners ?>= "${PEOPLE.bob}"`, ['i1', 'i2']],
    [`owners ?< "${PEOPLE.bob}"`, ['i1', 'i4']],
    [`owners ?<= "${PEOPLE.bob}"`, ['i1', 'i4']],
    ['owners ?~ "cid"', ['i2']],
    ['owners ?!~ "ann"', ['i1', 'i2']],
    // through the relation, to a list in the related record
    ['owners.roles ?= "admin"', ['i1', 'i4']],
    ['owners.roles ?= ""', []],
    ['owners.name ?= "bob"', ['i1']],
  ];
  test.each(cases)('%s', async (filter, expected) => {
    expect(await items(filter)).toEqual(the(...expected));
  });

  test('a rule `owners ?= @request.auth.id` shows each caller the records they are among the owners of', async () => {
    expect(await ids('owned', '', tokens.ann)).toEqual(the('i1', 'i4'));
    expect(await ids('owned', '', tokens.bob)).toEqual(the('i1'));
    expect(await ids('owned', '', tokens.cid)).toEqual(the('i2'));
    expect((await s.request('GET', '/api/collections/owned/records')).body.items).toEqual([]);
  });
});

describe('realtime', () => {
  test('an event reaches the subscribers a `?=` rule and filter admit, and no one else', async () => {
    const got: Record<string, string[]> = { ann: [], bob: [], cid: [] };
    const clients = (['ann', 'bob', 'cid'] as const).map((who) => {
      const pb = new PocketBase(s.url);
      pb.autoCancellation(false);
      pb.authStore.save(tokens[who], null);
      return { who, pb };
    });
    try {
      for (const { who, pb } of clients) {
        await pb.collection('owned').subscribe('*', (e) => got[who]?.push(e.record.id), { filter: 'owners ?!= "nobody"' });
      }
      const created = await ok('POST', '/api/collections/owned/records', { owners: [PEOPLE.bob, PEOPLE.cid] });
      const deadline = Date.now() + 3000;
      while ((got.bob?.length === 0 || got.cid?.length === 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 200));
      expect(got).toEqual({ ann: [], bob: [created.id], cid: [created.id] });
    } finally {
      for (const { pb } of clients) await pb.realtime.unsubscribe();
    }
  });
});

describe('a multi file field', () => {
  test('every ? operator on the stored names', async () => {
    expect(await items(`files ?= "${stored['i2/gamma']}"`)).toEqual(the('i2'));
    expect(await items(`files ?!= "${stored['i2/gamma']}"`)).toEqual(the('i1', 'i4'));
    expect(await items('files ?> "b"')).toEqual(the('i1', 'i2'));
    expect(await items('files ?>= "gamma"')).toEqual(the('i2'));
    expect(await items('files ?< "b"')).toEqual(the('i1', 'i4'));
    expect(await items('files ?<= "beta"')).toEqual(the('i1', 'i4'));
    expect(await items('files ?~ "beta"')).toEqual(the('i1'));
    expect(await items('files ?!~ "alpha"')).toEqual(the('i1', 'i2'));
  });
});

describe('json arrays and values', () => {
  const cases: [string, (keyof typeof I)[]][] = [
    // an array's elements; a value that is no array is its one item; null has none
    ['data ?= "x"', ['i1', 'i2']],
    ['data ?= "y"', ['i1']],
    ['data ?!= "x"', ['i1', 'i3']],
    ['data ?~ "y"', ['i1']],
    ['data ?!~ "x"', ['i1']],
    ['nums ?= 3', ['i4']],
    ['nums ?!= 1', ['i1', 'i2', 'i4']],
    ['nums ?> 4', ['i1', 'i2']],
    ['nums ?>= 5', ['i1', 'i2']],
    ['nums ?< 3', ['i1']],
    ['nums ?<= 3', ['i1', 'i4']],
    ['nums ?~ "0"', ['i2']],
    ['nums ?!~ "1"', ['i1', 'i4']],
    // a path into the value
    ['meta.list ?= "q"', ['i1']],
    ['meta.list ?= "p"', ['i1', 'i2']],
    ['meta.list ?!= "p"', ['i1']],
  ];
  test.each(cases)('%s', async (filter, expected) => {
    expect(await items(filter)).toEqual(the(...expected));
  });

  test('a plain operator compares the value as a whole', async () => {
    expect(await items('data = "x"')).toEqual(the('i2'));
    expect(await items('nums = 3')).toEqual([]);
  });
});

describe('back-relations, :each, @collection', () => {
  const cases: [string, (keyof typeof I)[]][] = [
    ['notes_via_item.text ?= "bye"', ['i1']],
    ['notes_via_item.text ?!= "hello"', ['i1', 'i2', 'i3', 'i4']],
    ['notes_via_item.stars ?> 4', ['i1']],
    ['notes_via_item.stars ?>= 3', ['i1', 'i2']],
    ['notes_via_item.stars ?< 3', ['i1']],
    ['notes_via_item.stars ?<= 3', ['i1', 'i2']],
    ['notes_via_item.text ?~ "hello"', ['i1', 'i2']],
    ['notes_via_item.text ?!~ "hello"', ['i1']],
    ['notes_via_item.labels ?= "blue"', ['i2']],
    ['notes_via_item.labels ?= "red"', ['i1', 'i2']],
    // a list against the values of a back-relation
    ['nums ?= notes_via_item.stars', ['i1']],
    ['tags:each ?> "b"', ['i1', 'i4']],
    ['@collection.notes.item ?= id', ['i1', 'i2']],
    // conditions on one @collection join speak of the same row
    ['@collection.notes.item ?= id && @collection.notes.stars ?> 4', ['i1']],
    ['@collection.notes.item ?= id && @collection.notes.stars ?<= 3', ['i1', 'i2']],
    ['@collection.notes.item ?= id && @collection.notes.text ?~ "world"', ['i2']],
    ['@collection.notes.item ?= id && @collection.notes.text ?!~ "hello"', ['i1']],
    ['@collection.notes.item ?= id && @collection.notes.labels ?= "blue"', ['i2']],
    ['@collection.notes.item ?= id && @collection.notes.stars ?>= 5', ['i1']],
    ['@collection.notes.item ?= id && @collection.notes.stars ?< 2', ['i1']],
    ['@collection.notes.item ?= id && @collection.notes.text ?!= "hello"', ['i1', 'i2']],
  ];
  test.each(cases)('%s', async (filter, expected) => {
    expect(await items(filter)).toEqual(the(...expected));
  });
});

describe('submitted lists in rules', () => {
  test('@request.body of a multi select: ? over its items, = over the whole list', async () => {
    await ok('POST', '/api/collections', {
      name: 'posted',
      type: 'base',
      createRule: '@request.body.tags ?= "a"',
      fields: [{ name: 'tags', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 }],
    });
    const create = (tags: string[]) => s.request('POST', '/api/collections/posted/records', { body: { tags } });
    expect((await create(['b', 'a'])).status).toBe(200);
    expect((await create(['b', 'c'])).status).toBe(400);
    expect((await create([])).status).toBe(400);
  });
});

describe('what a non-superuser may not use', () => {
  test('a hidden list is an unknown field for ? operators too', async () => {
    await ok('PATCH', '/api/collections/items', { listRule: '' });
    const fields = (await ok('GET', '/api/collections/items')).fields.map((f: Record<string, unknown>) =>
      f.name === 'picks' ? { ...f, hidden: true } : f,
    );
    await ok('PATCH', '/api/collections/items', { fields });
    try {
      const q = new URLSearchParams({ filter: 'picks ?= "c"' });
      const res = await s.request('GET', `/api/collections/items/records?${q}`, { token: tokens.ann });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ status: 400, data: {} });
      expect(await items('picks ?= "c"')).toEqual(the('i1'));
    } finally {
      await ok('PATCH', '/api/collections/items', {
        fields: fields.map((f: Record<string, unknown>) => (f.name === 'picks' ? { ...f, hidden: false } : f)),
      });
    }
  });
});
