import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import type { Engine, Executor } from '../storage/engine.js';
import { Errors } from './errors.js';
import type { Instance } from './instance.js';

/**
 * Idempotency keys: a client that retries a write with the same
 * `Idempotency-Key` gets the first answer again instead of a second write.
 * A key belongs to one caller and one route; it is claimed before the write
 * runs (so two concurrent requests with one key run once), and its answer is
 * stored after. Kept 24 hours.
 *
 * A claim belongs to the instance that took it (core/instance.ts). A claim
 * whose instance died is taken over by the next retry, at once: the write
 * runs, unless it committed. Every transaction a claimed request opens
 * (record writes, a batch, `ms.runInTransaction`) marks the claim inside
 * itself ({@link markIn}: status {@link COMMITTED}, only while this instance
 * still holds it), so a write that committed is never run again, and one
 * whose claim was taken over meanwhile rolls back.
 */

export const IDEMPOTENCY_TABLE = '_ms_idempotency';
export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;
/** How long a second request with a key waits for the first to finish before a 409. */
const WAIT_MS = 10_000;
/** The status of a claim whose request is running. */
const RUNNING = 0;
/** The status of a claim whose write committed and whose answer is not stored (yet, or ever: its instance died). */
const COMMITTED = -1;

export type Claim =
  | { kind: 'run' }
  | { kind: 'replay'; status: number; body: string }
  | { kind: 'mismatch' }
  | { kind: 'busy' }
  /** The write committed, its answer was lost with the instance that ran it. */
  | { kind: 'done' };

interface Row {
  fingerprint: string;
  status: number | string;
  body: string;
  created: number | string;
  owner: string;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The claim of the request whose work runs in this async context. */
const active = new AsyncLocalStorage<{ id: string; store: IdempotencyStore }>();

/**
 * What marks the claim of the request running here inside a transaction
 * (see {@link IdempotencyStore.markIn}), or null without one. Taken where
 * the transaction is asked for, not inside it: a transaction's body may run
 * later from the engine's queue, in whatever context scheduled that turn.
 */
export function claimMarker(): ((tx: Executor) => Promise<void>) | null {
  const claim = active.getStore();
  return claim ? (tx) => claim.store.markIn(tx, claim.id) : null;
}

/** Runs `fn` in a new transaction of `engine` that first marks the request's claim, if any. */
export function markedTransaction<T>(engine: Engine, fn: (tx: Executor) => Promise<T>): Promise<T> {
  const mark = claimMarker();
  if (!mark) return engine.transaction(fn);
  return engine.transaction(async (tx) => {
    await mark(tx);
    return fn(tx);
  });
}

export class IdempotencyStore {
  private claims = 0;
  private readonly table: string;

  constructor(
    private readonly engine: Engine,
    private readonly instance: Instance,
  ) {
    this.table = engine.dialect.ident(IDEMPOTENCY_TABLE);
  }

  /** The stored id of a key: who asked, where, and the key itself. */
  static id(caller: string, route: string, key: string): string {
    return sha256(`${caller}\n${route}\n${key}`);
  }

  /** What a request with this key should do: run (the key is now its own), replay, or be refused. */
  async claim(id: string, fingerprint: string, now = Date.now()): Promise<Claim> {
    const t = this.table;
    const me = this.instance.id;
    if (++this.claims % 1000 === 0) await this.engine.run(`DELETE FROM ${t} WHERE created < $1`, [now - IDEMPOTENCY_TTL_MS]);
    const inserted = await this.engine.run(
      `INSERT INTO ${t} (id, fingerprint, status, body, created, owner) VALUES ($1, $2, ${RUNNING}, '', $3, $4) ON CONFLICT (id) DO NOTHING`,
      [id, fingerprint, now, me],
    );
    if (inserted > 0) return { kind: 'run' };
    const until = now + WAIT_MS;
    for (;;) {
      const row = await this.engine.get<Row>(`SELECT fingerprint, status, body, created, owner FROM ${t} WHERE id = $1`, [id]);
      if (!row) return this.claim(id, fingerprint);
      if (Number(row.created) < Date.now() - IDEMPOTENCY_TTL_MS) {
        // an expired key is a new key
        await this.engine.run(`DELETE FROM ${t} WHERE id = $1 AND created = $2`, [id, row.created]);
        return this.claim(id, fingerprint);
      }
      if (row.fingerprint !== fingerprint) return { kind: 'mismatch' };
      const status = Number(row.status);
      if (status > 0) return { kind: 'replay', status, body: row.body };
      if (!(await this.instance.alive(row.owner))) {
        if (status === COMMITTED) return { kind: 'done' };
        // its instance died before the write committed: the write runs here, once (see markIn)
        const taken = await this.engine.run(`UPDATE ${t} SET owner = $1 WHERE id = $2 AND owner = $3 AND status = ${RUNNING}`, [
          me,
          id,
          row.owner,
        ]);
        if (taken > 0) return { kind: 'run' };
        continue;
      }
      if (Date.now() > until) return { kind: 'busy' };
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Runs `fn` as the work of claim `id`: the transactions it opens mark the claim (see {@link markIn}). */
  within<T>(id: string, fn: () => T): T {
    return active.run({ id, store: this }, fn);
  }

  /**
   * Marks claim `id` inside the write's transaction `tx`: once it commits, a
   * retry never runs the write again. Fails (rolling the write back) when
   * the claim is no longer this instance's: a retry took it over, believing
   * this instance dead.
   */
  async markIn(tx: Executor, id: string): Promise<void> {
    const marked = await tx.run(
      `UPDATE ${this.table} SET status = ${COMMITTED} WHERE id = $1 AND owner = $2 AND status IN (${RUNNING}, ${COMMITTED})`,
      [id, this.instance.id],
    );
    if (marked === 0) throw Errors.idempotencyTakenOver();
  }

  /** Stores the answer of a claimed key. */
  async complete(id: string, status: number, body: string): Promise<void> {
    await this.engine.run(`UPDATE ${this.table} SET status = $1, body = $2 WHERE id = $3 AND owner = $4`, [
      status,
      body,
      id,
      this.instance.id,
    ]);
  }

  /**
   * Gives a claimed key up (the request failed on the server's side, or its
   * client left): a retry may run, unless the write committed, which a retry
   * is then told without waiting (the claim is left to no instance).
   */
  async release(id: string): Promise<void> {
    const me = this.instance.id;
    const deleted = await this.engine.run(`DELETE FROM ${this.table} WHERE id = $1 AND owner = $2 AND status = ${RUNNING}`, [id, me]);
    if (deleted === 0)
      await this.engine.run(`UPDATE ${this.table} SET owner = '' WHERE id = $1 AND owner = $2 AND status = ${COMMITTED}`, [id, me]);
  }

  /** A request's fingerprint: a repeat must be the same request. */
  static fingerprint(method: string, url: string, body: unknown): string {
    return sha256(`${method}\n${url}\n${JSON.stringify(body ?? null)}`);
  }
}
