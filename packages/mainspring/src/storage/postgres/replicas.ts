import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import {
  type Executor,
  type ReadOptions,
  type ReadStatement,
  type ReplicationStats,
  type StandbyStats,
  StatementTimeoutError,
} from '../engine.js';
import { types } from './pool.js';

/*
 * Read replicas: standbys streaming from the primary, which take the reads
 * that Engine.read runs (lists and counts, views, expands, rule checks) while
 * writes and transactions stay on the primary. A caller reads its own
 * writes: the primary's WAL position after each of its transactions is kept,
 * and its reads go only to a standby that has replayed that far, else to the
 * primary. A standby that lags past the bound, stops answering or fails a
 * read leaves the rotation until a check finds it well again.
 */

/** What the replica set needs of an engine: the primary's, or one opened on a standby. */
export interface ReadingEngine extends Executor {
  read(statements: readonly ReadStatement[], options?: ReadOptions): Promise<unknown[][]>;
  close(): Promise<void>;
}

/** Options of the replica set. */
export interface ReplicaOptions {
  /** The standbys' URLs (`DATABASE_REPLICA_URLS`, comma separated). */
  readonly urls: readonly string[];
  /** A standby further behind than this leaves the rotation (`MS_REPLICA_MAX_LAG_MS`, default 5000). */
  readonly maxLagMs?: number;
  /** How often each standby and the primary's position are checked (`MS_REPLICA_CHECK_MS`, default 250). */
  readonly checkMs?: number;
  /** Opens an engine on a standby's URL (the same engine class, injected to keep the import graph a tree). */
  readonly open: (url: string) => Promise<ReadingEngine>;
  /** Reports a standby going in or out of rotation, in plain words. */
  readonly onChange?: (message: string) => void;
}

/** The standbys' URLs of `DATABASE_REPLICA_URLS` (comma separated; blanks ignored). */
export function replicaUrlsFromEnv(): string[] {
  return (process.env.DATABASE_REPLICA_URLS ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
}

/** The callers of the request being served (http/ sets it through Engine.asCaller). */
const callers = new AsyncLocalStorage<string>();

/** A WAL position as PostgreSQL writes it (`16/B374D848`) as a number: exact below 2^53 bytes, 8 PiB of WAL. */
export function parseLsn(text: string): number {
  const [hi, lo] = text.split('/');
  return Number.parseInt(hi ?? '0', 16) * 2 ** 32 + Number.parseInt(lo ?? '0', 16);
}

/** `host:port/database` of a URL, for health and metrics: never its credentials. */
export function standbyName(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return 'standby';
  }
}

/** Errors of a read that say nothing about the statement, only about where it ran. */
const isStatementError = (err: unknown) => err instanceof StatementTimeoutError;

/** The most callers whose last commit is remembered; the least recent go first. */
const MAX_CALLERS = 100_000;
/** A caller's commit older than this no longer decides where it reads: every standby in rotation is within the bound. */
const FORGET_AFTER_MS = 10 * 60_000;
/** How long a sample of the primary's position is kept: lag is measured against them. */
const SAMPLES_MS = 10 * 60_000;

class Standby {
  engine: ReadingEngine | null = null;
  private opening: Promise<void> | null = null;
  private health: pg.Client | null = null;
  reachable = false;
  replayed = 0;
  lagBytes: number | null = null;
  lagSeconds: number | null = null;
  /** A read failed on it: out of rotation until the next check answers. */
  failed = false;
  inRotation = false;
  reads = 0;
  /** Why the last check failed, said once until it changes or a check answers. */
  lastError = '';
  readonly name: string;

  constructor(
    readonly url: string,
    private readonly open: (url: string) => Promise<ReadingEngine>,
  ) {
    this.name = standbyName(url);
  }

  /** Its replay position and whether it is a standby at all, on a connection of its own (reads may hold every pooled one). */
  async check(timeoutMs: number): Promise<{ recovering: boolean; replayed: number }> {
    if (!this.engine) {
      this.opening ??= this.open(this.url)
        .then((engine) => {
          this.engine = engine;
        })
        .finally(() => {
          this.opening = null;
        });
      await this.opening;
    }
    if (!this.health) {
      const client = new pg.Client({ connectionString: this.url, types, connectionTimeoutMillis: timeoutMs, statement_timeout: timeoutMs });
      client.on('error', () => {
        if (this.health === client) this.health = null;
      });
      await client.connect();
      this.health = client;
    }
    const health = this.health;
    const answer = await within(
      health.query<{ recovering: boolean; lsn: string | null }>(
        'SELECT pg_is_in_recovery() AS recovering, pg_last_wal_replay_lsn()::text AS lsn',
      ),
      timeoutMs,
    ).catch((err: unknown) => {
      // a standby that stopped answering: its connection is made anew next time
      this.health = null;
      health.end().catch(() => {});
      throw err;
    });
    const row = answer.rows[0];
    return { recovering: row?.recovering === true, replayed: row?.lsn ? parseLsn(row.lsn) : 0 };
  }

