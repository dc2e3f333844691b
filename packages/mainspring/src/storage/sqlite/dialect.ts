import type { ColumnKind, ColumnSpec, Dialect, FilterValueType, IndexSpec, SqlValue } from '../engine.js';
import { asPoint, decodeStored } from '../values.js';
import { createSearchIndex, dropSearchIndex, fullText, likeIndexed, SEARCH_TABLE_PREFIX } from './search.js';

const COLUMN_TYPES: Record<ColumnKind, string> = {
  text: "TEXT DEFAULT '' NOT NULL",
  number: 'NUMERIC DEFAULT 0 NOT NULL',
  bool: 'BOOLEAN DEFAULT FALSE NOT NULL',
  date: "TEXT DEFAULT '' NOT NULL",
  // TEXT, not JSON: a declared type of JSON gets NUMERIC affinity and would
  // turn the text "1.0" into the integer 1.
  json: 'TEXT DEFAULT NULL',
  point: `TEXT NOT NULL DEFAULT '{"lon":0,"lat":0}'`,
  array: "TEXT DEFAULT '[]' NOT NULL",
};

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;

const columnDDL = (c: ColumnSpec) =>
  c.primaryKey ? `${ident(c.name)} TEXT PRIMARY KEY NOT NULL` : `${ident(c.name)} ${COLUMN_TYPES[c.kind]}`;

/**
 * A JSON array's SQL, or NULL where it is not JSON. Stored arrays always
 * are, but SQLite's optimizer propagates constants: given `likes = '§'`
 * beside `json_array_length(likes)`, it may evaluate
 * `json_array_length('§')`, which fails the whole statement ("malformed
 * JSON"; found by the filter fuzz test). The JSON functions take NULL as no
 * array, and SQLite caches the parse, so the check costs little.
 */
function validJson(sql: string): string {
  return `CASE WHEN json_valid(${sql}) THEN ${sql} END`;
}

