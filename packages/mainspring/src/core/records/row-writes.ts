import { FilterError } from '../../query/index.js';
import { commitWith, type Executor, type SqlValue } from '../../storage/engine.js';
import { parseIndex } from '../collections/indexes.js';
import type { Collection } from '../collections/model.js';
import { checkAuthRefs } from '../collections/system.js';
import { type ErrorData, Errors, fieldError } from '../errors.js';
import { isRelation } from '../fields/index.js';
import { type RecordData, type RequestInfo, SUPERUSERS } from '../rules/request-info.js';
import type { RecordContext } from './context.js';
import { decodeValues, encodeValue, RECORD_ALIAS, writeStatements } from './rows.js';

/** A rule to check for a request, with what the rule sees as `@request.body`. */
export interface RuleCheck {
  info: RequestInfo | null;
  body: Record<string, unknown>;
  rule: string;
}

/** PocketBase's error for relation ids that name no record. */
const missingRelations = () => fieldError('validation_missing_rel_records', 'Failed to find all relation records with the provided ids.');

/**
 * A superuser is always verified (PocketBase sets it on every save): set just
 * before the row is written, so neither input nor a hook can store it false.
 */
function verifySuperuser(c: Collection, data: RecordData): void {
  if (c.name === SUPERUSERS) data.verified = true;
}

/**
 * A record's row written with what the database must hold of it: relation
 * ids that name records, unique indexes (a violation is a 400 naming the
 * index's fields), auth ids unique across auth collections, and, where one
 * statement can, the request's rule checked by the write itself.
 */
export class RowWrites {
  constructor(private readonly ctx: RecordContext) {}

  /**
   * Checks the record's relations (and that no other auth collection holds
   * an auth record's id) and inserts its row. Given `check` (a create rule
   * for the request) and an engine that can, one statement counts the
   * relations, inserts the row when they hold and checks the rule on it,
   * and the rule's verdict is returned; otherwise (undefined) the caller
   * checks the rule with a statement of its own. A rule that reads this
   * collection's own table (`@collection`, a back-relation or a relation to
   * itself) is left to the caller: inside the inserting statement it would
   * not see the new row.
   */
  async insert(tx: Executor, c: Collection, data: RecordData, check?: RuleCheck, last = false): Promise<boolean | undefined> {
    verifySuperuser(c, data);
    const d = this.ctx.engine.dialect;
    const statements = writeStatements(c, d);
    const values: SqlValue[] = c.fields.map((f) => encodeValue(f, data[f.name], d));
    const errors: ErrorData = {};
    await checkAuthRefs(tx, d, this.ctx.registry, c, data, errors);
    if (d.insertChecked && c.type !== 'auth') return this.insertChecked(tx, c, values, data, errors, check, last);
    await this.checkRelations(tx, c, data, errors);
    if (c.type === 'auth' && (await this.idTakenByOtherAuth(tx, c, data.id))) {
      errors.id = fieldError('validation_invalid_auth_id', 'Invalid or duplicated auth record id.');
    }
    if (Object.keys(errors).length > 0) throw Errors.createFailed(errors);
    await this.uniqueChecked(c, () => tx.run(statements.insert, values));
    return undefined;
  }

