import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { EngineBusyError, type ReadStatement, type SqlValue, StatementTimeoutError } from '../engine.js';

/**
 * Reads that may take long, run in reader processes instead of on the event
 * loop: better-sqlite3 runs a statement to its end on the thread that asked,
 * so a slow list on the main thread stops every other request of the process
 * (one filter walking back-relations twice held `/api/health` for 15 s).
 *
 * Processes, not worker threads: a statement that runs inside SQLite without
 * calling back into JavaScript (an aggregate over a recursive CTE in a view's
 * query) cannot be stopped on a thread, whose termination waits for the
 * native call to return; a process is killed. Each reader answers by itself
 * when its statements run past the timeout (`ms_deadline()`, called per row
 * by the SQL Mainspring writes, throws) and is killed, and a new one started
 * in its place, when it has not answered a little after that. Measured on
 * loopback with 50-row answers, a round trip through a process costs the
 * main thread about 60 µs of CPU, the same as through a worker thread.
 *
 * Readers start on the first read that needs one, so a server that only
 * serves cheap reads runs none. Each opens the database read-only and runs a
 * request's statements in one read transaction: they see one snapshot, and
 * every write committed before the request was sent.
 */

/** One statement of a read, `$1…$n` already made positional (`sql` with `?`, `args` in order). */
export interface ReaderStatement {
  readonly sql: string;
  readonly args: readonly SqlValue[];
  /** Rows as arrays of values in select-list order, else as objects. */
  readonly arrays: boolean;
  /** See ReadStatement.when. */
  readonly when?: ReadStatement['when'];
}

/** Options of the pool. */
export interface ReaderPoolOptions {
  /** How many reader processes at most (`MS_SQLITE_READERS`, default: the number of cores). */
  size: number;
  /** How long a request may wait for a free reader before it fails as busy, in ms. */
  queueTimeoutMs: number;
  /** SQLite's busy timeout in the readers, in ms. */
  busyTimeoutMs: number;
}

/** How much past its deadline a reader that has not answered is killed: 5% of the limit, at least 25 ms. */
export function killAfterMs(timeoutMs: number): number {
  return timeoutMs + Math.max(25, Math.ceil(timeoutMs * 0.05));
}

/**
 * Which light reads (Engine.read's `light`) may still run on the event loop.
 * A light read walks one index, but how far is the data's to say: a range
 * on an index can hold every row, each then checked against the other
 * conditions. Once a read of a key (a list's collection) held the loop
 * longer than {@link LoopBudget.budgetMs}, that key's light reads run in
 * the readers for {@link LoopBudget.coolMs}, then may try the loop again:
 * such a collection costs the event loop one long read per cool-down, not
 * one per request.
 */
export class LoopBudget {
  private readonly heavyUntil = new Map<string, number>();

