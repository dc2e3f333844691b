import type { ColumnKind, Dialect, Executor, Row, SqlValue } from '../../storage/engine.js';
import { kindOf } from '../collections/fields.js';
import type { Collection, Field } from '../collections/model.js';
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
}
const shapes = new WeakMap<Collection, ReadShape>();

function shapeOf(c: Collection): ReadShape {
  let shape = shapes.get(c);
  if (!shape) {
    shape = { kinds: c.fields.map((f) => kindOf(f).column(f)), names: c.fields.map((f) => f.name), selects: new Map() };
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

/** A stored row as record data. */
export function decodeRow(c: Collection, row: Row, d: Dialect): RecordData {
  const { kinds, names } = shapeOf(c);
  const out: Record<string, unknown> = {};
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    out[name] = d.decode(kinds[i] as ColumnKind, row[name]);
  }
  return out as RecordData;
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
  const rows = await db.values(sql, params);
  const out = new Array<RecordData>(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = decodeValues(c, rows[i] as unknown[], d);
  return out;
}

/** A field's value as it is bound. */
export function encodeValue(f: Field, value: unknown, d: Dialect): SqlValue {
  return d.encode(kindOf(f).column(f), value);
}
