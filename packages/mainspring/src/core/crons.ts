import { hostname } from 'node:os';
import { Cron } from 'croner';
import type { Logger } from 'pino';
import type { Engine } from '../storage/engine.js';
import type { Metrics } from './metrics.js';

/**
 * Cron jobs, as PocketBase's `app.cron()`: server code adds a job with an
 * id, a cron expression and a function, and the service runs it on schedule
 * (UTC). When several instances share one PostgreSQL database each computes
 * the same tick times, and one row per (job, tick) in {@link CRON_RUNS_TABLE}
 * decides which instance runs a tick: the one whose insert took.
 */

/** Claims of scheduled ticks (and records of manual runs), one row per run. */
export const CRON_RUNS_TABLE = '_ms_cron_runs';

/** A job as `GET /api/crons` lists it. */
export interface CronJobInfo {
  id: string;
  expression: string;
}

/** What a job runs; a rejection or a throw is logged, never raised. */
export type CronFn = () => void | Promise<void>;

/** PocketBase's macros, and the expressions it lists them as. */
const MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const ID = /^[A-Za-z0-9_.-]{1,100}$/;
/** PocketBase's field syntax (numbers, `*`, ranges, steps, lists); croner's extras (names, L, W, #, ?) are refused so an expression means the same on both. */
const FIELD = /^[0-9*,/-]+$/;

/** A run that stopped sending heartbeats for this long is taken for dead (its instance crashed). */
const LEASE_MS = 60_000;
const HEARTBEAT_MS = 15_000;
/** Claims are kept this long, then swept; far longer than any clock skew between instances. */
const KEEP_MS = 24 * 3600_000;
const SWEEP_EVERY_MS = 3600_000;
/** Timers wake at least this often, so a clock change or a far tick never leaves a job asleep. */
const MAX_WAIT_MS = 60_000;

interface Job {
  readonly id: string;
  readonly expression: string;
  readonly schedule: Cron;
  readonly fn: CronFn;
  timer?: NodeJS.Timeout;
}

/**
 * Parses a cron expression: 5 fields (minute hour day-of-month month
 * day-of-week, as PocketBase), 6 with seconds first, or a macro. Day of
 * month and day of week must both match (PocketBase's rule, not Vixie's
 * "either"). Returns the expression as listed (macros expanded, as
 * PocketBase lists them) and its schedule; throws an Error saying what is
 * wrong.
 */
export function parseCronExpression(expression: string): { expression: string; schedule: Cron } {
  if (typeof expression !== 'string') throw new Error('cron expression: must be a string');
  const trimmed = expression.trim();
  const expanded = MACROS[trimmed.toLowerCase()] ?? trimmed;
  if (expanded.startsWith('@')) {
    throw new Error(`cron expression "${expression}": unknown macro (use one of ${Object.keys(MACROS).join(', ')})`);
  }
  const fields = expanded.split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) {
    throw new Error(
      `cron expression "${expression}": needs 5 fields (minute hour day month weekday), 6 with seconds first, or a macro such as @daily`,
    );
  }
  const bad = fields.find((f) => !FIELD.test(f));
  if (bad !== undefined) {
    throw new Error(`cron expression "${expression}": field "${bad}" may hold only digits and * , - /`);
  }
  const normalized = fields.join(' ');
  let schedule: Cron;
  try {
    schedule = new Cron(normalized, { timezone: 'UTC', mode: '5-or-6-parts', domAndDow: true, paused: true });
  } catch (err) {
    throw new Error(`cron expression "${expression}": ${(err as Error).message.replace(/^CronPattern: /, '')}`);
  }
  if (!schedule.nextRun()) throw new Error(`cron expression "${expression}": never matches a date`);
  return { expression: normalized, schedule };
}

/**
 * The cron jobs of one process. `add` before or after `start`; `stop`
 * before the engine closes. A job runs at most once at a time: a tick that
 * finds its previous run still going, here or on another instance, is
 * skipped (and logged).
 */
export class CronService {
  private readonly jobs = new Map<string, Job>();
  /** Runs (and claims about to run) in progress, by job id: a replaced job's last run still counts. */
  private readonly running = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  private state: 'idle' | 'started' | 'stopped' = 'idle';
  private lastSweep = 0;
  private readonly instance = `${hostname()}:${process.pid}`;

