import { availableParallelism } from 'node:os';
import Database from 'better-sqlite3';
import {
  type ConsoleAnswer,
  type ConsoleStatement,
  type DatabaseBackup,
  type Engine,
  EngineBusyError,
  type EngineStats,
  type Executor,
  type QueryColumn,
  type ReadOptions,
  type ReadStatement,
  type Row,
  type SqlValue,
  StatementTimeoutError,
  shouldRun,
  statementTimeoutMs,
} from '../engine.js';
import { sqliteBackup } from './backup.js';
import { Checkpointer, FALLBACK_AUTOCHECKPOINT_PAGES, SQLITE_AUTOCHECKPOINT_PAGES } from './checkpointer.js';
import { Connection, type Statement } from './connection.js';
import { runConsoleStatement } from './console.js';
import { sqliteDialect } from './dialect.js';
import { LoopBudget, ReaderPool } from './readers.js';

/** Options of the embedded engine. */
export interface SqliteOptions {
  /** How long a write waits for the writer before giving up, in ms. */
  busyTimeoutMs?: number;
  /** How long one statement may run, in ms (`MS_STATEMENT_TIMEOUT_MS`, default 5000). */
  statementTimeoutMs?: number;
  /**
   * `NORMAL` (the default): a commit survives a crash of the process, and of
   * the machine once the WAL is checkpointed. `OFF`: nothing waits for the
   * disk; for data that may lose its last seconds (the request log).
   */
  synchronous?: 'NORMAL' | 'OFF';
  /**
   * Checkpoint the WAL from a worker thread (see checkpointer.ts) instead of
   * inside the commit that crosses SQLite's threshold. Default true.
   */
  backgroundCheckpoints?: boolean;
  /**
   * Reader processes for {@link SqliteEngine.read} (`MS_SQLITE_READERS`;
   * default the number of cores). 0 runs those reads on the event loop, as
   * a plain read, with only `ms_deadline()` to stop them.
   */
  readers?: number;
}

/** Thrown when a write waited longer than the busy timeout for the writer (declared with the engine interface). */
export { EngineBusyError };

/** A write waiting in {@link SqliteEngine}'s queue for the writer. */
interface QueuedWrite {
  /** The write's statements, run on the writer inside the open group. */
  fn: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  /** Fails the write as busy when it waited too long. */
  timer: NodeJS.Timeout;
}

/** Writes that share one transaction (see {@link SqliteEngine.exclusive}); answered when it commits. */
interface Group {
  done: { write: QueuedWrite; value: unknown; callbacks: (() => void)[] }[];
  /** When its BEGIN ran (`performance.now()`). */
  started: number;
}

/** At most this many writes share a commit… */
export const GROUP_MAX_WRITES = 16;
/** …and the first of them waits at most about this long for it, in ms. */
export const GROUP_MAX_MS = 3;

/**
 * The embedded engine: one SQLite file in WAL mode, a writer connection that
 * one transaction at a time holds (an async queue in front of it), and a
 * reader connection that sees only committed data.
 */
export class SqliteEngine implements Engine {
  readonly dialect = sqliteDialect;
  /** One process owns the file. */
  readonly shared = false;
  private readonly writer: Connection;
  private readonly reader: Connection;
  /** Writes waiting for the writer, first come first served. */
  private readonly waiting: QueuedWrite[] = [];
  /** A write holds the writer, or its turn has been scheduled. */
  private busy = false;
  /** Called once when the writer is next free with nothing waiting (close() waits so). */
  private idleWaiters: (() => void)[] = [];
  private closed = false;
  private readonly busyTimeoutMs: number;
  private readonly timeoutMs: number;
  /** The processes that run {@link read}; null when reads run on the event loop. */
  readonly readers: ReaderPool | null;
  /** The thread that checkpoints the WAL, when there is one. */
  readonly checkpointer: Checkpointer | null;

  readonly backup: DatabaseBackup;

