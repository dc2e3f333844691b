/**
 * The seam between Mainspring and a database. Everything above `storage/`
 * talks to an {@link Engine}; each engine folder (`sqlite/`, `postgres/`)
 * implements it with the same file names, and SQL that differs between
 * engines lives only in that engine's {@link Dialect} (`dialect.ts` here
 * declares it). What the doc comments here promise is tested once for every
 * engine by `contract.ts`, which each engine folder runs from its
 * `contract.test.ts`. This file is the one door to the interface: it
 * re-exports the dialect's types and the backups' (`backup.ts`).
 */

import type { DatabaseBackup } from './backup.js';
import type { Dialect } from './dialect.js';

export { BackupCheckError, BackupToolError, type DatabaseBackup } from './backup.js';
export type {
  ColumnKind,
  ColumnSpec,
  Dialect,
  FilterValueType,
  FullTextSql,
  FullTextSqlMatch,
  IndexedLikeSql,
  IndexSpec,
  InsertParts,
  StrftimeSql,
  TextIndexSql,
} from './dialect.js';

/**
 * Thrown when one statement ran longer than the engine's statement timeout
 * (a filter that makes the database work too hard); answered with a 400.
 */
export class StatementTimeoutError extends Error {
  override readonly name = 'StatementTimeoutError';
}

/**
 * True for an error that means the disk (or the database's space) is full:
 * SQLite's `SQLITE_FULL`, PostgreSQL's `53100 disk_full`, a file system's
 * `ENOSPC`. Nothing was written; answered with a 507, and reads go on.
 */
export function isStorageFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_FULL' || code === '53100' || code === 'ENOSPC';
}

/** Raised when the database cannot be reached or refuses us; the message says why in plain words. */
export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';
}

/**
 * Thrown when a write could not get its turn in time (SQLite: the writer;
 * PostgreSQL: the retry lane); answered with a 503.
 */
export class EngineBusyError extends Error {
  override readonly name = 'EngineBusyError';
}

/**
 * An {@link Executor} whose reads go through {@link Engine.read}: for code
 * that takes an executor (expanding records) and may read much.
 */
export function readingExecutor(engine: Engine, options: ReadOptions = {}): Executor {
  const one = async (sql: string, params: readonly SqlValue[] | undefined, arrays: boolean) =>
    (await engine.read([{ sql, params, arrays }], options))[0] as unknown[];
  return {
    all: async <T>(sql: string, params?: readonly SqlValue[]) => (await one(sql, params, false)) as T[],
    get: async <T>(sql: string, params?: readonly SqlValue[]) => (await one(sql, params, false))[0] as T | undefined,
    values: async (sql: string, params?: readonly SqlValue[]) => (await one(sql, params, true)) as unknown[][],
    run: () => Promise.reject(new Error('a reading executor does not write')),
    describe: (sql: string) => engine.describe(sql),
    afterCommit: (fn: () => void) => fn(),
  };
}

/**
 * Runs a transaction's last writes and commits with them where the executor
 * can ({@link Executor.commitAhead}: every statement and the COMMIT sent
 * together, one round trip on PostgreSQL); elsewhere runs them in turn and
 * leaves the commit to the transaction. Answers each write's result. A
 * failure is the first in the writes' order, never the aborted
 * transaction's echo in the statements after it.
 */
