/**
 * The attacker's world: a real server over a fresh SQLite directory with a
 * small multi-tenant application in it, built only through the HTTP API.
 *
 *   users        auth; anyone lists them (emails hidden unless emailVisibility);
 *                hidden `role` (member | admin) and `ssn`; `org` → orgs;
 *                manageRule `@request.auth.role = "admin"` (dave is the admin)
 *   orgs         `admins` (multi → users); signed-in users list them
 *   teams        `members` (multi → users), hidden `secretNote`; only members see a team
 *   memberships  (user, team) rows; each user sees only their own
 *   docs         belong to a team; visible when public or to the team's members;
 *                updated through `@collection.memberships` (same row: user and team)
 *   posts        `author`, hidden `secret`, hidden relation `reviewer`;
 *                visible when public or to the author; written by the author only
 *   comments     on posts; visible to the comment's author and to the post's author
 *   vault        superusers only
 *
 * Every hidden value contains the word HIDDEN, so a leak is a substring search.
 */
import { expect } from 'vitest';
import { type Answer, type CallOptions, call as callAt, jwtClaims } from '../helpers/hostile.js';
import { startServer, superuserToken, type TestServer, type TestServerOptions } from '../helpers/server.js';

export interface Person {
  name: string;
  id: string;
  email: string;
  password: string;
  token: string;
  emailVisibility: boolean;
  ssn: string;
}

export const USERS_ID = '_pb_users_auth_';
export const MISSING_ID = 'zzzzzzzzzzzzzzz';
export const HIDDEN = 'HIDDEN';

/** `?a=b&c=d`, encoded. */
export const q = (params: Record<string, string>): string => `?${new URLSearchParams(params).toString()}`;

const person = (name: string, emailVisibility: boolean): Person => ({
  name,
  id: '',
  email: `${name}@attack.test`,
  password: `${name}-password-1`,
  token: '',
  emailVisibility,
  ssn: `${HIDDEN}-ssn-${name}`,
});

/** The seeded records (see above), and a few that single suites add. */
const ID_KEYS = [
  ...['org', 'tA', 'tB', 'mA', 'mB', 'mC', 'dA', 'dB', 'dPub', 'pA1', 'pA2', 'pB1', 'pB2', 'cB', 'cC', 'cA', 'v1'],
  ...['flag', 'tOpen', 'tLocked', 'tBob'],
] as const;
export type IdKey = (typeof ID_KEYS)[number];
export type Ids = Record<IdKey, string>;

export class World {
  s!: TestServer;
  su = '';
  suId = '';
  readonly alice = person('alice', false);
  readonly bob = person('bob', true);
  readonly carol = person('carol', false);
  /** The users collection's manager (hidden role "admin"). */
  readonly dave = person('dave', false);
  /** Collection ids by name, record ids by key. */
  readonly cols: Record<string, string> = {};
  readonly ids: Ids = Object.fromEntries(ID_KEYS.map((k) => [k, ''])) as Ids;

  get people(): Person[] {
    return [this.alice, this.bob, this.carol, this.dave];
  }

  call(method: string, path: string, opts?: CallOptions): Promise<Answer> {
    return callAt(this.s.url, method, path, opts);
  }

  /** Asserts a status and returns the body. */
  async ok(res: Answer | Promise<Answer>, label: string, status = 200): Promise<any> {
    const r = await res;
    expect(r.status, `${label}: ${r.text.slice(0, 400)}`).toBe(status);
    return r.body;
  }

  /** A record list as `token` sees it (default: every item on one page). */
  async list(collection: string, params: Record<string, string>, token: string): Promise<any> {
    return this.ok(
      this.call('GET', `/api/collections/${collection}/records${q({ perPage: '1000', ...params })}`, { token }),
      `list ${collection} ${JSON.stringify(params)}`,
    );
  }

  /** Ids of the listed records, in order. */
  async listIds(collection: string, params: Record<string, string>, token: string): Promise<string[]> {
    return ((await this.list(collection, params, token)).items as { id: string }[]).map((r) => r.id);
  }

  /** A record as the superuser reads it. */
  async read(collection: string, id: string): Promise<any> {
    return this.ok(this.call('GET', `/api/collections/${collection}/records/${id}`, { token: this.su }), `su read ${collection}/${id}`);
  }

  /** Everything an attack must not change: collections, every record, secrets, the SQLite schema. */
  async snapshot(): Promise<unknown> {
    const out: Record<string, unknown> = {};
    const cols = await this.ok(this.call('GET', '/api/collections?perPage=1000&sort=name', { token: this.su }), 'snapshot collections');
    out.collections = cols;
    for (const c of cols.items as { name: string }[]) {
      out[c.name] = (await this.list(c.name, { sort: 'id' }, this.su)).items;
    }
    for (const table of ['users', '_superusers']) {
      out[`${table}:secrets`] = await this.s.app.engine.all(`SELECT id, password, "tokenKey" FROM "${table}" ORDER BY id`);
    }
    out.schema = await this.schema();
    out.settings = await this.ok(this.call('GET', '/api/settings', { token: this.su }), 'snapshot settings');
    return out;
  }

