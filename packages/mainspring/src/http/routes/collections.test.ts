import PocketBase from 'pocketbase';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, superuserToken, type TestServer } from '../../../test/helpers/server.js';

/**
 * The collections API over HTTP (PocketBase v0.23+ dialect): who may call it,
 * the JSON it answers with, its validation errors, and the schema migrations
 * behind create/update/delete/import, which must keep data and be atomic.
 */

type Res = { status: number; body: any };

const PB_DATE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const USERS_ID = '_pb_users_auth_';

/** The value at a dotted path of an object (`fields.0.name`). */
function at(value: unknown, path: string): any {
  let v: any = value;
  for (const key of path.split('.')) v = v == null ? undefined : v[key];
  return v;
}

/** Asserts PocketBase's error envelope, and optionally a field error at a dotted path of `data`. */
function expectError(res: Res, status: number, path?: string, code?: string | RegExp): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toMatchObject({ status, message: expect.any(String), data: expect.any(Object) });
  if (path) {
    const err = at(res.body.data, path);
    expect(err, `data.${path} in ${JSON.stringify(res.body.data)}`).toMatchObject({
      code: code === undefined ? expect.stringMatching(/^validation_/) : typeof code === 'string' ? code : expect.stringMatching(code),
      message: expect.any(String),
    });
  }
}

/** One server with a superuser token and a regular user's token, and shortcuts over its API. */
interface Harness {
  s: TestServer;
  su: string;
  user: string;
  req(method: string, path: string, body?: unknown, token?: string | null): Promise<Res>;
  create(body: Record<string, unknown>): Promise<any>;
  patch(idOrName: string, body: Record<string, unknown>): Promise<any>;
  get(idOrName: string): Promise<any>;
  addRecord(collection: string, data: Record<string, unknown>): Promise<any>;
  records(collection: string): Promise<any[]>;
}

