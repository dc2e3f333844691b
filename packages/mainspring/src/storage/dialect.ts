/**
 * The SQL that differs between engines, and the shapes it is written from:
 * each engine folder implements {@link Dialect} in its `dialect.ts` (as it
 * implements `Engine` in its `engine.ts`), and SQL that differs between
 * engines lives there and nowhere else. The columns and indexes of a
 * collection table ({@link ColumnSpec}, {@link IndexSpec}) are what its DDL
 * is made from; the filter compiler's fragments ({@link StrftimeSql},
 * {@link TextIndexSql}, {@link FullTextSql}) mirror `query/`'s own types,
 * since `storage/` imports nothing of ours above it.
 */

import type { SqlValue } from './engine.js';

/** How a column stores a field's value; decides its SQL type and its encoding. */
export type ColumnKind =
  /** a string, '' when empty */
  | 'text'
  /** a finite number, 0 when empty */
  | 'number'
  /** true or false */
  | 'bool'
  /** an instant, '' when empty; `YYYY-MM-DD HH:MM:SS.sssZ` in the API */
  | 'date'
  /** any JSON value, or null */
  | 'json'
  /** a JSON array of strings (multi select, relation, file) */
  | 'array'
  /** a JSON object `{lon, lat}` of two finite numbers, `{lon: 0, lat: 0}` when empty (geoPoint) */
  | 'point';

/** One column of a collection table. */
export interface ColumnSpec {
  readonly name: string;
  readonly kind: ColumnKind;
  readonly primaryKey?: boolean;
}

/** An index on a collection table. Column names come from the schema registry. */
export interface IndexSpec {
  readonly name: string;
  readonly table: string;
  readonly unique: boolean;
  readonly columns: readonly { readonly name: string; readonly desc?: boolean; readonly nocase?: boolean }[];
  /** Skip rows where this column is '' (as PocketBase's unique email index does). */
  readonly whereNotEmpty?: string;
  /** A search index over text columns ({@link Dialect.createSearchIndex}), not a B-tree. */
  readonly search?: boolean;
}
/** Engine-specific SQL: placeholders, quoting, types, DDL and filter fragments. */
export interface Dialect {
  /** The engine's id, for logs and test names: code outside storage/ asks capabilities, never this. */
  readonly name: 'sqlite' | 'postgres';
  /** The engine's name as people write it ("SQLite", "PostgreSQL"), for messages. */
  readonly title: string;

  /**
   * The placeholder of the n-th (1-based) parameter. When the filter compiler
   * binds a value it passes the value and the type of what it is compared
   * with, so an engine that types parameters from context can cast it.
   */
  param(n: number, value?: SqlValue, hint?: FilterValueType): string;
  /** Bind filter booleans as parameters (see {@link param}) rather than TRUE/FALSE. */
  readonly bindBooleans?: boolean;
  /**
   * A page's total is cheaper as a column of the page's own statement (a
   * scalar subquery, run once) than as a statement beside it: where each
   * statement is a round trip to a server. Where statements cost no round
   * trip (SQLite), two are cheaper, and the count can be skipped when the
   * page comes back short.
   */
  readonly totalInPage?: boolean;
  /** Makes two filter operands of different types comparable; absent where the engine compares across types itself. */
  unify?(left: string, leftType: FilterValueType, right: string, rightType: FilterValueType): [string, string];
  /** A quoted identifier; `name` must come from the schema registry. */
  ident(name: string): string;
  /**
   * The name as the database keeps it, which {@link ident} quotes: the name
   * itself, except where the engine limits a name's length (PostgreSQL).
   * Names the database reports (a violated index's columns) are these;
   * table aliases built from names go through it too.
   */
  storedName(name: string): string;