export async function commitWith<T extends readonly unknown[]>(
  tx: Executor,
  writes: { readonly [K in keyof T]: () => Promise<T[K]> },
): Promise<T> {
  if (!tx.commitAhead) {
    const out: unknown[] = [];
    for (const write of writes) out.push(await write());
    return out as unknown as T;
  }
  const sent: Promise<unknown>[] = writes.map((write) => write());
  sent.push(tx.commitAhead());
  const settled = await Promise.allSettled(sent);
  for (const s of settled) if (s.status === 'rejected') throw s.reason;
  return settled.slice(0, writes.length).map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** How long one statement may run, in ms: the engine's option, else `MS_STATEMENT_TIMEOUT_MS`, else 5 s. */
export function statementTimeoutMs(option?: number): number {
  return option ?? (Number(process.env.MS_STATEMENT_TIMEOUT_MS) || 5000);
}

/** Thrown by {@link Executor.describe} for a query the engine refuses; the message is the engine's own. */
export class QueryRejectedError extends Error {
  override readonly name = 'QueryRejectedError';
}

/** One column of a query's answer, as {@link Executor.describe} finds it. */
export interface QueryColumn {
  readonly name: string;
  /** The table and column its values are read from unchanged, when they are (a column, not an expression). */
  readonly origin: { readonly table: string; readonly column: string } | null;
  /** The type of its values where the engine tells (PostgreSQL always; SQLite for a column of a table). */
  readonly type: 'text' | 'number' | 'bool' | 'date' | 'json' | null;
}

/** A value bound to a statement parameter. */
export type SqlValue = string | number | boolean | null;

/** A row as the driver returns it, before {@link Dialect.decode}. */
export type Row = Record<string, unknown>;

/** Runs SQL: the engine itself, or one transaction of it. */
export interface Executor {
  /** Runs a query and returns every row. */
  all<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** Runs a query and returns its first row, if any. */
  get<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /**
   * Runs a query and returns every row as its values in select-list order:
   * cheaper than {@link all}'s objects where a row is read by position
   * (record reads, which select every field in schema order).
   */
  values(sql: string, params?: readonly SqlValue[]): Promise<unknown[][]>;
  /** Runs a statement and returns how many rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /**
   * Sends the COMMIT behind the statements already sent, without waiting
   * for their answers (PostgreSQL: one round trip for the last write and the
   * commit); resolves once it committed, rejects when it did not (a
   * statement before it failed, which made it a ROLLBACK, or the commit
   * itself failed). Absent where a commit costs no round trip (SQLite) and
   * outside a transaction. After it the transaction's fate is the COMMIT's:
   * statements run outside it (reads for the answer), and the caller must
   * not fail for a reason that should have undone its writes.
   */
  commitAhead?(): Promise<void>;
  /**
   * The columns a query would answer, found without reading its rows (SQLite
   * compiles it; PostgreSQL runs it with `LIMIT 0` under the statement
   * timeout, in a savepoint when in a transaction). Throws
   * {@link QueryRejectedError} unless it is one statement that only reads.
   */
  describe(sql: string): Promise<QueryColumn[]>;
  /**
   * Runs `fn` once the surrounding transaction has committed (never if it
   * rolls back), before `transaction()` resolves; outside a transaction, at
   * once.
   */
  afterCommit(fn: () => void): void;
}

/**
 * Messages between the processes that share one database (PostgreSQL
 * LISTEN/NOTIFY). Payloads are opaque text; a sender does not hear itself.
 */
export interface ChangeChannel {
  /** Sends to every other process; resolves once the database took it. */
  publish(payload: string): Promise<void>;
  /**
   * Starts listening. `onGap` is called when messages may have been lost
   * (the connection broke and came back): the listener must then assume
   * anything changed.
   */
  subscribe(onMessage: (payload: string) => void, onGap: () => void): Promise<void>;
  close(): Promise<void>;
}

/** One statement of {@link Engine.read}. */
export interface ReadStatement {
  readonly sql: string;
  readonly params?: readonly SqlValue[];
  /** Rows as arrays of values in select-list order (as {@link Executor.values}), else as objects. */
  readonly arrays?: boolean;
  /**
   * Run only when the earlier statement `statement` of the same read
   * answered one of `rowCounts` rows (several statements: their rows
   * together, an unrun one answering none); otherwise this one is answered
   * with no rows, unrun (a page's count, not needed when the page came back
   * short; a page of one plan, not needed when a probe chose the other).
   */
  readonly when?: { readonly statement: number | readonly number[]; readonly rowCounts: readonly number[] };
}

/** Whether statement `s` of a read runs, given the rows its earlier statements answered. */
export function shouldRun(s: ReadStatement, answered: readonly unknown[][]): boolean {
  if (s.when === undefined) return true;
  const rows = (i: number) => answered[i]?.length ?? Number.NaN;
  const { statement } = s.when;
  const n = typeof statement === 'number' ? rows(statement) : statement.reduce((sum, i) => sum + rows(i), 0);
  return s.when.rowCounts.includes(n);
}

/** How {@link Engine.read} runs its statements. */
export interface ReadOptions {
  /** The statement timeout for these statements, in ms (the engine's own by default). */
  readonly timeoutMs?: number;
  /**
   * The caller vouches that the statements walk at most one index (every
   * condition and sort key served by one, no join): they run where reads are
   * cheapest (SQLite: the event loop, whose reads cost no round trip;
   * PostgreSQL: without waiting for the slow reads' share of the pool).
   */
  readonly light?: boolean;
  /**
   * What a light read's time is remembered under (a list's collection). An
   * engine that runs light reads on the event loop sends the light reads of
   * a key apart for a while once one of them held the loop past a budget: a
   * light read walks one index, but how many entries it walks depends on the
   * data, which no check before running can know.
   */
  readonly lightKey?: string;
}

/** One statement a superuser typed in the SQL console (core/sql-console.ts), and how to run it. */
export interface ConsoleStatement {
  readonly sql: string;
  /** Rows to skip, then at most `limit` rows answered (a page). */
  readonly offset: number;
  readonly limit: number;
  /** Stop after this long, in ms, whatever the statement does. */
  readonly timeoutMs: number;
  /**
   * Whether the statement may change the database. False: it runs where
   * nothing can be written (SQLite: a read-only `query_only` connection of
   * its own that refuses anything but a statement returning rows, so no
   * ATTACH, PRAGMA assignment or VACUUM INTO; PostgreSQL: a READ ONLY
   * transaction, rolled back).
   */
  readonly write: boolean;
}

/** What a console statement answered: a page of rows, as arrays in column order. */
export interface ConsoleAnswer {
  readonly columns: string[];
  readonly rows: unknown[][];
  /** More rows follow the page. */
  readonly more: boolean;
  /** Rows a write changed (null for a statement that returns rows). */
  readonly changes: number | null;
}

/** A table's name and the names of its columns and indexes, as the schema gives them. */
export interface StoredNames {
  readonly table: string;
  readonly columns: readonly string[];
  readonly indexes: readonly string[];
}

/** One standby (a read replica) as the engine last checked it. */
export interface StandbyStats {
  /** `host:port/database`, never the credentials. */
  readonly name: string;
  /** It answered the last check, as a standby in recovery. */
  readonly reachable: boolean;
  /** It gets reads now: reachable, lagging within the bound, and no read failed on it since the last check. */
  readonly inRotation: boolean;
  /** WAL bytes the primary wrote that it has not replayed yet (null until a check answers, and while it does not). */
  readonly lagBytes: number | null;
  /** How long ago the primary was where it is now, in seconds (0 when caught up; null while unknown). */
  readonly lagSeconds: number | null;
  /** Reads it served since the start. */
  readonly reads: number;
}

/** Reads spread over standbys (PostgreSQL with `DATABASE_REPLICA_URLS`). */
export interface ReplicationStats {
  readonly standbys: readonly StandbyStats[];
  /** Reads that went to the primary since the start: no caller, no standby fresh enough, or a standby's read failed. */
  readonly readsOnPrimary: number;
}

/** What an engine is doing at one moment: gauges for metrics. */
export interface EngineStats {
  /** Writes waiting for their turn: for SQLite's one writer; on PostgreSQL, callers waiting for a pooled connection. */
  writesWaiting: number;
  /** Connections open, idle, and callers waiting for one: PostgreSQL's pool; SQLite's reader processes. */
  pool: { size: number; idle: number; waiting: number };
  /** Reads running apart now (Engine.read), and how many have been stopped at their time limit since the start. */
  reads: { running: number; stopped: number };
  /** Standbys and where reads went; absent without standbys. */
  replication?: ReplicationStats;
}

/** A database Mainspring can run on. */
export interface Engine extends Executor {
  /** The SQL that differs on this engine. */
  readonly dialect: Dialect;
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when
   * it throws. Writes inside must go through `tx`, never the engine. An
   * engine may run `fn` again from the start (PostgreSQL, after a
   * serialization failure), so it must do nothing outside the database that
   * it cannot do twice.
   */
  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` while holding a database-wide lock named `name`, so that
   * several processes sharing one database take turns (system migrations).
   * Absent on engines only one process opens.
   */
  withLock?<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Runs reads that may take long (lists and their counts, expands, rule
   * checks a client's filter shapes) where they cannot hold up the event
   * loop, each stopped at the statement timeout (or `timeoutMs`), and
   * answers each statement's rows. SQLite runs them together in a reader
   * process, on one snapshot; PostgreSQL on a pooled connection, at most
   * some of the pool's connections at once so that these reads never take
   * every connection from writes and cheap reads; with standbys, on one
   * that has replayed the caller's last commit (see {@link asCaller}).
   */
  read(statements: readonly ReadStatement[], options?: ReadOptions): Promise<unknown[][]>;
  /**
   * Runs one statement of the SQL console on a connection of its own, never
   * one that serves the API, stopped at `timeoutMs`. A statement the
   * console refuses (more than one, or one that writes when `write` is
   * false) throws {@link QueryRejectedError}; the database's own errors
   * keep its message.
   */
  console(statement: ConsoleStatement): Promise<ConsoleAnswer>;
  /**
   * Runs `fn` on behalf of `caller` (a signed-in record, else a client
   * address): with standbys, {@link read} then reads where the caller's own
   * committed transactions are visible (read-your-writes), and a read
   * outside any caller goes to the primary. Absent where every read sees
   * every commit (one database).
   */
  asCaller?<T>(caller: string, fn: () => T): T;
  /**
   * A token that changes whenever a commit may have changed what reads see,
   * the moment that commit is visible to any read. Read it before and after
   * {@link read}: the same both times, the read saw the database as it is at
   * that token (an exact count read so may be kept under it). Present only
   * where this process learns of every commit at once (SQLite: it owns the
   * file, and another process's commits show in `PRAGMA data_version`);
   * absent where other instances commit and this one hears of it later.
   */
  readVersion?(): string;
  /** A channel to the other processes of this database; absent where only one process opens it. */
  channel?(): ChangeChannel;
  /**
   * Calls `listener` within about a quarter of a second after another
   * connection committed to the database, where no channel tells of it
   * (SQLite: a CLI command run beside the server changed a password).
   * Cheap while nothing changes; stops when the engine closes. Absent where
   * the channel carries every change.
   */
  watchOtherWrites?(listener: () => void): void;
  /**
   * Several processes may open this database at once (PostgreSQL behind N
   * instances): what every instance must see (rate-limit counters, sign-in
   * failures, the request log) lives in it. False where one process owns the
   * database (SQLite): those stay in memory or in a file of their own.
   */
  readonly shared: boolean;
  /** What the engine is doing now, read when metrics are scraped (core/metrics.ts). */
  stats(): EngineStats;
  /** Copies of the database for backups, and their restore. */
  readonly backup: DatabaseBackup;
  /**
   * Calls `listener` with the number of writes each committed transaction
   * held. Present where writes are committed in groups (SQLite's group
   * commit); one write is one transaction elsewhere.
   */
  observeCommits?(listener: (writes: number) => void): void;
  /**
   * Brings tables, columns and indexes an earlier version stored under a
   * shortened name (cut at the engine's name limit) to the names
   * {@link Dialect.storedName} gives now. Absent where names were never cut.
   */
  renameShortenedNames?(tx: Executor, tables: readonly StoredNames[]): Promise<void>;
  /** Waits for running work (and the work it starts meanwhile) and closes every connection; every caller waits for the same close. */
  close(): Promise<void>;
}
