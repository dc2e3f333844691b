import type { ColumnSpec, Dialect, Engine, Executor, Row } from '../../storage/engine.js';
import { deleteCollectionPasskeys } from '../auth/passkey-store.js';
import { type ErrorData, Errors, fieldError } from '../errors.js';
import { isFile, isPrimaryKey, kindOf } from '../fields/index.js';
import type { CollectionBuilder } from './build.js';
import { indexSpec, type ParsedIndex, parseIndex, renameIndexColumns } from './indexes.js';
import type { Collection, Field } from './model.js';
import type { CollectionRegistry } from './registry.js';
import { AUTH_REF_COLLECTIONS } from './system.js';
import { ViewQueryError } from './view-query.js';
import { createView, dropViews, inferViewFields, viewOrder } from './views.js';

/** The table that stores every collection's definition. */
export const COLLECTIONS_TABLE = '_collections';

/** Who is told, once a change has committed, of what it removed (the app deletes the files). */
export interface SchemaListeners {
  /** A collection's deletion has committed. */
  onDeleted: ((c: Collection) => void) | null;
  /** A change that removed file fields has committed: the files those fields held, per record. */
  onFilesDropped: ((collectionId: string, files: { recordId: string; names: string[] }[]) => void) | null;
}

/**
 * Applies checked collections to the database, inside a caller's
 * transaction: each collection's table and its row in `_collections`, the
 * data migrated from one shape to the next, and the database views dropped
 * and created again around every change. Nothing here validates input:
 * that is build.ts's.
 */
export class SchemaWriter {
  constructor(
    private readonly engine: Engine,
    private readonly registry: CollectionRegistry,
    private readonly builder: CollectionBuilder,
    private readonly listeners: SchemaListeners,
  ) {}

  /**
   * Runs a schema change in one transaction. Existing data that breaks a new
   * unique index is the caller's problem to fix: a 400, and nothing changed.
   */
  async applying(message: string, fn: (tx: Executor) => Promise<void>): Promise<void> {
    try {
      await this.engine.transaction(fn);
    } catch (err) {
      if (this.engine.dialect.uniqueViolation(err)) {
        throw Errors.validation(message, {
          indexes: fieldError('validation_index_failure', 'Existing records break a unique index; fix them or change the index.'),
        });
      }
      throw err;
    }
  }

  /** Inserts a built collection and creates its table, inside `tx`. Used by system migrations too. */
  async createIn(tx: Executor, c: Collection): Promise<void> {
    const d = this.engine.dialect;
    await this.insertRow(tx, c);
    await tx.run(d.createTable(c.name, c.fields.map(columnOf)));
    for (const sql of c.indexes) for (const stmt of createIndexSql(d, sql, c.name)) await tx.run(stmt);
  }

  /** The collection's row in `_collections`. */
  private async insertRow(tx: Executor, c: Collection): Promise<void> {
    const d = this.engine.dialect;
    await tx.run(`INSERT INTO ${COLLECTIONS_TABLE} (id, name, type, system, data, created, updated) VALUES ($1, $2, $3, $4, $5, $6, $7)`, [
      c.id,
      c.name,
      c.type,
      d.encode('bool', c.system),
      d.encode('json', c),
      c.created,
      c.updated,
    ]);
  }

  /** Writes a changed collection's row in `_collections`. */
  private async updateRow(tx: Executor, c: Collection): Promise<void> {
    await tx.run(`UPDATE ${COLLECTIONS_TABLE} SET name = $1, data = $2, updated = $3 WHERE id = $4`, [
      c.name,
      this.engine.dialect.encode('json', c),
      c.updated,
      c.id,
    ]);
  }

  /** Deletes a collection's row and table, inside `tx`; its files go once the change commits. */
  async deleteIn(tx: Executor, c: Collection): Promise<void> {
    await tx.run(`DELETE FROM ${COLLECTIONS_TABLE} WHERE id = $1`, [c.id]);
    if (c.type === 'view') return; // its view went before the change (withViews)
    // a search index's FTS5 tables are tables of their own on SQLite: they do not go with the table
    for (const sql of c.indexes) for (const stmt of dropSearchIndexSql(this.engine.dialect, sql, c.name)) await tx.run(stmt);
    await tx.run(this.engine.dialect.dropTable(c.name));
    if (c.type === 'auth') await this.deleteAuthRefs(tx, c);
    const deleted = this.listeners.onDeleted;
    if (deleted) tx.afterCommit(() => deleted(c));
  }

