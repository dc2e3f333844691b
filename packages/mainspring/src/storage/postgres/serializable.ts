import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { EngineBusyError, type Executor } from '../engine.js';
import { connect, isStalePlan, retiring, translate } from './pool.js';
import { type Attempt, attempt } from './transaction.js';
import { LocalLane } from './turns.js';

const RETRYABLE = new Set(['40001', '40P01']);
const isRetryable = (err: unknown) => {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && RETRYABLE.has(code);
};

/**
 * The retry lane: a transaction that lost once to a serialization failure
 * or a deadlock runs its later attempts holding this session-level advisory
 * lock, so retried transactions take turns across every instance instead of
 * losing to each other again.
 */
const LANE_KEY = "hashtext('mainspring:retry-lane')";
/** Attempts inside the lane, where a transaction competes only with others' first attempts. */
const LANE_ATTEMPTS = 200;
/** The most a transaction in the lane waits (a random part of it) before its next attempt. */
const LANE_BACKOFF_MS = 50;
/** How long a retried transaction waits for its turn in the lane before it fails as busy (a 503). */
const LANE_WAIT_MS = 30_000;
/**
 * A lane holder's session idle outside a transaction this long is ended by
 * the server (inside one, `idle_in_transaction_session_timeout` does it), so
 * an instance cut off by the network holds the lane a minute, not until
 * TCP keepalive notices (hours).
 */
const LANE_IDLE_MS = 60_000;

/**
 * A body that failed after its last write committed with it
 * ({@link Executor.commitAhead}): the write stands, so its callbacks (the events
 * of what it wrote) run, and the error is the caller's. Never run again.
 */
function settleCommitted(callbacks: readonly (() => void)[], err: unknown): never {
  for (const cb of callbacks) cb();
  throw translate(err);
}

/**
 * Runs transactions on the pool in SERIALIZABLE isolation, each again from
 * the start when it fails with a serialization failure or a deadlock. The
 * first attempt runs alongside everything else; the later ones in the retry
 * lane (one transaction at a time across every instance, up to
 * {@link LANE_ATTEMPTS}), so under contention each transaction commits in
 * its turn instead of losing every retry. `afterCommit` callbacks of failed
 * attempts are dropped; those of the attempt that commits run once, after
 * the commit.
 */
export class SerializableTransactions {
  private readonly lane = new LocalLane();

  constructor(private readonly pool: pg.Pool) {}

  /** Runs `fn` until an attempt commits, or fails as its last attempt did. */
  async run<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    let first = await this.attemptOnce(fn, true);
    // a named statement's plan went stale (a schema change): its connection is closed, and the
    // transaction runs again with unnamed statements (other connections may hold the same stale plan)
    if (!first.ok && !first.committed && isStalePlan(first.err)) first = await this.attemptOnce(fn, false);
    if (first.ok) {
      for (const cb of first.callbacks) cb();
      return first.result;
    }
    if (first.committed) return settleCommitted(first.committed, first.err);
    if (!isRetryable(first.err)) throw translate(first.err);
    return this.retryInLane(fn);
  }

  /** One attempt on a pooled connection, released (or closed) after it. */
  private async attemptOnce<T>(fn: (tx: Executor) => Promise<T>, named: boolean): Promise<Attempt<T>> {
    const client = await connect(this.pool);
    const outcome = await attempt(client, fn, named);
    client.release((!outcome.ok && outcome.broken) || retiring.has(client));
    return outcome;
  }

  /**
   * The later attempts of a transaction, holding the retry lane: a turn in
   * this process's queue, then the advisory lock on one pooled connection
   * (taken in the round trip of the first BEGIN, kept across the attempts,
   * released in that of the COMMIT, or after the last ROLLBACK). A
   * connection that fails on the way is destroyed, never returned to the
   * pool, so the lock cannot outlive its turn.
   */
  private async retryInLane<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    const deadline = Date.now() + LANE_WAIT_MS;
    const leave = await this.lane.enter(LANE_WAIT_MS);
    let client: pg.PoolClient | undefined;
    let broken = false;
    let outcome: Attempt<T> | undefined;
    try {
      client = await connect(this.pool);
      // the wait is bounded by what is left of the lane's, not by the statement timeout
      const wait = Math.max(1, deadline - Date.now());
      // a transaction of its own, committed before the attempt's BEGIN: statements before a BEGIN in one
      // message would otherwise become part of that transaction, which would then have taken its snapshot
      const lock = `BEGIN; SET LOCAL statement_timeout = ${wait}; SELECT pg_advisory_lock(${LANE_KEY}); SET idle_session_timeout = ${LANE_IDLE_MS}; COMMIT`;
      const unlock = `SELECT pg_advisory_unlock(${LANE_KEY}); RESET idle_session_timeout`;
      let named = true;
      for (let n = 1; ; n++) {
        // the lock is taken with the first BEGIN, and dropped with the COMMIT that succeeds
        outcome = await attempt(client, fn, named, { before: n === 1 ? lock : undefined, after: unlock });
        if (!outcome.ok && !outcome.begun) {
          broken = true;
          if ((outcome.err as { code?: unknown })?.code === '57014') throw new EngineBusyError('the database is busy; try again');
          throw translate(outcome.err);
        }
        // after a stale plan (a schema change meanwhile) the attempts left go unnamed; unnamed, no error is one
        if (!outcome.ok && !outcome.committed && isStalePlan(outcome.err)) named = false;
        else if (outcome.ok || outcome.broken || outcome.committed || !isRetryable(outcome.err)) break;
        if (n >= LANE_ATTEMPTS || Date.now() >= deadline) break;
        // the first attempts it lost to get a moment to commit, so the next snapshot starts after them
        await sleep(Math.random() * Math.min(LANE_BACKOFF_MS, 2 ** n));
      }
      // a retired connection is closed, which also ends its hold on the lock
      broken = (!outcome.ok && outcome.broken) || retiring.has(client);
      if (!broken && !outcome.ok) {
        try {
          await client.query(unlock);
        } catch {
          broken = true;
        }
      }
    } finally {
      client?.release(broken);
      leave();
    }
    if (outcome.ok) {
      for (const cb of outcome.callbacks) cb();
      return outcome.result;
    }
    if (outcome.committed) return settleCommitted(outcome.committed, outcome.err);
    if (isRetryable(outcome.err) || isStalePlan(outcome.err)) throw new EngineBusyError('the database is busy; try again');
    throw translate(outcome.err);
  }
}
