import type { SqlParams } from '../../query/index.js';
import type { Dialect, Engine, ReadStatement } from '../../storage/engine.js';
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
  /** The page's FROM, where it joins more than the count needs (a search's ranked matches); else {@link from}. */
  readonly pageFrom?: string;
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
  /**
   * Where the page may walk its sort's index instead of reading the rows a
   * search index finds (query/'s `LikeWalk`): the page's conditions written
   * so, and the probe that chooses per page (one row: walk), given the SQL
   * of the page's end and of the total where one is kept. The count keeps
   * {@link where}: it reads every row anyway, and the candidates find them.
   */
  readonly walk?: { readonly where: readonly string[]; probe(need: string, total?: string): string };
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

/** Exact counts a read kept, per engine, under the engine's read version (see {@link readPage}). */
const COUNTS = new WeakMap<Engine, Map<string, { version: string; total: number }>>();
/** Counts kept per engine, the least recently used dropped first. */
export const COUNT_CACHE_SIZE = 1000;
/** A count statement longer than this (with its parameters) is not kept: its key would cost more than it saves. */
const COUNT_KEY_MAX = 4096;

function countCache(engine: Engine): Map<string, { version: string; total: number }> {
  let cache = COUNTS.get(engine);
  if (!cache) {
    cache = new Map();
    COUNTS.set(engine, cache);
  }
  return cache;
}

/**
 * Reads one page of `source` and, unless `skipTotal`, the count of every row it admits, in one read.
 *
 * The total costs as little as it can: none when the page came back short (then it is the offset plus
 * the rows; a page past the end at an offset is counted, as PocketBase counts it), a column of the
 * page's statement where statements are round trips (`dialect.totalInPage`), and a count kept from an
 * earlier read where the engine can tell that nothing was committed since (`Engine.readVersion`: the
 * same token before and after the read that counted, and the same again now). The total is then exact
 * at one moment during the request, as two statements on a pool always were.
 *
 * A source that may walk its sort's index (`walk`) leads the read with its probe, which chooses the page's
 * plan in the read itself (in the reader process, in the page's snapshot, no round trip more).
 */
export async function readPage(engine: Engine, source: PageSource, q: PageQuery, limits: PageLimits): Promise<Page<unknown>> {
  const { page, perPage, skipTotal } = pageOf(q, limits);
  const d = engine.dialect;
  const whereSql = whereOf(d, source, source.where);
  const countParams = [...source.params.values];
  const limit = source.params.add(perPage);
  // a page past any possible row is simply empty
  const skipped = Math.min((page - 1) * perPage, Number.MAX_SAFE_INTEGER);
  const offset = source.params.add(skipped);
  const tailOf = (where: string) =>
    ` FROM ${source.pageFrom ?? source.from}${where} ORDER BY ${source.order.join(', ')} LIMIT ${limit} OFFSET ${offset}`;
  const tail = tailOf(whereSql);
  const pageStatement: ReadStatement = { sql: `SELECT ${source.select}${tail}`, params: source.params.values, arrays: source.arrays };
  const walked = source.walk && `SELECT ${source.select}${tailOf(whereOf(d, source, source.walk.where))}`;
  const pagesOf = (kept?: number) => pageStatements(source, pageStatement, walked, `${limit} + ${offset}`, kept);
  const ran = walked ? [1, 2] : [0];
  const rowsOf = (answers: unknown[][]) => ran.flatMap((i) => answers[i] ?? []);
  const options = { light: source.light, lightKey: source.lightKey };
  const done = (items: unknown[], totalItems: number): Page<unknown> =>
    totalItems < 0
      ? { page, perPage, totalItems: -1, totalPages: -1, items }
      : { page, perPage, totalItems, totalPages: Math.ceil(totalItems / perPage), items };
  if (skipTotal) return done(rowsOf(await engine.read(pagesOf(), options)), -1);

  const count: ReadStatement = { sql: `SELECT COUNT(*) AS n FROM ${source.from}${whereSql}`, params: countParams };
  const version = engine.readVersion?.();
  const key = version === undefined ? undefined : `${count.sql}\0${JSON.stringify(countParams)}`;
  const cache = key !== undefined && key.length <= COUNT_KEY_MAX ? countCache(engine) : undefined;
  const kept = cache?.get(key as string);
  if (kept !== undefined && kept.version === version) {
    // most recently used last
    cache?.delete(key as string);
    cache?.set(key as string, kept);
    return done(rowsOf(await engine.read(pagesOf(kept.total), options)), kept.total);
  }

  let rows: unknown[];
  let total: number;
  let counted = false;
  if (d.totalInPage && source.arrays) {
    // one statement: the count a scalar subquery the engine runs once, its value the last column of each row
    const [withTotal = []] = await engine.read(
      [{ ...pageStatement, sql: `SELECT ${source.select}, (${count.sql}) AS ms_total${tail}` }],
      options,
    );
    rows = withTotal.map((r) => (r as unknown[]).slice(0, -1));
    const first = withTotal[0] as unknown[] | undefined;
    if (first !== undefined) {
      total = Number(first[first.length - 1]);
      counted = true;
    } else if (skipped === 0) total = 0;
    else {
      // past the end: PocketBase still tells the total
      total = countOf((await engine.read([count], options))[0]);
      counted = true;
    }
  } else {
    // the count only when the page is full, or empty at an offset (past the end)
    const when = { statement: ran, rowCounts: skipped > 0 ? [perPage, 0] : [perPage] };
    const pages = pagesOf();
    const answers = await engine.read([...pages, { ...count, when }], options);
    const countRows = answers[pages.length] ?? [];
    rows = rowsOf(answers);
    counted = countRows.length > 0;
    total = counted ? countOf(countRows) : skipped + rows.length;
  }
  // kept only if nothing was committed while it was read
  if (cache && counted && engine.readVersion?.() === version) {
    if (cache.size >= COUNT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
    cache.set(key as string, { version: version as string, total });
  }
  return done(rows, total);
}

/** The WHERE of `source`'s statements over `where` (its conditions, or its walk's), led by the deadline where it is guarded. */
function whereOf(d: Dialect, source: PageSource, where: readonly string[]): string {
  const conditions = source.guarded ? [d.deadline(), ...where.map((w) => `(${w})`)] : where.map((w) => `(${w})`);
  return conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '';
}

/**
 * The statements of a page: `page` alone; or where the source may walk its sort's index, its probe and the
 * page written either way (`walked`: the walk's SQL), of which the probe's answer runs one. The probe counts
 * the candidates, or weighs the total where one is `kept`; `need` is the SQL of the page's end.
 */
function pageStatements(source: PageSource, page: ReadStatement, walked: string | undefined, need: string, kept?: number): ReadStatement[] {
  if (!source.walk || walked === undefined) return [page];
  const total = kept === undefined ? undefined : source.params.add(kept);
  return [
    { sql: source.walk.probe(need, total), params: source.params.values },
    { ...page, sql: walked, when: { statement: 0, rowCounts: [1] } },
    { ...page, when: { statement: 0, rowCounts: [0] } },
  ];
}

/** The number a `SELECT COUNT(*) AS n` answered (PostgreSQL's bigint comes as text). */
function countOf(rows: unknown[] | undefined): number {
  return Number((rows?.[0] as { n?: number | string } | undefined)?.n ?? 0);
}
