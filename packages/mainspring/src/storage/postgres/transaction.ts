import type pg from 'pg';
import type { Executor, QueryColumn, Row, SqlValue } from '../engine.js';
import { describeOn, query } from './pool.js';

/** One transaction's connection. */
export class TxConnection implements Executor {
  readonly callbacks: (() => void)[] = [];
  constructor(
    private readonly client: pg.PoolClient,
    /** False after a stale plan: statements go unnamed. */
    private readonly named: boolean,
  ) {}

  async all<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return (await query(this.client, sql, params, false, this.named)).rows as T[];
  }
  async get<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }
  async values(sql: string, params?: readonly SqlValue[]): Promise<unknown[][]> {
    return (await query(this.client, sql, params, true, this.named)).rows as unknown[][];
  }
  async run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return (await query(this.client, sql, params, false, this.named)).rowCount ?? 0;
  }
  describe(sql: string): Promise<QueryColumn[]> {
    return describeOn(this.client, sql, true);
  }
  afterCommit(fn: () => void): void {
    this.callbacks.push(fn);
  }
}

/**
 * One attempt's end: committed with its result, or rolled back with its
 * error (`broken`: the connection is unusable; `begun`: false when the
 * failure came before the transaction began).
 */
export type Attempt<T> = { ok: true; result: T; callbacks: (() => void)[] } | { ok: false; err: unknown; broken: boolean; begun: boolean };

/**
 * Statements an attempt sends in the same round trip as its BEGIN (before
 * it) and its COMMIT (after it, run only when the commit succeeds): the
 * retry lane takes and drops its lock so, two round trips fewer in a turn
 * that every retried transaction waits for.
 */
export interface AttemptFrame {
  before?: string;
  after?: string;
}

/** Runs `fn` once in a SERIALIZABLE transaction on `client`: committed, or rolled back. */
export async function attempt<T>(
  client: pg.PoolClient,
  fn: (tx: Executor) => Promise<T>,
  named = true,
  frame: AttemptFrame = {},
): Promise<Attempt<T>> {
  const tx = new TxConnection(client, named);
  let begun = false;
  try {
    await client.query(frame.before ? `${frame.before}; BEGIN ISOLATION LEVEL SERIALIZABLE` : 'BEGIN ISOLATION LEVEL SERIALIZABLE');
    begun = true;
    const result = await fn(tx);
    await client.query(frame.after ? `COMMIT; ${frame.after}` : 'COMMIT');
    return { ok: true, result, callbacks: tx.callbacks };
  } catch (err) {
    // nothing began: what came before BEGIN failed, and the caller judges the connection
    if (!begun) return { ok: false, err, broken: true, begun };
    try {
      await client.query('ROLLBACK');
      return { ok: false, err, broken: false, begun };
    } catch {
      return { ok: false, err, broken: true, begun };
    }
  }
}
