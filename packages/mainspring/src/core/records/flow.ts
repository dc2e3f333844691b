import type { Executor } from '../../storage/engine.js';
import type { Collection } from '../collections/model.js';
import { Errors } from '../errors.js';
import type { RecordEvent } from '../events.js';
import type { RecordEvent as RecordHookEvent } from '../hooks/events.js';
import type { Hook } from '../hooks/hook.js';
import { inActiveTransaction, type TxRecords } from '../hooks/transaction.js';
import { markedTransaction } from '../idempotency.js';
import type { RecordData, RequestInfo } from '../rules/request-info.js';
import type { RecordContext } from './context.js';
import { checkHookValues } from './input.js';

/** The after-hooks of one kind of write: the one told of success and the one told of failure. */
type AfterHooks =
  | ['recordAfterCreateSuccess', 'recordAfterCreateError']
  | ['recordAfterUpdateSuccess', 'recordAfterUpdateError']
  | ['recordAfterDeleteSuccess', 'recordAfterDeleteError'];

export const AFTER_CREATE: AfterHooks = ['recordAfterCreateSuccess', 'recordAfterCreateError'];
export const AFTER_UPDATE: AfterHooks = ['recordAfterUpdateSuccess', 'recordAfterUpdateError'];
export const AFTER_DELETE: AfterHooks = ['recordAfterDeleteSuccess', 'recordAfterDeleteError'];

/** Where a reported write runs: in `db` when given (a batch, server code), else in a transaction of its own. */
export interface WriteScope {
  db?: Executor;
  /** The write's slow work that needs no transaction (putting its files), done first, outside it. */
  before?: () => Promise<void>;
}

/**
 * How every record write meets server code: its transaction (the caller's,
 * or a new one), the record hook it runs through, the after-hooks told of
 * its outcome, and the realtime event published once it commits.
 */
export class WriteFlow {
  constructor(
    private readonly ctx: RecordContext,
    /** The `e.tx` helpers a hook gets, bound to its transaction. */
    private readonly txRecords: (tx: Executor) => TxRecords,
  ) {}

  /**
   * Runs `fn` in `db` when given (a batch, server code), otherwise in a new
   * transaction, which marks the request's Idempotency-Key claim, if any.
   */
  inTransaction<T>(db: Executor | undefined, fn: (tx: Executor) => Promise<T>): Promise<T> {
    return db ? fn(db) : markedTransaction(this.ctx.engine, fn);
  }

  /**
   * Runs `write` as the action of a record hook (inside the transaction), or
   * directly when no handler listens to this collection.
   */
  async withHook(
    hook: Hook<RecordHookEvent>,
    tx: Executor,
    c: Collection,
    record: RecordData,
    original: RecordData | null,
    info: RequestInfo | null,
    write: (record: RecordData) => Promise<void>,
  ): Promise<RecordData> {
    const tags = [c.id, c.name];
    if (!hook.has(tags)) {
      await write(record);
      return record;
    }
    let written = record;
    // a deep copy: on PostgreSQL the transaction may run again, and must start from the same values
    // (a hook may change a list or a point in place), and the changes are judged against the original
    const event = {
      collection: c,
      record: structuredClone(record),
      original,
      requestInfo: info?.system ? null : info,
      tx: this.txRecords(tx),
    };
    // the hook's own ms.records calls join this transaction
    await inActiveTransaction(tx, () =>
      hook.trigger(
        event,
        async (e) => {
          const checked = checkHookValues(c, record, { ...e.record, id: e.record.id ?? record.id } as RecordData, original === null);
          if (Object.keys(checked.errors).length > 0) {
            throw original === null ? Errors.createFailed(checked.errors) : Errors.updateFailed(checked.errors);
          }
          written = checked.data;
          await write(written);
        },
        tags,
      ),
    );
    return written;
  }

  /**
   * Runs the scope's `before`, then `fn` in a transaction, and reports the
   * outcome of both to the after-success or after-error hook.
   */
  async reported<T extends { record: RecordData; original: RecordData | null }>(
    [success, error]: AfterHooks,
    c: Collection,
    attempt: RecordData,
    { db, before }: WriteScope,
    fn: (tx: Executor) => Promise<T>,
  ): Promise<T> {
    const hooks = this.ctx.hooks;
    const tags = [c.id, c.name];
    const listening = hooks[success].has(tags) || hooks[error].has(tags);
    if (!listening) {
      await before?.();
      return this.inTransaction(db, fn);
    }
    try {
      await before?.();
      return await this.inTransaction(db, async (tx) => {
        const out = await fn(tx);
        // on PostgreSQL a body may run again; only the attempt that commits reports
        tx.afterCommit(() => hooks.runAfter(hooks[success], { collection: c, record: out.record, original: out.original }, tags));
        return out;
      });
    } catch (err) {
      hooks.runAfter(hooks[error], { collection: c, record: attempt, original: null, error: err }, tags);
      throw err;
    }
  }

  /** Publishes a change once the transaction that made it commits. */
  publish(tx: Executor, action: RecordEvent['action'], c: Collection, record: RecordData): void {
    tx.afterCommit(() => this.ctx.events.emit({ type: 'record', action, collectionId: c.id, record }));
  }
}
