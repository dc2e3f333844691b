import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { Checkpointer } from './checkpointer.js';
import { EngineBusyError, GROUP_MAX_WRITES, SqliteEngine } from './engine.js';

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

/** The rows of `t` as the database file holds them after the engine closed (its WAL folded in and gone). */
function rowsInClosedFile(): number {
  const alone = new Database(join(dir, 'data.db'), { readonly: true });
  try {
    return (alone.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n;
  } finally {
    alone.close();
  }
}

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

test('a failed statement leaves the reader usable', async () => {
  await expect(engine.get('SELECT nope FROM t')).rejects.toThrow();
  expect(await count()).toBe(1);
  await nextTurn();
  expect(await count()).toBe(1);
});

test('the WAL is checkpointed by a worker thread, not by the commits; the last connection leaves a database that holds every write', async () => {
  const writer = (engine as unknown as { writer: { db: Database.Database } }).writer.db;
  // SQLite's own checkpoint stays only as a far-off safety net
  expect(writer.pragma('wal_autocheckpoint', { simple: true })).toBe(10_000);
  for (let i = 0; i < 300; i++) await engine.run(`INSERT INTO t (id, n) VALUES ($1, $2)`, [`k${i}`, i]);
  const deadline = Date.now() + 10_000;
  while (engine.checkpointer?.stats.frames === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(engine.checkpointer?.stats.lastError).toBe(null);
  expect(engine.checkpointer?.stats.frames).toBeGreaterThan(0);
  await engine.close();
  // with the WAL gone (checkpointed and removed at close), the database file alone has every row
  expect(rowsInClosedFile()).toBe(301);
  engine = new SqliteEngine(join(dir, 'data.db'));
});

test('without background checkpoints SQLite checkpoints by itself', async () => {
  const own = new SqliteEngine(join(dir, 'own.db'), { backgroundCheckpoints: false });
  try {
    expect(own.checkpointer).toBe(null);
    const writer = (own as unknown as { writer: { db: Database.Database } }).writer.db;
    expect(writer.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
  } finally {
    await own.close();
  }
});

test('the checkpoint thread runs while there are writes, ends when the WAL stays idle, and starts again on the next write', async () => {
  const file = join(dir, 'data.db');
  const writes = new Database(file);
  writes.pragma('wal_autocheckpoint = 0');
  const checkpointer = new Checkpointer(file, 'NORMAL', undefined, { intervalMs: 20, idleRuns: 5 });
  const until = async (done: () => boolean) => {
    const deadline = Date.now() + 10_000;
    while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  };
  try {
    expect(checkpointer.running).toBe(false);
    writes.prepare(`INSERT INTO t (id, n) VALUES ('w1', 1)`).run();
    checkpointer.poke();
    expect(checkpointer.running).toBe(true);
    await until(() => checkpointer.stats.frames > 0);
    expect(checkpointer.stats.frames).toBeGreaterThan(0);
    await until(() => !checkpointer.running);
    expect(checkpointer.running).toBe(false);

    const before = checkpointer.stats.frames;
    writes.prepare(`INSERT INTO t (id, n) VALUES ('w2', 2)`).run();
    checkpointer.poke();
    await until(() => checkpointer.stats.frames > before);
    expect(checkpointer.stats).toMatchObject({ threads: 2, lastError: null });
  } finally {
    await checkpointer.stop();
    writes.close();
  }
  expect(checkpointer.running).toBe(false);
});

/** Counts turns of the event loop (one per check phase) until stopped. */
function turnCounter(): { readonly turn: number; stop(): void } {
  let turn = 0;
  let counting = true;
  const tick = () => {
    turn++;
    if (counting) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get turn() {
      return turn;
    },
    stop() {
      counting = false;
    },
  };
}

test('queued writes take one turn of the event loop each, so sockets and timers get a turn between them', async () => {
  const turns: number[] = [];
  const counter = turnCounter();
  await Promise.all(
    Array.from({ length: 5 }, (_, i) =>
      engine.transaction(async (tx) => {
        turns.push(counter.turn);
        await tx.run(`INSERT INTO t (id, n) VALUES ($1, $2)`, [`w${i}`, i]);
      }),
    ),
  );
  counter.stop();
  expect(await count()).toBe(6);
  for (let i = 1; i < turns.length; i++) expect(turns[i]).toBeGreaterThan(turns[i - 1] as number);
});

test('queued writes share one commit: each is answered only once all of them are committed', async () => {
  const seen: number[] = [];
  await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      engine.run(`INSERT INTO t (id, n) VALUES ($1, $2)`, [`g${i}`, i]).then(async () => seen.push(await count())),
    ),
  );
  // the first is answered after later writes committed with it (all eight, unless the machine took longer than
  // GROUP_MAX_MS over them); none is answered before it is committed
  expect(seen[0]).toBeGreaterThan(2);
  for (const [i, n] of seen.entries()) expect(n).toBeGreaterThanOrEqual(i + 2);
  await engine.close();
  expect(rowsInClosedFile()).toBe(9);
  engine = new SqliteEngine(join(dir, 'data.db'));
});

test('a write of a group that fails is undone alone, its after-commit work never runs, and the others commit', async () => {
  const committed: string[] = [];
  const write = (id: string, fail: boolean) =>
    engine.transaction(async (tx) => {
      await tx.run(`INSERT INTO t (id, n) VALUES ($1, 1)`, [id]);
      await tx.run(`INSERT INTO t (id, n) VALUES ($1, 2)`, [`${id}-second`]);
      tx.afterCommit(() => committed.push(id));
      if (fail) throw new Error(`${id} refused`);
    });
  const results = await Promise.allSettled([
    write('first', true),
    write('second', false),
    write('third', true),
    write('fourth', false),
    // a statement error: the row's id is taken
    engine.run(`INSERT INTO t (id, n) VALUES ('a', 5)`),
    write('fifth', false),
  ]);
  expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
  expect(committed).toEqual(['second', 'fourth', 'fifth']);
  const ids = (await engine.all<{ id: string }>('SELECT id FROM t ORDER BY id')).map((r) => r.id);
  expect(ids).toEqual(['a', 'fifth', 'fifth-second', 'fourth', 'fourth-second', 'second', 'second-second']);
  expect((await engine.get<{ n: number }>(`SELECT n FROM t WHERE id = 'a'`))?.n).toBe(1);
});

test('a write that swallows an error with which SQLite rolled the whole transaction back fails with its group; the next write commits alone', async () => {
  await engine.run('CREATE TABLE r (id TEXT PRIMARY KEY ON CONFLICT ROLLBACK NOT NULL)');
  await engine.run(`INSERT INTO r (id) VALUES ('x')`);
  const committed: string[] = [];
  const swallowing = (name: string) =>
    engine.transaction(async (tx) => {
      await tx.run(`INSERT INTO r (id) VALUES ($1)`, [name]);
      tx.afterCommit(() => committed.push(name));
      // the duplicate rolls the whole transaction back; the error is caught here
      await tx.run(`INSERT INTO r (id) VALUES ('x')`).catch(() => {});
    });
  const plain = (name: string) =>
    engine.transaction(async (tx) => {
      await tx.run(`INSERT INTO r (id) VALUES ($1)`, [name]);
      tx.afterCommit(() => committed.push(name));
    });
  const results = await Promise.allSettled([
    // first of its group
    swallowing('a1'),
    // b1 opens the next group, c1 joins it, d1 ends it: all three go
    plain('b1'),
    plain('c1'),
    swallowing('d1'),
    plain('e1'),
  ]);
  expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected', 'fulfilled']);
  expect(committed).toEqual(['e1']);
  expect((await engine.all<{ id: string }>('SELECT id FROM r ORDER BY id')).map((r) => r.id)).toEqual(['e1', 'x']);
});

test('many queued writes are committed in groups of at most GROUP_MAX_WRITES', async () => {
  const counter = turnCounter();
  const answeredAt: number[] = [];
  const n = GROUP_MAX_WRITES * 3 + 1;
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      engine.run(`INSERT INTO t (id, n) VALUES ($1, $2)`, [`m${i}`, i]).then(() => answeredAt.push(counter.turn)),
    ),
  );
  counter.stop();
  expect(await count()).toBe(n + 1);
  const sizes = [...new Set(answeredAt)].map((t) => answeredAt.filter((a) => a === t).length);
  expect(sizes.length).toBeGreaterThanOrEqual(4);
  for (const size of sizes) expect(size).toBeLessThanOrEqual(GROUP_MAX_WRITES);
});