  /**
   * The insert of {@link insert} as one statement that also counts the
   * relations and, given `check`, judges the rule on the new row. As the
   * transaction's `last` write (nothing follows that could undo it) on an
   * engine that can, the COMMIT goes with it, and the rule is judged by a
   * statement of its own sent behind the insert, which deletes the row again
   * unless the rule admits it: a refused create commits nothing.
   */
  private async insertChecked(
    tx: Executor,
    c: Collection,
    values: SqlValue[],
    data: RecordData,
    errors: ErrorData,
    check: RuleCheck | undefined,
    last: boolean,
  ): Promise<boolean | undefined> {
    const d = this.ctx.engine.dialect;
    if (!d.insertChecked) throw new Error('the dialect has no insertChecked');
    // the row's values are $1…$n; the relation ids and the rule's own parameters follow them
    const scope = this.ctx.access.scope(check?.info ? { ...check.info, body: check.body } : null);
    scope.params.values.push(...values);
    const relations = this.relationCounts(c, data, errors, undefined, (v) => scope.params.add(v));
    if (Object.keys(errors).length > 0) throw Errors.createFailed(errors);
    let rule: string | null = null;
    if (check) {
      try {
        rule = this.ctx.access.rule(scope, c, check.rule);
      } catch (err) {
        // a rule that does not compile denies; the caller's own check says so
        if (!(err instanceof FilterError)) throw err;
      }
    }
    const committing = last && tx.commitAhead !== undefined && (!check || rule !== null);
    // inside the inserting statement a rule that reads this collection's own table would not see the new row
    const inline = committing || scope.tables.has(c.id) ? null : rule;
    const sql = d.insertChecked(writeStatements(c, d).insertParts, relations.counts, relations.expected, RECORD_ALIAS, inline);
    const params = scope.params.values;
    const refusal = committing && rule !== null ? this.unlessAdmitted(c, rule) : null;
    const [rows, refused] = await this.uniqueChecked(c, () =>
      committing
        ? commitWith(tx, [() => tx.values(sql, params), () => (refusal ? tx.run(refusal, params) : Promise.resolve(0))] as const)
        : Promise.all([tx.values(sql, params), 0] as const),
    );
    const row = rows[0];
    relations.fields.forEach((field, i) => {
      if (Number(row?.[i] ?? 0) !== relations.expected[i]) errors[field] = missingRelations();
    });
    if (Object.keys(errors).length > 0) throw Errors.createFailed(errors);
    if (refusal) return refused === 0;
    return inline === null ? undefined : row?.[relations.fields.length] === true;
  }

  /**
   * A DELETE of the row just inserted unless `rule` admits it, judged on the
   * stored row as an update's rule is. Its id is among the row's parameters
   * ($1…$n in field order), which the statement shares with the insert.
   */
  private unlessAdmitted(c: Collection, rule: string): string {
    const d = this.ctx.engine.dialect;
    const id = d.ident('id');
    const at = d.param(c.fields.findIndex((f) => f.name === 'id') + 1);
    return `DELETE FROM ${d.ident(c.name)} WHERE ${id} = ${at} AND NOT EXISTS (SELECT 1 FROM ${d.ident(c.name)} ${RECORD_ALIAS} WHERE ${RECORD_ALIAS}.${id} = ${at} AND (${rule}))`;
  }

  /**
   * Writes an updated row after checking its changed relations and auth
   * references (a 400 naming them). Given `check` (an update rule for the
   * request), the statement itself checks the rule on the row as it was and
   * writes only when it admits it: false means the rule refused (nothing
   * written). `ruleAdmits` answers for a record whose input failed, which is
   * a 404 when the rule hides it, whatever is wrong with the input.
   */
  async update(
    tx: Executor,
    c: Collection,
    data: RecordData,
    before: RecordData,
    check: RuleCheck | undefined,
    ruleAdmits: (check: RuleCheck) => Promise<boolean>,
    last = false,
  ): Promise<boolean> {
    verifySuperuser(c, data);
    const errors: ErrorData = {};
    await this.checkRelations(tx, c, data, errors, before);
    await checkAuthRefs(tx, this.ctx.engine.dialect, this.ctx.registry, c, data, errors);
    if (Object.keys(errors).length > 0) {
      if (check && !(await ruleAdmits(check))) throw Errors.notFound();
      throw Errors.updateFailed(errors);
    }
    return this.uniqueChecked(c, () => this.updateRow(tx, c, data, check, last), Errors.updateFailed);
  }

