import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freshDatabase, TEST_POSTGRES_URL } from '../../../test/helpers/server.js';
import { commitWith, EngineBusyError, type Executor } from '../engine.js';
import { PostgresEngine } from './engine.js';

/*
 * Statements with parameters run as named prepared statements (one parse
 * and plan per connection and text), in transactions too; these pin that
 * nothing a caller can see changes. Runs with MS_TEST_POSTGRES_URL only.
 */
describe.skipIf(!TEST_POSTGRES_URL)('PostgreSQL engine, named statements', () => {
  let engine: PostgresEngine;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const db = await freshDatabase();
    drop = db.drop;
    engine = await PostgresEngine.open(db.url, { poolMax: 2 });
    await engine.run('CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL)');
    await engine.run(`INSERT INTO t (id, n) VALUES ('a', 1), ('b', 2)`);
  });

  afterAll(async () => {
    await engine?.close();
    await drop?.();
  });

  test('the same text with other values answers each time, as rows or arrays', async () => {
    for (let i = 0; i < 5; i++) {
      expect(await engine.get('SELECT id FROM t WHERE n = $1::int', [1 + (i % 2)])).toEqual({ id: i % 2 ? 'b' : 'a' });
      expect(await engine.values('SELECT id, n FROM t WHERE n >= $1::int ORDER BY n', [2])).toEqual([['b', 2]]);
    }
  });

  test('a statement whose result type a schema change altered still answers, with the new type', async () => {
    const sql = 'SELECT n FROM t WHERE id = $1';
    for (let i = 0; i < 4; i++) expect(await engine.get(sql, ['a'])).toEqual({ n: 1 });
    await engine.run('ALTER TABLE t ALTER COLUMN n TYPE TEXT');
    for (let i = 0; i < 4; i++) expect(await engine.get(sql, ['a'])).toEqual({ n: '1' });
    await engine.run('ALTER TABLE t ALTER COLUMN n TYPE INTEGER USING n::integer');
  });

  test('many distinct texts do not break the pool (a connection holding too many is replaced)', async () => {
    for (let i = 0; i < 1100; i++) {
      expect(await engine.get(`SELECT $1::int + ${i} AS v`, [1])).toEqual({ v: 1 + i });
    }
  });

  test('statements in a transaction are named too', async () => {
    const sql = 'SELECT id FROM t WHERE n = $1::int';
    const prepared = await engine.transaction(async (tx) => {
      expect(await tx.get(sql, [2])).toEqual({ id: 'b' });
      return tx.all<{ name: string }>('SELECT name FROM pg_prepared_statements WHERE statement = $1', [sql]);
    });
    expect(prepared).toHaveLength(1);
    expect(prepared[0]?.name).toMatch(/^ms_/);
  });

  test('a transaction whose statement plan a schema change made stale runs again and answers', async () => {
    const sql = 'SELECT n FROM t WHERE id = $1';
    const read = () => engine.transaction(async (tx) => (await tx.get(sql, ['a'])) as { n: unknown });
    // both pooled connections plan the statement (two transactions at once take both)
    for (let i = 0; i < 3; i++) expect(await Promise.all([read(), read()])).toEqual([{ n: 1 }, { n: 1 }]);
    await engine.run('ALTER TABLE t ALTER COLUMN n TYPE TEXT');
    try {
      for (let i = 0; i < 4; i++) expect(await Promise.all([read(), read()])).toEqual([{ n: '1' }, { n: '1' }]);
    } finally {
      await engine.run('ALTER TABLE t ALTER COLUMN n TYPE INTEGER USING n::integer');
    }
    expect(await read()).toEqual({ n: 1 });
  });

  test("a column whose type changed under a named statement's parameters: the transaction runs again and writes", async () => {
    await engine.run('CREATE TABLE kinds (id TEXT PRIMARY KEY, v TEXT NOT NULL)');
    const insert = (id: string, v: string) => engine.transaction((tx) => tx.run('INSERT INTO kinds (id, v) VALUES ($1, $2)', [id, v]));
    // both pooled connections parse the INSERT with a TEXT parameter
    await Promise.all([insert('a', '"x"'), insert('b', '"y"')]);
    // as a select field going from one value to many: TEXT to JSONB
    await engine.run('ALTER TABLE kinds ALTER COLUMN v TYPE JSONB USING v::jsonb');
    await Promise.all([insert('c', '["p"]'), insert('d', '["q"]')]);
    await engine.run('ALTER TABLE kinds ALTER COLUMN v TYPE TEXT USING v::text');
    await Promise.all([insert('e', 'plain'), insert('f', 'text')]);
    const rows = await engine.all<{ id: string; v: string }>('SELECT id, v FROM kinds ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });

  test('a statement that fails for its own reason with a code a stale plan also gives runs twice at most, then fails', async () => {
    let runs = 0;
    // 0A000: "FOR UPDATE is not allowed with aggregate functions"
    const failing = engine.transaction(async (tx) => {
      runs++;
      return tx.get('SELECT count(*) FROM t WHERE n = $1::int FOR UPDATE', [1]);
    });
    await expect(failing).rejects.toMatchObject({ code: '0A000' });
    expect(runs).toBe(2);
    expect(await engine.transaction((tx) => tx.get('SELECT id FROM t WHERE n = $1::int', [1]))).toEqual({ id: 'a' });
  });

  test('waiting too long for a pooled connection is the engine being busy (a 503), not a fault', async () => {
    const small = await PostgresEngine.open(TEST_POSTGRES_URL as string, { poolMax: 1, poolWaitMs: 100 });
    try {
      let release!: () => void;
      const held = small.transaction(() => new Promise<void>((r) => (release = r)));
      await new Promise((r) => setTimeout(r, 50));
      await expect(small.get('SELECT 1 AS one WHERE $1::int = 1', [1])).rejects.toBeInstanceOf(EngineBusyError);
      await expect(small.transaction((tx) => tx.get('SELECT 1 AS one'))).rejects.toBeInstanceOf(EngineBusyError);
      release();
      await held;
      expect(await small.get('SELECT 1 AS one WHERE $1::int = 1', [1])).toEqual({ one: 1 });
    } finally {
      await small.close();
    }
  });

  test('many distinct texts in transactions do not break the pool either', async () => {
    for (let i = 0; i < 1100; i++) {
      expect(await engine.transaction((tx) => tx.get(`SELECT $1::int + ${i} AS v`, [1]))).toEqual({ v: 1 + i });
    }
    const held = await engine.transaction((tx) =>
      tx.get<{ n: number }>("SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'ms\\_%'"),
    );
    expect(held?.n).toBeLessThanOrEqual(500);
  });
});

/*
 * A transaction's last write may carry the COMMIT (Executor.commitAhead,
 * through commitWith): one round trip for both. What a caller sees must be
 * what a COMMIT of its own would give, and a failure must be the
 * statement's.
 */
describe.skipIf(!TEST_POSTGRES_URL)('PostgreSQL engine, the COMMIT sent with the last write', () => {
  let engine: PostgresEngine;
  let drop: () => Promise<void>;
  const insert = (tx: Executor, id: string, n: number) => tx.run('INSERT INTO w (id, n) VALUES ($1, $2)', [id, n]);
  const ids = async () => (await engine.all<{ id: string }>('SELECT id FROM w ORDER BY id')).map((r) => r.id);

  beforeAll(async () => {
    const db = await freshDatabase();
    drop = db.drop;
    engine = await PostgresEngine.open(db.url, { poolMax: 4 });
    await engine.run('CREATE TABLE w (id TEXT PRIMARY KEY, n INTEGER NOT NULL)');
  });

  afterAll(async () => {
    await engine?.close();
    await drop?.();
  });

  test('committed once the write answers; statements after it run outside the transaction; callbacks run once', async () => {
    const events: string[] = [];
    const level = await engine.transaction(async (tx) => {
      tx.afterCommit(() => events.push('committed'));
      expect(await commitWith(tx, [() => insert(tx, 'a', 1)] as const)).toEqual([1]);
      // another connection sees it already
      expect(await engine.get('SELECT n FROM w WHERE id = $1', ['a'])).toEqual({ n: 1 });
      return tx.get<{ level: string }>("SELECT current_setting('transaction_isolation') AS level");
    });
    expect(level).toEqual({ level: 'read committed' });
    expect(events).toEqual(['committed']);
  });

  test("a failed write makes the COMMIT a ROLLBACK: nothing of the transaction stays, and the error is the statement's", async () => {
    const failing = engine.transaction(async (tx) => {
      await insert(tx, 'b', 1);
      await commitWith(tx, [() => insert(tx, 'a', 2), () => insert(tx, 'c', 3)] as const);
    });
    await expect(failing).rejects.toMatchObject({ code: '23505' });
    expect(await ids()).toEqual(['a']);
  });

  test('a body that fails after its COMMIT went: the write stands, its callbacks run, and it is not run again', async () => {
    let runs = 0;
    const events: string[] = [];
    const late = engine.transaction(async (tx) => {
      runs++;
      tx.afterCommit(() => events.push('committed'));
      await commitWith(tx, [() => insert(tx, 'd', 1)] as const);
      // even an error the engine would otherwise retry
      throw Object.assign(new Error('late'), { code: '40001' });
    });
    await expect(late).rejects.toThrow('late');
    expect(runs).toBe(1);
    expect(events).toEqual(['committed']);
    expect(await ids()).toEqual(['a', 'd']);
  });

  test('a body that swallows its failed last write does not pass for committed', async () => {
    const swallowed = engine.transaction(async (tx) => {
      await insert(tx, 'e', 1);
      await commitWith(tx, [() => insert(tx, 'a', 1)] as const).catch(() => {});
    });
    await expect(swallowed).rejects.toThrow(/ROLLBACK/);
    expect(await ids()).toEqual(['a', 'd']);
  });

  test('100 concurrent read-modify-writes whose write carries the COMMIT: conflicts found at COMMIT run again, none is lost', async () => {
    await engine.run(`INSERT INTO w (id, n) VALUES ('counter', 0)`);
    const increment = () =>
      engine.transaction(async (tx) => {
        const row = await tx.get<{ n: number }>('SELECT n FROM w WHERE id = $1', ['counter']);
        await commitWith(tx, [() => tx.run('UPDATE w SET n = $1 WHERE id = $2', [Number(row?.n) + 1, 'counter'])] as const);
      });
    await Promise.all(Array.from({ length: 100 }, increment));
    expect(await engine.get('SELECT n FROM w WHERE id = $1', ['counter'])).toEqual({ n: 100 });
  }, 60_000);
});
