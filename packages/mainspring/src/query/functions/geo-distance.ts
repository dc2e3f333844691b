import type { Operand } from '../ast.js';
import type { Resolved } from '../compile.js';
import { FilterError } from '../errors.js';
import type { FilterFunctionContext } from './index.js';

/**
 * PocketBase's `geoDistance(lonA, latA, lonB, latB)`: the great-circle
 * distance in kilometres (spherical law of cosines, Earth's radius 6371
 * km), NULL when a coordinate is. Each argument is a number, a number
 * field, a geoPoint's `lon`/`lat`, or a request value (a number, or text
 * that reads as one; anything else is NULL). The cosine is held to [-1, 1]:
 * rounding can push it past 1 for two equal points, where acos fails on
 * PostgreSQL.
 */
export function geoDistance(args: readonly Operand[], ctx: FilterFunctionContext): Resolved {
  if (args.length !== 4) throw new FilterError(`geoDistance takes 4 arguments (lonA, latA, lonB, latB), not ${args.length}`);
  const [lonA, latA, lonB, latB] = args.map((arg, i) => coordinate(arg, `geoDistance's argument ${i + 1}`, ctx)) as [
    string,
    string,
    string,
    string,
  ];
  const rad = (x: string) => `radians(${x})`;
  const cosine = `(cos(${rad(latA)}) * cos(${rad(latB)}) * cos(${rad(lonB)} - ${rad(lonA)}) + sin(${rad(latA)}) * sin(${rad(latB)}))`;
  const held = `CASE WHEN ${cosine} > 1 THEN 1 WHEN ${cosine} < -1 THEN -1 ELSE ${cosine} END`;
  return { kind: 'sql', sql: `(6371 * acos(${held}))`, type: 'number', nullFallback: 'disabled' };
}

/** One coordinate argument as SQL: a bound number, NULL, or a number-valued column. */
function coordinate(arg: Operand, which: string, ctx: FilterFunctionContext): string {
  if (arg.kind !== 'ident' && arg.kind !== 'number') throw new FilterError(`${which} must be a field or a number`);
  const r = ctx.resolve(arg);
  if (r.kind === 'value') {
    const n = typeof r.value === 'number' ? r.value : typeof r.value === 'string' && r.value.trim() !== '' ? Number(r.value) : Number.NaN;
    return Number.isFinite(n) ? ctx.params.add(n, 'number') : 'NULL';
  }
  if (r.multi) throw new FilterError(`${which} has many values per record; geoDistance takes one`);
  if (r.type === 'number') return r.sql;
  if (r.type === 'json') return ctx.flavor.unify ? ctx.flavor.unify(r.sql, 'json', '0', 'number')[0] : r.sql;
  throw new FilterError(`${which} must be a number field, a geoPoint's lon or lat, or a number`);
}
