import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freshDatabase, TEST_POSTGRES_URL } from '../../../test/helpers/server.js';
import { EngineBusyError } from '../engine.js';
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