  constructor(
    readonly budgetMs = 25,
    readonly coolMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a light read of `key` may run on the event loop now. */
  allows(key: string | undefined): boolean {
    const until = key === undefined ? undefined : this.heavyUntil.get(key);
    if (until === undefined) return true;
    if (this.now() < until) return false;
    this.heavyUntil.delete(key as string);
    return true;
  }

  /**
   * Records that a light read of `key` took `wallMs`, `cpuMs` of it on the
   * CPU. What it held the event loop is its CPU time: the wall time also
   * counts the moments the OS ran other processes (on two cores, the
   * readers and a load generator), and one such pause sent every light list
   * of the bench's collection to the readers for a minute, at twice the cost
   * each. A wall time past four budgets counts whole: a read waiting on the
   * disk holds the loop as surely.
   */
  spent(key: string | undefined, wallMs: number, cpuMs = wallMs): void {
    const ms = wallMs > 4 * this.budgetMs ? wallMs : cpuMs;
    if (key === undefined || ms <= this.budgetMs) return;
    // keys are collections, few; the bound only keeps a caller inventing keys from growing the map
    if (this.heavyUntil.size >= 10_000) this.heavyUntil.clear();
    this.heavyUntil.set(key, this.now() + this.coolMs);
  }
}

/**
 * The reader's code: CommonJS run with `-e`, so it is the same from src/
 * (tests) and dist/. Statements are cached per text; each request is one
 * read transaction under its own deadline.
 */
const READER = `
const Database = require(process.env.MS_SQLITE_DRIVER);
const db = new Database(process.env.MS_SQLITE_FILE, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = ' + Number(process.env.MS_SQLITE_BUSY_MS));
db.pragma('cache_size = -16000');
let deadline = 0;
db.function('ms_deadline', { deterministic: false, directOnly: true }, () => {
  if (Date.now() > deadline) throw new Error('MS_DEADLINE');
  return 1;
});
const cache = new Map();
const prepare = (sql, arrays) => {
  const key = (arrays ? 'a:' : 'o:') + sql;
  let stmt = cache.get(key);
  if (!stmt) {
    if (cache.size >= 2000) cache.clear();
    stmt = db.prepare(sql);
    if (arrays) stmt.raw(true);
    cache.set(key, stmt);
  }
  return stmt;
};
const begin = db.prepare('BEGIN');
const end = db.prepare('COMMIT');
process.send({ ready: true });
process.on('message', (m) => {
  deadline = Date.now() + m.timeoutMs;
  try {
    const results = [];
    begin.run();
    try {
      for (const s of m.statements) {
        const when = s.when;
        // a statement that waits on earlier ones' row counts (a page's total, unneeded when the page is short): shouldRun
        const rows = (i) => (results[i] ? results[i].length : NaN);
        const n = when ? (typeof when.statement === 'number' ? rows(when.statement) : when.statement.reduce((a, i) => a + rows(i), 0)) : 0;
        if (when && !when.rowCounts.includes(n)) results.push([]);
        else results.push(prepare(s.sql, s.arrays).all(...s.args));
      }
    } finally {
      if (db.inTransaction) end.run();
    }
    process.send({ id: m.id, results });
  } catch (err) {
    const message = String((err && err.message) || err);
    process.send({ id: m.id, error: { message, code: err && err.code, timeout: message.includes('MS_DEADLINE') } });
  }
});
process.on('disconnect', () => process.exit(0));
`;

/** A request waiting for, or held by, a reader. */
interface Job {
  readonly statements: readonly ReaderStatement[];
  readonly timeoutMs: number;
  readonly resolve: (results: unknown[][]) => void;
  readonly reject: (err: Error) => void;
  /** Fails the job as busy when it waited too long for a reader. */
  queueTimer: NodeJS.Timeout | null;
}

/** A reader process and the request it runs, if any. */
interface Reader {
  readonly child: ChildProcess;
  /** It has opened the database: a request's time starts only then. */
  ready: boolean;
  job: Job | null;
  jobId: number;
  killTimer: NodeJS.Timeout | null;
}

/** Replies of a reader. */
type Reply =
  | { ready: true }
  | { id: number; results: unknown[][] }
  | { id: number; error: { message: string; code?: string; timeout: boolean } };

const driver = createRequire(import.meta.url).resolve('better-sqlite3');

/** The reader processes of one SQLite file. */
export class ReaderPool {
  private readonly readers = new Set<Reader>();
  private readonly queue: Job[] = [];
  private nextId = 0;
  private closed = false;
  /** Readers killed at a deadline since the pool was made (for tests and metrics). */
  killed = 0;
  /** Requests readers have taken since the pool was made (for tests and metrics). */
  runs = 0;
  /** Readers in a row that ended before they were ready: past a few, waiting requests fail instead of starting more. */
  private failedStarts = 0;

  constructor(
    private readonly file: string,
    private readonly options: ReaderPoolOptions,
  ) {}

  /** Runs the statements in one read transaction of a reader; resolves with each one's rows. */
  run(statements: readonly ReaderStatement[], timeoutMs: number): Promise<unknown[][]> {
    if (this.closed) return Promise.reject(new Error('the database is closed'));
    return new Promise((resolve, reject) => {
      const job: Job = { statements, timeoutMs, resolve, reject, queueTimer: null };
      job.queueTimer = setTimeout(() => {
        const i = this.queue.indexOf(job);
        if (i >= 0) this.queue.splice(i, 1);
        reject(new EngineBusyError('every reader is busy; try again'));
      }, this.options.queueTimeoutMs);
      this.queue.push(job);
      this.dispatch();
    });
  }

