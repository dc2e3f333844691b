import type { Dialect, Row, SqlValue } from '../../storage/engine.js';
import { kindOf } from '../collections/fields.js';
import type { Collection, Field } from '../collections/model.js';
import type { RecordData } from '../rules/request-info.js';

/** The alias of a collection's table in record queries. */
export const RECORD_ALIAS = '_r';

/** The select list of every field of a collection, from its table aliased `alias`. */
export function selectList(c: Collection, d: Dialect, alias = RECORD_ALIAS): string {
  return c.fields.map((f) => `${alias}.${d.ident(f.name)}`).join(', ');
}

/** A stored row as record data. */
export function decodeRow(c: Collection, row: Row, d: Dialect): RecordData {
  const out: Record<string, unknown> = {};
  for (const f of c.fields) out[f.name] = d.decode(kindOf(f).column(f), row[f.name]);
  return out as RecordData;
}

/** A field's value as it is bound. */
export function encodeValue(f: Field, value: unknown, d: Dialect): SqlValue {
  return d.encode(kindOf(f).column(f), value);
}