  async close(): Promise<void> {
    await this.opening?.catch(() => {});
    await Promise.all([this.engine?.close(), this.health?.end().catch(() => {})]);
    this.engine = null;
    this.health = null;
  }
}

/** Rejects after `ms` when `work` has not settled. */
function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/**
 * The standbys of one primary, checked every {@link ReplicaOptions.checkMs},
 * and the routing of reads over them.
 */
export class ReplicaSet {
  private readonly standbys: Standby[];
  private readonly maxLagMs: number;
  private readonly checkMs: number;
  /** The primary's WAL position at each check, oldest first: a standby's lag in time is read from them. */
  private readonly samples: { at: number; lsn: number }[] = [];
  /** Each caller's last commit: the primary's position after it, and when. */
  private readonly written = new Map<string, { lsn: number; at: number }>();
  private readonly timer: NodeJS.Timeout;
  private checking: Promise<void> | null = null;
  private next = 0;
  private readsOnPrimary = 0;
  private closed = false;

  constructor(
    private readonly primary: Executor,
    private readonly options: ReplicaOptions,
  ) {
    this.standbys = options.urls.map((url) => new Standby(url, options.open));
    this.maxLagMs = options.maxLagMs ?? (Number(process.env.MS_REPLICA_MAX_LAG_MS) || 5000);
    this.checkMs = options.checkMs ?? (Number(process.env.MS_REPLICA_CHECK_MS) || 250);
    this.timer = setInterval(() => void this.check(), this.checkMs);
    this.timer.unref();
    void this.check();
  }

  /** Runs `fn` as `caller`: its reads see its own commits. */
  asCaller<T>(caller: string, fn: () => T): T {
    return callers.run(caller, fn);
  }

  /** True inside a caller: a transaction then notes the primary's position after it commits. */
  get tracking(): boolean {
    return callers.getStore() !== undefined;
  }

  /**
   * After the caller's transaction committed: the primary's WAL position
   * now, which is at or past that commit, is the least a standby must have
   * replayed to serve the caller. When it cannot be read, the caller reads
   * from the primary until it can.
   */
  async noteCommit(): Promise<void> {
    const caller = callers.getStore();
    if (caller === undefined) return;
    let lsn = Number.MAX_SAFE_INTEGER;
    try {
      const row = await this.primary.get<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      if (row) lsn = parseLsn(row.lsn);
    } catch {
      // the transaction committed: its caller is served by the primary rather than failed
    }
    this.written.delete(caller);
    this.written.set(caller, { lsn, at: Date.now() });
    if (this.written.size > MAX_CALLERS) {
      const oldest = this.written.keys().next().value;
      if (oldest !== undefined) this.written.delete(oldest);
    }
  }

  /**
   * Runs a read on a standby in rotation that has replayed the caller's last
   * commit, in turn; else (no caller, none fresh enough, or the standby's
   * read failed for any reason but the statement's own time limit) on the
   * primary through `onPrimary`.
   */
  async read(statements: readonly ReadStatement[], options: ReadOptions, onPrimary: () => Promise<unknown[][]>): Promise<unknown[][]> {
    const standby = this.pick();
    if (standby?.engine) {
      try {
        const rows = await standby.engine.read(statements, options);
        standby.reads++;
        return rows;
      } catch (err) {
        if (isStatementError(err)) throw err;
        // gone (stopped, restarted), a query cancelled by recovery, a table the standby has not replayed yet:
        // the primary answers, and the standby waits out of rotation for its next good check
        if (!standby.failed)
          this.options.onChange?.(`standby ${standby.name} failed a read (${(err as Error)?.message}); reads go elsewhere`);
        standby.failed = true;
        standby.inRotation = false;
      }
    }
    this.readsOnPrimary++;
    return onPrimary();
  }

  /** The next standby (round robin) in rotation that has replayed the caller's last commit; null for the primary. */
  private pick(): Standby | null {
    const caller = callers.getStore();
    if (caller === undefined) return null;
    const mark = this.written.get(caller);
    const need = mark && Date.now() - mark.at < FORGET_AFTER_MS ? mark.lsn : 0;
    const n = this.standbys.length;
    for (let i = 0; i < n; i++) {
      const s = this.standbys[(this.next + i) % n] as Standby;
      if (s.inRotation && s.replayed >= need) {
        this.next = (this.next + i + 1) % n;
        return s;
      }
    }
    return null;
  }