/** A harness around one server, started before and closed after the enclosing describe. */
function harness(): Harness {
  const h: Harness = {
    s: undefined as unknown as TestServer,
    su: '',
    user: '',
    req(method: string, path: string, body?: unknown, token: string | null = h.su): Promise<Res> {
      return h.s.request(method, path, { body, token: token ?? undefined });
    },
    async create(body: Record<string, unknown>): Promise<any> {
      const r = await h.req('POST', '/api/collections', body);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body;
    },
    async patch(idOrName: string, body: Record<string, unknown>): Promise<any> {
      const r = await h.req('PATCH', `/api/collections/${idOrName}`, body);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body;
    },
    async get(idOrName: string): Promise<any> {
      const r = await h.req('GET', `/api/collections/${idOrName}`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body;
    },
    async addRecord(collection: string, data: Record<string, unknown>): Promise<any> {
      const r = await h.req('POST', `/api/collections/${collection}/records`, data);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body;
    },
    async records(collection: string): Promise<any[]> {
      const r = await h.req('GET', `/api/collections/${collection}/records?perPage=500`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body.items;
    },
  };
  beforeAll(async () => {
    h.s = await startServer();
    h.su = await superuserToken(h.s);
    const email = 'ann@example.com';
    const password = 'ann-password-1';
    const signup = await h.s.request('POST', '/api/collections/users/records', { body: { email, password, passwordConfirm: password } });
    expect(signup.status, JSON.stringify(signup.body)).toBe(200);
    const login = await h.s.request('POST', '/api/collections/users/auth-with-password', { body: { identity: email, password } });
    expect(login.status, JSON.stringify(login.body)).toBe(200);
    h.user = login.body.token;
  });
  afterAll(async () => {
    await h.s?.close();
  });
  return h;
}

/** The field of a collection JSON by name. */
const field = (c: any, name: string): any => c.fields.find((f: any) => f.name === name);
const names = (c: any): string[] => c.fields.map((f: any) => f.name);

// ---------------------------------------------------------------- access

describe('collections API: access', () => {
  const h = harness();
  const routes: [string, string, unknown][] = [
    ['GET', '/api/collections', undefined],
    ['GET', '/api/collections/users', undefined],
    ['POST', '/api/collections', { name: 'nope', fields: [{ name: 'title', type: 'text' }] }],
    ['PATCH', '/api/collections/users', { listRule: '' }],
    ['DELETE', '/api/collections/users', undefined],
    ['PUT', '/api/collections/import', { collections: [{ name: 'nope' }], deleteMissing: false }],
  ];

  test('401 without a token (and with an invalid one) on every route', async () => {
    for (const [method, path, body] of routes) {
      for (const token of [null, 'not-a-token', `${h.su.slice(0, -3)}abc`]) {
        const r = await h.req(method, path, body, token);
        expectError(r, 401);
        expect(r.body.data).toEqual({});
      }
    }
  });

  test('403 with a regular user token on every route, and nothing changes', async () => {
    for (const [method, path, body] of routes) {
      const r = await h.req(method, path, body, h.user);
      expectError(r, 403);
      expect(r.body.data).toEqual({});
    }
    expect((await h.req('GET', '/api/collections/nope')).status).toBe(404);
    const users = await h.get('users');
    expect(users.listRule).toBe('id = @request.auth.id');
  });

  test('404 for an unknown collection on view, update and delete', async () => {
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      const r = await h.req(method, '/api/collections/missing_one', method === 'PATCH' ? {} : undefined);
      expectError(r, 404);
    }
  });
});

// ---------------------------------------------------------------- create and shape

describe('collections API: create and JSON shape', () => {
  const h = harness();

  test('a base collection with every field type: the PocketBase JSON shape and default fields', async () => {
    const authors = await h.create({ name: 'authors', fields: [{ name: 'name', type: 'text' }] });
    const c = await h.create({
      name: 'everything',
      type: 'base',
      listRule: '',
      viewRule: 'owner = @request.auth.id',
      fields: [
        { name: 'title', type: 'text', required: true, min: 2, max: 20, pattern: '^[A-Za-z ]+$' },
        { name: 'count', type: 'number', min: 0, max: 100, onlyInt: true },
        { name: 'active', type: 'bool' },
        { name: 'contact', type: 'email', onlyDomains: ['example.com'] },
        { name: 'site', type: 'url', exceptDomains: ['bad.example'] },
        { name: 'when', type: 'date' },
        { name: 'stamp', type: 'autodate', onCreate: true, onUpdate: true },
        { name: 'status', type: 'select', values: ['draft', 'live'], maxSelect: 1 },
        { name: 'labels', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
        { name: 'meta', type: 'json', maxSize: 2000 },
        { name: 'owner', type: 'relation', collectionId: USERS_ID, maxSelect: 1, cascadeDelete: true },
        { name: 'writers', type: 'relation', collectionId: authors.id, maxSelect: 5, cascadeDelete: false },
        { name: 'attachment', type: 'file', maxSelect: 2, maxSize: 1024, mimeTypes: ['image/png'], protected: true },
        { name: 'body', type: 'editor', convertURLs: true, presentable: true },
        { name: 'secretNote', type: 'text', hidden: true },
      ],
    });

    // top level
    expect(Object.keys(c).sort()).toEqual(
      [
        'id',
        'name',
        'type',
        'system',
        'fields',
        'indexes',
        'listRule',
        'viewRule',
        'createRule',
        'updateRule',
        'deleteRule',
        'created',
        'updated',
      ].sort(),
    );
    expect(c).toMatchObject({
      id: expect.stringMatching(/^\w+$/),
      name: 'everything',
      type: 'base',
      system: false,
      indexes: [],
      listRule: '',
      viewRule: 'owner = @request.auth.id',
      createRule: null,
      updateRule: null,
      deleteRule: null,
      created: expect.stringMatching(PB_DATE),
      updated: expect.stringMatching(PB_DATE),
    });

    // id first (PocketBase's exact options), the given fields in order, created/updated appended
    expect(names(c)).toEqual([
      'id',
      'title',
      'count',
      'active',
      'contact',
      'site',
      'when',
      'stamp',
      'status',
      'labels',
      'meta',
      'owner',
      'writers',
      'attachment',
      'body',
      'secretNote',
      'created',
      'updated',
    ]);
    expect(c.fields[0]).toEqual({
      autogeneratePattern: '[a-z0-9]{15}',
      hidden: false,
      id: 'text3208210256',
      max: 15,
      min: 15,
      name: 'id',
      pattern: '^[a-z0-9]+$',
      presentable: false,
      primaryKey: true,
      required: true,
      system: true,
      type: 'text',
    });
    for (const f of c.fields) {
      expect(f).toMatchObject({
        id: expect.stringMatching(/^\w+$/),
        name: expect.any(String),
        type: expect.any(String),
        system: expect.any(Boolean),
        hidden: expect.any(Boolean),
        presentable: expect.any(Boolean),
      });
    }
    expect(new Set(c.fields.map((f: any) => f.id)).size).toBe(c.fields.length);
    expect(field(c, 'created')).toMatchObject({ type: 'autodate', onCreate: true, onUpdate: false, system: false, hidden: false });
    expect(field(c, 'updated')).toMatchObject({ type: 'autodate', onCreate: true, onUpdate: true });

    // every type keeps its options, with defaults filled
    expect(field(c, 'title')).toMatchObject({
      type: 'text',
      required: true,
      min: 2,
      max: 20,
      pattern: '^[A-Za-z ]+$',
      autogeneratePattern: '',
      primaryKey: false,
      system: false,
      hidden: false,
      presentable: false,
    });
    expect(field(c, 'count')).toMatchObject({ type: 'number', required: false, min: 0, max: 100, onlyInt: true });
    expect(field(c, 'active')).toMatchObject({ type: 'bool', required: false });
    expect(field(c, 'contact')).toMatchObject({ type: 'email', onlyDomains: ['example.com'] });
    expect(field(c, 'site')).toMatchObject({ type: 'url', exceptDomains: ['bad.example'] });
    expect(field(c, 'when')).toMatchObject({ type: 'date', required: false, min: '', max: '' });
    expect(field(c, 'stamp')).toMatchObject({ type: 'autodate', onCreate: true, onUpdate: true });
    expect(field(c, 'status')).toMatchObject({ type: 'select', values: ['draft', 'live'], maxSelect: 1 });
    expect(field(c, 'labels')).toMatchObject({ type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 });
    expect(field(c, 'meta')).toMatchObject({ type: 'json', maxSize: 2000 });
    expect(field(c, 'owner')).toMatchObject({
      type: 'relation',
      collectionId: USERS_ID,
      maxSelect: 1,
      minSelect: 0,
      cascadeDelete: true,
    });
    expect(field(c, 'writers')).toMatchObject({ type: 'relation', collectionId: authors.id, maxSelect: 5, cascadeDelete: false });
    expect(field(c, 'attachment')).toMatchObject({
      type: 'file',
      maxSelect: 2,
      maxSize: 1024,
      mimeTypes: ['image/png'],
      thumbs: [],
      protected: true,
    });
    expect(field(c, 'body')).toMatchObject({ type: 'editor', convertURLs: true, presentable: true });
    expect(field(c, 'secretNote')).toMatchObject({ type: 'text', hidden: true });

    // the same JSON by name and by id, and in the list
    expect(await h.get('everything')).toEqual(c);
    expect(await h.get(c.id)).toEqual(c);
    expect(await h.get('EVERYTHING')).toEqual(c);
    const list = await h.req('GET', '/api/collections?perPage=100');
    expect(list.body.items.find((x: any) => x.id === c.id)).toEqual(c);

    // the table is real: a record with every type round-trips, and the options are enforced
    const writer = await h.addRecord('authors', { name: 'W' });
    const rec = await h.addRecord('everything', {
      title: 'Hello World',
      count: 7,
      active: true,
      contact: 'x@example.com',
      site: 'https://example.com/a',
      when: '2024-01-02 03:04:05.678Z',
      status: 'live',
      labels: ['a', 'c'],
      meta: { deep: [1, 'two'] },
      writers: [writer.id],
      body: '<p>hi</p>',
      secretNote: 'shh',
    });
    expect(rec).toMatchObject({
      collectionId: c.id,
      collectionName: 'everything',
      id: expect.stringMatching(/^[a-z0-9]{15}$/),
      title: 'Hello World',
      count: 7,
      active: true,
      contact: 'x@example.com',
      site: 'https://example.com/a',
      when: '2024-01-02 03:04:05.678Z',
      stamp: expect.stringMatching(PB_DATE),
      status: 'live',
      labels: ['a', 'c'],
      meta: { deep: [1, 'two'] },
      owner: '',
      writers: [writer.id],
      attachment: [],
      body: '<p>hi</p>',
      created: expect.stringMatching(PB_DATE),
      updated: expect.stringMatching(PB_DATE),
    });
    const bad = await h.req('POST', '/api/collections/everything/records', {
      title: 'x1',
      count: 1.5,
      contact: 'x@other.com',
      status: 'gone',
      labels: ['a', 'b', 'c', 'd'],
    });
    expectError(bad, 400);
    for (const key of ['title', 'count', 'contact', 'status', 'labels'])
      expect(bad.body.data[key], key).toMatchObject({ code: expect.any(String) });
    const missing = await h.req('POST', '/api/collections/everything/records', { count: 1 });
    expectError(missing, 400, 'title', 'validation_required');
  });

  test('an auth collection: system fields, auth options, no secrets, default unique indexes, working sign-in', async () => {
    const c = await h.create({
      name: 'members',
      type: 'auth',
      listRule: '',
      authToken: { duration: 3600 },
      fields: [{ name: 'nickname', type: 'text', max: 50 }],
    });
    expect(c).toMatchObject({
      name: 'members',
      type: 'auth',
      system: false,
      listRule: '',
      viewRule: null,
      authRule: '',
      manageRule: null,
      passwordAuth: { enabled: true, identityFields: ['email'] },
      authToken: { duration: 3600 },
      passwordResetToken: { duration: expect.any(Number) },
      emailChangeToken: { duration: expect.any(Number) },
      verificationToken: { duration: expect.any(Number) },
      fileToken: { duration: expect.any(Number) },
      mfa: { enabled: false },
      otp: { enabled: false },
      oauth2: { enabled: false },
      authAlert: { enabled: expect.any(Boolean) },
      verificationTemplate: { subject: expect.any(String), body: expect.any(String) },
      resetPasswordTemplate: { subject: expect.any(String), body: expect.any(String) },
      confirmEmailChangeTemplate: { subject: expect.any(String), body: expect.any(String) },
    });
    expect(c).not.toHaveProperty('auth');
    for (const key of ['authToken', 'passwordResetToken', 'emailChangeToken', 'verificationToken', 'fileToken']) {
      expect(Object.keys(c[key]), key).toEqual(['duration']);
    }
    expect(JSON.stringify(c)).not.toMatch(/secret"/i);

    expect(names(c)).toEqual(['id', 'password', 'tokenKey', 'email', 'emailVisibility', 'verified', 'nickname', 'created', 'updated']);
    expect(field(c, 'password')).toMatchObject({ type: 'password', system: true, hidden: true, required: true });
    expect(field(c, 'tokenKey')).toMatchObject({ type: 'text', system: true, hidden: true, required: true });
    expect(field(c, 'email')).toMatchObject({ type: 'email', system: true, required: true });
    expect(field(c, 'emailVisibility')).toMatchObject({ type: 'bool', system: true });
    expect(field(c, 'verified')).toMatchObject({ type: 'bool', system: true });
    expect(c.indexes).toHaveLength(2);
    expect(c.indexes.some((i: string) => /^CREATE UNIQUE INDEX .*\(`tokenKey`\)/.test(i))).toBe(true);
    expect(c.indexes.some((i: string) => /^CREATE UNIQUE INDEX .*\(`email`.*\) WHERE `email` != ''$/.test(i))).toBe(true);

    // the built-in collections never show a secret either
    for (const name of ['users', '_superusers']) {
      expect(JSON.stringify(await h.get(name))).not.toMatch(/secret"/i);
    }
    expect(JSON.stringify((await h.req('GET', '/api/collections?perPage=100')).body)).not.toMatch(/secret"/i);

    // the new auth collection signs people in; the email index is enforced
    await h.addRecord('members', { email: 'm@example.com', password: 'member-pass-1', passwordConfirm: 'member-pass-1' });
    const dup = await h.req('POST', '/api/collections/members/records', {
      email: 'm@example.com',
      password: 'member-pass-1',
      passwordConfirm: 'member-pass-1',
    });
    expectError(dup, 400, 'email', 'validation_not_unique');
    const login = await h.req(
      'POST',
      '/api/collections/members/auth-with-password',
      { identity: 'm@example.com', password: 'member-pass-1' },
      null,
    );
    expect(login.status, JSON.stringify(login.body)).toBe(200);
    expect(login.body.record).not.toHaveProperty('password');
    expect(login.body.record).not.toHaveProperty('tokenKey');
  });

  test('an auth collection has one password field: a second is refused rather than half-supported', async () => {
    const r = await h.req('POST', '/api/collections', {
      name: 'lockers',
      type: 'auth',
      fields: [{ name: 'pin', type: 'password', min: 4, max: 10 }],
    });
    expectError(r, 400, 'fields');
    expect((await h.req('GET', '/api/collections/lockers')).status).toBe(404);
  });

  test('system collections: _superusers is system, users is not', async () => {
    const su = await h.get('_superusers');
    expect(su).toMatchObject({ name: '_superusers', type: 'auth', system: true });
    const users = await h.get('users');
    expect(users).toMatchObject({ id: USERS_ID, name: 'users', type: 'auth', system: false });
  });

  test('a password field belongs to auth collections only', async () => {
    const r = await h.req('POST', '/api/collections', { name: 'pwbase', fields: [{ name: 'pw', type: 'password' }] });
    expectError(r, 400, 'fields.1.type');
    expect((await h.req('GET', '/api/collections/pwbase')).status).toBe(404);
  });

  test('given created/updated fields are kept rather than duplicated; no fields gives id, created, updated', async () => {
    const a = await h.create({ name: 'bare' });
    expect(names(a)).toEqual(['id', 'created', 'updated']);
    const b = await h.create({ name: 'owndates', fields: [{ name: 'created', type: 'autodate', onCreate: true, onUpdate: true }] });
    expect(names(b)).toEqual(['id', 'created', 'updated']);
    expect(field(b, 'created')).toMatchObject({ onCreate: true, onUpdate: true });
  });

  test('a unique index is created, returned in PocketBase form and enforced on records (400 validation_not_unique)', async () => {
    const c = await h.create({
      name: 'posts',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'slug', type: 'text' },
      ],
      indexes: ['CREATE UNIQUE INDEX idx_x ON posts (title)', 'CREATE INDEX idx_slug ON anything (slug DESC)'],
    });
    expect(c.indexes).toEqual(['CREATE UNIQUE INDEX `idx_x` ON `posts` (`title`)', 'CREATE INDEX `idx_slug` ON `posts` (`slug` DESC)']);
    await h.addRecord('posts', { title: 'one', slug: 's' });
    await h.addRecord('posts', { title: 'two', slug: 's' });
    const dup = await h.req('POST', '/api/collections/posts/records', { title: 'one', slug: 'other' });
    expectError(dup, 400, 'title', 'validation_not_unique');
    expect(dup.body.data).not.toHaveProperty('slug');
    // on update too
    const two = (await h.records('posts')).find((r) => r.title === 'two');
    const upd = await h.req('PATCH', `/api/collections/posts/records/${two.id}`, { title: 'one' });
    expectError(upd, 400, 'title', 'validation_not_unique');

    // an index added later by PATCH is enforced as well
    await h.patch('posts', { indexes: [...c.indexes, 'CREATE UNIQUE INDEX idx_title_slug ON posts (slug, title)'] });
    await h.addRecord('posts', { title: 'three', slug: 'x' });
    const dup2 = await h.req('POST', '/api/collections/posts/records', { title: 'four', slug: 'x' });
    expect(dup2.status).toBe(200);
  });
});

// ---------------------------------------------------------------- validation

describe('collections API: validation errors', () => {
  const h = harness();

  test('missing and malformed collection names', async () => {
    expectError(await h.req('POST', '/api/collections', {}), 400, 'name', 'validation_required');
    for (const name of ['has space', 'with-dash', 'dot.ted', 'a'.repeat(300), 'semi;colon', 42, null]) {
      expectError(await h.req('POST', '/api/collections', { name }), 400, 'name');
    }
    // the name must not be another collection's id either
    expectError(await h.req('POST', '/api/collections', { name: 'pbc_3142635823' }), 400, 'name');
    expectError(await h.req('POST', '/api/collections', 'not an object'), 400);
    expectError(await h.req('POST', '/api/collections', [{ name: 'x' }]), 400);
    expect((await h.req('GET', '/api/collections?perPage=100')).body.items.map((c: any) => c.name).sort()).toEqual([
      // PocketBase's system collections of the auth flows, present in every app
      '_authOrigins',
      '_externalAuths',
      '_mfas',
      '_otps',
      '_superusers',
      'users',
    ]);
  });

  test('an empty name is "validation_required", as in PocketBase', async () => {
    expectError(await h.req('POST', '/api/collections', { name: '' }), 400, 'name', 'validation_required');
  });

  test('names PocketBase reserves: "_via_" (back-relation syntax) and SQLite internal tables are a 400, not a 500', async () => {
    for (const name of ['posts_via_author', 'sqlite_master', 'sqlite_sequence', 'sqlite_stat1']) {
      expectError(await h.req('POST', '/api/collections', { name }), 400, 'name');
      expect((await h.req('GET', `/api/collections/${name}`)).status, name).toBe(404);
    }
  });

  test('duplicate names are refused case-insensitively, on create and on rename', async () => {
    for (const name of ['users', 'Users', 'USERS']) {
      expectError(await h.req('POST', '/api/collections', { name }), 400, 'name', 'validation_collection_name_exists');
    }
    expectError(await h.req('POST', '/api/collections', { name: '_SUPERUSERS' }), 400, 'name');
    await h.create({ name: 'dupcheck' });
    await h.create({ name: 'other_one' });
    expectError(await h.req('POST', '/api/collections', { name: 'DupCheck' }), 400, 'name', 'validation_collection_name_exists');
    expectError(await h.req('PATCH', '/api/collections/other_one', { name: 'DUPCHECK' }), 400, 'name', 'validation_collection_name_exists');
    // an empty PATCH changes nothing
    const same = await h.patch('other_one', {});
    expect(same.name).toBe('other_one');
  });

  test('renaming a collection to its own name in another case works (PocketBase compares table names case-insensitively)', async () => {
    await h.create({ name: 'casey', fields: [{ name: 'title', type: 'text' }] });
    await h.addRecord('casey', { title: 'kept' });
    const r = await h.req('PATCH', '/api/collections/casey', { name: 'Casey' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.name).toBe('Casey');
    expect((await h.records('Casey')).map((x) => x.title)).toEqual(['kept']);
  });

  test('unknown field types, bad and reserved field names, duplicate field names', async () => {
    const unknown = await h.req('POST', '/api/collections', {
      name: 'f1',
      fields: [
        { name: 'ok', type: 'text' },
        { name: 'x', type: 'geoPoint2' },
      ],
    });
    expectError(unknown, 400, 'fields.1.type');
    const noType = await h.req('POST', '/api/collections', { name: 'f1', fields: [{ name: 'x' }] });
    expectError(noType, 400, 'fields.0.type');

    const reserved = await h.req('POST', '/api/collections', {
      name: 'f1',
      fields: [
        { name: 'fine', type: 'text' },
        { name: 'expand', type: 'text' },
        { name: 'collectionId', type: 'text' },
        { name: 'collectionName', type: 'text' },
        { name: 'a_via_b', type: 'text' },
      ],
    });
    expectError(reserved, 400, 'fields.1.name', 'validation_not_in_invalid');
    expectError(reserved, 400, 'fields.2.name', 'validation_not_in_invalid');
    expectError(reserved, 400, 'fields.3.name', 'validation_not_in_invalid');
    expectError(reserved, 400, 'fields.4.name');
    expect(reserved.body.data.fields).not.toHaveProperty('0');

    for (const name of ['', 'has space', 'with-dash', '9lives']) {
      const r = await h.req('POST', '/api/collections', { name: 'f1', fields: [{ name, type: 'text' }] });
      expectError(r, 400, 'fields.0.name');
    }

    const dup = await h.req('POST', '/api/collections', {
      name: 'f1',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'Title', type: 'number' },
      ],
    });
    expectError(dup, 400, 'fields.2.name', 'validation_duplicated_field_name');
    expect((await h.req('GET', '/api/collections/f1')).status).toBe(404);
  });

  test('rules: a rule naming an unknown field or with bad syntax is refused; a good one is kept', async () => {
    await h.create({ name: 'ruled', fields: [{ name: 'title', type: 'text' }] });
    const unknownField = await h.req('POST', '/api/collections', {
      name: 'r1',
      fields: [{ name: 'title', type: 'text' }],
      listRule: 'missing = "x"',
      viewRule: 'title = "x" &&',
      createRule: '@collection.nowhere.id != ""',
      updateRule: '@request.auth.id != "" && title != ""',
    });
    expectError(unknownField, 400, 'listRule', 'validation_invalid_rule');
    expectError(unknownField, 400, 'viewRule', 'validation_invalid_rule');
    expectError(unknownField, 400, 'createRule', 'validation_invalid_rule');
    expect(unknownField.body.data).not.toHaveProperty('updateRule');
    expect((await h.req('GET', '/api/collections/r1')).status).toBe(404);

    const patch = await h.req('PATCH', '/api/collections/ruled', { deleteRule: 'nosuch.field = 1' });
    expectError(patch, 400, 'deleteRule', 'validation_invalid_rule');
    expect((await h.get('ruled')).deleteRule).toBeNull();

    // on auth collections authRule and manageRule are checked too
    const auth = await h.req('PATCH', '/api/collections/users', { manageRule: 'nope = 1' });
    expectError(auth, 400, 'manageRule', 'validation_invalid_rule');

    // a rule that stops compiling after a field change makes that change fail
    await h.patch('ruled', { listRule: 'title != ""' });
    const c = await h.get('ruled');
    const drop = await h.req('PATCH', '/api/collections/ruled', { fields: c.fields.filter((f: any) => f.name !== 'title') });
    expectError(drop, 400, 'listRule', 'validation_invalid_rule');
    expect(await h.get('ruled')).toEqual(c);

    const ok = await h.patch('ruled', { listRule: '', viewRule: '@request.auth.id != "" && title ~ "a"', createRule: null });
    expect(ok).toMatchObject({ listRule: '', viewRule: '@request.auth.id != "" && title ~ "a"', createRule: null });
  });

  test('indexes: invalid SQL, unknown columns, duplicate names and names used by another collection', async () => {
    const base = { fields: [{ name: 'title', type: 'text' }] };
    for (const sql of ['DROP TABLE users', 'CREATE INDEX', 'create index idx_a on t1 (title); DROP TABLE users', 'hello', 42]) {
      const r = await h.req('POST', '/api/collections', { name: 't1', ...base, indexes: ['CREATE INDEX idx_fine ON t1 (title)', sql] });
      expectError(r, 400, 'indexes.1');
      expect(r.body.data.indexes).not.toHaveProperty('0');
    }
    const unknownColumn = await h.req('POST', '/api/collections', { name: 't1', ...base, indexes: ['CREATE INDEX idx_m ON t1 (missing)'] });
    expectError(unknownColumn, 400, 'indexes.0');
    const dupName = await h.req('POST', '/api/collections', {
      name: 't1',
      ...base,
      indexes: ['CREATE INDEX idx_same ON t1 (created)', 'CREATE INDEX idx_same ON t1 (updated)'],
    });
    expectError(dupName, 400, 'indexes.1', 'validation_duplicated_index_name');
    expect((await h.req('GET', '/api/collections/t1')).status).toBe(404);
  });

  test('an index name another collection uses is a 400 validation_existing_index_name (SQLite index names are global)', async () => {
    const base = { fields: [{ name: 'title', type: 'text' }] };
    await h.create({ name: 'has_index', ...base, indexes: ['CREATE INDEX idx_taken ON has_index (title)'] });
    const taken = await h.req('POST', '/api/collections', { name: 't2', ...base, indexes: ['CREATE INDEX idx_taken ON t2 (title)'] });
    expectError(taken, 400, 'indexes.0', 'validation_existing_index_name');
    expect((await h.req('GET', '/api/collections/t2')).status).toBe(404);
    const t3 = await h.create({ name: 't3', ...base });
    const takenOnUpdate = await h.req('PATCH', '/api/collections/t3', { indexes: ['CREATE INDEX idx_taken ON t3 (title)'] });
    expectError(takenOnUpdate, 400, 'indexes.0', 'validation_existing_index_name');
    expect(await h.get('t3')).toEqual(t3);
  });

  test('a file field takes only thumb sizes a thumbnail can be made in', async () => {
    for (const bad of ['0x0', '0x0f', '100', '100x100x', '-1x10', '10x10z', '12345x1', ' 100x100']) {
      const r = await h.req('POST', '/api/collections', {
        name: 'pics',
        fields: [{ name: 'img', type: 'file', thumbs: ['100x100', bad] }],
      });
      expectError(r, 400, 'fields.0.thumbs');
    }
    const ok = await h.create({
      name: 'pics',
      fields: [{ name: 'img', type: 'file', thumbs: ['100x100', '0x50', '50x0', '300x200t', '300x200b', '300x200f'] }],
    });
    expect(ok.fields.find((f: { name: string }) => f.name === 'img').thumbs).toHaveLength(6);
  });

  test('a relation to a missing collection is refused', async () => {
    const r = await h.req('POST', '/api/collections', {
      name: 'rel1',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'link', type: 'relation', collectionId: 'pbc_0000000', maxSelect: 1 },
      ],
    });
    expectError(r, 400, 'fields.2.collectionId');
    const noTarget = await h.req('POST', '/api/collections', { name: 'rel1', fields: [{ name: 'link', type: 'relation' }] });
    expectError(noTarget, 400, 'fields.0.collectionId');
    expect((await h.req('GET', '/api/collections/rel1')).status).toBe(404);

    const c = await h.create({ name: 'rel2', fields: [{ name: 'title', type: 'text' }] });
    const upd = await h.req('PATCH', '/api/collections/rel2', {
      fields: [...c.fields, { name: 'link', type: 'relation', collectionId: 'missing_collection' }],
    });
    expectError(upd, 400);
    expect(JSON.stringify(upd.body.data)).toContain('collectionId');
    expect(await h.get('rel2')).toEqual(c);
  });

  test('the type of a collection and the type of a field cannot change', async () => {
    const c = await h.create({
      name: 'typed',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'link', type: 'relation', collectionId: USERS_ID, maxSelect: 1 },
      ],
    });
    await h.addRecord('typed', { title: 'keep me' });

    expectError(await h.req('PATCH', '/api/collections/typed', { type: 'auth' }), 400, 'type', 'validation_collection_type_change');
    expectError(await h.req('PATCH', '/api/collections/users', { type: 'base' }), 400, 'type', 'validation_collection_type_change');

    const title = field(c, 'title');
    const fieldType = await h.req('PATCH', '/api/collections/typed', {
      fields: c.fields.map((f: any) => (f.id === title.id ? { id: title.id, name: 'title', type: 'number' } : f)),
    });
    expectError(fieldType, 400);
    expect(JSON.stringify(fieldType.body.data.fields)).toContain('validation_field_type_change');
    expect(await h.get('typed')).toEqual(c);
    expect((await h.records('typed')).map((r) => r.title)).toEqual(['keep me']);
  });

  test('the target collection of a relation field cannot change (PocketBase: validation_field_relation_change)', async () => {
    const target = await h.create({ name: 'tc_target2' });
    const c = await h.create({ name: 'typed2', fields: [{ name: 'link', type: 'relation', collectionId: USERS_ID, maxSelect: 1 }] });
    const link = field(c, 'link');
    const relTarget = await h.req('PATCH', '/api/collections/typed2', {
      fields: c.fields.map((f: any) => (f.id === link.id ? { ...f, collectionId: target.id } : f)),
    });
    expectError(relTarget, 400);
    expect(JSON.stringify(relTarget.body.data.fields)).toContain('collectionId');
    expect(await h.get('typed2')).toEqual(c);
  });

  test('system collections and system fields are protected', async () => {
    const su = await h.get('_superusers');
    expectError(await h.req('PATCH', '/api/collections/_superusers', { name: 'admins' }), 400, 'name');
    expectError(await h.req('PATCH', '/api/collections/_superusers', { listRule: '' }), 400, 'listRule');
    expect(await h.get('_superusers')).toEqual(su);

    const users = await h.get('users');
    // a system field left out is either refused or put back (PocketBase re-adds the default one): never dropped
    const noEmail = await h.req('PATCH', '/api/collections/users', { fields: users.fields.filter((f: any) => f.name !== 'email') });
    expect([200, 400]).toContain(noEmail.status);
    expect(field(await h.get('users'), 'email')).toEqual(field(users, 'email'));
    const renamedEmail = await h.req('PATCH', '/api/collections/users', {
      fields: users.fields.map((f: any) => (f.name === 'email' ? { ...f, name: 'mail' } : f)),
    });
    expectError(renamedEmail, 400);
    const after = await h.get('users');
    expect({ ...after, updated: '' }).toEqual({ ...users, updated: '' });
  });
});