/** SQLite's SQL: TEXT dates, 0/1 booleans, JSON as text and `json_each`. */
export const sqliteDialect: Dialect = {
  name: 'sqlite',
  title: 'SQLite',
  param: (n) => `$${n}`,
  ident,
  storedName: (name) => name,

  createTable: (table, columns) => `CREATE TABLE ${ident(table)} (${columns.map(columnDDL).join(', ')})`,
  addColumn: (table, column) => `ALTER TABLE ${ident(table)} ADD COLUMN ${columnDDL(column)}`,
  dropColumn: (table, column) => `ALTER TABLE ${ident(table)} DROP COLUMN ${ident(column)}`,
  renameColumn: (table, from, to) => `ALTER TABLE ${ident(table)} RENAME COLUMN ${ident(from)} TO ${ident(to)}`,
  renameTable: (from, to) => `ALTER TABLE ${ident(from)} RENAME TO ${ident(to)}`,
  dropTable: (table) => `DROP TABLE IF EXISTS ${ident(table)}`,
  createView(name, query, columns) {
    // a value of unknown type is made JSON, as a json column holds it (JSON text of a list or an
    // object, as json_group_array() gives, is kept as it is)
    const cast = (c: { name: string; cast: ColumnKind | null }) => {
      const col = `_ms_q.${ident(c.name)}`;
      if (c.cast === 'json')
        return `CASE WHEN json_valid(${col}) AND json_type(${col}) IN ('array', 'object') THEN ${col} ELSE json_quote(${col}) END`;
      if (c.cast === 'text' || c.cast === 'date') return `CAST(${col} AS TEXT)`;
      return col;
    };
    const list = columns.map((c) => `${cast(c)} AS ${ident(c.name)}`).join(', ');
    return `CREATE VIEW ${ident(name)} AS SELECT ${list} FROM (${query}) AS _ms_q`;
  },
  dropView: (name) => `DROP VIEW IF EXISTS ${ident(name)}`,
  createIndex: (index: IndexSpec) => {
    const cols = index.columns.map((c) => `${ident(c.name)}${c.nocase ? ' COLLATE NOCASE' : ''}${c.desc ? ' DESC' : ''}`).join(', ');
    const where = index.whereNotEmpty ? ` WHERE ${ident(index.whereNotEmpty)} != ''` : '';
    return `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX ${ident(index.name)} ON ${ident(index.table)} (${cols})${where}`;
  },
  dropIndex: (name) => `DROP INDEX IF EXISTS ${ident(name)}`,
  createSearchIndex,
  dropSearchIndex,
  convertColumn: (table, column, to) => {
    const c = ident(column);
    return to === 'array'
      ? [
          `UPDATE ${ident(table)} SET ${c} = CASE WHEN ${c} IS NULL OR ${c} = '' THEN '[]' WHEN json_valid(${c}) AND json_type(${c}) = 'array' THEN ${c} ELSE json_array(${c}) END`,
        ]
      : [
          `UPDATE ${ident(table)} SET ${c} = CASE WHEN json_valid(${c}) AND json_type(${c}) = 'array' THEN COALESCE(json_extract(${c}, '$[#-1]'), '') ELSE COALESCE(${c}, '') END`,
        ];
  },
  // a search index's FTS5 tables are an index's, rebuilt where the collection is made, never data to copy
  listTables: () =>
    `SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, 7) <> 'sqlite_' AND substr(name, 1, ${SEARCH_TABLE_PREFIX.length}) <> '${SEARCH_TABLE_PREFIX}' ORDER BY name`,
  // rowid is SQLite's own: the next one is always past the largest
  syncRowid: () => null,
  listIndexes: (table) => ({
    sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL",
    params: [table],
  }),

  encode(kind, value): SqlValue {
    switch (kind) {
      case 'text':
      case 'date':
        return value == null ? '' : String(value);
      case 'number':
        return typeof value === 'number' && Number.isFinite(value) ? value : 0;
      case 'bool':
        return value ? 1 : 0;
      case 'json':
        return value === undefined || value === null ? null : JSON.stringify(value);
      case 'array':
        return JSON.stringify(Array.isArray(value) ? value : []);
      case 'point':
        return JSON.stringify(asPoint(value));
    }
  },
  decode: (kind, raw) => decodeStored(kind, raw, (v) => v === 1 || v === true || v === '1'),

  jsonEach: (arraySql, alias) => `json_each(${validJson(arraySql)}) ${alias}`,
  joinJsonEach: (arraySql, alias, left) => `${left ? 'LEFT JOIN' : 'JOIN'} json_each(${validJson(arraySql)}) ${alias}`,
  jsonArrayContains: (arraySql, valueSql) => `EXISTS (SELECT 1 FROM json_each(${validJson(arraySql)}) WHERE value = ${valueSql})`,
  jsonArrayLength: (arraySql) => `json_array_length(${validJson(arraySql)})`,
  jsonExtract(jsonSql, path, param) {
    let p = '$';
    for (const key of path) p += typeof key === 'number' ? `[${key}]` : `.${key}`;
    return `json_extract(${jsonSql}, ${param(p)})`;
  },

  jsonItems(jsonSql, path, alias, param) {
    let p = '$';
    for (const key of path) p += typeof key === 'number' ? `[${key}]` : `.${key}`;
    const at = param(p);
    // an array is walked, null or a missing key has no items, anything else is the one element of an array
    // (an object as JSON, not as text)
    const list = `CASE COALESCE(json_type(${jsonSql}, ${at}), 'null') WHEN 'array' THEN json_extract(${jsonSql}, ${at}) WHEN 'null' THEN '[]' WHEN 'object' THEN json_array(json(json_extract(${jsonSql}, ${at}))) ELSE json_array(json_extract(${jsonSql}, ${at})) END`;
    return { sql: `json_each(CASE WHEN json_valid(${jsonSql}) THEN ${list} END) ${alias}`, value: `${alias}.value` };
  },

  like: (left, right, negate) => `${left} ${negate ? 'NOT LIKE' : 'LIKE'} ${right} ESCAPE '\\'`,
  likeIndexed,
  fullText,
  same: (left, right, negate) => `${left} ${negate ? 'IS NOT' : 'IS'} ${right}`,
  isEmpty: (sql, _type: FilterValueType, negate) =>
    negate ? `(${sql} IS NOT '' AND ${sql} IS NOT NULL)` : `(${sql} = '' OR ${sql} IS NULL)`,
  coalesceEmpty: (sql) => `COALESCE(${sql}, '')`,
  asText: (sql) => sql,
  // SQLite's own strftime, which PocketBase's is
  strftime(call, param) {
    if (call.time === null) return 'NULL';
    const time = call.time === 'now' ? "'now'" : 'sql' in call.time ? call.time.sql : param(call.time.date);
    return `strftime(${[param(call.format), time, ...call.modifiers.map((m) => param(m.text))].join(', ')})`;
  },
  orderBy: (sql, desc) => `${sql} ${desc ? 'DESC' : 'ASC'}`,
  random: () => 'RANDOM()',
  // a function the engine registers on each connection (see engine.ts)
  deadline: () => 'ms_deadline()',
  uniqueViolation: (err) => {
    const e = err as { code?: unknown; message?: unknown } | null;
    if (!e || (e.code !== 'SQLITE_CONSTRAINT_UNIQUE' && e.code !== 'SQLITE_CONSTRAINT_PRIMARYKEY')) return null;
    // "UNIQUE constraint failed: posts.email, posts.title"
    const list = String(e.message ?? '').split(':')[1] ?? '';
    return {
      columns: list
        .split(',')
        .map((s) => s.trim().split('.').pop() ?? '')
        .filter(Boolean),
    };
  },
};
