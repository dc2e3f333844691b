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

interface Entry {
  failures: number;
  /** Attempts begun and not yet judged: they count against the limit, so a burst cannot slip past it. */
  inFlight: number;
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

  /** Closes an attempt begun with `begin` (after `failure` or `success` was recorded). */
  end(key: string): void {
    const e = this.entries.get(key);
    if (e && e.inFlight > 0) e.inFlight--;
  }

  private entry(key: string, now: number): Entry {
    let e = this.entries.get(key);
    if (!e) {
      if (this.entries.size >= MAX_ENTRIES) this.sweep(now);
      e = { failures: 0, inFlight: 0, locks: 0, lockedUntil: 0, touched: now };
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
    const seconds = Math.min(p.lockSeconds * 2 ** e.locks, p.maxLockSeconds);
    e.locks++;
    e.failures = 0;
    e.lockedUntil = now + seconds * 1000;
    return seconds;
  }

  /** Clears the failures of `key` after a successful sign-in (attempts still in flight stay counted). */
  success(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    if (e.inFlight > 0) {
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
    for (const [k, e] of this.entries) if (e.lockedUntil < now && now - e.touched > IDLE_MS / 24) this.entries.delete(k);
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
  }
}