  /** The database's tables, columns and indexes, as the engine describes them. */
  schema(): Promise<unknown[]> {
    return this.s.app.engine.all(
      this.s.app.engine.dialect.name === 'sqlite'
        ? 'SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name'
        : `SELECT 'column' AS type, table_name AS name, column_name || ' ' || data_type AS sql FROM information_schema.columns
             WHERE table_schema = current_schema()
           UNION ALL SELECT 'index', indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()
           ORDER BY 1, 2, 3`,
    );
  }

  /** Runs `attack` and asserts that the whole state is as it was and the server still answers. */
  async unchanged<T>(attack: () => Promise<T>): Promise<T> {
    const before = await this.snapshot();
    const result = await attack();
    await this.expectHealthy();
    expect(await this.snapshot()).toEqual(before);
    return result;
  }

  async expectHealthy(): Promise<void> {
    const health = await this.call('GET', '/api/health');
    expect(health.status, health.text).toBe(200);
  }

  async signIn(p: Person): Promise<string> {
    const body = await this.ok(
      this.call('POST', '/api/collections/users/auth-with-password', { body: { identity: p.email, password: p.password } }),
      `sign in ${p.name}`,
    );
    return body.token as string;
  }

  async createCollection(body: Record<string, unknown>): Promise<string> {
    const c = await this.ok(this.call('POST', '/api/collections', { token: this.su, body }), `create collection ${body.name}`);
    this.cols[body.name as string] = c.id;
    return c.id as string;
  }

  async create(collection: string, body: Record<string, unknown>, token = this.su): Promise<string> {
    const rec = await this.ok(this.call('POST', `/api/collections/${collection}/records`, { token, body }), `create ${collection}`);
    return rec.id as string;
  }

  async close(): Promise<void> {
    await this.s?.close();
  }
}