// ---------------------------------------------------------------- migrations

describe('collections API: migrations keep data', () => {
  const h = harness();

  test('adding fields: existing records get each type empty value', async () => {
    const c = await h.create({ name: 'grow', listRule: '', fields: [{ name: 'title', type: 'text' }] });
    const a = await h.addRecord('grow', { title: 'a' });
    const b = await h.addRecord('grow', { title: 'b' });
    const next = await h.patch('grow', {
      fields: [
        ...c.fields,
        { name: 'subtitle', type: 'text' },
        { name: 'count', type: 'number' },
        { name: 'flag', type: 'bool' },
        { name: 'meta', type: 'json' },
        { name: 'tags', type: 'select', values: ['x', 'y'], maxSelect: 2 },
        { name: 'kind', type: 'select', values: ['x', 'y'] },
        { name: 'owner', type: 'relation', collectionId: USERS_ID },
        { name: 'friends', type: 'relation', collectionId: USERS_ID, maxSelect: 9 },
        { name: 'when', type: 'date' },
        { name: 'mail', type: 'email' },
        { name: 'note', type: 'editor' },
        { name: 'files', type: 'file', maxSelect: 3 },
      ],
    });
    expect(names(next)).toEqual([
      'id',
      'title',
      'created',
      'updated',
      'subtitle',
      'count',
      'flag',
      'meta',
      'tags',
      'kind',
      'owner',
      'friends',
      'when',
      'mail',
      'note',
      'files',
    ]);
    expect(next.id).toBe(c.id);
    expect(next.created).toBe(c.created);
    const rows = await h.records('grow');
    expect(rows.map((r) => r.id)).toEqual([a.id, b.id]);
    for (const [i, r] of rows.entries()) {
      expect(r).toMatchObject({
        title: ['a', 'b'][i],
        created: [a, b][i].created,
        subtitle: '',
        count: 0,
        flag: false,
        meta: null,
        tags: [],
        kind: '',
        owner: '',
        friends: [],
        when: '',
        mail: '',
        note: '',
        files: [],
      });
    }
    // and the new columns take writes
    const c2 = await h.addRecord('grow', { title: 'c', count: 3, tags: ['x', 'y'], meta: [1] });
    expect(c2).toMatchObject({ count: 3, tags: ['x', 'y'], meta: [1] });
  });

  test('renaming a field by id keeps its data, and its indexes follow the new name', async () => {
    const c = await h.create({
      name: 'ren',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'views', type: 'number' },
      ],
      indexes: ['CREATE UNIQUE INDEX idx_ren_title ON ren (title)'],
    });
    const a = await h.addRecord('ren', { title: 'first', views: 1 });
    await h.addRecord('ren', { title: 'second', views: 2 });
    const title = field(c, 'title');
    const next = await h.patch('ren', {
      fields: c.fields.map((f: any) => (f.id === title.id ? { ...f, name: 'headline' } : f)),
    });
    expect(field(next, 'headline')).toMatchObject({ id: title.id, type: 'text' });
    expect(field(next, 'title')).toBeUndefined();
    expect(next.indexes).toEqual(['CREATE UNIQUE INDEX `idx_ren_title` ON `ren` (`headline`)']);

    const rows = await h.records('ren');
    expect(rows.map((r) => [r.headline, r.views])).toEqual([
      ['first', 1],
      ['second', 2],
    ]);
    expect(rows[0]).not.toHaveProperty('title');
    expect(rows[0].id).toBe(a.id);
    // the index still guards the renamed column
    expectError(await h.req('POST', '/api/collections/ren/records', { headline: 'first' }), 400, 'headline', 'validation_not_unique');
    // and the new name filters and sorts
    const found = await h.req('GET', '/api/collections/ren/records?filter=headline%3D%22second%22&sort=-headline');
    expect(found.body.items.map((r: any) => r.headline)).toEqual(['second']);
    expect((await h.req('GET', '/api/collections/ren/records?filter=title%3D%22second%22')).status).toBe(400);
  });

  test('swapping the names of two fields keeps each value with its field id', async () => {
    const c = await h.create({
      name: 'swap',
      fields: [
        { name: 'first', type: 'text' },
        { name: 'last', type: 'text' },
      ],
    });
    await h.addRecord('swap', { first: 'Ada', last: 'Lovelace' });
    const first = field(c, 'first');
    const last = field(c, 'last');
    const r = await h.req('PATCH', '/api/collections/swap', {
      fields: c.fields.map((f: any) => (f.id === first.id ? { ...f, name: 'last' } : f.id === last.id ? { ...f, name: 'first' } : f)),
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(field(r.body, 'last').id).toBe(first.id);
    const [row] = await h.records('swap');
    expect(row).toMatchObject({ first: 'Lovelace', last: 'Ada' });
  });

  test('removing a field drops its data and keeps the rest', async () => {
    const c = await h.create({
      name: 'shrink',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'secret', type: 'text' },
        { name: 'n', type: 'number' },
      ],
      indexes: ['CREATE INDEX idx_shrink_secret ON shrink (secret)'],
    });
    await h.addRecord('shrink', { title: 't', secret: 's', n: 5 });
    // an index on a removed field must go with it (PocketBase refuses an index on a missing column)
    const stillIndexed = await h.req('PATCH', '/api/collections/shrink', { fields: c.fields.filter((f: any) => f.name !== 'secret') });
    expectError(stillIndexed, 400, 'indexes.0');
    expect(await h.get('shrink')).toEqual(c);

    const next = await h.patch('shrink', { fields: c.fields.filter((f: any) => f.name !== 'secret'), indexes: [] });
    expect(names(next)).toEqual(['id', 'title', 'n', 'created', 'updated']);
    const [row] = await h.records('shrink');
    expect(row).toMatchObject({ title: 't', n: 5 });
    expect(row).not.toHaveProperty('secret');
    // a new field of the same name starts empty
    const again = await h.patch('shrink', { fields: [...next.fields, { name: 'secret', type: 'text' }] });
    expect(field(again, 'secret')).toBeDefined();
    expect((await h.records('shrink'))[0].secret).toBe('');
  });

  test('renaming the collection keeps its records, indexes and relations to it', async () => {
    const c = await h.create({
      name: 'articles',
      fields: [{ name: 'title', type: 'text' }],
      indexes: ['CREATE UNIQUE INDEX idx_articles_title ON articles (title)'],
    });
    const comments = await h.create({
      name: 'comments',
      fields: [{ name: 'article', type: 'relation', collectionId: c.id, maxSelect: 1 }],
    });
    const a = await h.addRecord('articles', { title: 'hello' });
    await h.addRecord('comments', { article: a.id });

    const next = await h.patch('articles', { name: 'stories' });
    expect(next).toMatchObject({ id: c.id, name: 'stories' });
    expect(next.indexes).toEqual(['CREATE UNIQUE INDEX `idx_articles_title` ON `stories` (`title`)']);
    expect((await h.req('GET', '/api/collections/articles')).status).toBe(404);
    expect((await h.req('GET', '/api/collections/articles/records')).status).toBe(404);
    const rows = await h.records('stories');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: a.id, title: 'hello', collectionName: 'stories', collectionId: c.id });
    expectError(await h.req('POST', '/api/collections/stories/records', { title: 'hello' }), 400, 'title', 'validation_not_unique');
    // the relation still resolves
    const expanded = await h.req('GET', '/api/collections/comments/records?expand=article');
    expect(expanded.body.items[0].expand.article).toMatchObject({ id: a.id, collectionName: 'stories' });
    expect(field(await h.get(comments.id), 'article').collectionId).toBe(c.id);
    // the old name is free again
    await h.create({ name: 'articles' });
  });

  test('relation and select: single to multi (maxSelect 1 → 3) and back, converting the data', async () => {
    const tags = await h.create({ name: 'tags', fields: [{ name: 'label', type: 'text' }] });
    const t1 = await h.addRecord('tags', { label: 'one' });
    const t2 = await h.addRecord('tags', { label: 'two' });
    const c = await h.create({
      name: 'tagged',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'tag', type: 'relation', collectionId: tags.id, maxSelect: 1 },
        { name: 'color', type: 'select', values: ['red', 'green', 'blue'], maxSelect: 1 },
      ],
    });
    await h.addRecord('tagged', { title: 'full', tag: t1.id, color: 'red' });
    await h.addRecord('tagged', { title: 'empty' });

    const multi = await h.patch('tagged', {
      fields: c.fields.map((f: any) => (f.name === 'tag' || f.name === 'color' ? { ...f, maxSelect: 3 } : f)),
    });
    expect(field(multi, 'tag').maxSelect).toBe(3);
    // a create after the conversion: the same INSERT text as before it, into columns that now hold lists
    const made = await h.addRecord('tagged', { title: 'multi', tag: [t1.id, t2.id], color: ['green'] });
    expect(made).toMatchObject({ tag: [t1.id, t2.id], color: ['green'] });
    expect((await h.req('DELETE', `/api/collections/tagged/records/${made.id}`)).status).toBe(204);
    let rows = await h.records('tagged');
    expect(rows.map((r) => [r.title, r.tag, r.color])).toEqual([
      ['full', [t1.id], ['red']],
      ['empty', [], []],
    ]);
    const full = rows[0];
    const upd = await h.req('PATCH', `/api/collections/tagged/records/${full.id}`, { tag: [t1.id, t2.id], color: ['red', 'blue'] });
    expect(upd.status, JSON.stringify(upd.body)).toBe(200);
    // filters over the now multi-valued field work
    const any = await h.req(
      'GET',
      `/api/collections/tagged/records?filter=${encodeURIComponent(`tag.id ?= "${t2.id}" && color:each ?= "blue"`)}`,
    );
    expect(any.body.items.map((r: any) => r.title)).toEqual(['full']);

    const single = await h.patch('tagged', {
      fields: multi.fields.map((f: any) => (f.name === 'tag' || f.name === 'color' ? { ...f, maxSelect: 1 } : f)),
    });
    expect(field(single, 'color').maxSelect).toBe(1);
    rows = await h.records('tagged');
    // PocketBase keeps the last value
    expect(rows.map((r) => [r.title, r.tag, r.color])).toEqual([
      ['full', t2.id, 'blue'],
      ['empty', '', ''],
    ]);
    const written = await h.addRecord('tagged', { title: 'new', tag: t1.id, color: 'green' });
    expect(written).toMatchObject({ tag: t1.id, color: 'green' });
  });

  test('a migration that fails in the database leaves schema and data unchanged (400, not 500)', async () => {
    const c = await h.create({
      name: 'atomic',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'code', type: 'text' },
      ],
    });
    await h.addRecord('atomic', { title: 'x', code: 'same' });
    await h.addRecord('atomic', { title: 'y', code: 'same' });
    const before = await h.records('atomic');
    const codeField = field(c, 'code');
    // rename a field, add one, rename the collection and add a unique index the data violates: all or nothing
    const r = await h.req('PATCH', '/api/collections/atomic', {
      name: 'atomic2',
      fields: [...c.fields.map((f: any) => (f.id === codeField.id ? { ...f, name: 'ref' } : f)), { name: 'extra', type: 'number' }],
      indexes: ['CREATE UNIQUE INDEX idx_atomic_ref ON atomic (ref)'],
    });
    expect(await h.get('atomic')).toEqual(c);
    expect((await h.req('GET', '/api/collections/atomic2')).status).toBe(404);
    expect(await h.records('atomic')).toEqual(before);
    // the table itself is untouched: the old column takes writes, the new ones do not exist
    const rec = await h.addRecord('atomic', { title: 'z', code: 'same' });
    expect(rec).not.toHaveProperty('extra');
    expect(rec).not.toHaveProperty('ref');
    // and a later valid migration still works
    const ok = await h.patch('atomic', { fields: [...c.fields, { name: 'extra', type: 'number' }] });
    expect(names(ok)).toContain('extra');
    // PocketBase answers a failed save with a 400 ("Failed to update collection."), and Mainspring promises never a 500 for bad input
    expectError(r, 400);
  });

  test('a failing validation leaves the schema unchanged', async () => {
    const c = await h.create({ name: 'stable', fields: [{ name: 'title', type: 'text' }] });
    await h.addRecord('stable', { title: 'kept' });
    const r = await h.req('PATCH', '/api/collections/stable', {
      name: 'stable_renamed',
      listRule: 'nope = 1',
      fields: [...c.fields, { name: 'more', type: 'text' }],
    });
    expectError(r, 400, 'listRule');
    expect(await h.get('stable')).toEqual(c);
    expect((await h.records('stable'))[0]).not.toHaveProperty('more');
  });
});

