import type { FullTextSql, FullTextSqlMatch, IndexedLikeSql, IndexSpec, SqlValue, TextIndexSql } from '../engine.js';

/**
 * SQLite's search indexes (`USING search`): two FTS5 tables over the
 * collection's table (external content: they hold only the index, and read
 * the text from the table), kept in step by triggers, so inside the very
 * transaction of every write. One has the trigram tokenizer and serves `~`
 * and `!~`; the other has words (unicode61) and serves `search()` with bm25.
 * Their names end in `$…`, a character no index name has, so that one
 * index's tables and FTS5's shadow tables (`<name>_data`, …) never meet
 * another's.
 */

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;
const text = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** Every table a search index makes starts with this (tables that listTables leaves out). */
export const SEARCH_TABLE_PREFIX = '_ms_fts_';

const trigramTable = (index: string) => `${SEARCH_TABLE_PREFIX}${index}$t`;
const wordsTable = (index: string) => `${SEARCH_TABLE_PREFIX}${index}$w`;
const trigger = (index: string, what: 'i' | 'd' | 'u') => `${SEARCH_TABLE_PREFIX}${index}$${what}`;

/** The statements that create an index's FTS5 tables and triggers, and fill the tables from the rows there. */
export function createSearchIndex(index: IndexSpec): string[] {
  const table = ident(index.table);
  const cols = index.columns.map((c) => ident(c.name));
  const list = cols.join(', ');
  const tables = [
    { name: ident(trigramTable(index.name)), tokenize: 'trigram' },
    { name: ident(wordsTable(index.name)), tokenize: 'unicode61 remove_diacritics 2' },
  ];
  const put = (row: 'new' | 'old', del: boolean) =>
    tables
      .map(
        (t) =>
          `INSERT INTO ${t.name}(${del ? `${t.name}, ` : ''}rowid, ${list}) VALUES (${del ? "'delete', " : ''}${row}.rowid, ${cols.map((c) => `${row}.${c}`).join(', ')});`,
      )
      .join(' ');
  const changed = cols.map((c) => `old.${c} IS NOT new.${c}`).join(' OR ');
  return [
    ...tables.map(
      (t) =>
        `CREATE VIRTUAL TABLE ${t.name} USING fts5(${list}, content=${text(index.table)}, content_rowid='rowid', tokenize=${text(t.tokenize)})`,
    ),
    `CREATE TRIGGER ${ident(trigger(index.name, 'i'))} AFTER INSERT ON ${table} BEGIN ${put('new', false)} END`,
    `CREATE TRIGGER ${ident(trigger(index.name, 'd'))} AFTER DELETE ON ${table} BEGIN ${put('old', true)} END`,
    `CREATE TRIGGER ${ident(trigger(index.name, 'u'))} AFTER UPDATE ON ${table} WHEN ${changed} BEGIN ${put('old', true)} ${put('new', false)} END`,
    // the rows already there: a search declared on existing data is built by the migration that declares it
    ...tables.map((t) => `INSERT INTO ${t.name}(${t.name}) VALUES ('rebuild')`),
  ];
}

/** The statements that drop an index's triggers and tables. */
export function dropSearchIndex(index: IndexSpec): string[] {
  return [
    ...(['i', 'd', 'u'] as const).map((w) => `DROP TRIGGER IF EXISTS ${ident(trigger(index.name, w))}`),
    `DROP TABLE IF EXISTS ${ident(trigramTable(index.name))}`,
    `DROP TABLE IF EXISTS ${ident(wordsTable(index.name))}`,
  ];
}

/** An FTS5 string: always quoted, so nothing in it is FTS5's syntax (`"`, `NEAR(`, `*`, `-`, `AND`). */
const ftsString = (s: string) => `"${s.replaceAll('"', '""')}"`;

/** The most runs of a pattern the trigram query asks for. */
const MAX_RUNS = 8;

/**
 * The FTS5 query (trigram phrases ANDed) whose matches include every text
 * that the LIKE `pattern` (escape `\`) matches, ignoring case as FTS5's
 * trigram tokenizer does (all of Unicode, a superset of LIKE's ASCII): each
 * run of at least 3 characters between wildcards must occur. Null when no
 * run is that long (the index cannot narrow anything), or when SQLite's LIKE
 * would read the pattern otherwise than as written: a NUL ends its text,
 * and a trailing escape matches nothing.
 */
export function trigramQuery(pattern: string): string | null {
  if (pattern.includes('\0')) return null;
  const runs: string[] = [];
  let run: string[] = [];
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === '\\') {
      const next = chars[++i];
      if (next === undefined) return null;
      run.push(next);
    } else if (c === '%' || c === '_') {
      runs.push(run.join(''));
      run = [];
    } else {
      run.push(c);
    }
  }
  runs.push(run.join(''));
  // the longest few narrow enough; each more is a level of FTS5's expression tree, which stops at 256
  const long = runs
    .filter((r) => [...r].length >= 3)
    .sort((a, b) => b.length - a.length)
    .slice(0, MAX_RUNS);
  return long.length === 0 ? null : long.map(ftsString).join(' AND ');
}

/**
 * What one candidate read from the table by rowid (and sorted) costs, in
 * entries of a B-tree index walked with the candidates as a test (measured:
 * some 1.5 µs against 50 ns; bench/like-walk.mjs).
 */
