import {
  type ColumnKind,
  type Dialect,
  type Executor,
  type QueryColumn,
  QueryRejectedError,
  StatementTimeoutError,
} from '../../storage/engine.js';
import type { ErrorData } from '../errors.js';
import { isFile, kindOf } from '../fields/index.js';
import { buildField, defaultFieldId, idField } from './fields.js';
import type { Collection, Field } from './model.js';
import { readViewQuery, typeOfExpression, ViewQueryError } from './view-query.js';

/**
 * View collections (PocketBase's `type: "view"`): records that are the rows
 * of a SELECT, stored as a database view named after the collection. Their
 * fields are inferred from the query each time it is saved, and again after
 * any schema change, since a change to a collection the query reads changes
 * the view.
 */

/** A view's columns as `createView` takes them. */
type ViewColumns = { name: string; cast: ColumnKind | null }[];

/** Finds the collection stored as a table (the database's name for it). */
export type TableLookup = (table: string) => Collection | undefined;

/** The id field every view has: the query's `id` column, of any length, made by the query. */
function viewIdField(): Field {
  return { ...idField(), min: 0, max: 0, autogeneratePattern: '' } as Field;
}

/** A field of `type` named `name`, with every option at its default. */
function plainField(name: string, type: Field['type'], options: Record<string, unknown> = {}): Field {
  const errors: ErrorData = {};
  const field = buildField({ name, type, ...options }, errors);
  const problem = Object.values(errors)[0];
  if (!field || problem) throw new ViewQueryError(`The column "${name}" cannot be a field: ${problem?.message ?? 'invalid name'}`);
  return field;
}

/** A column of a view's query with where its values come from: a collection's field, or an expression. */
interface SourcedColumn {
  readonly column: QueryColumn;
  readonly source: Collection | undefined;
  readonly sourceField: Field | undefined;
  /** The column's expression as written, when the written columns line up with the engine's. */
  readonly expression: string | undefined;
}

/**
 * The columns of a view query, each with the collection field it reads
 * unchanged, if any: the engine's own tracing (through subqueries, and on
 * SQLite through views to the tables they read), except that a plain
 * column of another view collection, as written, is that view's field.
 */
async function viewColumns(db: Executor, d: Dialect, query: string, lookup: TableLookup): Promise<SourcedColumn[]> {
  const read = readViewQuery(query);
  let described: QueryColumn[];
  try {
    described = await db.describe(read.query);
  } catch (err) {
    if (err instanceof QueryRejectedError) throw new ViewQueryError(`The database refused the query: ${err.message}`);
    if (err instanceof StatementTimeoutError) throw new ViewQueryError('The query took longer than the statement timeout to check.');
    throw err;
  }
  // the columns as written line up with the engine's unless an expression hid one (they are counted alike)
  const written = read.columns.length === described.length ? read.columns : null;
  return described.map((column, i) => {
    const ref = written?.[i]?.ref;
    const refView = ref ? lookup(ref.table) : undefined;
    const origin = refView?.type === 'view' && ref ? ref : column.origin;
    const source = origin ? lookup(origin.table) : undefined;
    const sourceField = source?.fields.find((f) => origin && d.storedName(f.name).toLowerCase() === origin.column.toLowerCase());
    return { column, source, sourceField, expression: written?.[i]?.expression };
  });
}

/**
 * The collection and file field a view's file field reads, following views
 * of views (up to 5 deep, as PocketBase): where its files are stored.
 */
export async function viewFileSource(
  db: Executor,
  d: Dialect,
  view: Collection,
  fieldName: string,
  lookup: TableLookup,
): Promise<{ collection: Collection; field: Field } | null> {
  let current = view;
  let name = fieldName;
  for (let depth = 0; depth < 5; depth++) {
    const found = (await viewColumns(db, d, current.viewQuery ?? '', lookup)).find((c) => c.column.name === name);
    if (!found?.source || !isFile(found.sourceField)) return null;
    if (found.source.type !== 'view') return { collection: found.source, field: found.sourceField };
    current = found.source;
    name = found.sourceField.name;
  }
  return null;
}

