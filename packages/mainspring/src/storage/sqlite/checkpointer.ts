import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Checkpoints a WAL-mode SQLite file from a worker thread, so the writes on
 * the event loop only append to the WAL.
 *
 * SQLite's own checkpoint runs inside the COMMIT that crosses
 * `wal_autocheckpoint` pages: it copies the WAL back into the database and,
 * with `synchronous = NORMAL`, waits for the disk twice. That one commit then
 * takes tens of milliseconds while every request of the process waits, and
 * the copying costs more than the writes themselves (20,000 one-row
 * transactions: 177 µs each with SQLite's checkpoints, 81 µs without). Here
 * a second connection, on its own thread, runs `PRAGMA
 * wal_checkpoint(PASSIVE)` every {@link CHECKPOINT_INTERVAL_MS}: a passive
 * checkpoint never blocks the writer or the readers, it copies what no
 * reader still needs. The WAL is fsynced as before, so a commit is as
 * durable as it was, and more so when writes are rare (SQLite's own
 * checkpoint waited for 1,000 pages however long they took to come).
 *
 * The writer keeps a far higher `wal_autocheckpoint` as a safety net should
 * this thread fall behind; if the thread fails, the writer goes back to
 * SQLite's usual threshold and no thread is started again.
 */

/** How often the worker checkpoints, in ms. */
export const CHECKPOINT_INTERVAL_MS = 200;

/** After this many checkpoints in a row found nothing to copy (30 s), the thread ends; the next write starts another. */
const IDLE_RUNS = 150;

/** SQLite's own default checkpoint threshold, in pages. */
export const SQLITE_AUTOCHECKPOINT_PAGES = 1000;

/** The writer's own checkpoint threshold while a checkpointer runs, in pages (~40 MB of WAL at 4 KiB pages). */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 10_000;

/** The worker's code: CommonJS, run with `eval` so it loads the same from src/ (tests) and dist/. */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('synchronous = ' + workerData.synchronous);
// PASSIVE answers the WAL's frames (log) and how many of them are in the database (checkpointed), both
// counted from the WAL's last restart (the first write after a complete checkpoint starts it over)
let idle = 0;
let lastLog = -1;
let lastDone = 0;
const stop = () => {
  clearInterval(timer);
  db.close();
  // in a worker, this ends the thread only
  process.exit(0);
};
const timer = setInterval(() => {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    const fresh = r.log < lastLog ? r.checkpointed : r.checkpointed - lastDone;
    if (fresh > 0) parentPort.postMessage({ frames: fresh });
    idle = r.log === lastLog && r.checkpointed === r.log ? idle + 1 : 0;
    lastLog = r.log;
    lastDone = r.checkpointed;
    if (idle >= workerData.idleRuns) stop();
  } catch (err) {
    parentPort.postMessage({ error: String((err && err.message) || err) });
  }
}, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m === 'stop') stop();
});
`;

/** What the checkpointer has done so far (for tests and diagnostics). */
export interface CheckpointStats {
  /** Threads started: one per stretch of writes. */
  threads: number;
  /** WAL frames copied into the database. */
  frames: number;
  lastError: string | null;
}

/**
 * The checkpoint thread of one database file. It runs only while there are
 * writes to checkpoint: {@link poke} (on every write) starts it, and it ends
 * itself once the WAL has stayed empty for a while, so a server that only
 * reads holds no thread (a thread costs some 10 MB of resident memory).
 */
export class Checkpointer {
  readonly stats: CheckpointStats = { threads: 0, frames: 0, lastError: null };
  private worker: Worker | null = null;
  private exited: Promise<void> = Promise.resolve();
  private stopping = false;
  /** A thread failed (it could not start, or its connection could not open): none is started again. */
  private failed = false;
  /** When the last write was (ms since the epoch). */
  private lastPoke = 0;
  private readonly driver = createRequire(import.meta.url).resolve('better-sqlite3');

  /**
   * `onFailure` runs once if a thread fails: the writer should then
   * checkpoint by itself again, at SQLite's usual threshold.
   */
  constructor(
    private readonly file: string,
    private readonly synchronous: 'NORMAL' | 'OFF',
    private readonly onFailure: () => void = () => {},
    private readonly timing = { intervalMs: CHECKPOINT_INTERVAL_MS, idleRuns: IDLE_RUNS },
  ) {}

  /** Whether a checkpoint thread runs now. */
  get running(): boolean {
    return this.worker !== null;
  }

  /** A write happened: make sure a thread will checkpoint it. */
  poke(): void {
    this.lastPoke = Date.now();
    if (this.worker !== null || this.stopping || this.failed) return;
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: {
        file: this.file,
        driver: this.driver,
        synchronous: this.synchronous,
        ...this.timing,
      },
      // a small heap: the thread holds a connection and a timer
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    this.worker = worker;
    this.stats.threads++;
    worker.unref();
    worker.on('message', (m: { frames?: number; error?: string }) => {
      if (m.error !== undefined) this.stats.lastError = m.error;
      else this.stats.frames += m.frames ?? 0;
    });
    // a thread that fails is not started again: SQLite's own checkpoints take over (see onFailure)
    worker.on('error', (err: unknown) => {
      // an error of the thread's driver arrives as a plain object with its code only (its class does not cross over)
      const { message, code } = (err ?? {}) as { message?: unknown; code?: unknown };
      this.stats.lastError = typeof message === 'string' ? message : typeof code === 'string' ? code : String(err);
      if (!this.failed) {
        this.failed = true;
        this.onFailure();
      }
    });
    this.exited = new Promise((done) => {
      worker.once('exit', () => {
        if (this.worker === worker) this.worker = null;
        done();
        // it ended for want of work just as a write came: that write needs a thread too
        if (!this.stopping && !this.failed && Date.now() - this.lastPoke < 2 * this.timing.intervalMs) this.poke();
      });
    });
  }

  /** Stops the thread, if one runs, after its current checkpoint, and closes its connection. */
  async stop(): Promise<void> {
    this.stopping = true;
    const worker = this.worker;
    if (worker === null) return;
    worker.postMessage('stop');
    const timeout = setTimeout(() => void worker.terminate(), 5_000);
    await this.exited;
    clearTimeout(timeout);
  }
}