  constructor(
    private readonly engine: Engine,
    private readonly logger: Logger,
    private readonly metrics?: Pick<Metrics, 'cronRun'>,
  ) {}

  /**
   * Adds a job, or replaces the job of the same id (its run in progress, if
   * any, goes on). Throws an Error for an id that is not 1–100 characters of
   * `[A-Za-z0-9_.-]`, a bad expression, or a missing function.
   */
  add(id: string, expression: string, fn: CronFn): void {
    if (typeof id !== 'string' || !ID.test(id)) {
      throw new Error(`cron job id ${JSON.stringify(id)}: must be 1 to 100 characters of A-Z a-z 0-9 _ . -`);
    }
    if (typeof fn !== 'function') throw new Error(`cron job "${id}": the job must be a function`);
    const parsed = parseCronExpression(expression);
    this.remove(id);
    const job: Job = { id, expression: parsed.expression, schedule: parsed.schedule, fn };
    this.jobs.set(id, job);
    if (this.state === 'started') this.schedule(job, Date.now());
  }

  /** Removes a job; a run in progress goes on. Unknown ids are ignored. */
  remove(id: string): void {
    const job = this.jobs.get(id);
    if (!job) return;
    clearTimeout(job.timer);
    this.jobs.delete(id);
  }

  /** True when a job of this id is registered. */
  has(id: string): boolean {
    return this.jobs.has(id);
  }

