import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { signedUpUser, startServer, superuserToken, type TestServer } from '../../packages/mainspring/test/helpers/server.js';
import { monthlyTotals, openAccount, setupBank } from './setup.mjs';

/**
 * The bank's routes (ms_hooks/bank.ts) on a real server set up by the
 * example's setup script: hostile input gets a 4xx in PocketBase's shape and
 * moves nothing; 2,000 concurrent transfers, some sent twice at once, keep
 * every balance equal to its ledger and the total unchanged.
 */

const HOOKS = join(dirname(fileURLToPath(import.meta.url)), 'ms_hooks');

let s: TestServer;
let su: string;
let userCount = 0;

interface User {
  id: string;
  token: string;
}

const newUser = (): Promise<User> => signedUpUser(s, `customer${++userCount}@example.com`);

const open = async (owner: User, opening: number, name = 'Current') =>
  (await openAccount(s.url, su, { owner: owner.id, name, opening })).id as string;

let keys = 0;
const transfer = (u: User | null, body: unknown, key: string | null = `key-${++keys}`) =>
  s.request('POST', '/api/bank/transfer', { token: u?.token, body, headers: key === null ? {} : { 'idempotency-key': key } });

/** Every record of a collection, as the superuser sees them. */
async function all(collection: string, filter = ''): Promise<Record<string, any>[]> {
  const out: Record<string, any>[] = [];
  for (let page = 1; ; page++) {
    const res = await s.request(
      'GET',
      `/api/collections/${collection}/records?perPage=1000&page=${page}&skipTotal=1&filter=${encodeURIComponent(filter)}`,
      { token: su },
    );
    if (res.status !== 200) throw new Error(`${collection}: ${JSON.stringify(res.body)}`);
    out.push(...res.body.items);
    if (res.body.items.length < 1000) return out;
  }
}

const balance = async (id: string) => (await s.request('GET', `/api/collections/accounts/records/${id}`, { token: su })).body.balance;

/** Every account's balance equals the sum of its ledger entries; returns the sum of all balances. */
async function checkLedger(): Promise<number> {
  const accounts = await all('accounts');
  const entries = await all('ledger');
  const sums = new Map<string, number>();
  for (const e of entries) sums.set(e.account, (sums.get(e.account) ?? 0) + e.amount);
  for (const a of accounts) {
    expect(a.balance).toBeGreaterThanOrEqual(0);
    expect({ account: a.id, balance: a.balance }).toEqual({ account: a.id, balance: sums.get(a.id) ?? 0 });
  }
  // each transfer has exactly its two entries
  const byTransfer = new Map<string, number[]>();
  for (const e of entries) if (e.transfer) byTransfer.set(e.transfer, [...(byTransfer.get(e.transfer) ?? []), e.amount]);
  for (const t of await all('transfers')) expect(byTransfer.get(t.id)?.sort((a, b) => a - b)).toEqual([-t.amount, t.amount]);
  return accounts.reduce((n, a) => n + a.balance, 0);
}

beforeAll(async () => {
  s = await startServer({ hooksDir: HOOKS });
  su = await superuserToken(s);
  await setupBank(s.url, su);
  // re-running the setup changes nothing
  await setupBank(s.url, su);
});

afterAll(async () => {
  await s?.close();
});