const CANDIDATE_COST = 30;

/**
 * LIKE over a column a search index holds: the trigram index gives the
 * rows that may match, LIKE itself decides, so the answers are LIKE's. The
 * negation is true where LIKE's is (a NULL column is neither).
 *
 * A page sorted by a B-tree index may walk it instead (`walk`): `+rowid`
 * keeps SQLite from reading the rows from the candidates, so it walks the
 * sort's index and tests each entry against them (a list SQLite builds
 * once, checked before the row is read), stopping at the page's end. With
 * C candidates of a table of N rows and a page ending at row `need`, the
 * walk reads some need·N/C entries where the candidates' plan reads and
 * sorts C rows: it is cheaper where C² > need·N / CANDIDATE_COST. The probe
 * counts the candidates up to that bound (N from the table's largest
 * rowid, which is at least the rows there), so it reads no more of the
 * index than it needs to say; given a kept total (the rows that meet the
 * whole condition, at most C), it weighs that instead and reads no
 * candidate: where the FTS5 query itself is dear (a phrase of common
 * trigrams, "apple and"), counting them would cost the page as much again.
 */
export function likeIndexed(
  left: string,
  pattern: string,
  negate: boolean,
  index: TextIndexSql,
  param: (value: SqlValue) => string,
): IndexedLikeSql | null {
  const q = trigramQuery(pattern);
  if (q === null) return null;
  const t = ident(trigramTable(index.index));
  const match = `${t} MATCH ${param(`{${ftsString(index.column)}} : (${q})`)}`;
  const candidates = `SELECT rowid FROM ${t} WHERE ${match}`;
  const p = param(pattern);
  if (negate) return { sql: `(${left} IS NOT NULL AND (${index.row} NOT IN (${candidates}) OR ${left} NOT LIKE ${p} ESCAPE '\\'))` };
  const term = `${index.row} IN (${candidates})`;
  const rows = `(SELECT coalesce(max(rowid), 0) FROM ${ident(index.table)})`;
  const probe = (need: string, total?: string) =>
    total !== undefined
      ? `SELECT 1 WHERE ${total} * ${total} * ${CANDIDATE_COST}.0 > (${need}) * ${rows}`
      : // the bound (at most 1e9, so that it stays an integer LIMIT whatever the page), then the candidates up to it
        `WITH __ms_walk(k) AS (SELECT CAST(min(sqrt((${need}) * ${rows} / ${CANDIDATE_COST}.0), 1e9) AS INTEGER) + 1) ` +
        `SELECT 1 FROM __ms_walk WHERE (SELECT count(*) FROM (SELECT 1 FROM ${t} WHERE ${match} LIMIT (SELECT k FROM __ms_walk))) >= k`;
  return { sql: `(${term} AND ${left} LIKE ${p} ESCAPE '\\')`, walk: { term, walkTerm: `+${term}`, probe } };
}

/** The words of a `search()` query as FTS5 phrases, ANDed; null when it has none. */
export function wordsQuery(query: string): string | null {
  const words = query.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w));
  return words.length === 0 ? null : words.map(ftsString).join(' AND ');
}

/** The alias of a page's ranked matches (see `ranked` below). */
const RANKED = '__ms_ranked';

/**
 * `search()`: rows whose indexed columns hold every word of `query`,
 * ranked by bm25 (negated, so larger is better). Both are subqueries
 * SQLite runs once per statement, not per row. `ranked`: the matches with
 * their rank, sorted best first by FTS5 alone (no row of the table read);
 * a page sorted by `-@rank` joins it first (CROSS JOIN keeps it the outer
 * loop), so SQLite reads the table's rows in rank order and stops at the
 * page's end: over 2,084 matches of 100k, 3.4 ms of CPU for the page
 * against 10 ms for the rank subquery per row and a sort of every match
 * (bm25 alone costs 2.2; measured under load).
 */
export function fullText(index: FullTextSql, query: string, param: (value: SqlValue) => string): FullTextSqlMatch {
  const q = wordsQuery(query);
  if (q === null) return { match: 'FALSE', rank: 'NULL' };
  const w = ident(wordsTable(index.index));
  const cols = index.columns.map((c) => ftsString(c.name)).join(' ');
  const bound = param(`{${cols}} : (${q})`);
  return {
    match: `${index.row} IN (SELECT rowid FROM ${w} WHERE ${w} MATCH ${bound})`,
    // a materialized CTE: SQLite would otherwise flatten it into a full-text query per row
    rank: `(WITH __ms_rank AS MATERIALIZED (SELECT rowid AS id, -bm25(${w}) AS r FROM ${w} WHERE ${w} MATCH ${bound}) SELECT r FROM __ms_rank WHERE id = ${index.row})`,
    ranked: {
      // LIMIT -1 keeps it a subquery of its own, whose order the outer ORDER BY can take as it is
      from: `(SELECT rowid AS id, -bm25(${w}) AS k FROM ${w} WHERE ${w} MATCH ${bound} ORDER BY k DESC, id DESC LIMIT -1) ${RANKED}`,
      on: `${index.row} = ${RANKED}.id`,
      row: `${RANKED}.id`,
      key: `${RANKED}.k`,
    },
  };
}