test('a write that waits longer than the busy timeout fails as busy; the queue goes on', async () => {
  const slow = new SqliteEngine(join(dir, 'slow.db'), { busyTimeoutMs: 50 });
  try {
    await slow.run('CREATE TABLE s (id TEXT PRIMARY KEY NOT NULL)');
    const holding = slow.transaction(async (tx) => {
      await tx.run(`INSERT INTO s (id) VALUES ('held')`);
      await new Promise((r) => setTimeout(r, 200));
    });
    await expect(slow.run(`INSERT INTO s (id) VALUES ('late')`)).rejects.toBeInstanceOf(EngineBusyError);
    await holding;
    await slow.run(`INSERT INTO s (id) VALUES ('after')`);
    expect(await slow.all('SELECT id FROM s ORDER BY id')).toEqual([{ id: 'after' }, { id: 'held' }]);
  } finally {
    await slow.close();
  }
});

test('a checkpoint thread that fails is not started again, and the writer checkpoints by itself again', async () => {
  let failures = 0;
  const checkpointer = new Checkpointer(join(dir, 'missing.db'), 'NORMAL', () => failures++, { intervalMs: 20, idleRuns: 5 });
  checkpointer.poke();
  const deadline = Date.now() + 10_000;
  while (checkpointer.running && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  for (let i = 0; i < 5; i++) checkpointer.poke();
  await new Promise((r) => setTimeout(r, 100));
  expect(failures).toBe(1);
  expect(checkpointer.stats.threads).toBe(1);
  expect(checkpointer.running).toBe(false);
  expect(checkpointer.stats.lastError).toMatch(/SQLITE_CANTOPEN|unable to open|does not exist/i);
});

test('two closes at once both wait for the one close', async () => {
  const writes = Array.from({ length: 3 }, (_, i) => engine.run(`INSERT INTO t (id, n) VALUES ($1, $2)`, [`c${i}`, i]));
  const [a, b] = [engine.close(), engine.close()];
  await Promise.all([a, b, ...writes]);
  expect(rowsInClosedFile()).toBe(4);
  engine = new SqliteEngine(join(dir, 'data.db'));
});