  /** The UPDATE, guarded by the rule when given; as the transaction's `last` write, with its COMMIT where the engine can. */
  private async updateRow(tx: Executor, c: Collection, data: RecordData, check: RuleCheck | undefined, last: boolean): Promise<boolean> {
    const d = this.ctx.engine.dialect;
    const values: SqlValue[] = [];
    for (const f of c.fields) if (f.name !== 'id') values.push(encodeValue(f, data[f.name], d));
    values.push(data.id);
    const statement = this.guarded(c, writeStatements(c, d).update, values, check);
    if (!statement) return false;
    // a guarded UPDATE that the rule refuses writes nothing, so committing it is committing nothing
    const run = () => tx.run(statement.sql, statement.params);
    const changed = last ? (await commitWith(tx, [run] as const))[0] : await run();
    return !check || changed > 0;
  }

  /**
   * Sets `columns` of record `id` to their values in `data`, guarded by the
   * rule when given, and commits with it where the engine can: an update
   * that read nothing before (writes.ts). Answers the record as written, or
   * null when there is no such record or the rule refuses it (nothing is
   * written). A unique index violated is a 400 naming its fields.
   */
  async updateColumns(
    tx: Executor,
    c: Collection,
    id: string,
    data: RecordData,
    columns: readonly string[],
    check: RuleCheck | undefined,
  ): Promise<RecordData | null> {
    const d = this.ctx.engine.dialect;
    const byName = new Map(c.fields.map((f) => [f.name, f]));
    const values: SqlValue[] = [];
    const sets: string[] = [];
    for (const name of columns) {
      const field = byName.get(name);
      if (!field) continue;
      values.push(encodeValue(field, data[name], d));
      sets.push(`${d.ident(name)} = ${d.param(values.length)}`);
    }
    values.push(id);
    const update = `UPDATE ${d.ident(c.name)} SET ${sets.join(', ')} WHERE ${d.ident('id')} = ${d.param(values.length)}`;
    const statement = this.guarded(c, update, values, check);
    if (!statement) return null;
    const returning = `${statement.sql} RETURNING ${c.fields.map((f) => d.ident(f.name)).join(', ')}`;
    const [rows] = await this.uniqueChecked(
      c,
      () => commitWith(tx, [() => tx.values(returning, statement.params)] as const),
      Errors.updateFailed,
    );
    const row = rows[0];
    return row ? decodeValues(c, row, d) : null;
  }

  /**
   * `update` (whose last parameter is the record's id, `values` its
   * parameters) with the rule's check added to its WHERE: the subquery reads
   * the row as the statement found it, so the rule sees the stored record, as
   * a check before would. Null when the rule does not compile (it denies).
   */
  private guarded(
    c: Collection,
    update: string,
    values: SqlValue[],
    check: RuleCheck | undefined,
  ): { sql: string; params: SqlValue[] } | null {
    if (!check) return { sql: update, params: values };
    const d = this.ctx.engine.dialect;
    const scope = this.ctx.access.scope(check.info ? { ...check.info, body: check.body } : null);
    // the statement's own values are $1…$n; the rule's parameters follow them
    scope.params.values.push(...values);
    let condition: string;
    try {
      condition = this.ctx.access.rule(scope, c, check.rule);
    } catch (err) {
      if (err instanceof FilterError) return null;
      throw err;
    }
    const guard = `EXISTS (SELECT 1 FROM ${d.ident(c.name)} ${RECORD_ALIAS} WHERE ${RECORD_ALIAS}.${d.ident('id')} = ${d.param(values.length)} AND (${condition}))`;
    return { sql: `${update} AND ${guard}`, params: scope.params.values };
  }

