import PocketBase from 'pocketbase';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, superuserToken, TEST_ENGINE, type TestServer } from '../../../test/helpers/server.js';

/**
 * `GET /api/ms/collections/{c}/aggregate` over a real server (SQLite, or
 * PostgreSQL with MS_TEST_POSTGRES_URL): every figure is computed here from
 * the hand-written rows below, over the rows the list rule lets each caller
 * see, and compared with what the server answers.
 */

type Res = { status: number; body: any };

/** Alice and Bob's accounts and their transactions; `kind: 'internal'` rows are hidden by the rule even from their owner. */
interface Tx {
  acc: 'a1' | 'a2' | 'b1';
  amount: number;
  kind: 'deposit' | 'withdrawal' | 'internal';
  booked: string;
  note: string;
}
const TXS: Tx[] = [
  { acc: 'a1', amount: 100, kind: 'deposit', booked: '2024-01-03 09:00:00.000Z', note: 'salary' },
  { acc: 'a1', amount: -25.5, kind: 'withdrawal', booked: '2024-01-20 18:30:00.000Z', note: 'food' },
  { acc: 'a1', amount: -10.25, kind: 'withdrawal', booked: '2024-02-02 08:00:00.000Z', note: '' },
  { acc: 'a1', amount: 999, kind: 'internal', booked: '2024-02-05 08:00:00.000Z', note: 'hidden' },
  { acc: 'a1', amount: 40, kind: 'deposit', booked: '2024-03-31 23:59:59.000Z', note: 'gift' },
  { acc: 'a2', amount: 500, kind: 'deposit', booked: '2024-01-31 12:00:00.000Z', note: 'save' },
  { acc: 'a2', amount: 250, kind: 'deposit', booked: '2024-01-01 00:00:00.000Z', note: 'save' },
  { acc: 'a2', amount: -75, kind: 'withdrawal', booked: '', note: 'undated' },
  { acc: 'a2', amount: -1000, kind: 'internal', booked: '2024-03-01 00:00:00.000Z', note: 'hidden' },
  { acc: 'b1', amount: 7, kind: 'deposit', booked: '2024-01-10 10:00:00.000Z', note: 'bob' },
  { acc: 'b1', amount: 3, kind: 'withdrawal', booked: '2024-02-10 10:00:00.000Z', note: 'bob' },
];
const OWNER = { a1: 'alice', a2: 'alice', b1: 'bob' } as const;
const NAME = { a1: 'Checking', a2: 'Savings', b1: 'Main' } as const;

let s: TestServer;
let su: string;
const tokens: Record<'alice' | 'bob', string> = { alice: '', bob: '' };
const accountIds: Record<string, string> = {};

async function req(path: string, token?: string): Promise<Res> {
  return s.request('GET', path, { token });
}

async function ok(path: string, token?: string): Promise<any> {
  const r = await req(path, token);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}

function expectError(r: Res, status: number): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body).toMatchObject({ status, message: expect.any(String), data: expect.any(Object) });
}

const agg = (params: Record<string, string>) => `/api/ms/collections/txs/aggregate?${new URLSearchParams(params)}`;

