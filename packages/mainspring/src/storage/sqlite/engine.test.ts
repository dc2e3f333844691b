import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { SqliteEngine } from './engine.js';

/*
 * The reader's statements share one read transaction until the event loop
 * turns; these pin what that may and may not change about what reads see.
 */

let dir: string;
let engine: SqliteEngine;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ms-sqlite-engine-'));
  engine = new SqliteEngine(join(dir, 'data.db'));
  await engine.run('CREATE TABLE t (id TEXT PRIMARY KEY NOT NULL, n NUMERIC DEFAULT 0 NOT NULL)');
  await engine.run(`INSERT INTO t (id, n) VALUES ('a', 1)`);
});

afterEach(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

const count = async () => Number((await engine.get<{ n: number }>('SELECT COUNT(*) AS n FROM t'))?.n);
const nextTurn = () => new Promise((r) => setImmediate(r));

test('a read right after a write in the same turn sees it, through run() and through a transaction', async () => {
  expect(await count()).toBe(1);
  await engine.run(`INSERT INTO t (id, n) VALUES ('b', 2)`);
  expect(await count()).toBe(2);
  await engine.transaction(async (tx) => {
    await tx.run(`INSERT INTO t (id, n) VALUES ('c', 3)`);
    tx.afterCommit(() => {
      // after-commit work (realtime checks, hooks) reads what was just committed
      void count().then((n) => expect(n).toBe(3));
    });
  });
  expect(await count()).toBe(3);
});

test('a write of another process shows from the next turn of the event loop', async () => {
  expect(await count()).toBe(1);
  const other = new Database(join(dir, 'data.db'));
  other.prepare(`INSERT INTO t (id, n) VALUES ('x', 9)`).run();
  other.close();
  await nextTurn();
  expect(await count()).toBe(2);
});

test('values() answers rows as arrays in select-list order', async () => {
  await engine.run(`INSERT INTO t (id, n) VALUES ('b', 2)`);
  expect(await engine.values('SELECT n, id FROM t WHERE n >= $1 ORDER BY id', [1])).toEqual([
    [1, 'a'],
    [2, 'b'],
  ]);
});

test('a failed statement leaves the reader usable', async () => {
  await expect(engine.get('SELECT nope FROM t')).rejects.toThrow();
  expect(await count()).toBe(1);
  await nextTurn();
  expect(await count()).toBe(1);
});