  /** Every job, sorted by id. */
  list(): CronJobInfo[] {
    return [...this.jobs.values()]
      .map((j) => ({ id: j.id, expression: j.expression }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Begins scheduling every job, and those added later. Again after `stop`, it schedules anew. */
  start(): void {
    if (this.state === 'started') return;
    this.state = 'started';
    const now = Date.now();
    for (const job of this.jobs.values()) this.schedule(job, now);
    this.sweep(now);
  }

  /** Stops scheduling, refuses manual runs, and resolves once every run in progress has finished. */
  async stop(): Promise<void> {
    this.state = 'stopped';
    for (const job of this.jobs.values()) clearTimeout(job.timer);
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /**
   * Runs a job now, in this process, whether or not it is due (and even if
   * a run of it is in progress, as PocketBase does). Resolves when it has
   * finished; its failure is logged, not raised. Rejects for an unknown id
   * or a stopped service.
   */
  run(id: string): Promise<void> {
    const job = this.jobs.get(id);
    if (!job) return Promise.reject(new Error(`no cron job "${id}"`));
    if (this.state === 'stopped') return Promise.reject(new Error('the cron service is stopped'));
    return this.track(job, async () => {
      const now = Date.now();
      let claim: string | null = `${id}@manual:${now}:${Math.random().toString(36).slice(2, 10)}`;
      try {
        // recorded like a tick, so other instances skip their ticks while it runs
        await this.insertClaim(claim, id, now, false);
      } catch (err) {
        this.logger.warn({ cron: id, err: { message: (err as Error).message } }, 'cron: manual run not recorded');
        claim = null;
      }
      await this.execute(job, claim);
    });
  }

  /** Arms the job's timer for its first tick after `from`. */
  private schedule(job: Job, from: number): void {
    const next = job.schedule.nextRun(new Date(from));
    if (!next) return;
    const tick = next.getTime();
    // Node's timers may fire a little early and cannot wait beyond ~24 days
    const wait = Math.max(0, Math.min(tick - Date.now(), MAX_WAIT_MS));
    job.timer = setTimeout(() => {
      if (this.state !== 'started' || this.jobs.get(job.id) !== job) return;
      if (Date.now() < tick) return this.schedule(job, from);
      // the next tick after this one, or after now if the process was asleep: missed ticks are not made up
      this.schedule(job, Math.max(tick, Date.now()));
      void this.track(job, () => this.tick(job, tick));
    }, wait);
    job.timer.unref();
  }

  /** Counts `work` as a run of `job` until it settles, for overlap checks and `stop`. */
  private track(job: Job, work: () => Promise<void>): Promise<void> {
    this.running.set(job.id, (this.running.get(job.id) ?? 0) + 1);
    const p = work()
      .catch((err) => this.logger.error({ cron: job.id, err }, 'cron: unexpected failure'))
      .finally(() => {
        const n = (this.running.get(job.id) ?? 1) - 1;
        if (n > 0) this.running.set(job.id, n);
        else this.running.delete(job.id);
        this.inFlight.delete(p);
      });
    this.inFlight.add(p);
    return p;
  }

  /** One scheduled tick: skipped if a run is in progress here, else claimed, and run if the claim took. */
  private async tick(job: Job, tick: number): Promise<void> {
    const at = new Date(tick).toISOString();
    // this tick is counted already, so more than one means an earlier run is still going
    if ((this.running.get(job.id) ?? 0) > 1) {
      this.logger.warn({ cron: job.id, tick: at }, 'cron: previous run still in progress, tick skipped');
      return;
    }
    const claim = `${job.id}@${tick}`;
    let won: boolean;
    try {
      won = await this.insertClaim(claim, job.id, tick, true);
    } catch (err) {
      // without a claim the tick might run twice; better not at all
      this.logger.error({ cron: job.id, tick: at, err: { message: (err as Error).message } }, 'cron: cannot claim tick, skipped');
      return;
    }
    this.sweep(Date.now());
    if (!won) {
      this.logger.debug({ cron: job.id, tick: at }, 'cron: tick taken by another instance or its run still in progress');
      return;
    }
    await this.execute(job, claim);
  }

  /**
   * Inserts a claim row; true when it was inserted. A scheduled tick's
   * claim (`guarded`) is also refused while another run of the job is
   * recorded as in progress with a live heartbeat.
   */
  private async insertClaim(claim: string, jobId: string, tick: number, guarded: boolean): Promise<boolean> {
    const d = this.engine.dialect;
    const t = d.ident(CRON_RUNS_TABLE);
    const now = Date.now();
    // one statement, atomic on both engines; SQLite needs the WHERE to read ON CONFLICT as the upsert clause
    const changed = await this.engine.run(
      `INSERT INTO ${t} (id, job, tick, instance, alive, finished)
       SELECT $1, $2, $3, $4, $5, 0
       WHERE ${guarded ? `NOT EXISTS (SELECT 1 FROM ${t} WHERE job = $2 AND finished = 0 AND alive > $6)` : '1 = 1'}
       ON CONFLICT (id) DO NOTHING`,
      guarded ? [claim, jobId, tick, this.instance, now, now - LEASE_MS] : [claim, jobId, tick, this.instance, now],
    );
    return changed > 0;
  }

  /** Runs the job's function, logging its failure; keeps its claim row alive while it runs and marks it finished after. */
  private async execute(job: Job, claim: string | null): Promise<void> {
    const t = this.engine.dialect.ident(CRON_RUNS_TABLE);
    const heartbeat = claim
      ? setInterval(() => {
          this.engine.run(`UPDATE ${t} SET alive = $1 WHERE id = $2`, [Date.now(), claim]).catch(() => {});
        }, HEARTBEAT_MS)
      : undefined;
    heartbeat?.unref();
    const started = Date.now();
    try {
      await job.fn();
      this.metrics?.cronRun(job.id, true);
      this.logger.debug({ cron: job.id, ms: Date.now() - started }, 'cron: job done');
    } catch (err) {
      this.metrics?.cronRun(job.id, false);
      this.logger.error({ cron: job.id, ms: Date.now() - started, err }, 'cron: job failed');
    } finally {
      clearInterval(heartbeat);
    }
    if (!claim) return;
    try {
      const now = Date.now();
      await this.engine.run(`UPDATE ${t} SET finished = $1, alive = $1 WHERE id = $2`, [now, claim]);
    } catch (err) {
      // the claim's heartbeat stops, so its lease runs out and later ticks go ahead
      this.logger.warn({ cron: job.id, err: { message: (err as Error).message } }, 'cron: cannot mark run finished');
    }
  }

  /** Deletes claims older than {@link KEEP_MS}, at most once an hour per process. */
  private sweep(now: number): void {
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    const t = this.engine.dialect.ident(CRON_RUNS_TABLE);
    const cutoff = now - KEEP_MS;
    // a read first: most sweeps find nothing, and on SQLite a write starts the checkpoint thread
    this.engine
      .get(`SELECT 1 AS old FROM ${t} WHERE tick < $1 LIMIT 1`, [cutoff])
      .then((old) => (old ? this.engine.run(`DELETE FROM ${t} WHERE tick < $1`, [cutoff]) : 0))
      .catch((err) => this.logger.warn({ err: { message: (err as Error).message } }, 'cron: sweeping old claims failed'));
  }
}