/**
 * The fields a view's query gives, and how its columns are cast (see
 * `Dialect.createView`): a column read unchanged from a collection's field
 * is that field under the column's name (hidden where the field is, and an
 * auth collection's `email` always hidden: a person's choice not to show
 * their address holds in views too); one read from a collection's `id` is a
 * relation to that collection; any other has the type the engine tells
 * (PostgreSQL), or its expression's form does (`count(…)`, `sum(…)`,
 * `CAST(… AS …)`), else it is a json field holding the value. Fields keep
 * the ids they had in `current` when their name and type stay.
 */
export async function inferViewFields(
  db: Executor,
  d: Dialect,
  query: string,
  lookup: TableLookup,
  current: readonly Field[],
): Promise<{ fields: Field[]; columns: ViewColumns }> {
  const described = await viewColumns(db, d, query, lookup);
  const names = new Set<string>();
  for (const { column } of described) {
    const lower = column.name.toLowerCase();
    if (names.has(lower)) throw new ViewQueryError(`Two columns are named "${column.name}": give each column its own name with AS.`);
    names.add(lower);
  }
  if (!names.has('id')) {
    throw new ViewQueryError('The query must have an "id" column (for rows without one, `(ROW_NUMBER() OVER ()) AS id`).');
  }
  const fields: Field[] = [];
  const columns: ViewColumns = [];
  for (const { column: col, source, sourceField, expression } of described) {
    let field: Field;
    let cast: ColumnKind | null = null;
    // every name is checked as a field's, whatever the field becomes
    plainField(col.name, 'json');
    if (col.name.toLowerCase() === 'id') {
      if (col.name !== 'id') throw new ViewQueryError(`Name the id column "id", not "${col.name}".`);
      field = viewIdField();
      // ids are text, as every record's are (a number from ROW_NUMBER() becomes its digits)
      cast = sourceField && kindOf(sourceField).column(sourceField) === 'text' ? null : 'text';
    } else if (source && sourceField?.name === 'id') {
      field = plainField(col.name, 'relation', { collectionId: source.id, maxSelect: 1 });
    } else if (source && sourceField) {
      const { id: _, name: __, ...options } = structuredClone(sourceField);
      field = { id: '', name: col.name, ...options, system: false } as Field;
      if (source.type === 'auth' && sourceField.name === 'email') field.hidden = true;
      if ('primaryKey' in field) field.primaryKey = false;
    } else {
      const told = col.type ?? null;
      const guessed = told === null && expression ? typeOfExpression(expression) : null;
      const type = told ?? guessed?.type ?? 'json';
      field = plainField(col.name, type, guessed?.onlyInt ? { onlyInt: true } : {});
      cast = kindOf(field).column(field);
    }
    const kept = current.find((f) => f.name === field.name && f.type === field.type);
    field.id = kept?.id ?? (field.name === 'id' ? field.id : defaultFieldId(field.type, field.name));
    fields.push(field);
    columns.push({ name: col.name, cast });
  }
  return { fields, columns };
}

/**
 * Views in an order that creates each after the views its query reads (by
 * the words of its query); a cycle, which the database would refuse, keeps
 * the given order.
 */
export function viewOrder(views: readonly Collection[]): Collection[] {
  const words = new Map(views.map((v) => [v.id, new Set((v.viewQuery ?? '').toLowerCase().match(/[a-z_][a-z0-9_]*/g) ?? [])]));
  const left = [...views];
  const out: Collection[] = [];
  while (left.length > 0) {
    const ready = left.find((v) => !left.some((o) => o !== v && words.get(v.id)?.has(o.name.toLowerCase())));
    const next = ready ?? (left[0] as Collection);
    out.push(next);
    left.splice(left.indexOf(next), 1);
  }
  return out;
}

/** Drops the views of `views`, those that read others first. */
export async function dropViews(tx: Executor, d: Dialect, views: readonly Collection[]): Promise<void> {
  for (const v of viewOrder(views).reverse()) await tx.run(d.dropView(v.name));
}

/** Creates the database view of a view collection whose fields were inferred as `columns` tell. */
export async function createView(tx: Executor, d: Dialect, view: Collection, columns: ViewColumns): Promise<void> {
  await tx.run(d.createView(view.name, readViewQuery(view.viewQuery ?? '').query, columns));
}