  /** One round of checks; a round still running when the next is due is not doubled. */
  check(): Promise<void> {
    this.checking ??= this.checkNow().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  private async checkNow(): Promise<void> {
    if (this.closed) return;
    const now = Date.now();
    let primaryLsn: number | null = null;
    try {
      const row = await this.primary.get<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      if (row) primaryLsn = parseLsn(row.lsn);
    } catch {
      // the primary is away: standbys keep their last verdicts, and the primary's own errors tell
    }
    if (primaryLsn !== null) this.sample(now, primaryLsn);
    const timeoutMs = Math.max(1000, this.checkMs * 4);
    await Promise.all(this.standbys.map((s) => this.checkOne(s, primaryLsn, timeoutMs)));
    this.forget();
  }

  private sample(at: number, lsn: number): void {
    const last = this.samples[this.samples.length - 1];
    // only moves are kept: lag is the age of the newest position the standby has reached
    if (!last || lsn > last.lsn) this.samples.push({ at, lsn });
    while (this.samples.length > 1 && at - (this.samples[0] as { at: number }).at > SAMPLES_MS) this.samples.shift();
  }

  private async checkOne(s: Standby, primaryLsn: number | null, timeoutMs: number): Promise<void> {
    const was = s.inRotation;
    try {
      const { recovering, replayed } = await s.check(timeoutMs);
      // a promoted standby is a primary of its own now: what it answers has left this primary's history
      s.reachable = recovering;
      s.replayed = replayed;
      s.failed = false;
      s.lastError = '';
      if (primaryLsn !== null) {
        s.lagBytes = Math.max(0, primaryLsn - replayed);
        s.lagSeconds = this.lagSeconds(replayed, primaryLsn);
      }
    } catch (err) {
      s.reachable = false;
      // its lag is unknown now, not what it was when it last answered
      s.lagBytes = null;
      s.lagSeconds = null;
      // a standby that never answers (a wrong URL, a database not there) is said once, not at every check
      const why = err instanceof Error ? err.message : String(err);
      if (why !== s.lastError) this.options.onChange?.(`standby ${s.name} does not answer: ${why}`);
      s.lastError = why;
    }
    s.inRotation = s.reachable && !s.failed && s.lagSeconds !== null && s.lagSeconds * 1000 <= this.maxLagMs;
    if (was !== s.inRotation) {
      const why = !s.reachable ? 'unreachable' : s.inRotation ? 'caught up' : `${s.lagSeconds?.toFixed(1)} s behind`;
      this.options.onChange?.(`standby ${s.name} ${s.inRotation ? 'back in' : 'out of'} rotation: ${why}`);
    }
  }

  /**
   * Seconds since the primary was last at or before `replayed`: 0 when the
   * standby has replayed all the primary had written at this check.
   */
  private lagSeconds(replayed: number, primaryLsn: number): number {
    if (replayed >= primaryLsn) return 0;
    // the newest sample the standby has reached; the primary has been ahead of it since the one after
    let i = this.samples.length - 1;
    while (i >= 0 && (this.samples[i] as { lsn: number }).lsn > replayed) i--;
    const since = this.samples[i + 1] ?? this.samples[0];
    return since ? Math.max(0, (Date.now() - since.at) / 1000) : 0;
  }

  /** Callers whose last commit every standby in rotation has replayed need no mark any more. */
  private forget(): void {
    if (this.written.size < 1000) return;
    const inRotation = this.standbys.filter((s) => s.inRotation);
    if (inRotation.length === 0) return;
    const floor = Math.min(...inRotation.map((s) => s.replayed));
    const now = Date.now();
    for (const [caller, mark] of this.written) {
      if (mark.lsn <= floor || now - mark.at >= FORGET_AFTER_MS) this.written.delete(caller);
    }
  }

  stats(): ReplicationStats {
    const standbys: StandbyStats[] = this.standbys.map((s) => ({
      name: s.name,
      reachable: s.reachable,
      inRotation: s.inRotation,
      lagBytes: s.lagBytes,
      lagSeconds: s.lagSeconds === null ? null : Math.round(s.lagSeconds * 1000) / 1000,
      reads: s.reads,
    }));
    return { standbys, readsOnPrimary: this.readsOnPrimary };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.checking?.catch(() => {});
    await Promise.all(this.standbys.map((s) => s.close()));
  }
}
