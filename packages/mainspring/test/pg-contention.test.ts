import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PostgresEngine } from '../src/storage/postgres/engine.js';
import { freshDatabase, startServer, superuserToken, TEST_POSTGRES_URL } from './helpers/server.js';

/**
 * PostgreSQL transactions are SERIALIZABLE and run again after a
 * serialization failure. On one hot row (a stock count, a bank balance)
 * hundreds of concurrent transactions would lose every retry to each other;
 * after its first failure a transaction waits its turn in the retry lane
 * (one at a time across every instance), so each of them commits.
 */

const COUNTERS = 'contention_counters';
const ACCOUNTS = 'contention_accounts';

describe.runIf(TEST_POSTGRES_URL)('PostgreSQL under contention on one row', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let engine: PostgresEngine;

  beforeAll(async () => {
    db = await freshDatabase();
    // thousands of transactions at once wait their turn for 20 connections: on a loaded machine longer
    // than the 10 s after which a real server answers 503, which is not what these tests are about
    engine = await PostgresEngine.open(db.url, { poolWaitMs: 60_000 });
    const d = engine.dialect;
    await engine.run(
      d.createTable(COUNTERS, [
        { name: 'id', kind: 'text', primaryKey: true },
        { name: 'n', kind: 'number' },
      ]),
    );
    await engine.run(
      d.createTable(ACCOUNTS, [
        { name: 'id', kind: 'text', primaryKey: true },
        { name: 'balance', kind: 'number' },
      ]),
    );
  });

  afterAll(async () => {
    await engine?.close();
    await db?.drop();
  });

  /** Reads the counter and writes it back +1: a read-modify-write that only SERIALIZABLE keeps right. */
  function increment(on: PostgresEngine, id: string): Promise<void> {
    return on.transaction(async (tx) => {
      const row = await tx.get<{ n: number }>(`SELECT n FROM ${COUNTERS} WHERE id = $1`, [id]);
      await tx.run(`UPDATE ${COUNTERS} SET n = $1 WHERE id = $2`, [Number(row?.n) + 1, id]);
    });
  }

  async function counter(id: string): Promise<number> {
    return Number((await engine.get<{ n: number }>(`SELECT n FROM ${COUNTERS} WHERE id = $1`, [id]))?.n);
  }

  test('200 concurrent read-modify-write transactions all commit, and the counter ends at 200', async () => {
    await engine.run(`INSERT INTO ${COUNTERS} (id, n) VALUES ('one', 0)`);
    const results = await Promise.allSettled(Array.from({ length: 200 }, () => increment(engine, 'one')));
    const failed = results.filter((r) => r.status === 'rejected');
    expect(failed.length, String((failed[0] as PromiseRejectedResult | undefined)?.reason)).toBe(0);
    expect(await counter('one')).toBe(200);
  });

  test('two instances (two pools) share the lane: 2 × 150 increments of one row all commit', async () => {
    await engine.run(`INSERT INTO ${COUNTERS} (id, n) VALUES ('two', 0)`);
    const other = await PostgresEngine.open(db.url);
    try {
      const results = await Promise.allSettled(Array.from({ length: 300 }, (_, i) => increment(i % 2 ? engine : other, 'two')));
      const failed = results.filter((r) => r.status === 'rejected');
      expect(failed.length, String((failed[0] as PromiseRejectedResult | undefined)?.reason)).toBe(0);
      expect(await counter('two')).toBe(300);
    } finally {
      await other.close();
    }
  });

  test('2,000 concurrent transfers among 20 accounts all commit and keep the total', async () => {
    for (let i = 0; i < 20; i++) await engine.run(`INSERT INTO ${ACCOUNTS} (id, balance) VALUES ($1, 1000)`, [`a${i}`]);
    const transfer = (from: string, to: string, amount: number) =>
      engine.transaction(async (tx) => {
        const a = await tx.get<{ balance: number }>(`SELECT balance FROM ${ACCOUNTS} WHERE id = $1`, [from]);
        const b = await tx.get<{ balance: number }>(`SELECT balance FROM ${ACCOUNTS} WHERE id = $1`, [to]);
        await tx.run(`UPDATE ${ACCOUNTS} SET balance = $1 WHERE id = $2`, [Number(a?.balance) - amount, from]);
        await tx.run(`UPDATE ${ACCOUNTS} SET balance = $1 WHERE id = $2`, [Number(b?.balance) + amount, to]);
      });
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const moves = Array.from({ length: 2000 }, () => {
      const from = random(20);
      const to = (from + 1 + random(19)) % 20;
      return { from: `a${from}`, to: `a${to}`, amount: 1 + random(10) };
    });
    const results = await Promise.allSettled(moves.map((m) => transfer(m.from, m.to, m.amount)));
    const failed = results.filter((r) => r.status === 'rejected');
    expect(failed.length, String((failed[0] as PromiseRejectedResult | undefined)?.reason)).toBe(0);

    const expected = new Map<string, number>(Array.from({ length: 20 }, (_, i) => [`a${i}`, 1000]));
    for (const m of moves) {
      expected.set(m.from, (expected.get(m.from) ?? 0) - m.amount);
      expected.set(m.to, (expected.get(m.to) ?? 0) + m.amount);
    }
    const rows = await engine.all<{ id: string; balance: number }>(`SELECT id, balance FROM ${ACCOUNTS}`);
    expect(new Map(rows.map((r) => [r.id, Number(r.balance)]))).toEqual(expected);
  }, 60_000);
});

