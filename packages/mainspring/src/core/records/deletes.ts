import type { Executor } from '../../storage/engine.js';
import { deleteRecordPasskeys } from '../auth/passkey-store.js';
import { type Collection, isMultiple, type RelationField } from '../collections/model.js';
import { AUTH_REF_COLLECTIONS } from '../collections/system.js';
import { ApiError, Errors } from '../errors.js';
import { isRelation } from '../fields/index.js';
import { isSuperuser, type RecordData, type RequestInfo, SUPERUSERS, SYSTEM_REQUEST } from '../rules/request-info.js';
import type { RecordContext } from './context.js';
import { AFTER_DELETE, type WriteFlow } from './flow.js';
import type { RecordReads } from './reads.js';
import { encodeValue, RECORD_ALIAS, readRecords, selectList } from './rows.js';

/** Refuses a write to a view collection, whose records are its query's rows (PocketBase's answer). */
export function writable(c: Collection): void {
  if (c.type === 'view') throw Errors.badRequest('Unsupported collection type.');
}

/**
 * Deleting records with PocketBase's relation handling: records that relate
 * to a deleted one cascade, are unlinked, or refuse the deletion; an auth
 * record takes its MFA sessions, OTPs, external auths and origins with it.
 */
export class RecordDeletes {
  constructor(
    private readonly ctx: RecordContext,
    private readonly reads: RecordReads,
    private readonly flow: WriteFlow,
  ) {}

  /** `DELETE /records/:id`, if the delete rule admits the record (404 otherwise). */
  async delete(c: Collection, id: string, info: RequestInfo | null, db?: Executor): Promise<void> {
    writable(c);
    const superuser = isSuperuser(info);
    if (c.deleteRule === null && !superuser) throw Errors.superusersOnly();
    await this.flow.reported(AFTER_DELETE, c, { id }, { db }, async (tx) => {
      const record = await this.reads.find(tx, c, id, info, superuser ? null : c.deleteRule);
      if (!record) throw Errors.notFound();
      await this.withRelations(tx, c, record, new Set(), info);
      return { record, original: null };
    });
  }

  /**
   * `DELETE /api/collections/{c}/truncate`: deletes every record of `c` in
   * one transaction, each exactly as server code's delete would (PocketBase's
   * TruncateCollection): delete hooks and after-hooks, cascades, relations
   * unlinked or refused, files after the commit, a realtime event per
   * record. Records written while it runs (by its hooks) are left.
   */
  async truncate(c: Collection): Promise<void> {
    if (c.type === 'view') {
      throw Errors.badRequest("View collections cannot be truncated since they don't store their own records.");
    }
    try {
      await this.ctx.engine.transaction((tx) => this.truncateIn(tx, c));
    } catch (err) {
      // as PocketBase: whatever refused a deletion (a required relation, the last superuser, a hook), one 400
      if (err instanceof ApiError && err.status < 500) throw Errors.truncateFailed();
      throw err;
    }
  }

  private async truncateIn(tx: Executor, c: Collection): Promise<void> {
    const table = this.ctx.engine.dialect.ident(c.name);
    const id = this.ctx.engine.dialect.ident('id');
    const last = await tx.get<{ n: number | string | null }>(`SELECT MAX(rowid) AS n FROM ${table}`);
    const end = Number(last?.n ?? 0);
    let from = 0;
    while (from < end) {
      const rows = await tx.all<{ id: string; r: number | string }>(
        `SELECT ${id} AS id, rowid AS r FROM ${table} WHERE rowid > $1 AND rowid <= $2 ORDER BY rowid LIMIT 500`,
        [from, end],
      );
      if (rows.length === 0) break;
      for (const row of rows) {
        // gone already when an earlier record's deletion cascaded to it
        const record = await this.reads.find(tx, c, row.id, null, null);
        if (!record) continue;
        await this.flow.reported(AFTER_DELETE, c, record, { db: tx }, async (inner) => {
          await this.withRelations(inner, c, record, new Set(), SYSTEM_REQUEST);
          return { record, original: null };
        });
      }
      from = Number(rows[rows.length - 1]?.r);
    }
  }