describe('monthly totals (the aggregate endpoint)', () => {
  test("each account's net and entries per month equal what its owner's ledger adds up to; nobody else's count", async () => {
    const eve = await newUser();
    const fay = await newUser();
    const eveMain = await open(eve, 9_000, 'Main');
    const eveSpare = await open(eve, 1_000, 'Spare');
    const fayAcc = await open(fay, 300);
    for (const [from, to, amount] of [
      [eveMain, fayAcc, 1_250],
      [eveMain, eveSpare, 700],
      [eveSpare, fayAcc, 5],
    ] as const) {
      expect((await transfer(eve, { from, to, amount })).status).toBe(200);
    }
    expect((await transfer(fay, { from: fayAcc, to: eveMain, amount: 55 })).status).toBe(200);

    for (const who of [eve, fay]) {
      // the owner's ledger as the list API shows it, added up here
      const ledger = await s.request('GET', '/api/collections/ledger/records?perPage=1000', { token: who.token });
      const groups = new Map<string, { account: string; month: string; net: number; entries: number }>();
      for (const e of ledger.body.items) {
        const month = (e.created as string).slice(0, 7);
        const g = groups.get(`${e.account} ${month}`) ?? { account: e.account, month, net: 0, entries: 0 };
        g.net += e.amount;
        g.entries++;
        groups.set(`${e.account} ${month}`, g);
      }
      const expected = [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, g]) => g);
      expect(await monthlyTotals(s.url, who.token)).toEqual(expected);
    }
    // every account's months add up to its balance
    const eveTotals = await monthlyTotals(s.url, eve.token);
    for (const acc of [eveMain, eveSpare]) {
      const net = eveTotals.filter((t: { account: string }) => t.account === acc).reduce((n: number, t: { net: number }) => n + t.net, 0);
      expect(net).toBe(await balance(acc));
    }
    expect(eveTotals.some((t: { account: string }) => t.account === fayAcc)).toBe(false);
    // a guest groups nothing
    expect(await monthlyTotals(s.url, '')).toEqual([]);
  });
});

describe('a transfer', () => {
  test('moves the amount, writes a debit and a credit, and a repeat with its key returns the same transfer', async () => {
    const ann = await newUser();
    const bob = await newUser();
    const annAcc = await open(ann, 10_000);
    const bobAcc = await open(bob, 500);

    const res = await transfer(ann, { from: annAcc, to: bobAcc, amount: 2_500 }, 'rent-2026-11');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      collectionName: 'transfers',
      owner: ann.id,
      from: annAcc,
      to: bobAcc,
      amount: 2_500,
      key: 'rent-2026-11',
    });
    expect(await balance(annAcc)).toBe(7_500);
    expect(await balance(bobAcc)).toBe(3_000);
    const entries = await all('ledger', `transfer = "${res.body.id}"`);
    expect(entries.map((e) => [e.account, e.kind, e.amount]).sort()).toEqual(
      [
        [annAcc, 'debit', -2_500],
        [bobAcc, 'credit', 2_500],
      ].sort(),
    );

    const again = await transfer(ann, { from: annAcc, to: bobAcc, amount: 2_500 }, 'rent-2026-11');
    expect(again.status).toBe(200);
    expect(again.body).toEqual(res.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await balance(annAcc)).toBe(7_500);

    // the owner sees their transfer and their ledger; the receiver their credit, not the sender's account
    expect((await s.request('GET', `/api/collections/transfers/records/${res.body.id}`, { token: ann.token })).status).toBe(200);
    expect((await s.request('GET', `/api/collections/accounts/records/${annAcc}`, { token: bob.token })).status).toBe(404);
    const bobLedger = await s.request('GET', '/api/collections/ledger/records?sort=created', { token: bob.token });
    expect(bobLedger.body.items.map((e: any) => e.kind)).toEqual(['opening', 'credit']);
  });

  test('survives a lost answer: with the stored HTTP answer gone, a retry finds the transfer instead of paying twice', async () => {
    const cy = await newUser();
    const dee = await newUser();
    const cyAcc = await open(cy, 1_000);
    const deeAcc = await open(dee, 0);
    const first = await transfer(cy, { from: cyAcc, to: deeAcc, amount: 400 }, 'invoice-17');
    expect(first.status).toBe(200);
    // what a crash between the commit and storing the answer leaves: the key's claim gone (given up, or expired)
    await s.app.engine.run('DELETE FROM "_ms_idempotency"');
    const retry = await transfer(cy, { from: cyAcc, to: deeAcc, amount: 400 }, 'invoice-17');
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect(retry.body).toEqual(first.body);
    expect(await balance(cyAcc)).toBe(600);
    expect(await balance(deeAcc)).toBe(400);
    // and the key with another transfer is still refused
    await s.app.engine.run('DELETE FROM "_ms_idempotency"');
    const other = await transfer(cy, { from: cyAcc, to: deeAcc, amount: 1 }, 'invoice-17');
    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ status: 422, data: {} });
    expect(await balance(cyAcc)).toBe(600);
  });

  test('insufficient funds is a 409 that writes nothing', async () => {
    const eve = await newUser();
    const eveAcc = await open(eve, 100);
    const other = await open(await newUser(), 0);
    const before = (await all('transfers')).length;
    const res = await transfer(eve, { from: eveAcc, to: other, amount: 101 });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      status: 409,
      message: 'Insufficient funds.',
      data: { amount: { code: 'insufficient_funds', message: expect.any(String), params: { balance: 100 } } },
    });
    expect(await balance(eveAcc)).toBe(100);
    expect(await balance(other)).toBe(0);
    expect(await all('transfers')).toHaveLength(before);
    // the whole balance may go
    expect((await transfer(eve, { from: eveAcc, to: other, amount: 100 })).status).toBe(200);
    expect(await balance(eveAcc)).toBe(0);
  });
});