describe.runIf(TEST_POSTGRES_URL)('the retry lane leaks nothing', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let engine: PostgresEngine;

  beforeAll(async () => {
    db = await freshDatabase();
    engine = await PostgresEngine.open(db.url, { poolMax: 5 });
    await engine.run(
      engine.dialect.createTable(COUNTERS, [
        { name: 'id', kind: 'text', primaryKey: true },
        { name: 'n', kind: 'number' },
      ]),
    );
  });

  afterAll(async () => {
    await engine?.close();
    await db?.drop();
  });

  /** Advisory locks held in this database, and the settings of every pooled connection. */
  async function leftovers(): Promise<{ locks: unknown[]; settings: unknown[] }> {
    const locks = await engine.all(
      `SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    // hold all five connections at once, so each is asked
    const settings = await Promise.all(
      Array.from({ length: 5 }, () =>
        engine.transaction(async (tx) => {
          const row = await tx.get(`SELECT current_setting('statement_timeout') AS st, current_setting('idle_session_timeout') AS idle`);
          await new Promise((r) => setTimeout(r, 50));
          return row;
        }),
      ),
    );
    return { locks, settings };
  }

  const clean = { locks: [], settings: Array.from({ length: 5 }, () => ({ st: '5s', idle: '0' })) };

  test('bodies that fail for their own reasons inside the lane leave it free, and the connections as they were', async () => {
    await engine.run(`INSERT INTO ${COUNTERS} (id, n) VALUES ('own', 0)`);
    // contention sends many into the lane; every tenth throws there (on a second attempt)
    const attempts = new Array<number>(100).fill(0);
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, (_, i) =>
        engine.transaction(async (tx) => {
          const row = await tx.get<{ n: number }>(`SELECT n FROM ${COUNTERS} WHERE id = 'own'`);
          await tx.run(`UPDATE ${COUNTERS} SET n = $1 WHERE id = 'own'`, [Number(row?.n) + 1]);
          attempts[i] = (attempts[i] ?? 0) + 1;
          if (i % 10 === 0 && (attempts[i] ?? 0) > 1) throw new Error('refused by the body');
        }),
      ),
    );
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused.every((r) => String((r as PromiseRejectedResult).reason).includes('refused by the body'))).toBe(true);
    const row = await engine.get<{ n: number }>(`SELECT n FROM ${COUNTERS} WHERE id = 'own'`);
    expect(Number(row?.n)).toBe(100 - refused.length);
    expect(await leftovers()).toEqual(clean);
  });

  test('a lane holder whose connection dies fails alone; the lane and the pool go on', async () => {
    await engine.run(`INSERT INTO ${COUNTERS} (id, n) VALUES ('killed', 0)`);
    const attempts = new Array<number>(60).fill(0);
    let killed = false;
    const results = await Promise.allSettled(
      Array.from({ length: 60 }, (_, i) =>
        engine.transaction(async (tx) => {
          const row = await tx.get<{ n: number }>(`SELECT n FROM ${COUNTERS} WHERE id = 'killed'`);
          attempts[i] = (attempts[i] ?? 0) + 1;
          if ((attempts[i] ?? 0) > 1 && !killed) {
            killed = true;
            // the server ends this session while it holds the lane
            await tx.get('SELECT pg_terminate_backend(pg_backend_pid())');
          }
          await tx.run(`UPDATE ${COUNTERS} SET n = $1 WHERE id = 'killed'`, [Number(row?.n) + 1]);
        }),
      ),
    );
    expect(killed).toBe(true);
    const failed = results.filter((r) => r.status === 'rejected');
    expect(failed.length).toBe(1);
    const row = await engine.get<{ n: number }>(`SELECT n FROM ${COUNTERS} WHERE id = 'killed'`);
    expect(Number(row?.n)).toBe(59);
    expect(await leftovers()).toEqual(clean);
  });
});

describe.runIf(TEST_POSTGRES_URL)('the record API under contention', () => {
  test('200 concurrent PATCH {"n+": 1} of one record all answer 200, and n ends at 200', async () => {
    const s = await startServer();
    try {
      const su = await superuserToken(s);
      const made = await s.request('POST', '/api/collections', {
        token: su,
        body: { name: 'stock', type: 'base', fields: [{ name: 'n', type: 'number' }] },
      });
      expect(made.status, JSON.stringify(made.body)).toBe(200);
      const rec = await s.request('POST', '/api/collections/stock/records', { token: su, body: { n: 0 } });
      expect(rec.status).toBe(200);
      const answers = await Promise.all(
        Array.from({ length: 200 }, () =>
          s.request('PATCH', `/api/collections/stock/records/${rec.body.id}`, { token: su, body: { 'n+': 1 } }),
        ),
      );
      const statuses = answers.map((a) => a.status);
      expect(
        statuses.filter((x) => x !== 200),
        JSON.stringify(answers.find((a) => a.status !== 200)?.body),
      ).toEqual([]);
      const after = await s.request('GET', `/api/collections/stock/records/${rec.body.id}`, { token: su });
      expect(after.body.n).toBe(200);
    } finally {
      await s.close();
    }
  }, 60_000);
});