  /**
   * The relation fields of `data` to check (ids changed from `before`), as
   * scalar subqueries counting the ids found, with the count each must
   * reach; `param` binds a value. A field whose target collection is gone
   * gets its error at once.
   */
  private relationCounts(
    c: Collection,
    data: RecordData,
    errors: ErrorData,
    before: RecordData | undefined,
    param: (value: SqlValue) => string,
  ): { fields: string[]; counts: string[]; expected: number[] } {
    const d = this.ctx.engine.dialect;
    const out = { fields: [] as string[], counts: [] as string[], expected: [] as number[] };
    for (const f of c.fields) {
      if (!isRelation(f) || errors[f.name]) continue;
      // a relation left as it was still holds: deleting its target cascades, unlinks or is refused
      if (before && JSON.stringify(before[f.name]) === JSON.stringify(data[f.name])) continue;
      const ids = [...new Set(Array.isArray(data[f.name]) ? (data[f.name] as string[]) : data[f.name] ? [data[f.name] as string] : [])];
      if (ids.length === 0) continue;
      const target = this.ctx.registry.find(f.collectionId);
      if (!target) {
        errors[f.name] = missingRelations();
        continue;
      }
      out.fields.push(f.name);
      out.counts.push(`(SELECT COUNT(*) FROM ${d.ident(target.name)} WHERE ${d.ident('id')} IN (${ids.map(param).join(', ')}))`);
      out.expected.push(ids.length);
    }
    return out;
  }

  /**
   * Checks every relation id exists; adds `validation_missing_rel_records`
   * errors. Every field is counted in one statement (a scalar subquery
   * each), so a record with several relations costs one round trip.
   */
  private async checkRelations(db: Executor, c: Collection, data: RecordData, errors: ErrorData, before?: RecordData): Promise<void> {
    const params: SqlValue[] = [];
    const relations = this.relationCounts(c, data, errors, before, (v) => this.ctx.engine.dialect.param(params.push(v)));
    if (relations.counts.length === 0) return;
    const [found] = await db.values(`SELECT ${relations.counts.join(', ')}`, params);
    relations.fields.forEach((field, i) => {
      if (Number(found?.[i] ?? 0) !== relations.expected[i]) errors[field] = missingRelations();
    });
  }

  /** Runs a write, answering a unique-constraint failure with the fields of the violated index (a create's 400 unless told). */
  private async uniqueChecked<T>(c: Collection, write: () => Promise<T>, failed = Errors.createFailed): Promise<T> {
    try {
      return await write();
    } catch (err) {
      const unique = this.uniqueErrors(c, err);
      if (unique) throw failed(unique);
      throw err;
    }
  }

  /** Maps a unique-constraint failure to the fields of the violated index. */
  private uniqueErrors(c: Collection, err: unknown): ErrorData | null {
    const d = this.ctx.engine.dialect;
    const violation = d.uniqueViolation(err);
    if (!violation) return null;
    // the database reports names as it keeps them (PostgreSQL shortens long ones)
    let columns = violation.columns?.map((stored) => c.fields.find((f) => d.storedName(f.name) === stored)?.name ?? stored);
    if (!columns && violation.index) {
      const idx = c.indexes.map((s) => parseIndex(s)).find((p) => typeof p !== 'string' && d.storedName(p.name) === violation.index);
      columns = idx && typeof idx !== 'string' ? idx.columns.map((x) => x.name) : [];
    }
    const errors: ErrorData = {};
    for (const col of columns ?? []) {
      errors[col] =
        col === 'id'
          ? fieldError('validation_pk_invalid', 'The record primary key is invalid or already exists.')
          : fieldError('validation_not_unique', 'Value must be unique.');
    }
    return errors;
  }

  /**
   * Whether another auth collection holds a record with this id. Rules such
   * as `id = @request.auth.id` compare ids only, so an auth id is kept unique
   * across auth collections (as PocketBase checks on save).
   */
  private async idTakenByOtherAuth(tx: Executor, c: Collection, id: string): Promise<boolean> {
    const d = this.ctx.engine.dialect;
    for (const other of this.ctx.registry.all()) {
      if (other.type !== 'auth' || other.id === c.id) continue;
      if (await tx.get(`SELECT 1 AS found FROM ${d.ident(other.name)} WHERE ${d.ident('id')} = $1`, [id])) return true;
    }
    return false;
  }
}