  /**
   * `CREATE VIEW` over a checked query, its columns cast where `columns`
   * asks, so that each holds values of its kind as a table's column would.
   */
  createView(name: string, query: string, columns: readonly { readonly name: string; readonly cast: ColumnKind | null }[]): string;
  dropView(name: string): string;
  /** `CREATE TABLE` for a collection table. */
  createTable(table: string, columns: readonly ColumnSpec[]): string;
  addColumn(table: string, column: ColumnSpec): string;
  dropColumn(table: string, column: string): string;
  renameColumn(table: string, from: string, to: string): string;
  renameTable(from: string, to: string): string;
  dropTable(table: string): string;
  createIndex(index: IndexSpec): string;
  dropIndex(name: string): string;
  /**
   * The statements that create a search index (`index.search`) over text
   * columns and fill it from the rows already there: a trigram index that
   * {@link likeIndexed} (or the engine's own LIKE) uses, and a full-text
   * index for {@link SqlFlavor}'s `fullText`; kept in step with every
   * write, inside its transaction, by the engine itself.
   */
  createSearchIndex(index: IndexSpec): string[];
  /** The statements that drop what {@link createSearchIndex} made. */
  dropSearchIndex(index: IndexSpec): string[];
  /** Statements that convert a column between one value (`text`) and a JSON list (`array`). */
  convertColumn(table: string, column: string, to: 'text' | 'array'): string[];
  /** The SQL that lists every table (Mainspring's and collections') as rows `{ name }`. */
  listTables(): string;
  /** After rows were inserted with explicit `rowid`s: the statement that moves the next `rowid` past them, if the engine needs one. */
  syncRowid(table: string): { sql: string; params: SqlValue[] } | null;
  /** The SQL that lists a table's index names as rows `{ name }`. */
  listIndexes(table: string): { sql: string; params: SqlValue[] };

  /** A JS value of `kind` as it is bound. */
  encode(kind: ColumnKind, value: unknown): SqlValue;
  /** A stored value of `kind` as the API shows it. */
  decode(kind: ColumnKind, raw: unknown): unknown;

  /** A FROM item that yields each element of a JSON array as column `value` under `alias`. */
  jsonEach(arraySql: string, alias: string): string;
  /** A `[LEFT] JOIN` of {@link jsonEach} after other FROM items (lateral where the engine needs it). */
  joinJsonEach(arraySql: string, alias: string, left: boolean): string;
  /** True when the JSON array holds the text value. */
  jsonArrayContains(arraySql: string, valueSql: string): string;
  /** The length of a JSON array. */
  jsonArrayLength(arraySql: string): string;
  /** A value inside a JSON column, by a path of keys and indexes bound as parameters. */
  jsonExtract(jsonSql: string, path: readonly (string | number)[], param: (v: SqlValue) => string): string;
  /**
   * A FROM item over the items of the JSON value at `path` in a JSON column:
   * an array's elements, none for null or a missing key, else the value
   * itself (an object is one item). `value` is each item's SQL, as {@link jsonExtract}
   * gives a value.
   */
  jsonItems(
    jsonSql: string,
    path: readonly (string | number)[],
    alias: string,
    param: (v: SqlValue) => string,
  ): { sql: string; value: string };