/** Starts a server and builds the world in it. */
export async function buildWorld(options: TestServerOptions = {}): Promise<World> {
  const w = new World();
  w.s = await startServer(options);
  w.su = await superuserToken(w.s);
  w.suId = jwtClaims(w.su).id as string;
  w.cols.users = USERS_ID;

  await w.createCollection({
    name: 'orgs',
    listRule: '@request.auth.id != ""',
    viewRule: '@request.auth.id != ""',
    fields: [
      { name: 'name', type: 'text' },
      { name: 'admins', type: 'relation', collectionId: USERS_ID, maxSelect: 10 },
    ],
  });

  // users: everyone may list; hidden role and ssn; the admin manages accounts
  const users = await w.ok(w.call('GET', '/api/collections/users', { token: w.su }), 'users collection');
  await w.ok(
    w.call('PATCH', '/api/collections/users', {
      token: w.su,
      body: {
        listRule: '',
        viewRule: '',
        createRule: '',
        updateRule: 'id = @request.auth.id || @request.auth.role = "admin"',
        deleteRule: 'id = @request.auth.id',
        manageRule: '@request.auth.role = "admin"',
        fields: [
          ...users.fields,
          { name: 'role', type: 'select', values: ['member', 'admin'], maxSelect: 1, hidden: true },
          { name: 'ssn', type: 'text', hidden: true },
          { name: 'org', type: 'relation', collectionId: w.cols.orgs, maxSelect: 1 },
        ],
      },
    }),
    'patch users',
  );

  await w.createCollection({
    name: 'teams',
    listRule: '@request.auth.id ?= members.id',
    viewRule: '@request.auth.id ?= members.id',
    fields: [
      { name: 'name', type: 'text' },
      { name: 'members', type: 'relation', collectionId: USERS_ID, maxSelect: 50 },
      { name: 'secretNote', type: 'text', hidden: true },
    ],
  });
  await w.createCollection({
    name: 'memberships',
    listRule: 'user = @request.auth.id',
    viewRule: 'user = @request.auth.id',
    fields: [
      { name: 'user', type: 'relation', collectionId: USERS_ID, maxSelect: 1 },
      { name: 'team', type: 'relation', collectionId: w.cols.teams, maxSelect: 1 },
    ],
  });
  await w.createCollection({
    name: 'docs',
    listRule: 'public = true || @request.auth.id ?= team.members.id',
    viewRule: 'public = true || @request.auth.id ?= team.members.id',
    createRule: '@request.auth.id != "" && @request.body.team.members.id ?= @request.auth.id',
    updateRule: '@collection.memberships.user ?= @request.auth.id && @collection.memberships.team ?= team',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'body', type: 'text' },
      { name: 'team', type: 'relation', collectionId: w.cols.teams, maxSelect: 1 },
      { name: 'public', type: 'bool' },
    ],
  });
  await w.createCollection({
    name: 'posts',
    listRule: 'author = @request.auth.id || public = true',
    viewRule: 'author = @request.auth.id || public = true',
    createRule: '@request.auth.id != "" && author = @request.auth.id',
    updateRule: 'author = @request.auth.id',
    deleteRule: 'author = @request.auth.id',
    fields: [
      { name: 'title', type: 'text', max: 500 },
      { name: 'body', type: 'text' },
      { name: 'author', type: 'relation', collectionId: USERS_ID, maxSelect: 1 },
      { name: 'reviewer', type: 'relation', collectionId: USERS_ID, maxSelect: 1, hidden: true },
      { name: 'public', type: 'bool' },
      { name: 'secret', type: 'text', hidden: true },
      { name: 'tags', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
      { name: 'meta', type: 'json' },
      { name: 'when', type: 'date' },
      { name: 'views', type: 'number' },
    ],
  });
  await w.createCollection({
    name: 'comments',
    listRule: 'author = @request.auth.id || post.author = @request.auth.id',
    viewRule: 'author = @request.auth.id || post.author = @request.auth.id',
    createRule: '@request.auth.id != "" && author = @request.auth.id && (post.public = true || post.author = @request.auth.id)',
    updateRule: 'author = @request.auth.id',
    deleteRule: 'author = @request.auth.id',
    fields: [
      { name: 'post', type: 'relation', collectionId: w.cols.posts, maxSelect: 1, required: true },
      { name: 'author', type: 'relation', collectionId: USERS_ID, maxSelect: 1 },
      { name: 'text', type: 'text' },
    ],
  });
  await w.createCollection({ name: 'vault', fields: [{ name: 'note', type: 'text' }] });

  // people sign up as guests, the superuser sets what only it may set
  for (const p of w.people) {
    const rec = await w.ok(
      w.call('POST', '/api/collections/users/records', {
        body: { email: p.email, password: p.password, passwordConfirm: p.password, name: p.name, emailVisibility: p.emailVisibility },
      }),
      `sign up ${p.name}`,
    );
    p.id = rec.id;
  }
  const { alice, bob, carol, dave } = w;
  const ids = w.ids;
  ids.org = await w.create('orgs', { name: 'Acme', admins: [alice.id] });
  for (const p of w.people) {
    await w.ok(
      w.call('PATCH', `/api/collections/users/records/${p.id}`, {
        token: w.su,
        body: { role: p === dave ? 'admin' : 'member', ssn: p.ssn, org: p === carol ? '' : ids.org },
      }),
      `set up ${p.name}`,
    );
    p.token = await w.signIn(p);
  }

  ids.tA = await w.create('teams', { name: 'Alpha', members: [alice.id], secretNote: `${HIDDEN}-team-alpha` });
  ids.tB = await w.create('teams', { name: 'Bravo', members: [bob.id, carol.id], secretNote: `${HIDDEN}-team-bravo` });
  ids.mA = await w.create('memberships', { user: alice.id, team: ids.tA });
  ids.mB = await w.create('memberships', { user: bob.id, team: ids.tB });
  ids.mC = await w.create('memberships', { user: carol.id, team: ids.tB });
  ids.dA = await w.create('docs', { title: 'alpha plan', body: 'alpha body', team: ids.tA, public: false });
  ids.dB = await w.create('docs', { title: 'bravo plan', body: 'bravo body', team: ids.tB, public: false });
  ids.dPub = await w.create('docs', { title: 'bravo public', body: 'for everyone', team: ids.tB, public: true });

  ids.pA1 = await w.create('posts', {
    title: 'alice public',
    author: alice.id,
    reviewer: dave.id,
    public: true,
    secret: `${HIDDEN}-post-a1`,
    tags: ['a'],
    views: 10,
  });
  ids.pA2 = await w.create('posts', { title: 'alice draft', author: alice.id, public: false, secret: `${HIDDEN}-post-a2`, views: 20 });
  ids.pB1 = await w.create('posts', { title: 'bob public', author: bob.id, public: true, secret: `${HIDDEN}-post-b1`, views: 30 });
  ids.pB2 = await w.create('posts', { title: 'bob draft', author: bob.id, public: false, secret: `${HIDDEN}-post-b2`, views: 40 });
  ids.cB = await w.create('comments', { post: ids.pA1, author: bob.id, text: 'bob says hi' }, bob.token);
  ids.cC = await w.create('comments', { post: ids.pA1, author: carol.id, text: 'carol private note' }, carol.token);
  ids.cA = await w.create('comments', { post: ids.pB1, author: alice.id, text: 'alice on bob' }, alice.token);
  ids.v1 = await w.create('vault', { note: 'top secret vault note' });
  return w;
}

/** Every word that must never reach a client that is no superuser. */
export async function secretsOf(w: World): Promise<string[]> {
  const rows = await w.s.app.engine.all<{ password: string; tokenKey: string }>('SELECT password, "tokenKey" FROM "users"');
  const su = await w.s.app.engine.all<{ password: string; tokenKey: string }>('SELECT password, "tokenKey" FROM "_superusers"');
  return [HIDDEN, '"password"', '"tokenKey"', '$2a$', '$2b$', ...[...rows, ...su].flatMap((r) => [r.password, r.tokenKey])];
}

/** Asserts that none of `words` appears in an answer. */
export function expectNone(text: string, words: string[], label: string): void {
  for (const word of words) {
    if (word) expect(text.includes(word), `${label} leaks ${word.slice(0, 20)}: ${text.slice(0, 300)}`).toBe(false);
  }
}
