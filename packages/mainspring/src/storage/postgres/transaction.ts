import type pg from 'pg';
import type { Executor, QueryColumn, Row, SqlValue } from '../engine.js';
import { describeOn, query } from './pool.js';

const ignore = () => {};

/** What a COMMIT answered: PostgreSQL answers a COMMIT of an aborted transaction with ROLLBACK, not an error. */
function committedOrThrow(ended: pg.QueryResult): void {
  if (ended.command !== 'COMMIT') throw new Error(`the transaction ended with ${ended.command}, not COMMIT`);
}

/**
 * One transaction's connection. Its connections are pipelined (pg's
 * `pipeline`): a statement goes out without waiting for the answer to the
 * one before, so the BEGIN travels with the first statement, and
 * {@link commitAhead} sends the COMMIT behind the last write.
 */
export class TxConnection implements Executor {
  readonly callbacks: (() => void)[] = [];
  /** The COMMIT sent by {@link commitAhead}, once it is: the attempt waits for it instead of sending its own. */
  commit: Promise<pg.QueryResult> | null = null;
  constructor(
    private readonly client: pg.PoolClient,
    /** False after a stale plan: statements go unnamed. */
    private readonly named: boolean,
    /** The BEGIN sent ahead without waiting, until the first statement waits for it with its own answer. */
    private begin: Promise<unknown> | null = null,
  ) {}

  /**
   * A statement sent at once; its answer waits for the BEGIN's too (the
   * first statement's), so a failed BEGIN fails the statement that went with
   * it. Both promises are awaited together, so neither rejection is left
   * unhandled.
   */
  private async send(sql: string, params: readonly SqlValue[] | undefined, array: boolean): Promise<pg.QueryResult> {
    const begin = this.begin;
    this.begin = null;
    const answer = query(this.client, sql, params, array, this.named);
    if (!begin) return answer;
    return (await Promise.all([begin, answer]))[1];
  }

  /** Waits for a BEGIN no statement has waited for (a body that ran none). */
  async begun(): Promise<void> {
    const begin = this.begin;
    this.begin = null;
    await begin;
  }

  async all<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return (await this.send(sql, params, false)).rows as T[];
  }
  async get<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }
  async values(sql: string, params?: readonly SqlValue[]): Promise<unknown[][]> {
    return (await this.send(sql, params, true)).rows as unknown[][];
  }
  async run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return (await this.send(sql, params, false)).rowCount ?? 0;
  }

  /**
   * The COMMIT, sent behind the statements already sent. A statement that
   * failed turns it into a ROLLBACK (PostgreSQL ends an aborted transaction
   * so), and a COMMIT can fail itself (a serialization failure found at
   * commit): either way this rejects.
   */
  commitAhead(): Promise<void> {
    if (!this.commit) {
      const begin = this.begin;
      this.begin = null;
      const commit = this.client.query('COMMIT');
      commit.catch(ignore);
      this.commit = begin ? Promise.all([begin, commit]).then(([, ended]) => ended) : commit;
      this.commit.catch(ignore);
    }
    return this.commit.then(committedOrThrow);
  }
  describe(sql: string): Promise<QueryColumn[]> {
    return this.begun().then(() => describeOn(this.client, sql, this.commit === null));
  }
  afterCommit(fn: () => void): void {
    this.callbacks.push(fn);
  }

  /** Whether the COMMIT sent by {@link commitAhead} committed (false: it rolled back or failed). */
  async committed(): Promise<boolean> {
    if (!this.commit) return false;
    return this.commit.then(
      (r) => r.command === 'COMMIT',
      () => false,
    );
  }
}

/**
 * One attempt's end: committed with its result, or rolled back with its
 * error (`broken`: the connection is unusable; `begun`: false when the
 * failure came before the transaction began), or committed by
 * {@link TxConnection.commitAhead} before the body failed afterwards
 * (`committed`: its callbacks, which must run; it must not run again).
 */
export type Attempt<T> =
  | { ok: true; result: T; callbacks: (() => void)[] }
  | { ok: false; err: unknown; broken: boolean; begun: boolean; committed?: (() => void)[] };

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

const BEGIN = 'BEGIN ISOLATION LEVEL SERIALIZABLE';

/**
 * Runs `fn` once in a SERIALIZABLE transaction on `client`: committed, or
 * rolled back. A plain BEGIN goes out with the body's first statement
 * (nothing can fail between them but the connection, which fails both); a
 * frame's `before` may fail for its own reasons (the lane's lock wait), so
 * it and its BEGIN are waited for first, lest a statement run outside the
 * transaction.
 */
export async function attempt<T>(
  client: pg.PoolClient,
  fn: (tx: Executor) => Promise<T>,
  named = true,
  frame: AttemptFrame = {},
): Promise<Attempt<T>> {
  let begun = false;
  let tx: TxConnection | undefined;
  try {
    if (frame.before) {
      await client.query(`${frame.before}; ${BEGIN}`);
      tx = new TxConnection(client, named);
    } else {
      const begin = client.query(BEGIN);
      begin.catch(ignore);
      tx = new TxConnection(client, named, begin);
    }
    begun = true;
    const result = await fn(tx);
    await tx.begun();
    if (tx.commit) {
      // the body sent the COMMIT behind its last write (and must not pass for committed when it was a ROLLBACK)
      committedOrThrow(await tx.commit);
      if (frame.after) await client.query(frame.after);
    } else {
      await client.query(frame.after ? `COMMIT; ${frame.after}` : 'COMMIT');
    }
    return { ok: true, result, callbacks: tx.callbacks };
  } catch (err) {
    // nothing began: what came before BEGIN failed, and the caller judges the connection
    if (!begun || !tx) return { ok: false, err, broken: true, begun };
    // a COMMIT went with the last write: the transaction is over, one way or the other
    if (tx.commit) {
      const committed = await tx.committed();
      if (committed) return { ok: false, err, broken: false, begun, committed: tx.callbacks };
      // a COMMIT that failed (a serialization failure) ends the transaction too; anything else is rolled back below
      if (client.getTransactionStatus() === 'I') return { ok: false, err, broken: false, begun };
    }
    try {
      await client.query('ROLLBACK');
      return { ok: false, err, broken: false, begun };
    } catch {
      return { ok: false, err, broken: true, begun };
    }
  }
}
