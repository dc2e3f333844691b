import type { SqlParams } from '../../query/index.js';
import type { Engine, ReadStatement } from '../../storage/engine.js';
import { Errors } from '../errors.js';

/**
 * Paged lists, PocketBase's `tools/search.Provider`: a page of any source,
 * filtered, sorted, with its total, in PocketBase's shape. Records, the
 * request log and collections list through it; each says what its rows are
 * and what names mean in its filters (its own resolver), the provider does
 * the paging and the counting, in one read (Engine.read: one snapshot,
 * away from the event loop unless the source is `light`). Aggregates and
 * search plug in here as sources or as conditions.
 */

/** What a list request asks of paging (the query string, as strings). */
export interface PageQuery {
  page?: string;
  perPage?: string;
  skipTotal?: string;
}

/** A source's paging limits. */
export interface PageLimits {
  defaultPerPage: number;
  maxPerPage: number;
}

/** One list's statement, compiled by its owner. */
export interface PageSource {
  /** The FROM item: a table with its alias. */
  readonly from: string;
  /** The select list of a page's rows. */
  readonly select: string;
  /** Conditions, ANDed; their values are in {@link params}. */
  readonly where: readonly string[];
  /** ORDER BY terms, a tiebreak last (so pages do not overlap). */
  readonly order: readonly string[];
  readonly params: SqlParams;
  /** Read where reads are cheapest (see Engine.read's `light`): the statements walk at most one index. */
  readonly light: boolean;
  /** What the time of a light read is remembered under (Engine.read's `lightKey`). */
  readonly lightKey?: string;
  /** Lead the WHERE with the engine's deadline: conditions whose work may grow faster than the table. */
  readonly guarded: boolean;
  /** Rows as arrays in select-list order (cheaper to read), else as objects. */
  readonly arrays: boolean;
}

/** A page, PocketBase's list shape; `totalItems` and `totalPages` are -1 with `skipTotal`. */
export interface Page<T> {
  page: number;
  perPage: number;
  totalItems: number;
  totalPages: number;
  items: T[];
}

/**
 * A paging number, PocketBase's way: a whole number (else 400); zero or
 * negative means the default.
 */
export function pagingParam(raw: string | undefined, name: string, def: number): number {
  if (raw === undefined || raw === '') return def;
  if (!/^-?\d{1,19}$/.test(raw)) throw Errors.invalidQuery(name, 'must be a whole number');
  const n = Number(raw);
  return n <= 0 ? def : n;
}

/** `skipTotal`: a boolean flag; anything else is a 400. */
export function skipTotalParam(raw: string | undefined): boolean {
  if (raw === undefined || raw === '' || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw Errors.invalidQuery('skipTotal', 'must be true or false');
}

/** The page `q` asks for, as numbers; throws the 400 of a bad one. */
export function pageOf(q: PageQuery, limits: PageLimits): { page: number; perPage: number; skipTotal: boolean } {
  return {
    page: pagingParam(q.page, 'page', 1),
    perPage: Math.min(pagingParam(q.perPage, 'perPage', limits.defaultPerPage), limits.maxPerPage),
    skipTotal: skipTotalParam(q.skipTotal),
  };
}

/** Reads one page of `source` and, unless `skipTotal`, the count of every row it admits, on one snapshot. */
export async function readPage(engine: Engine, source: PageSource, q: PageQuery, limits: PageLimits): Promise<Page<unknown>> {
  const { page, perPage, skipTotal } = pageOf(q, limits);
  const d = engine.dialect;
  const conditions = source.guarded ? [d.deadline(), ...source.where.map((w) => `(${w})`)] : source.where.map((w) => `(${w})`);
  const whereSql = conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '';
  const params = source.params.values;
  const countParams = [...params];
  const limit = source.params.add(perPage);
  // a page past any possible row is simply empty
  const offset = source.params.add(Math.min((page - 1) * perPage, Number.MAX_SAFE_INTEGER));
  const statements: ReadStatement[] = [
    {
      sql: `SELECT ${source.select} FROM ${source.from}${whereSql} ORDER BY ${source.order.join(', ')} LIMIT ${limit} OFFSET ${offset}`,
      params: source.params.values,
      arrays: source.arrays,
    },
  ];
  if (!skipTotal) statements.push({ sql: `SELECT COUNT(*) AS n FROM ${source.from}${whereSql}`, params: countParams });
  const [rows = [], counted] = await engine.read(statements, { light: source.light, lightKey: source.lightKey });
  if (!counted) return { page, perPage, totalItems: -1, totalPages: -1, items: rows };
  const totalItems = Number((counted[0] as { n?: number | string } | undefined)?.n ?? 0);
  return { page, perPage, totalItems, totalPages: Math.ceil(totalItems / perPage), items: rows };
}