// ---------------------------------------------------------------- delete

describe('collections API: delete', () => {
  const h = harness();

  test('system collections cannot be deleted; users (not system) is protected only by references', async () => {
    const r = await h.req('DELETE', '/api/collections/_superusers');
    expectError(r, 400);
    expect((await h.get('_superusers')).system).toBe(true);
  });

  test('a collection referenced by another collection relation cannot be deleted', async () => {
    const parent = await h.create({ name: 'parent' });
    await h.create({ name: 'child', fields: [{ name: 'p', type: 'relation', collectionId: parent.id, maxSelect: 1 }] });
    await h.addRecord('parent', {});
    const r = await h.req('DELETE', '/api/collections/parent');
    expectError(r, 400);
    expect(await h.get('parent')).toEqual(parent);
    expect(await h.records('parent')).toHaveLength(1);
    // once the referencing collection is gone, it can be deleted
    expect((await h.req('DELETE', '/api/collections/child')).status).toBe(204);
    expect((await h.req('DELETE', `/api/collections/${parent.id}`)).status).toBe(204);

    // a self-relation does not block deletion
    const self = await h.create({ name: 'selfref' });
    await h.patch('selfref', { fields: [...self.fields, { name: 'parent', type: 'relation', collectionId: self.id }] });
    expect((await h.req('DELETE', '/api/collections/selfref')).status).toBe(204);
  });

  test('deleting drops the records: a new collection of the same name starts empty', async () => {
    await h.create({
      name: 'doomed',
      fields: [{ name: 'title', type: 'text' }],
      indexes: ['CREATE UNIQUE INDEX idx_doomed ON doomed (title)'],
    });
    await h.addRecord('doomed', { title: 'a' });
    await h.addRecord('doomed', { title: 'b' });
    const del = await h.req('DELETE', '/api/collections/doomed');
    expect(del.status).toBe(204);
    expect(del.body).toBeNull();
    expect((await h.req('GET', '/api/collections/doomed')).status).toBe(404);
    expect((await h.req('GET', '/api/collections/doomed/records')).status).toBe(404);
    await h.create({
      name: 'doomed',
      fields: [{ name: 'title', type: 'text' }],
      indexes: ['CREATE UNIQUE INDEX idx_doomed ON doomed (title)'],
    });
    expect(await h.records('doomed')).toEqual([]);
    await h.addRecord('doomed', { title: 'a' });
  });

  test('users can be deleted once nothing relates to it, and its records go with it', async () => {
    expect((await h.get('users')).system).toBe(false);
    const rel = await h.create({ name: 'owned', fields: [{ name: 'owner', type: 'relation', collectionId: USERS_ID }] });
    expectError(await h.req('DELETE', '/api/collections/users'), 400);
    expect((await h.req('DELETE', `/api/collections/${rel.id}`)).status).toBe(204);
    expect((await h.req('DELETE', '/api/collections/users')).status).toBe(204);
    expect((await h.req('GET', '/api/collections/users')).status).toBe(404);
  });
});

