import type { ColumnKind, Dialect, Executor, InsertParts, SqlValue } from '../../storage/engine.js';
import type { Collection, Field } from '../collections/model.js';
import { kindOf } from '../fields/index.js';
import type { RecordData } from '../rules/request-info.js';

/** The alias of a collection's table in record queries. */
export const RECORD_ALIAS = '_r';

/**
 * What record reads need of a collection, worked out once per collection
 * object (a schema change replaces the objects, so this is never stale):
 * each field's column kind, and the select list under {@link RECORD_ALIAS}.
 */
interface ReadShape {
  kinds: ColumnKind[];
  names: string[];
  selects: Map<Dialect, string>;
  writes: Map<Dialect, WriteStatements>;
}

/** A collection's row writes, by dialect: the same text for every record, so built once. */
export interface WriteStatements {
  /** `INSERT` of every field, `$1…$n` in field order. */
  insert: string;
  /** The same insert in parts, for statements that compose it. */
  insertParts: InsertParts;
  /** `UPDATE` of every field but `id`, `$1…$(n-1)` in field order, then the id as `$n`. */
  update: string;
}
const shapes = new WeakMap<Collection, ReadShape>();

function shapeOf(c: Collection): ReadShape {
  let shape = shapes.get(c);
  if (!shape) {
    shape = { kinds: c.fields.map((f) => kindOf(f).column(f)), names: c.fields.map((f) => f.name), selects: new Map(), writes: new Map() };
    shapes.set(c, shape);
  }
  return shape;
}

/** The select list of every field of a collection, from its table aliased `alias`. */
export function selectList(c: Collection, d: Dialect, alias = RECORD_ALIAS): string {
  if (alias !== RECORD_ALIAS) return c.fields.map((f) => `${alias}.${d.ident(f.name)}`).join(', ');
  const shape = shapeOf(c);
  let list = shape.selects.get(d);
  if (list === undefined) {
    list = c.fields.map((f) => `${alias}.${d.ident(f.name)}`).join(', ');
    shape.selects.set(d, list);
  }
  return list;
}

/** The statements that write a record of `c` (see {@link WriteStatements}). */
export function writeStatements(c: Collection, d: Dialect): WriteStatements {
  const shape = shapeOf(c);
  let statements = shape.writes.get(d);
  if (statements === undefined) {
    const table = d.ident(c.name);
    const cols = c.fields.map((f) => d.ident(f.name)).join(', ');
    const values = c.fields.map((_, i) => d.param(i + 1)).join(', ');
    const sets = c.fields
      .filter((f) => f.name !== 'id')
      .map((f, i) => `${d.ident(f.name)} = ${d.param(i + 1)}`)
      .join(', ');
    statements = {
      insert: `INSERT INTO ${table} (${cols}) VALUES (${values})`,
      insertParts: { table, columns: cols, values },
      update: `UPDATE ${table} SET ${sets} WHERE ${d.ident('id')} = ${d.param(c.fields.length)}`,
    };
    shape.writes.set(d, statements);
  }
  return statements;
}

/** A row's values, in {@link selectList} order, as record data. */
export function decodeValues(c: Collection, values: readonly unknown[], d: Dialect): RecordData {
  const { kinds, names } = shapeOf(c);
  const out: Record<string, unknown> = {};
  for (let i = 0; i < names.length; i++) out[names[i] as string] = d.decode(kinds[i] as ColumnKind, values[i]);
  return out as RecordData;
}

/** The records a statement selecting {@link selectList} of `c` returns, read as arrays (cheaper than row objects). */
export async function readRecords(
  db: Executor,
  c: Collection,
  d: Dialect,
  sql: string,
  params?: readonly SqlValue[],
): Promise<RecordData[]> {
  return decodeRecords(c, await db.values(sql, params), d);
}

/** Rows selecting {@link selectList} of `c`, as arrays, as records. */
export function decodeRecords(c: Collection, rows: readonly unknown[][], d: Dialect): RecordData[] {
  const out = new Array<RecordData>(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = decodeValues(c, rows[i] as unknown[], d);
  return out;
}

/** A field's value as it is bound. */
export function encodeValue(f: Field, value: unknown, d: Dialect): SqlValue {
  return d.encode(kindOf(f).column(f), value);
}