  /** Deletes a record, through the delete hooks; records that cascade from it go the same way. */
  private async withRelations(tx: Executor, c: Collection, record: RecordData, seen: Set<string>, info: RequestInfo | null): Promise<void> {
    const key = `${c.id}/${record.id}`;
    if (seen.has(key)) return;
    seen.add(key);
    // every deletion comes here (the API, batch, server code, the CLI, cascades, truncate): so does this guard,
    // checked before the hooks run, as PocketBase's own delete handler runs first
    if (c.name === SUPERUSERS) {
      const left = await tx.get<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${this.ctx.engine.dialect.ident(c.name)}`);
      if (Number(left?.n ?? 0) <= 1) throw Errors.lastSuperuser();
    }
    await this.flow.withHook(this.ctx.hooks.recordDelete, tx, c, record, null, info, () => this.deleteRow(tx, c, record, seen, info));
  }

  private async deleteRow(tx: Executor, c: Collection, record: RecordData, seen: Set<string>, info: RequestInfo | null): Promise<void> {
    const d = this.ctx.engine.dialect;
    for (const other of this.ctx.registry.all()) {
      // a view's rows are not stored: its relations hold nothing to cascade or unlink
      if (other.type === 'view') continue;
      for (const f of other.fields) {
        if (isRelation(f) && f.collectionId === c.id) await this.letGo(tx, c, other, f, record, seen, info);
      }
    }
    await tx.run(`DELETE FROM ${d.ident(c.name)} WHERE ${d.ident('id')} = $1`, [record.id]);
    if (c.type === 'auth') {
      await this.authRefs(tx, c, record, seen, info);
      await deleteRecordPasskeys(tx, c.id, record.id);
    }
    this.ctx.files.forgetRecord(tx, c, record);
    // after commit: caches (an auth record's tokens) forget it, subscribers hear of it
    this.flow.publish(tx, 'delete', c, record);
  }

  /** The records of `other` whose relation `f` names the deleted `record` of `c`: deleted too (cascade), or unlinked. */
  private async letGo(
    tx: Executor,
    c: Collection,
    other: Collection,
    f: RelationField,
    record: RecordData,
    seen: Set<string>,
    info: RequestInfo | null,
  ): Promise<void> {
    const d = this.ctx.engine.dialect;
    const id = record.id;
    for (const ref of await this.referencing(tx, other, f, id)) {
      if (other.id === c.id && ref.id === id) continue;
      if (f.cascadeDelete) {
        // a delete of its own, as in PocketBase: its after-success hook runs once the whole commits
        await this.flow.reported(AFTER_DELETE, other, ref, { db: tx }, async (inner) => {
          await this.withRelations(inner, other, ref, seen, info);
          return { record: ref, original: null };
        });
        continue;
      }
      const remaining = (Array.isArray(ref[f.name]) ? (ref[f.name] as string[]) : [ref[f.name] as string]).filter((x) => x && x !== id);
      if (f.required && remaining.length === 0) throw Errors.deleteReferenced();
      const next = isMultiple(f) ? remaining : (remaining[0] ?? '');
      await tx.run(`UPDATE ${d.ident(other.name)} SET ${d.ident(f.name)} = $1 WHERE ${d.ident('id')} = $2`, [
        encodeValue(f, next, d),
        ref.id,
      ]);
      this.flow.publish(tx, 'update', other, { ...ref, [f.name]: next });
    }
  }

  /**
   * An auth record's rows in the system collections `names` (all four when
   * it is deleted: MFA sessions, OTPs, external auths, auth origins) go, as
   * deletes of their own (hooks run, subscribers hear of them), as
   * PocketBase deletes them.
   */
  async authRefs(
    tx: Executor,
    c: Collection,
    record: RecordData,
    seen: Set<string>,
    info: RequestInfo | null,
    names: readonly string[] = AUTH_REF_COLLECTIONS,
  ): Promise<void> {
    const d = this.ctx.engine.dialect;
    const col = (name: string) => `${RECORD_ALIAS}.${d.ident(name)}`;
    for (const name of names) {
      const refs = this.ctx.registry.find(name);
      if (!refs?.system) continue;
      const rows = await readRecords(
        tx,
        refs,
        d,
        `SELECT ${selectList(refs, d)} FROM ${d.ident(refs.name)} ${RECORD_ALIAS} WHERE ${col('collectionRef')} = $1 AND ${col('recordRef')} = $2`,
        [c.id, record.id],
      );
      for (const row of rows) await this.withRelations(tx, refs, row, seen, info);
    }
  }

  private async referencing(tx: Executor, c: Collection, f: RelationField, id: string): Promise<RecordData[]> {
    const d = this.ctx.engine.dialect;
    const col = `${RECORD_ALIAS}.${d.ident(f.name)}`;
    const where = isMultiple(f) ? d.jsonArrayContains(col, '$1') : `${col} = $1`;
    return readRecords(tx, c, d, `SELECT ${selectList(c, d)} FROM ${d.ident(c.name)} ${RECORD_ALIAS} WHERE ${where}`, [id]);
  }
}