  /**
   * An auth collection's rows in the system collections that point at its
   * records (MFA sessions, OTPs, external auths, auth origins) go with it,
   * in the same transaction, as PocketBase deletes them; so do its passkeys.
   */
  private async deleteAuthRefs(tx: Executor, c: Collection): Promise<void> {
    const d = this.engine.dialect;
    for (const name of AUTH_REF_COLLECTIONS) {
      const refs = this.registry.find(name);
      if (refs?.system) await tx.run(`DELETE FROM ${d.ident(refs.name)} WHERE ${d.ident('collectionRef')} = $1`, [c.id]);
    }
    await deleteCollectionPasskeys(tx, c.id);
  }

  /** Before a file field's column goes: the files it holds are deleted once the change commits. */
  private async releaseFiles(tx: Executor, table: Collection, f: Field): Promise<void> {
    const dropped = this.listeners.onFilesDropped;
    if (!dropped) return;
    const d = this.engine.dialect;
    const rows = await tx.all<Row>(`SELECT ${d.ident('id')} AS id, ${d.ident(f.name)} AS v FROM ${d.ident(table.name)}`);
    const kind = kindOf(f).column(f);
    const files = rows
      .map((r) => {
        const v = d.decode(kind, r.v);
        return {
          recordId: String(r.id),
          names: (Array.isArray(v) ? v : [v]).filter((n): n is string => typeof n === 'string' && n !== ''),
        };
      })
      .filter((x) => x.names.length > 0);
    if (files.length > 0) tx.afterCommit(() => dropped(table.id, files));
  }

  /** Moves a table from `from` to `to`: renames, column changes and index changes, keeping data. */
  async migrateIn(tx: Executor, from: Collection, to: Collection): Promise<void> {
    const d = this.engine.dialect;
    const kept = await this.dropStaleIndexes(tx, from, to);
    if (from.name !== to.name) {
      // SQLite compares table names without case: a case-only rename goes through a temporary name
      if (from.name.toLowerCase() === to.name.toLowerCase()) {
        await tx.run(d.renameTable(from.name, `${to.name}__ms_renaming`));
        await tx.run(d.renameTable(`${to.name}__ms_renaming`, to.name));
      } else {
        await tx.run(d.renameTable(from.name, to.name));
      }
    }
    await this.migrateColumns(tx, from, to);
    for (const sql of to.indexes) {
      if (!kept.has(sql)) for (const stmt of createIndexSql(d, sql, to.name)) await tx.run(stmt);
    }
    await this.updateRow(tx, to);
  }

  /**
   * Drops the indexes of `from` that `to` no longer wants as they are (after
   * the renames) and returns those kept: any other goes first, since SQLite
   * cannot drop a column an index uses.
   */
  private async dropStaleIndexes(tx: Executor, from: Collection, to: Collection): Promise<Set<string>> {
    const wanted = new Set(to.indexes);
    const kept = new Set<string>();
    const d = this.engine.dialect;
    for (const sql of from.indexes) {
      const renamed = renameIndexColumns(sql, from, to);
      const search = (parseIndex(sql) as ParsedIndex).search === true;
      // a search index names its table and columns in its triggers and FTS5 tables (SQLite): renamed, it is made anew
      if (wanted.has(renamed) && (!search || (renamed === sql && from.name === to.name))) kept.add(renamed);
      else if (search) for (const stmt of dropSearchIndexSql(d, sql, from.name)) await tx.run(stmt);
      else await tx.run(d.dropIndex((parseIndex(sql) as ParsedIndex).name));
    }
    return kept;
  }

  /** The columns of the (renamed) table from `from`'s fields to `to`'s: dropped, renamed, added, converted. */
  private async migrateColumns(tx: Executor, from: Collection, to: Collection): Promise<void> {
    const d = this.engine.dialect;
    const renamed: { from: string; to: string; tmp: string }[] = [];
    for (const f of from.fields) {
      const g = to.fields.find((x) => x.id === f.id);
      if (!g) {
        if (isFile(f)) await this.releaseFiles(tx, to, f);
        await tx.run(d.dropColumn(to.name, f.name));
      } else if (g.name !== f.name) renamed.push({ from: f.name, to: g.name, tmp: `__ms_renaming_${renamed.length}` });
    }
    // through temporary names, so that fields can swap names
    for (const r of renamed) await tx.run(d.renameColumn(to.name, r.from, r.tmp));
    for (const r of renamed) await tx.run(d.renameColumn(to.name, r.tmp, r.to));
    for (const g of to.fields) {
      const f = from.fields.find((x) => x.id === g.id);
      if (!f) {
        await tx.run(d.addColumn(to.name, columnOf(g)));
      } else {
        const a = kindOf(f).column(f);
        const b = kindOf(g).column(g);
        if (a !== b && (b === 'array' || b === 'text')) for (const sql of d.convertColumn(to.name, g.name, b)) await tx.run(sql);
      }
    }
  }