/** What a user's list shows: their own accounts' rows, never `internal` ones. */
const visibleTo = (who: 'alice' | 'bob') => TXS.filter((t) => OWNER[t.acc] === who && t.kind !== 'internal');
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Groups rows by a key, in key order as the engines sort (null first, then by code units). */
function groupBy<K extends string | null>(rows: Tx[], key: (t: Tx) => K): [K, Tx[]][] {
  const groups = new Map<K, Tx[]>();
  for (const t of rows) groups.set(key(t), [...(groups.get(key(t)) ?? []), t]);
  return [...groups.entries()].sort(([a], [b]) => (a === b ? 0 : a === null ? -1 : b === null ? 1 : a < b ? -1 : 1));
}

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  for (const who of ['alice', 'bob'] as const) {
    const email = `${who}@example.com`;
    const password = `${who}-password-1`;
    const r = await s.request('POST', '/api/collections/users/records', { body: { email, password, passwordConfirm: password } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const login = await s.request('POST', '/api/collections/users/auth-with-password', { body: { identity: email, password } });
    tokens[who] = login.body.token;
  }
  const users = await s.request('GET', '/api/collections/users/records?perPage=10', { token: su });
  const userId = (who: string) => users.body.items.find((u: any) => u.email === `${who}@example.com`).id;
  const create = async (body: unknown) => {
    const r = await s.request('POST', '/api/collections', { body, token: su });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  };
  const accounts = await create({
    name: 'accounts',
    type: 'base',
    listRule: 'owner = @request.auth.id',
    viewRule: 'owner = @request.auth.id',
    fields: [
      { name: 'name', type: 'text' },
      { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
    ],
  });
  await create({
    name: 'txs',
    type: 'base',
    listRule: 'account.owner = @request.auth.id && kind != "internal"',
    fields: [
      { name: 'account', type: 'relation', collectionId: accounts.id, maxSelect: 1 },
      { name: 'amount', type: 'number' },
      { name: 'kind', type: 'select', values: ['deposit', 'withdrawal', 'internal'], maxSelect: 1 },
      { name: 'booked', type: 'date' },
      { name: 'note', type: 'text' },
      { name: 'secret', type: 'text', hidden: true },
      { name: 'tags', type: 'select', values: ['x', 'y'], maxSelect: 2 },
    ],
  });
  await create({ name: 'locked', type: 'base', fields: [{ name: 'n', type: 'number' }] });
  for (const acc of ['a1', 'a2', 'b1'] as const) {
    const r = await s.request('POST', '/api/collections/accounts/records', {
      body: { name: NAME[acc], owner: userId(OWNER[acc]) },
      token: su,
    });
    accountIds[acc] = r.body.id;
  }
  for (const t of TXS) {
    const body = { account: accountIds[t.acc], amount: t.amount, kind: t.kind, booked: t.booked, note: t.note, secret: 's3cret' };
    const r = await s.request('POST', '/api/collections/txs/records', { body, token: su });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  }
  for (const n of [1, 2, 3]) await s.request('POST', '/api/collections/locked/records', { body: { n }, token: su });
}, 60_000);

afterAll(async () => {
  await s?.close();
});

describe(`aggregate on ${TEST_ENGINE}: figures over what the list rule admits`, () => {
  test('per account and month: count, sum, avg, min, max, countDistinct equal the rows Alice may list', async () => {
    const fields = 'count(),sum(amount) as total,avg(amount) as mean,min(amount),max(amount),countDistinct(kind),count(note)';
    const body = await ok(
      agg({ groupBy: "account,strftime('%Y-%m', booked) as month", fields, sort: 'account,month', perPage: '100' }),
      tokens.alice,
    );
    const rows = visibleTo('alice');
    const expected = groupBy(rows, (t) => accountIds[t.acc] as string).flatMap(([account, txs]) =>
      groupBy(txs, (t) => (t.booked ? t.booked.slice(0, 7) : null)).map(([month, g]) => ({
        account,
        month,
        count: g.length,
        total: sum(g.map((t) => t.amount)),
        mean: sum(g.map((t) => t.amount)) / g.length,
        min_amount: Math.min(...g.map((t) => t.amount)),
        max_amount: Math.max(...g.map((t) => t.amount)),
        countDistinct_kind: new Set(g.map((t) => t.kind)).size,
        count_note: g.filter((t) => t.note !== '').length,
      })),
    );
    expect(body.totalItems).toBe(expected.length);
    expect(body.items).toHaveLength(expected.length);
    body.items.forEach((item: any, i: number) => {
      const { mean, ...exact } = expected[i] as (typeof expected)[0];
      expect(item).toMatchObject(exact);
      expect(item.mean).toBeCloseTo(mean, 9);
    });
    // the hidden `internal` rows and Bob's rows never count
    expect(sum(body.items.map((i: any) => i.count))).toBe(rows.length);
  });

  test('per related account name, sorted by the total descending; Bob sees only his own', async () => {
    for (const who of ['alice', 'bob'] as const) {
      const body = await ok(agg({ groupBy: 'account.name', fields: 'sum(amount) as total,count()', sort: '-total' }), tokens[who]);
      const expected = groupBy(visibleTo(who), (t) => NAME[t.acc] as string)
        .map(([name, g]) => ({ 'account.name': name, total: sum(g.map((t) => t.amount)), count: g.length }))
        .sort((a, b) => b.total - a.total);
      expect(body.items).toEqual(expected);
    }
  });

  test('a filter narrows the rows before grouping; no groupBy gives one row of totals', async () => {
    const body = await ok(agg({ filter: 'amount > 0', fields: 'count(),sum(amount),avg(amount)' }), tokens.alice);
    const rows = visibleTo('alice').filter((t) => t.amount > 0);
    expect(body.totalItems).toBe(1);
    expect(body.items[0]).toMatchObject({ count: rows.length, sum_amount: sum(rows.map((t) => t.amount)) });
    expect(body.items[0].avg_amount).toBeCloseTo(sum(rows.map((t) => t.amount)) / rows.length, 9);
    // over no rows: a count of 0, a sum of 0, no average
    const none = await ok(agg({ filter: 'amount > 1000000', fields: 'count(),sum(amount),avg(amount),max(booked)' }), tokens.alice);
    expect(none.items).toEqual([{ count: 0, sum_amount: 0, avg_amount: null, max_booked: null }]);
  });

  test('guests see totals over nothing; superusers over every row, as for a list', async () => {
    const guest = await ok(agg({ fields: 'count()' }));
    expect(guest.items).toEqual([{ count: 0 }]);
    const all = await ok(agg({ groupBy: 'kind', fields: 'count(),sum(amount) as total,max(booked) as last' }), su);
    const expected = groupBy(TXS, (t) => t.kind as string).map(([kind, g]) => ({
      kind,
      count: g.length,
      total: sum(g.map((t) => t.amount)),
      last: g
        .map((t) => t.booked)
        .filter(Boolean)
        .sort()
        .pop(),
    }));
    expect(all.items).toEqual(expected);
  });

  test('a collection whose list rule is null answers 403 as its list does, except to superusers', async () => {
    for (const token of [tokens.alice, undefined]) {
      const r = await req('/api/ms/collections/locked/aggregate?fields=sum(n)', token);
      const list = await req('/api/collections/locked/records', token);
      expectError(r, 403);
      expect(r.status).toBe(list.status);
    }
    expect((await ok('/api/ms/collections/locked/aggregate?fields=sum(n),count()', su)).items).toEqual([{ sum_n: 6, count: 3 }]);
    expectError(await req('/api/ms/collections/nope/aggregate', su), 404);
  });

  test('paging over groups: pages in key order, the count of groups, a perPage capped at 1000', async () => {
    const expected = groupBy(visibleTo('alice'), (t) => (t.booked ? t.booked.slice(0, 10) : null)).map(([day]) => day);
    const seen: (string | null)[] = [];
    for (let page = 1; page <= expected.length + 1; page++) {
      const body = await ok(agg({ groupBy: "strftime('%Y-%m-%d', booked) as day", perPage: '2', page: String(page) }), tokens.alice);
      expect(body.totalItems).toBe(expected.length);
      expect(body.totalPages).toBe(Math.ceil(expected.length / 2));
      seen.push(...body.items.map((i: any) => i.day));
    }
    expect(seen).toEqual(expected);
    const capped = await ok(agg({ groupBy: 'id', perPage: '100000', skipTotal: '1' }), su);
    expect(capped.perPage).toBe(1000);
    expect(capped.totalItems).toBe(-1);
    expect(capped.items).toHaveLength(TXS.length);
  });

  test('the SDK reaches it with pb.send', async () => {
    const pb = new PocketBase(s.url);
    await pb.collection('users').authWithPassword('bob@example.com', 'bob-password-1');
    const body = await pb.send('/api/ms/collections/txs/aggregate', { query: { groupBy: 'kind', fields: 'sum(amount) as total' } });
    expect(body.items).toEqual([
      { kind: 'deposit', total: 7 },
      { kind: 'withdrawal', total: 3 },
    ]);
  });
});

describe(`aggregate on ${TEST_ENGINE}: hostile requests get a 400, never a 500`, () => {
  const hostile: [string, Record<string, string>][] = [
    ['unknown field', { groupBy: 'nope' }],
    ['unknown path', { groupBy: 'account.nope' }],
    ['hidden field', { fields: 'countDistinct(secret)' }],
    ['hidden field in a group', { groupBy: 'secret' }],
    ['a related password', { fields: 'max(account.owner.password)' }],
    ['a related token key', { groupBy: 'account.owner.tokenKey' }],
    ['a function not on the list', { fields: 'sqrt(amount)' }],
    ['a function in groupBy', { groupBy: 'lower(note)' }],
    ['sum of text', { fields: 'sum(note)' }],
    ['avg of a date', { fields: 'avg(booked)' }],
    ['a multi-valued group', { groupBy: 'tags' }],
    ['strftime of text', { groupBy: "strftime('%Y', note)" }],
    ['strftime with an unknown letter', { groupBy: "strftime('%Q', booked)" }],
    ['strftime with a bad modifier', { groupBy: "strftime('%Y', booked, 'DROP TABLE txs')" }],
    ['SQL in groupBy', { groupBy: 'amount); DROP TABLE txs; --' }],
    ['SQL in fields', { fields: 'count(*) FROM txs; --' }],
    ['an unclosed quote', { groupBy: "strftime('%Y, booked)" }],
    ['an unclosed call', { fields: 'sum(amount' }],
    ['an empty term', { groupBy: 'kind,,note' }],
    ['too many keys', { groupBy: 'kind,note,amount,booked,account,id' }],
    ['too many fields', { fields: Array.from({ length: 21 }, (_, i) => `count() as c${i}`).join(',') }],
    ['a long text', { groupBy: 'a'.repeat(5000) }],
    ['two results of one name', { fields: 'count(),count() ' }],
    ['a bad alias', { fields: 'count() as "x y"' }],
    ['sort by an unknown key', { groupBy: 'kind', sort: 'amount' }],
    ['a bad page', { page: 'x' }],
    ['a bad filter', { filter: 'amount >' }],
    ['too many unindexed ORs (the query limits)', { filter: Array.from({ length: 25 }, (_, i) => `amount = ${i}`).join(' || ') }],
    ['a deep path (the query limits)', { groupBy: 'account.owner.email' }],
  ];
  test.each(hostile)('%s', async (_, params) => {
    const before = await s.app.engine.all('SELECT COUNT(*) AS n FROM txs');
    // the query limits are set low for this collection so a two-hop path is over them
    await s.app.settings.update({ queryLimits: { collections: [{ collection: 'txs', maxRelationDepth: 1 }] } });
    try {
      const r = await req(agg(params), tokens.alice);
      expectError(r, 400);
    } finally {
      await s.app.settings.update({ queryLimits: { collections: [] } });
    }
    expect(await s.app.engine.all('SELECT COUNT(*) AS n FROM txs')).toEqual(before);
  });

  test('passwords and token keys are unknown names to superusers too; @request names are for superusers only', async () => {
    const secrets: Record<string, string>[] = [{ fields: 'max(password)' }, { groupBy: 'tokenKey' }, { fields: 'countDistinct(password)' }];
    for (const params of secrets) {
      expectError(await req(`/api/ms/collections/users/aggregate?${new URLSearchParams(params)}`, su), 400);
    }
    expectError(await req(agg({ filter: '@request.auth.id != ""' }), tokens.alice), 403);
    // an alias is the caller's word, whatever it spells
    expect((await ok(agg({ fields: 'count() as __proto__,count() as constructor' }), tokens.bob)).items).toEqual([
      JSON.parse('{"__proto__":2,"constructor":2}'),
    ]);
    // a superuser may group by a hidden field
    const secret = await ok(agg({ groupBy: 'secret' }), su);
    expect(secret.items).toEqual([{ secret: 's3cret', count: TXS.length }]);
  });
});
