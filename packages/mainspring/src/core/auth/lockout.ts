import type { Engine } from '../../storage/engine.js';

/**
 * Failed sign-ins per identity: after `maxFailures` in a row, the identity is
 * locked for `lockSeconds`, doubling with each further lock up to
 * `maxLockSeconds`. Kept for unknown identities too, so a lock says nothing
 * about whether an account exists. A success clears the count.
 */
export interface LockoutPolicy {
  maxFailures: number;
  lockSeconds: number;
  maxLockSeconds: number;
}

/** How long the lock after `earlierLocks` earlier ones lasts, in seconds: doubling, up to the policy's ceiling. */
export function lockDuration(p: LockoutPolicy, earlierLocks: number): number {
  return Math.min(p.lockSeconds * 2 ** earlierLocks, p.maxLockSeconds);
}

interface Entry {
  failures: number;
  /** Attempts begun and not yet judged: they count against the limit, so a burst cannot slip past it. */
  inFlight: number;
  /** Attempts waiting for one in flight to end (see {@link LoginGuard.whenFree}). */
  waiters: (() => void)[];
  locks: number;
  lockedUntil: number;
  touched: number;
}

const MAX_ENTRIES = 100_000;
/** Entries idle this long are forgotten. */
const IDLE_MS = 24 * 3600_000;

export class LoginGuard {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly policy: () => LockoutPolicy) {}

  /**
   * Begins an attempt: the seconds to wait (locked, or as many attempts
   * already in flight as failures may still happen), or 0 when it may go on,
   * and must then be closed with `end`.
   */
  begin(key: string, now = Date.now()): number {
    const e = this.entry(key, now);
    if (e.lockedUntil > now) return Math.ceil((e.lockedUntil - now) / 1000);
    if (e.failures + e.inFlight >= this.policy().maxFailures) return 1;
    e.inFlight++;
    return 0;
  }

  /**
   * True when `key` is not locked but its attempts in flight take every try
   * it has left: an attempt then waits for one to end ({@link whenFree})
   * rather than being refused.
   */
  busy(key: string, now = Date.now()): boolean {
    const e = this.entries.get(key);
    return e !== undefined && e.lockedUntil <= now && e.inFlight > 0 && e.failures + e.inFlight >= this.policy().maxFailures;
  }

  /**
   * Resolves true when one of `key`'s attempts in flight ends, false after
   * `timeoutMs` or when `maxWaiting` attempts already wait: a bounded queue,
   * so correct passwords sent at once are answered in turn.
   */
  whenFree(key: string, timeoutMs: number, maxWaiting: number): Promise<boolean> {
    const e = this.entries.get(key);
    if (!e || e.waiters.length >= maxWaiting) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        e.waiters.splice(e.waiters.indexOf(wake), 1);
        resolve(false);
      }, timeoutMs);
      e.waiters.push(wake);
    });
  }

  /**
   * Closes an attempt begun with `begin` (after `failure` or `success` was
   * recorded). Every waiting attempt looks again: the one that ended may have
   * locked the key (then none may go on) or cleared it (then several may).
   */
  end(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    if (e.inFlight > 0) e.inFlight--;
    for (const wake of e.waiters.splice(0)) wake();
  }

  private entry(key: string, now: number): Entry {
    let e = this.entries.get(key);
    if (!e) {
      if (this.entries.size >= MAX_ENTRIES) this.sweep(now);
      e = { failures: 0, inFlight: 0, waiters: [], locks: 0, lockedUntil: 0, touched: now };
      this.entries.set(key, e);
    }
    return e;
  }

  /** Records a failure; returns the seconds of the lock it starts, or 0. */
  failure(key: string, now = Date.now()): number {
    const p = this.policy();
    const e = this.entry(key, now);
    e.touched = now;
    e.failures++;
    if (e.failures < p.maxFailures) return 0;
    const seconds = lockDuration(p, e.locks);
    e.locks++;
    e.failures = 0;
    e.lockedUntil = now + seconds * 1000;
    return seconds;
  }

  /** Clears the failures of `key` after a successful sign-in (attempts still in flight stay counted). */
  success(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    if (e.inFlight > 0 || e.waiters.length > 0) {
      e.failures = 0;
      e.locks = 0;
      e.lockedUntil = 0;
    } else this.entries.delete(key);
  }

  /** Clears every key that starts with `prefix` (an identity's locks from every client). */
  forget(prefix: string): void {
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) this.entries.delete(k);
  }

  private sweep(now: number): void {
    for (const [k, e] of this.entries) {
      if (e.lockedUntil < now && now - e.touched > IDLE_MS / 24 && e.inFlight === 0 && e.waiters.length === 0) this.entries.delete(k);
    }
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
  }
}