// ---------------------------------------------------------------- import

describe('collections API: import', () => {
  const h = harness();

  test('creates several collections relating to each other in one import (204)', async () => {
    const r = await h.req('PUT', '/api/collections/import', {
      deleteMissing: false,
      collections: [
        {
          id: 'pbc_books00001',
          name: 'books',
          type: 'base',
          listRule: '',
          fields: [
            { name: 'title', type: 'text', required: true },
            { name: 'author', type: 'relation', collectionId: 'pbc_writers001', maxSelect: 1 },
            { name: 'reviews', type: 'relation', collectionId: 'pbc_reviews001', maxSelect: 10 },
          ],
          indexes: ['CREATE UNIQUE INDEX idx_books_title ON books (title)'],
        },
        {
          id: 'pbc_writers001',
          name: 'writers',
          type: 'auth',
          fields: [{ name: 'favourite', type: 'relation', collectionId: 'pbc_books00001', maxSelect: 1 }],
        },
        {
          id: 'pbc_reviews001',
          name: 'reviews',
          fields: [
            { name: 'book', type: 'relation', collectionId: 'pbc_books00001', maxSelect: 1, cascadeDelete: true },
            { name: 'stars', type: 'number', onlyInt: true },
          ],
        },
      ],
    });
    expect(r.status, JSON.stringify(r.body)).toBe(204);
    const books = await h.get('books');
    expect(books).toMatchObject({ id: 'pbc_books00001', listRule: '' });
    expect(field(books, 'author').collectionId).toBe('pbc_writers001');
    const writers = await h.get('pbc_writers001');
    expect(writers).toMatchObject({ name: 'writers', type: 'auth' });
    expect(JSON.stringify(writers)).not.toMatch(/secret"/i);
    expect(field(await h.get('reviews'), 'book')).toMatchObject({ collectionId: 'pbc_books00001', cascadeDelete: true });
    // the tables work together
    const w = await h.addRecord('writers', { email: 'w@example.com', password: 'writer-pass-1', passwordConfirm: 'writer-pass-1' });
    const b = await h.addRecord('books', { title: 'Dune', author: w.id });
    await h.addRecord('reviews', { book: b.id, stars: 5 });
    expectError(await h.req('POST', '/api/collections/books/records', { title: 'Dune' }), 400, 'title', 'validation_not_unique');
  });

  test('updates existing collections (matched by id or name) keeping their data', async () => {
    const books = await h.get('books');
    const title = field(books, 'title');
    const r = await h.req('PUT', '/api/collections/import', {
      collections: [
        {
          ...books,
          listRule: null,
          fields: [...books.fields.map((f: any) => (f.id === title.id ? { ...f, name: 'name' } : f)), { name: 'pages', type: 'number' }],
          indexes: ['CREATE UNIQUE INDEX idx_books_title ON books (name)'],
        },
        { name: 'reviews', listRule: '' },
      ],
      deleteMissing: false,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(204);
    const next = await h.get('books');
    expect(next.listRule).toBeNull();
    expect(field(next, 'name').id).toBe(title.id);
    const [row] = await h.records('books');
    expect(row).toMatchObject({ name: 'Dune', pages: 0 });
    const reviews = await h.get('reviews');
    expect(reviews.listRule).toBe('');
    // deleteMissing false keeps collections (and fields) that are not listed
    expect(field(reviews, 'stars')).toBeDefined();
    expect((await h.records('reviews'))[0]).toMatchObject({ stars: 5 });
    expect((await h.get('writers')).name).toBe('writers');
  });

  test('without deleteMissing, fields missing from an imported collection are kept (PocketBase merges them)', async () => {
    const c = await h.create({
      name: 'partial',
      fields: [
        { name: 'a', type: 'text' },
        { name: 'b', type: 'text' },
      ],
    });
    await h.addRecord('partial', { a: 'A', b: 'B' });
    const r = await h.req('PUT', '/api/collections/import', {
      collections: [{ id: c.id, name: 'partial', fields: [{ name: 'c', type: 'number' }] }],
      deleteMissing: false,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(204);
    const next = await h.get('partial');
    expect(names(next)).toEqual(expect.arrayContaining(['a', 'b', 'c']));
    expect((await h.records('partial'))[0]).toMatchObject({ a: 'A', b: 'B', c: 0 });
  });

  test('a failing import leaves every collection and record unchanged', async () => {
    const list = async () => (await h.req('GET', '/api/collections?perPage=200&sort=name')).body.items;
    const before = await list();
    const booksBefore = await h.records('books');

    // a validation failure in the second collection
    const invalid = await h.req('PUT', '/api/collections/import', {
      collections: [
        { name: 'fresh_one', fields: [{ name: 'x', type: 'text' }] },
        { name: 'books', fields: [{ name: 'expand', type: 'text' }] },
      ],
    });
    expectError(invalid, 400);
    // PocketBase's one error, its message naming the collection and what is wrong
    expect(invalid.body.data.collections).toEqual({
      code: 'validation_collections_import_failure',
      message: expect.stringMatching(/books[\s\S]*fields/),
    });
    expect(await list()).toEqual(before);

    // a relation to a collection that is neither imported nor existing
    const dangling = await h.req('PUT', '/api/collections/import', {
      collections: [{ name: 'fresh_two', fields: [{ name: 'r', type: 'relation', collectionId: 'pbc_nowhere' }] }],
    });
    expectError(dangling, 400);
    expect(await list()).toEqual(before);

    // a failure only the database sees (a unique index the data violates), after other changes in the same import
    await h.addRecord('books', { name: 'Emma', pages: 300 });
    await h.addRecord('books', { name: 'Ulysses', pages: 300 });
    const before2 = await list();
    const booksBefore2 = await h.records('books');
    expect(booksBefore2.length).toBe(booksBefore.length + 2);
    const books = await h.get('books');
    const dbFailure = await h.req('PUT', '/api/collections/import', {
      collections: [
        { name: 'fresh_three', fields: [{ name: 'x', type: 'text' }] },
        { name: 'reviews', listRule: null },
        { ...books, indexes: [...books.indexes, 'CREATE UNIQUE INDEX idx_books_pages ON books (pages)'] },
      ],
    });
    expect(await list()).toEqual(before2);
    expect(await h.records('books')).toEqual(booksBefore2);
    expect((await h.req('GET', '/api/collections/fresh_three/records')).status).toBe(404);

    // malformed bodies
    expectError(await h.req('PUT', '/api/collections/import', { collections: [] }), 400, 'collections', 'validation_required');
    expectError(await h.req('PUT', '/api/collections/import', {}), 400, 'collections');
    expectError(
      await h.req('PUT', '/api/collections/import', { collections: [{ name: 'zz' }], deleteMissing: 'yes' }),
      400,
      'deleteMissing',
    );
    expect(await list()).toEqual(before2);
    // the database-level failure above is bad input too: 400, never 500
    expectError(dbFailure, 400);
  });

  test('deleteMissing deletes the unlisted non-system collections (system ones stay without being listed)', async () => {
    const all = (await h.req('GET', '/api/collections?perPage=200')).body.items;
    const keep = all.filter((c: any) => ['books', 'writers', 'reviews'].includes(c.name));
    expect(keep).toHaveLength(3);
    const r = await h.req('PUT', '/api/collections/import', { collections: keep, deleteMissing: true });
    expect(r.status, JSON.stringify(r.body)).toBe(204);
    const after = (await h.req('GET', '/api/collections?perPage=200&sort=name')).body.items.map((c: any) => c.name);
    expect(after).toEqual(['_authOrigins', '_externalAuths', '_mfas', '_otps', '_superusers', 'books', 'reviews', 'writers']);
    expect((await h.records('books')).length).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------- list

describe('collections API: list with filter, sort and paging', () => {
  const h = harness();
  beforeAll(async () => {
    for (const name of ['posts', 'polls', 'photos', 'comments', 'Portfolio']) await h.create({ name });
  });

  test('filter, sort, page and perPage', async () => {
    const all = await h.req('GET', '/api/collections');
    expect(all.status).toBe(200);
    // the 5 made here, users, _superusers and the auth flows' 4 (_mfas, _otps, _externalAuths, _authOrigins)
    expect(all.body).toMatchObject({ page: 1, perPage: 30, totalItems: 11, totalPages: 1 });
    expect(all.body.items).toHaveLength(11);

    const po = await h.req('GET', `/api/collections?filter=${encodeURIComponent('name~"po"')}&sort=name`);
    expect(po.status, JSON.stringify(po.body)).toBe(200);
    expect(po.body.items.map((c: any) => c.name)).toEqual(['Portfolio', 'polls', 'posts']);
    expect(po.body.totalItems).toBe(3);

    const sorted = await h.req('GET', '/api/collections?sort=-name&filter=system%3Dfalse');
    expect(sorted.body.items.map((c: any) => c.name)).toEqual(['users', 'posts', 'polls', 'photos', 'comments', 'Portfolio']);

    const page2 = await h.req('GET', '/api/collections?sort=name&perPage=2&page=2&filter=system%3Dfalse');
    expect(page2.body).toMatchObject({ page: 2, perPage: 2, totalItems: 6, totalPages: 3 });
    // SQLite's binary order, as PocketBase's: upper case first
    expect(page2.body.items.map((c: any) => c.name)).toEqual(['photos', 'polls']);

    const auth = await h.req('GET', `/api/collections?filter=${encodeURIComponent('type = "auth"')}&sort=-created`);
    expect(auth.body.items.map((c: any) => c.name).sort()).toEqual(['_superusers', 'users']);

    const skip = await h.req('GET', '/api/collections?skipTotal=1&perPage=1');
    expect(skip.body).toMatchObject({ totalItems: -1, totalPages: -1 });
    expect(skip.body.items).toHaveLength(1);

    expectError(await h.req('GET', `/api/collections?filter=${encodeURIComponent('nosuch = 1')}`), 400);
    expectError(await h.req('GET', `/api/collections?filter=${encodeURIComponent('name = ')}`), 400);
    expectError(await h.req('GET', '/api/collections?sort=nosuch'), 400);
  });
});

// ---------------------------------------------------------------- the official SDK

describe('collections API: through the official SDK', () => {
  const h = harness();

  test('create, update, getFullList, import and delete with pocketbase', async () => {
    const pb = new PocketBase(h.s.url);
    pb.authStore.save(h.su, null);

    const notes = await pb.collections.create({
      name: 'sdk_notes',
      type: 'base',
      listRule: '',
      fields: [
        { name: 'title', type: 'text', required: true, max: 100 },
        { name: 'author', type: 'relation', collectionId: USERS_ID, maxSelect: 1 },
      ],
      indexes: ['CREATE INDEX idx_sdk_title ON sdk_notes (title)'],
    });
    expect(notes).toMatchObject({ name: 'sdk_notes', type: 'base', system: false, listRule: '' });
    await pb.collection('sdk_notes').create({ title: 'hello' });

    const updated = await pb.collections.update(notes.id, {
      fields: [...notes.fields.map((f) => (f.name === 'title' ? { ...f, name: 'heading' } : f)), { name: 'pinned', type: 'bool' }],
    });
    expect(updated.fields.map((f) => f.name)).toEqual(['id', 'heading', 'author', 'created', 'updated', 'pinned']);
    const [rec] = await pb.collection('sdk_notes').getFullList();
    expect(rec).toMatchObject({ heading: 'hello', pinned: false });

    const list = await pb.collections.getFullList({ filter: 'name ~ "sdk"', sort: 'name' });
    expect(list.map((c) => c.name)).toEqual(['sdk_notes']);
    expect((await pb.collections.getOne('sdk_notes')).id).toBe(notes.id);
    expect((await pb.collections.getFirstListItem('name = "sdk_notes"')).id).toBe(notes.id);

    await expect(pb.collections.create({ name: 'sdk_notes' })).rejects.toMatchObject({
      status: 400,
      response: { data: { name: { code: 'validation_collection_name_exists' } } },
    });

    const imported = await pb.collections.import(
      [
        { name: 'sdk_tags', type: 'base', fields: [{ name: 'label', type: 'text' }] },
        { ...updated, listRule: null },
      ] as any[],
      false,
    );
    expect(imported).toBe(true);
    expect((await pb.collections.getOne('sdk_notes')).listRule).toBeNull();
    expect((await pb.collections.getOne('sdk_tags')).fields.map((f) => f.name)).toContain('label');
    expect(await pb.collection('sdk_notes').getFullList()).toHaveLength(1);

    expect(await pb.collections.delete('sdk_tags')).toBe(true);
    await expect(pb.collections.getOne('sdk_tags')).rejects.toMatchObject({ status: 404 });
    await expect(pb.collections.delete('_superusers')).rejects.toMatchObject({ status: 400 });

    const anonymous = new PocketBase(h.s.url);
    await expect(anonymous.collections.getFullList()).rejects.toMatchObject({ status: 401 });
    const user = new PocketBase(h.s.url);
    user.authStore.save(h.user, null);
    await expect(user.collections.getFullList()).rejects.toMatchObject({ status: 403 });
  });
});