  /**
   * A view's fields inferred from its query against the schema `after` a
   * change; the rules of a view being saved (`saving`) are checked on them.
   * A query that no longer works is the saved view's field error, or a 400
   * that names the view another change would break.
   */
  async inferView(db: Executor, message: string, v: Collection, after: readonly Collection[], saving: boolean) {
    const d = this.engine.dialect;
    const lookup = (table: string) => after.find((c) => d.storedName(c.name).toLowerCase() === table.toLowerCase());
    let inferred: Awaited<ReturnType<typeof inferViewFields>>;
    try {
      inferred = await inferViewFields(db, d, v.viewQuery ?? '', lookup, v.fields);
    } catch (err) {
      if (!(err instanceof ViewQueryError)) throw err;
      if (saving)
        throw Errors.validation(message, { viewQuery: fieldError('validation_invalid_view_query', `Invalid query - ${err.message}`) });
      const reason = err.message.replace(/\.$/, '');
      throw Errors.badRequest(`${message} The view collection "${v.name}" would no longer work (${reason}): change its query first.`);
    }
    if (saving) {
      const errors: ErrorData = {};
      this.builder.checkRules({ ...v, fields: inferred.fields }, [...after], errors);
      if (Object.keys(errors).length > 0) throw Errors.validation(message, errors);
    }
    return inferred;
  }

  /**
   * Runs a schema change (`change`) with the database's views around it:
   * each is dropped first (a view stands in the way of dropping, renaming or
   * converting what it reads), and once the change is made every view
   * collection of `after` is created again from its query, its fields
   * inferred anew and its row written where they changed (or it is one of
   * `saving`, the views this change saves). A view that no longer works
   * fails the whole change.
   */
  async withViews(
    tx: Executor,
    message: string,
    after: readonly Collection[],
    saving: readonly string[],
    change?: () => Promise<void>,
  ): Promise<void> {
    const d = this.engine.dialect;
    const before = this.registry.all().filter((c) => c.type === 'view');
    await dropViews(tx, d, before);
    if (change) await change();
    for (const v of viewOrder(after.filter((c) => c.type === 'view'))) {
      const isSaved = saving.includes(v.id);
      const inferred = await this.inferView(tx, message, v, after, isSaved);
      const next: Collection = { ...v, fields: inferred.fields };
      await createView(tx, d, next, inferred.columns);
      const old = before.find((c) => c.id === v.id);
      if (isSaved || !old || JSON.stringify(old.fields) !== JSON.stringify(next.fields)) {
        await tx.run(`DELETE FROM ${COLLECTIONS_TABLE} WHERE id = $1`, [next.id]);
        await this.insertRow(tx, next);
      }
    }
  }

  /** Drops the database views of every view collection, inside `tx` (before what they read is dropped). */
  async dropViewsIn(tx: Executor): Promise<void> {
    await dropViews(
      tx,
      this.engine.dialect,
      this.registry.all().filter((c) => c.type === 'view'),
    );
  }
}

/** The statements that create the index `sql` declares, on `table`. */
function createIndexSql(d: Dialect, sql: string, table: string): string[] {
  const spec = indexSpec(parseIndex(sql) as ParsedIndex, table);
  return spec.search ? d.createSearchIndex(spec) : [d.createIndex(spec)];
}

/** The statements that drop the index `sql` declares on `table`, if it is a search index (none otherwise). */
function dropSearchIndexSql(d: Dialect, sql: string, table: string): string[] {
  const p = parseIndex(sql);
  return typeof p !== 'string' && p.search ? d.dropSearchIndex(indexSpec(p, table)) : [];
}

/** The column that stores a field. */
function columnOf(f: Field): ColumnSpec {
  return isPrimaryKey(f) ? { name: f.name, kind: 'text', primaryKey: true } : { name: f.name, kind: kindOf(f).column(f) };
}