  constructor(
    private readonly file: string,
    options: SqliteOptions = {},
  ) {
    this.backup = sqliteBackup(file);
    this.busyTimeoutMs = options.busyTimeoutMs ?? 10_000;
    const synchronous = options.synchronous ?? 'NORMAL';
    const writer = new Database(file);
    for (const pragma of [
      'journal_mode = WAL',
      `synchronous = ${synchronous}`,
      'foreign_keys = ON',
      `busy_timeout = ${this.busyTimeoutMs}`,
      'temp_store = MEMORY',
      'cache_size = -16000',
    ]) {
      writer.pragma(pragma);
    }
    const reader = new Database(file, { readonly: true });
    reader.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
    reader.pragma('cache_size = -16000');
    const timeout = statementTimeoutMs(options.statementTimeoutMs);
    this.timeoutMs = timeout;
    const fromEnv = process.env.MS_SQLITE_READERS;
    const readers = options.readers ?? (fromEnv !== undefined && /^\d+$/.test(fromEnv) ? Number(fromEnv) : availableParallelism());
    this.readers =
      readers > 0 ? new ReaderPool(file, { size: readers, queueTimeoutMs: this.busyTimeoutMs, busyTimeoutMs: this.busyTimeoutMs }) : null;
    this.writer = new Connection(writer, timeout);
    this.savepoint = {
      begin: writer.prepare('SAVEPOINT ms_write') as Statement,
      release: writer.prepare('RELEASE ms_write') as Statement,
      rollback: writer.prepare('ROLLBACK TO ms_write') as Statement,
    };
    this.reader = new Connection(reader, timeout, true);
    const background = options.backgroundCheckpoints ?? true;
    if (background) writer.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
    this.checkpointer = background
      ? new Checkpointer(file, synchronous, () => {
          if (writer.open) writer.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT_PAGES}`);
        })
      : null;
  }

  /**
   * Queues `fn` behind every earlier write; fails if the queue does not move in time.
   *
   * Group commit: writes that queue behind one another share one
   * transaction, each after the first in a savepoint, and every one of them is
   * answered only once that transaction has committed. A commit writes the
   * WAL's frames (tens of µs, and most of a one-row write's cost); shared,
   * it is paid once for up to {@link GROUP_MAX_WRITES} writes, the first of
   * which then waits at most about {@link GROUP_MAX_MS} longer. A write that
   * fails is rolled back to its savepoint (the first, with the transaction,
   * which holds nothing else yet) and answered at once; the others are
   * unaffected. If SQLite ends the whole transaction (a full disk), or the
   * commit fails, every write of the group fails. A write alone in the queue
   * commits at once, as before.
   *
   * The writer passes from one write to the next through `setImmediate`, so
   * each turn of the event loop runs at most one write. The statements are
   * synchronous and the promises between them only microtasks, so handing it
   * on at once would run every queued write, and the requests they resume,
   * in the same turn; under load one turn then lasted as long as all the
   * writes of 50 connections (a quarter of a second and more). Node (libuv
   * 1.45 and later) accepts one new connection per turn, so new connections
   * waited seconds to be accepted, and sockets that turned readable in the
   * meantime waited for the whole turn too. Between two writes the loop now
   * reads sockets, accepts a connection and runs timers.
   */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the database is closed'));
    this.checkpointer?.poke();
    return new Promise<T>((resolve, reject) => {
      const write: QueuedWrite = {
        fn,
        resolve: resolve as (value: unknown) => void,
        reject,
        timer: setTimeout(() => {
          const i = this.waiting.indexOf(write);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(new EngineBusyError('the database is busy; try again'));
        }, this.busyTimeoutMs),
      };
      this.waiting.push(write);
      if (!this.busy) this.nextTurn();
    });
  }

  /** Gives the writer to the first waiting write on the next turn of the event loop, or commits and marks it free. */
  private nextTurn(): void {
    // the write the group waited for timed out meanwhile (the commit's after-commit work may queue writes)
    if (this.waiting.length === 0) this.commitGroup();
    if (this.waiting.length === 0) {
      this.busy = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
      return;
    }
    this.busy = true;
    setImmediate(this.runNext);
  }

  private readonly runNext = (): void => {
    const write = this.waiting.shift();
    if (write === undefined) {
      // the one this turn was scheduled for has timed out since
      this.nextTurn();
      return;
    }
    clearTimeout(write.timer);
    void this.runInGroup(write).then(() => this.nextTurn());
  };

  /** The open group transaction, if any. */
  private group: Group | null = null;
  /** The savepoint each write after a group's first runs in. */
  private readonly savepoint: { begin: Statement; release: Statement; rollback: Statement };

  /**
   * Runs one write in the group's transaction (opening it first): the first
   * write of a group directly in it, each later one in a savepoint. Commits
   * when the group is complete. Never rejects (the queue moves on after it).
   */
  private async runInGroup(write: QueuedWrite): Promise<void> {
    const writer = this.writer;
    const db = writer.db;
    if (this.group !== null && !db.inTransaction) {
      // something ended the group's transaction between two writes: its writes are lost
      const lost = this.group;
      this.group = null;
      this.commits++;
      for (const d of lost.done) d.write.reject(new Error('the transaction was rolled back'));
    }
    const first = this.group === null;
    if (first) {
      try {
        db.exec('BEGIN IMMEDIATE');
      } catch (err) {
        write.reject(err);
        return;
      }
      this.group = { done: [], started: performance.now() };
    }
    const group = this.group as Group;
    const callbacks: (() => void)[] = [];
    writer.pendingCommit = callbacks;
    try {
      if (!first) this.savepoint.begin.run();
      const value = await write.fn();
      // a statement SQLite answers by rolling the whole transaction back (ON CONFLICT ROLLBACK, a full disk),
      // its error caught by the write's own code: the group's writes, this one's included, are gone
      if (!db.inTransaction) throw new Error('the transaction was rolled back');
      if (!first) this.savepoint.release.run();
      group.done.push({ write, value, callbacks });
    } catch (err) {
      write.reject(err);
      try {
        if (!first && db.inTransaction) {
          this.savepoint.rollback.run();
          this.savepoint.release.run();
          return;
        }
      } catch {
        // the transaction cannot go on: ended below
      }
      // the first write failed (nothing else is in the transaction), or SQLite ended the transaction
      // itself, taking the group's earlier writes with it
      this.group = null;
      this.rollback();
      for (const d of group.done) d.write.reject(err);
      return;
    } finally {
      writer.pendingCommit = null;
    }
    if (this.waiting.length === 0 || group.done.length >= GROUP_MAX_WRITES || performance.now() - group.started >= GROUP_MAX_MS) {
      this.commitGroup();
    }
  }

  /** Commits the open group, then runs each write's after-commit callbacks and answers it, in order. */
  private commitGroup(): void {
    const group = this.group;
    if (group === null) return;
    this.group = null;
    // Ended before the commit, with nothing running in between: the checkpoint a commit may run
    // cannot pass a snapshot still open, so the WAL would only grow. Reads from here on
    // (after-commit callbacks, realtime checks) open a new one and see these writes.
    this.reader.endSnapshot();
    try {
      this.writer.db.exec('COMMIT');
    } catch (err) {
      this.rollback();
      for (const d of group.done) d.write.reject(err);
      return;
    }
    // in the tick of the commit: no read's answer is handled between the two (see readVersion)
    this.commits++;
    for (const listener of this.commitListeners) listener(group.done.length);
    for (const d of group.done) {
      try {
        for (const cb of d.callbacks) cb();
        d.write.resolve(d.value);
      } catch (err) {
        d.write.reject(err);
      }
    }
  }

  /** Ends the writer's transaction, if one is still open. */
  private rollback(): void {
    // counted as a commit too: a transaction a write's own SQL ended may have committed what it held
    this.commits++;
    try {
      if (this.writer.db.inTransaction) this.writer.db.exec('ROLLBACK');
    } catch {
      // nothing is left to undo
    }
  }

  private readonly commitListeners: ((writes: number) => void)[] = [];
  /** Transactions the writer ended (see {@link readVersion}). */
  private commits = 0;
  /** `PRAGMA data_version` of the writer: changes when another connection (a CLI beside the server) commits. */
  private dataVersion: Statement | null = null;
  private seenDataVersion = 0;

  /**
   * The writer's commits and the file's `data_version`. A commit here is
   * counted in the tick it ran in, and better-sqlite3 runs it on the event
   * loop, so no read's answer can be handled between the two; another
   * process's commit changes `data_version` at once. The event loop's
   * shared snapshot (Connection) is ended when the latter moves, so a light
   * read after this call cannot see an older file than its token says.
   */
  readVersion(): string {
    if (this.closed) return `closed.${this.commits}`;
    this.dataVersion ??= this.writer.db.prepare('PRAGMA data_version').pluck() as unknown as Statement;
    const seen = Number(this.dataVersion.get());
    if (seen !== this.seenDataVersion) {
      this.seenDataVersion = seen;
      this.reader.endSnapshot();
    }
    return `${this.commits}.${seen}`;
  }
  /** Reads stopped at their time limit since the start. */
  private readsStopped = 0;

  observeCommits(listener: (writes: number) => void): void {
    this.commitListeners.push(listener);
  }

  console(statement: ConsoleStatement): Promise<ConsoleAnswer> {
    if (this.closed) return Promise.reject(new Error('the database is closed'));
    return runConsoleStatement(this.file, statement, this.busyTimeoutMs);
  }

  stats(): EngineStats {
    const readers = this.readers?.stats();
    return {
      writesWaiting: this.waiting.length,
      pool: readers
        ? { size: readers.readers, idle: readers.readers - readers.busy, waiting: readers.waiting }
        : { size: 0, idle: 0, waiting: 0 },
      reads: { running: readers?.busy ?? 0, stopped: this.readsStopped },
    };
  }

  async all<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.reader.allSync<T>(sql, params);
  }
  async describe(sql: string): Promise<QueryColumn[]> {
    return this.reader.describeSync(sql);
  }
  async read(statements: readonly ReadStatement[], options: ReadOptions = {}): Promise<unknown[][]> {
    try {
      return await this.readNow(statements, options);
    } catch (err) {
      if (err instanceof StatementTimeoutError) this.readsStopped++;
      throw err;
    }
  }

  private async readNow(statements: readonly ReadStatement[], options: ReadOptions): Promise<unknown[][]> {
    if (this.closed) throw new Error('the database is closed');
    if (!this.readers) return this.readOnLoop(statements, options.timeoutMs);
    if (!options.light || !this.loopBudget.allows(options.lightKey)) {
      return this.readers.run(statements.map(Connection.forReader), options.timeoutMs ?? this.timeoutMs);
    }
    const started = performance.now();
    const cpu = process.cpuUsage();
    try {
      return this.readOnLoop(statements, options.timeoutMs);
    } finally {
      const used = process.cpuUsage(cpu);
      this.loopBudget.spent(options.lightKey, performance.now() - started, (used.user + used.system) / 1000);
    }
  }

  /** Light reads that held the event loop too long, by their key. */
  private readonly loopBudget = new LoopBudget();

  private readOnLoop(statements: readonly ReadStatement[], timeoutMs: number | undefined): unknown[][] {
    // on the event loop too, the caller's timeoutMs is the statements' limit (found by the engine contract:
    // light reads, and every read without reader processes, ran to the engine's own timeout instead)
    const out: unknown[][] = [];
    for (const s of statements) {
      if (!shouldRun(s, out)) out.push([]);
      else out.push(s.arrays ? this.reader.valuesSync(s.sql, s.params, timeoutMs) : this.reader.allSync(s.sql, s.params, timeoutMs));
    }
    return out;
  }
  async get<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.reader.getSync<T>(sql, params);
  }
  async values(sql: string, params?: readonly SqlValue[]): Promise<unknown[][]> {
    return this.reader.valuesSync(sql, params);
  }
  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.exclusive(async () => this.writer.runSync(sql, params));
  }

  afterCommit(fn: () => void): void {
    fn();
  }

  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    return this.exclusive(() => fn(this.writer));
  }

  private watcher: NodeJS.Timeout | null = null;

  /**
   * `PRAGMA data_version` of the writer changes only when another
   * connection committed: one statement of a few µs, four times a second,
   * off the request path (a timer that does not keep the process alive).
   */
  watchOtherWrites(listener: () => void): void {
    if (this.watcher) clearInterval(this.watcher);
    const version = () => this.writer.db.pragma('data_version', { simple: true }) as number;
    let seen = version();
    this.watcher = setInterval(() => {
      if (this.closed) return;
      const now = version();
      if (now === seen) return;
      seen = now;
      listener();
    }, 250);
    this.watcher.unref();
  }

  private closing: Promise<void> | null = null;

  /** Closes after queued writes (and the writes they lead to); every caller waits for the same close. */
  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    while (this.busy) {
      await new Promise<void>((resolve) => {
        this.idleWaiters.push(resolve);
      });
    }
    this.closed = true;
    if (this.watcher) clearInterval(this.watcher);
    this.readers?.close();
    await this.checkpointer?.stop();
    this.reader.endSnapshot();
    this.reader.db.close();
    this.writer.db.pragma('optimize');
    this.writer.db.close();
  }
}