  /** How many readers run, and how many requests wait for one. */
  stats(): { readers: number; busy: number; waiting: number; killed: number; runs: number } {
    let busy = 0;
    for (const r of this.readers) if (r.job) busy++;
    return { readers: this.readers.size, busy, waiting: this.queue.length, killed: this.killed, runs: this.runs };
  }

  /** Gives waiting requests to idle readers, starting readers up to the pool's size. */
  private dispatch(): void {
    while (this.queue.length > 0) {
      const reader = [...this.readers].find((r) => r.ready && r.job === null);
      if (!reader) {
        // a new reader takes the next request once it has opened the database (see answered)
        const starting = [...this.readers].some((r) => !r.ready);
        if (!starting && this.readers.size < this.options.size) this.start();
        return;
      }
      const job = this.queue.shift() as Job;
      if (job.queueTimer) clearTimeout(job.queueTimer);
      this.assign(reader, job);
    }
  }

  private assign(reader: Reader, job: Job): void {
    this.runs++;
    reader.job = job;
    reader.jobId = ++this.nextId;
    reader.killTimer = setTimeout(() => {
      // past the deadline and silent: stuck in SQLite, where only the end of the process stops it
      this.killed++;
      this.retire(reader, new StatementTimeoutError(`the query ran longer than ${job.timeoutMs} ms`));
    }, killAfterMs(job.timeoutMs));
    reader.child.send({ id: reader.jobId, statements: job.statements, timeoutMs: job.timeoutMs });
  }

  private start(): Reader {
    const child = spawn(process.execPath, ['-e', READER], {
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      serialization: 'advanced',
      env: {
        ...process.env,
        MS_SQLITE_DRIVER: driver,
        MS_SQLITE_FILE: this.file,
        MS_SQLITE_BUSY_MS: String(this.options.busyTimeoutMs),
      },
    });
    const reader: Reader = { child, ready: false, job: null, jobId: 0, killTimer: null };
    this.readers.add(reader);
    child.on('message', (reply: Reply) => this.answered(reader, reply));
    child.on('exit', () => this.retire(reader, new Error('a reader process ended unexpectedly')));
    child.on('error', (err) => this.retire(reader, err));
    return reader;
  }

  private answered(reader: Reader, reply: Reply): void {
    if ('ready' in reply) {
      reader.ready = true;
      this.failedStarts = 0;
      this.dispatch();
      return;
    }
    const job = reader.job;
    if (!job || reply.id !== reader.jobId) return;
    if (reader.killTimer) clearTimeout(reader.killTimer);
    reader.job = null;
    reader.killTimer = null;
    if ('results' in reply) job.resolve(reply.results);
    else if (reply.error.timeout) job.reject(new StatementTimeoutError(`the query ran longer than ${job.timeoutMs} ms`));
    else job.reject(Object.assign(new Error(reply.error.message), { code: reply.error.code }));
    this.dispatch();
  }

  /** Ends a reader (killed, or gone by itself) and fails its request, if any; another starts when one is needed. */
  private retire(reader: Reader, err: Error): void {
    if (!this.readers.delete(reader)) return;
    if (reader.killTimer) clearTimeout(reader.killTimer);
    if (reader.child.exitCode === null) reader.child.kill('SIGKILL');
    const job = reader.job;
    reader.job = null;
    job?.reject(err);
    // a reader that cannot even open the database (the file gone, a broken driver) fails what waits, and the
    // next request tries again, rather than starting readers in a loop
    if (!reader.ready && ++this.failedStarts >= 3) {
      this.failedStarts = 0;
      for (const waiting of this.queue.splice(0)) {
        if (waiting.queueTimer) clearTimeout(waiting.queueTimer);
        waiting.reject(new Error('reader processes cannot open the database'));
      }
    }
    if (!this.closed) this.dispatch();
  }

  /** Fails waiting requests and ends every reader. */
  close(): void {
    this.closed = true;
    for (const job of this.queue.splice(0)) {
      if (job.queueTimer) clearTimeout(job.queueTimer);
      job.reject(new Error('the database is closed'));
    }
    for (const reader of [...this.readers]) this.retire(reader, new Error('the database is closed'));
  }
}
