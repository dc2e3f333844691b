import { AsyncLocalStorage } from 'node:async_hooks';
import type { Executor } from '../../storage/engine.js';
import type { RecordService } from '../records/service.js';
import { SYSTEM_REQUEST } from '../rules/request-info.js';

/**
 * The transaction server code is running in, if any: a record hook inside
 * a write, or the body of `runInTransaction`. Helpers that are not bound to
 * a transaction (`ms.records`) join it, and `runInTransaction` inside it
 * nests into it, instead of waiting for a second transaction the first
 * one blocks (the single SQLite writer, the PostgreSQL retry lane).
 */
const active = new AsyncLocalStorage<{ tx: Executor; open: boolean }>();

/**
 * Runs `fn` with `tx` as the active transaction. Work `fn` leaves behind
 * (a timer, a promise not awaited) that runs after it finished sees no
 * transaction: the one it started in may be committed and gone.
 */
export async function inActiveTransaction<T>(tx: Executor, fn: () => Promise<T>): Promise<T> {
  const scope = { tx, open: true };
  try {
    return await active.run(scope, fn);
  } finally {
    scope.open = false;
  }
}

/** The transaction server code is running in, if it is still open. */
export function activeTransaction(): Executor | undefined {
  const scope = active.getStore();
  return scope?.open ? scope.tx : undefined;
}

/** What {@link TxRecords.find} reads. */
export interface FindOptions {
  /** A filter in the rule syntax; `{:name}` placeholders take their values from `params`. */
  filter?: string;
  params?: Record<string, unknown>;
  /** `-created,title`, as the API's `sort`. */
  sort?: string;
  /** At most this many records (default 100, at most 10,000). */
  limit?: number;
  offset?: number;
}

/** A record as a superuser sees it over the API (every field but passwords and token keys). */
export type RecordOut = Record<string, unknown> & { id: string; collectionId: string; collectionName: string };

/**
 * Record helpers for server code (hooks, custom routes, crons), acting as
 * the system: no rules apply, input is validated as for a superuser, and
 * record hooks run. Bound to one transaction (`runInTransaction`), every
 * call sees the writes before it and all commit or roll back together; the
 * helpers on `ms.records` run each call on its own.
 *
 * `update` takes PocketBase's modifiers: `{ 'stock-': 2 }` subtracts 2 from
 * the value as it is inside the transaction, `{ 'tags+': 'x' }` appends. A
 * number field's `min`/`max` are checked on the result, so `min: 0` keeps a
 * balance from going negative under any concurrency.
 *
 * On PostgreSQL a transaction may run again from the start after a
 * serialization failure: its body must only touch the database (and
 * compute), never send mail or call other services; do that after it.
 */
export class TxRecords {
  constructor(
    private readonly records: RecordService,
    /** The transaction, or undefined for one transaction per call (or the surrounding one, inside a hook). */
    private readonly bound: Executor | undefined,
  ) {}

  private get db(): Executor | undefined {
    return this.bound ?? activeTransaction();
  }

  /** The record, or null when there is none. */
  async findById(collection: string, id: string): Promise<RecordOut | null> {
    const c = this.records.collection(collection);
    return (await this.records.systemFind(this.db, c, id)) as RecordOut | null;
  }

  /** The records the options select, in their order. */
  async find(collection: string, options: FindOptions = {}): Promise<RecordOut[]> {
    const c = this.records.collection(collection);
    return (await this.records.systemQuery(this.db, c, options)) as RecordOut[];
  }

  /** The first record `filter` admits (in `sort` order, else insertion order), or null. */
  async findFirst(collection: string, filter: string, params?: Record<string, unknown>, sort?: string): Promise<RecordOut | null> {
    const found = await this.find(collection, { filter, params, sort, limit: 1 });
    return found[0] ?? null;
  }

  /** How many records `filter` admits. */
  async count(collection: string, filter?: string, params?: Record<string, unknown>): Promise<number> {
    const c = this.records.collection(collection);
    return this.records.systemCount(this.db, c, filter, params);
  }

  /** Validates and writes a new record; a 400 `ApiError` names the fields that failed. */
  async create(collection: string, data: Record<string, unknown>): Promise<RecordOut> {
    const c = this.records.collection(collection);
    return (await this.records.create(c, { data, source: 'json' }, {}, SYSTEM_REQUEST, this.db)) as RecordOut;
  }

  /** Applies `data` (with `field+` / `field-` modifiers) to the record as it is now. */
  async update(collection: string, id: string, data: Record<string, unknown>): Promise<RecordOut> {
    const c = this.records.collection(collection);
    return (await this.records.update(c, id, { data, source: 'json' }, {}, SYSTEM_REQUEST, this.db)) as RecordOut;
  }

  /** Deletes the record (with its relations' cascade rules). */
  async delete(collection: string, id: string): Promise<void> {
    const c = this.records.collection(collection);
    await this.records.delete(c, id, SYSTEM_REQUEST, this.db);
  }
}