  /** Case-insensitive `LIKE` with `\` as escape. */
  like(left: string, right: string, negate: boolean): string;
  /**
   * {@link like} with a bound pattern over a column a search index holds,
   * served by the index with the same answers; null when the index cannot
   * serve the pattern. Absent where the engine's LIKE uses the index itself.
   */
  likeIndexed?(
    left: string,
    pattern: string,
    negate: boolean,
    index: TextIndexSql,
    param: (value: SqlValue) => string,
  ): IndexedLikeSql | null;
  /**
   * Ranked full-text search over a search index's columns: `match` holds
   * for rows with every word of `query` (the user's text, quoted here so
   * none of it is the engine's query syntax); `rank` is larger for better
   * matches.
   */
  fullText(index: FullTextSql, query: string, param: (value: SqlValue) => string): FullTextSqlMatch;
  /** Null-safe (in)equality. */
  same(left: string, right: string, negate: boolean): string;
  isEmpty(sql: string, type: FilterValueType, negate: boolean): string;
  coalesceEmpty(sql: string, type: FilterValueType): string;
  asText(sql: string, type: FilterValueType): string;
  /**
   * PocketBase's `strftime()`: the time as text in the format, NULL when the
   * time is NULL. The filter compiler has checked every part (query/strftime.ts).
   */
  strftime(call: StrftimeSql, param: (value: SqlValue) => string): string;
  /** An ORDER BY term; NULL sorts as the smallest value (as SQLite sorts it). */
  orderBy(sql: string, desc: boolean): string;
  /** An expression for random order. */
  random(): string;
  /**
   * A condition that is always true but lets the engine stop a statement
   * that runs past its timeout; put it first in the WHERE of any query a
   * client's filter shapes. 'TRUE' where the server enforces a timeout itself.
   */
  deadline(): string;
  /** When a driver error is a unique-constraint violation: the columns, or the index, it names. */
  uniqueViolation(err: unknown): { columns?: string[]; index?: string } | null;
  /**
   * One statement that checks, inserts one row and checks again, in one
   * round trip: `counts` are scalar subqueries (relation ids found) that
   * must equal `expected` for the row to be inserted at all; the answer is
   * one row of those counts, then whether `condition` (when given) holds for
   * the inserted row, which it names `alias` (false when nothing was
   * inserted). The condition's subqueries see the tables as they were before
   * the insert. Absent where the engine cannot do this (SQLite, where a
   * statement costs no round trip anyway).
   */
  insertChecked?(
    insert: InsertParts,
    counts: readonly string[],
    expected: readonly number[],
    alias: string,
    condition: string | null,
  ): string;
}

/** An `INSERT` of one row in parts: the quoted table, the column list and the values (placeholders). */
export interface InsertParts {
  readonly table: string;
  readonly columns: string;
  readonly values: string;
}

/** A checked `strftime()` call, as the filter compiler hands it over. */
export interface StrftimeSql {
  /** The format as written. */
  readonly format: string;
  /** Its literal text and conversion letters, in order. */
  readonly parts: readonly ({ readonly text: string } | { readonly letter: string })[];
  /** A date column's SQL, a UTC date text to bind, the statement's time, or null (the result is NULL). */
  readonly time: { readonly sql: string } | { readonly date: string } | 'now' | null;
  /** Shifts (`text` as `+1.5 days`) and starts of a year, month or day, in order. */
  readonly modifiers: readonly (
    | { readonly kind: 'shift'; readonly amount: number; readonly unit: string; readonly text: string }
    | { readonly kind: 'start'; readonly unit: string; readonly text: string }
  )[];
}

/** A column a search index holds, where a filter reads it (mirrors `query/`'s `TextIndex`). */
export interface TextIndexSql {
  readonly index: string;
  /** The table, unquoted. */
  readonly table: string;
  readonly column: string;
  /** The row's rowid, as SQL. */
  readonly row: string;
}

/** An indexed `~`'s SQL (mirrors `query/`'s `IndexedLike`): the condition, and the page's walk where it may take one. */
export interface IndexedLikeSql {
  readonly sql: string;
  readonly walk?: {
    readonly term: string;
    readonly walkTerm: string;
    probe(need: string, total?: string): string;
  };
}

/** The columns of a search index `search()` reads (mirrors `query/`'s `FullTextIndex`). */
export interface FullTextSql {
  readonly index: string;
  readonly table: string;
  readonly columns: readonly { readonly sql: string; readonly name: string }[];
  readonly row: string;
}

/**
 * A `search()`'s SQL (the filter language's FullTextMatch): the condition,
 * the rank per row, and where the engine has one, its matches ranked apart
 * from the rows, for a page sorted best first to join.
 */
export interface FullTextSqlMatch {
  readonly match: string;
  readonly rank: string;
  readonly ranked?: { readonly from: string; readonly on: string; readonly row: string; readonly key: string };
}

/** The value type the filter compiler tracks (mirrors `query/`'s `ValueType`). */
export type FilterValueType = 'text' | 'number' | 'bool' | 'date' | 'json' | 'unknown';