describe('hostile input gets a 4xx in PocketBase shape and moves nothing', () => {
  let mal: User;
  let victim: User;
  let malAcc: string;
  let victimAcc: string;

  beforeAll(async () => {
    mal = await newUser();
    victim = await newUser();
    malAcc = await open(mal, 1_000);
    victimAcc = await open(victim, 1_000_000);
  });

  const unchanged = async () => {
    expect(await balance(malAcc)).toBe(1_000);
    expect(await balance(victimAcc)).toBe(1_000_000);
  };

  test.each([
    ['a float', 1.5],
    ['a string', '100'],
    ['zero', 0],
    ['a negative amount', -500],
    ['more than one transfer may move', 1_000_000_000_001],
    ['beyond the safe integers', 2 ** 53],
    ['a huge number', 1e300],
    ['a boolean', true],
    ['a list', [100]],
    ['an object', { value: 100 }],
  ])('amount: %s', async (_, amount) => {
    const res = await transfer(mal, { from: malAcc, to: victimAcc, amount });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      status: 400,
      message: expect.any(String),
      data: { amount: { code: 'validation_invalid_amount', message: expect.any(String) } },
    });
    await unchanged();
  });

  test('missing fields, a missing key, the same account twice, not JSON', async () => {
    const missing = await transfer(mal, { from: malAcc, to: victimAcc });
    expect(missing.status).toBe(400);
    expect(missing.body.data).toEqual({ amount: { code: 'validation_required', message: expect.any(String) } });
    const noTo = await transfer(mal, { from: malAcc, amount: 1 });
    expect(noTo.body.data).toEqual({ to: { code: 'validation_required', message: expect.any(String) } });
    const idNumber = await transfer(mal, { from: malAcc, to: 12345, amount: 1 });
    expect(idNumber.body.data).toEqual({ to: { code: 'validation_invalid_value', message: expect.any(String) } });

    const noKey = await transfer(mal, { from: malAcc, to: victimAcc, amount: 1 }, null);
    expect(noKey.status).toBe(400);
    expect(noKey.body).toMatchObject({ status: 400, data: { idempotencyKey: { code: 'validation_required' } } });
    const badKey = await transfer(mal, { from: malAcc, to: victimAcc, amount: 1 }, 'not a key');
    expect(badKey.status).toBe(400);

    const same = await transfer(mal, { from: malAcc, to: malAcc, amount: 1 });
    expect(same.status).toBe(400);
    expect(same.body.data).toEqual({ to: { code: 'validation_same_account', message: expect.any(String) } });

    for (const raw of ['[1,2]', '"transfer"', '{"from":', 'null']) {
      const res = await s.request('POST', '/api/bank/transfer', {
        token: mal.token,
        raw,
        headers: { 'content-type': 'application/json', 'idempotency-key': `raw-${++keys}` },
      });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ status: 400, message: expect.any(String), data: expect.any(Object) });
    }
    await unchanged();
  });

  test("someone else's account answers as no account at all", async () => {
    const theirs = await transfer(mal, { from: victimAcc, to: malAcc, amount: 1_000 });
    const nobody = await transfer(mal, { from: 'aaaaaaaaaaaaaaa', to: malAcc, amount: 1_000 });
    expect(theirs.status).toBe(404);
    expect(theirs.body).toEqual({
      status: 404,
      message: expect.any(String),
      data: { from: { code: 'not_found', message: expect.any(String) } },
    });
    expect(nobody.body).toEqual(theirs.body);
    const noTarget = await transfer(mal, { from: malAcc, to: 'aaaaaaaaaaaaaaa', amount: 1 });
    expect(noTarget.status).toBe(404);
    expect(noTarget.body.data).toEqual({ to: { code: 'not_found', message: expect.any(String) } });
    // the answer to a transfer names no one else's balance or owner
    const ok = await transfer(mal, { from: malAcc, to: victimAcc, amount: 1 });
    expect(Object.keys(ok.body).sort()).toEqual([
      'amount',
      'collectionId',
      'collectionName',
      'created',
      'from',
      'id',
      'key',
      'owner',
      'to',
      'updated',
    ]);
    expect((await transfer(victim, { from: victimAcc, to: malAcc, amount: 1 })).status).toBe(200);
    await unchanged();
  });

  test('guests, superusers and direct writes are refused', async () => {
    const guest = await transfer(null, { from: malAcc, to: victimAcc, amount: 1 });
    expect(guest.status).toBe(401);
    expect(guest.body).toMatchObject({ status: 401, data: {} });
    const asSuperuser = await s.request('POST', '/api/bank/transfer', {
      token: su,
      body: { from: victimAcc, to: malAcc, amount: 1 },
      headers: { 'idempotency-key': 'su-1' },
    });
    expect(asSuperuser.status).toBe(403);
    // the REST API writes no money
    for (const [method, path, body] of [
      ['PATCH', `/api/collections/accounts/records/${malAcc}`, { balance: 1e9 }],
      ['PATCH', `/api/collections/accounts/records/${malAcc}`, { 'balance+': 1e9 }],
      ['POST', '/api/collections/accounts/records', { owner: mal.id, name: 'free money', balance: 1e9 }],
      ['POST', '/api/collections/ledger/records', { account: malAcc, kind: 'credit', amount: 1e9 }],
      ['POST', '/api/collections/transfers/records', { owner: mal.id, from: victimAcc, to: malAcc, amount: 1, key: 'x' }],
      ['DELETE', `/api/collections/accounts/records/${victimAcc}`, undefined],
    ] as const) {
      const res = await s.request(method, path, { token: mal.token, body });
      expect([403, 404]).toContain(res.status);
    }
    // a user may open an empty account of their own, and only that
    const own = await s.request('POST', '/api/bank/accounts', { token: mal.token, body: { name: 'Savings' } });
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ owner: mal.id, balance: 0 });
    const rich = await s.request('POST', '/api/bank/accounts', { token: mal.token, body: { name: 'Rich', opening: 1e6 } });
    expect(rich.status).toBe(403);
    const forOther = await s.request('POST', '/api/bank/accounts', { token: mal.token, body: { name: 'Yours', owner: victim.id } });
    expect(forOther.status).toBe(403);
    await unchanged();
  });
});