/** The table of failed sign-ins that instances sharing a database count together. */
export const LOGIN_FAILURES_TABLE = '_ms_login_failures';

/**
 * Failed sign-ins counted in the database, so that an attacker spreading
 * guesses over several instances meets the same lock (PostgreSQL). It keeps
 * what {@link LoginGuard} keeps per key, but for attempts in flight, which
 * each process still counts for itself.
 */
export class SharedLoginFailures {
  private failures = 0;

  constructor(private readonly engine: Engine) {}

  private get t(): string {
    return this.engine.dialect.ident(LOGIN_FAILURES_TABLE);
  }

  /** Seconds until every one of `keys` may try again; 0 when all may now. */
  async lockedFor(keys: readonly string[], now = Date.now()): Promise<number> {
    const rows = await this.engine.all<{ locked_until: number | string }>(
      `SELECT locked_until FROM ${this.t} WHERE ${this.engine.dialect.ident('key')} IN (${keys.map((_, i) => `$${i + 1}`).join(', ')})`,
      keys,
    );
    const until = Math.max(0, ...rows.map((r) => Number(r.locked_until)));
    // from when the answer came: a lock set meanwhile by a later request ends after now + its length
    const from = Math.max(now, Date.now());
    return until > from ? Math.ceil((until - from) / 1000) : 0;
  }

  /** Records a failure; resolves to the seconds of the lock it starts, or 0. */
  async failure(key: string, p: LockoutPolicy, now = Date.now()): Promise<number> {
    const k = this.engine.dialect.ident('key');
    // guesses at many identities leave many rows: those idle a day and unlocked go
    if (++this.failures % 1000 === 0) {
      await this.engine.run(`DELETE FROM ${this.t} WHERE touched < $1 AND locked_until < $2`, [now - IDLE_MS, now]);
    }
    return this.engine.transaction(async (tx) => {
      const row = await tx.get<{ failures: number | string; locks: number | string }>(
        `SELECT failures, locks FROM ${this.t} WHERE ${k} = $1`,
        [key],
      );
      let failures = Number(row?.failures ?? 0) + 1;
      let locks = Number(row?.locks ?? 0);
      let lockedUntil = 0;
      let seconds = 0;
      if (failures >= p.maxFailures) {
        seconds = lockDuration(p, locks);
        locks++;
        failures = 0;
        lockedUntil = now + seconds * 1000;
      }
      if (row) {
        await tx.run(`UPDATE ${this.t} SET failures = $1, locks = $2, locked_until = $3, touched = $4 WHERE ${k} = $5`, [
          failures,
          locks,
          lockedUntil,
          now,
          key,
        ]);
      } else {
        await tx.run(`INSERT INTO ${this.t} (${k}, failures, locks, locked_until, touched) VALUES ($1, $2, $3, $4, $5)`, [
          key,
          failures,
          locks,
          lockedUntil,
          now,
        ]);
      }
      return seconds;
    });
  }

  /** Clears `key` after a successful sign-in. */
  async success(key: string): Promise<void> {
    await this.engine.run(`DELETE FROM ${this.t} WHERE ${this.engine.dialect.ident('key')} = $1`, [key]);
  }

  /** Clears every key that starts with `prefix`. */
  async forget(prefix: string): Promise<void> {
    const k = this.engine.dialect.ident('key');
    await this.engine.run(`DELETE FROM ${this.t} WHERE substr(${k}, 1, $1) = $2`, [prefix.length, prefix]);
  }
}