test('2,000 concurrent transfers among 20 accounts, 10% sent twice at once: no money made, lost or moved twice', async () => {
  const owners = await Promise.all(Array.from({ length: 5 }, () => newUser()));
  const accounts: { id: string; owner: User }[] = [];
  for (const owner of owners) for (let i = 0; i < 4; i++) accounts.push({ id: await open(owner, 10_000, `acc ${i}`), owner });
  const mine = new Set(accounts.map((a) => a.id));
  const totalBefore = await checkLedger();

  // a fixed pseudo-random sequence, so a failure can be replayed
  let seed = 20261129;
  const rnd = (n: number) => {
    // mulberry32
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
  type Job = { key: string; from: { id: string; owner: User }; to: string; amount: number; twice: boolean };
  const jobs: Job[] = Array.from({ length: 2_000 }, (_, i) => {
    const from = accounts[rnd(20)]!;
    let to = accounts[rnd(20)]!.id;
    if (to === from.id) to = accounts[(accounts.indexOf(from) + 1) % 20]!.id;
    return { key: `stress-${i}`, from, to, amount: 1 + rnd(2_000), twice: i % 10 === 0 };
  });

  const answers = new Map<string, { status: number; body: any }[]>();
  const started = Date.now();
  // 64 requests in flight: each pair of a repeated key is sent at the same moment
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < jobs.length) {
        const job = jobs[next++]!;
        const send = () => transfer(job.from.owner, { from: job.from.id, to: job.to, amount: job.amount }, job.key);
        const got = await Promise.all(job.twice ? [send(), send()] : [send()]);
        answers.set(
          job.key,
          got.map((r) => ({ status: r.status, body: r.body })),
        );
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;

  const statuses: Record<string, number> = {};
  for (const list of answers.values()) for (const a of list) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
  console.log(`2,000 transfers (+200 repeats) in ${seconds.toFixed(1)} s on ${s.app.engine.dialect.name}: ${JSON.stringify(statuses)}`);
  // every answer is a transfer or a refusal for want of funds: no 5xx, no 409 "still running"
  for (const list of answers.values()) {
    for (const a of list) {
      if (a.status === 200) continue;
      expect(a).toMatchObject({ status: 409, body: { message: 'Insufficient funds.', data: { amount: { code: 'insufficient_funds' } } } });
    }
  }
  expect(statuses['200']).toBeGreaterThan(1_000);

  // a key sent twice got one answer twice
  for (const job of jobs.filter((j) => j.twice)) {
    const [a, b] = answers.get(job.key)!;
    expect(b!.status).toBe(a!.status);
    if (a!.status === 200) expect(b!.body.id).toBe(a!.body.id);
  }

  // one transfer per successful key, each as asked, and nothing else
  const transfers = (await all('transfers')).filter((t) => mine.has(t.from));
  const succeeded = [...answers.entries()].filter(([, list]) => list[0]!.status === 200).map(([key]) => key);
  expect(transfers).toHaveLength(succeeded.length);
  expect(new Set(transfers.map((t) => t.key))).toEqual(new Set(succeeded));
  const byKey = new Map(jobs.map((j) => [j.key, j]));
  for (const t of transfers) {
    const job = byKey.get(t.key)!;
    expect([t.from, t.to, t.amount, t.owner]).toEqual([job.from.id, job.to, job.amount, job.from.owner.id]);
  }

  // money is neither made nor lost, no balance is negative, every balance is its ledger's sum
  expect(await checkLedger()).toBe(totalBefore);
  const moved = new Map<string, number>(accounts.map((a) => [a.id, 10_000]));
  for (const t of transfers) {
    moved.set(t.from, moved.get(t.from)! - t.amount);
    moved.set(t.to, moved.get(t.to)! + t.amount);
  }
  for (const a of accounts) expect(await balance(a.id)).toBe(moved.get(a.id));

  // the balances view says the same to each owner, about their accounts only
  for (const owner of owners) {
    const res = await s.request('GET', '/api/collections/balances/records?perPage=100&sort=name', { token: owner.token });
    expect(res.status).toBe(200);
    const theirs = accounts.filter((a) => a.owner === owner);
    expect(res.body.items.map((r: { id: string }) => r.id).sort()).toEqual(theirs.map((a) => a.id).sort());
    for (const row of res.body.items) {
      expect(row).toMatchObject({ owner: owner.id, balance: moved.get(row.id), ledger: moved.get(row.id) });
      expect(row.entries).toBe(1 + transfers.filter((t) => t.from === row.id || t.to === row.id).length);
    }
  }
}, 60_000);
