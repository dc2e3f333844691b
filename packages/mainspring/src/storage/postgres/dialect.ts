import { createHash } from 'node:crypto';
import type { ColumnKind, ColumnSpec, Dialect, FilterValueType, IndexSpec, InsertParts, SqlValue, StrftimeSql } from '../engine.js';
import { asPoint, decodeStored } from '../values.js';
import { createSearchIndex, dropSearchIndex, fullText } from './search.js';

/**
 * PostgreSQL's SQL. Text columns use the "C" collation, so text sorts and
 * compares byte by byte as it does on SQLite; numbers are DOUBLE PRECISION
 * (what a JS number is); dates are TIMESTAMPTZ with '' stored as NULL; JSON
 * is JSONB. Every table gets a `rowid` identity column, the insertion order
 * that SQLite gives for free.
 */

const COLUMN_TYPES: Record<ColumnKind, string> = {
  text: `TEXT COLLATE "C" NOT NULL DEFAULT ''`,
  number: 'DOUBLE PRECISION NOT NULL DEFAULT 0',
  bool: 'BOOLEAN NOT NULL DEFAULT FALSE',
  date: 'TIMESTAMPTZ NULL',
  json: 'JSONB NULL',
  array: `JSONB NOT NULL DEFAULT '[]'`,
  point: `JSONB NOT NULL DEFAULT '{"lon":0,"lat":0}'`,
};

/** PostgreSQL keeps at most this many bytes of a name (NAMEDATALEN - 1) and silently drops the rest. */
export const MAX_NAME_BYTES = 63;

/** The longest start of `name` that fits in `bytes` bytes of UTF-8, cut between characters, as PostgreSQL cuts a name. */
export function clipBytes(name: string, bytes: number): string {
  let head = '';
  let size = 0;
  for (const ch of name) {
    size += Buffer.byteLength(ch);
    if (size > bytes) break;
    head += ch;
  }
  return head;
}
const longNames = new Map<string, string>();

/**
 * A name as PostgreSQL keeps it. Collection, field and index names may be
 * up to 100 characters (as on SQLite); cut at 63 bytes, two long names that
 * begin alike would be one column or table. A longer name is kept as its
 * first 54 bytes, `_` and 8 hex digits of its SHA-256, the same every time.
 */
export function storedName(name: string): string {
  // a UTF-16 unit takes at most 3 bytes in UTF-8
  if (name.length <= MAX_NAME_BYTES / 3 || Buffer.byteLength(name) <= MAX_NAME_BYTES) return name;
  let stored = longNames.get(name);
  if (stored === undefined) {
    stored = `${clipBytes(name, 54)}_${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
    if (longNames.size >= 10_000) longNames.clear();
    longNames.set(name, stored);
  }
  return stored;
}

const ident = (name: string) => `"${storedName(name).replaceAll('"', '""')}"`;

const columnDDL = (c: ColumnSpec) =>
  c.primaryKey ? `${ident(c.name)} TEXT COLLATE "C" PRIMARY KEY NOT NULL` : `${ident(c.name)} ${COLUMN_TYPES[c.kind]}`;

/** The units a strftime modifier names, as date_trunc spells them (and only these). */
const UNITS: Record<string, string> = { year: 'year', month: 'month', day: 'day' };

/** One strftime conversion of timestamptz `t` (`u`: the same in UTC, without zone), as SQLite writes it. */
function strftimeLetter(letter: string, t: string, u: string): string {
  const pattern: Record<string, string> = {
    Y: 'YYYY',
    m: 'MM',
    d: 'DD',
    H: 'HH24',
    M: 'MI',
    S: 'SS',
    f: 'SS.MS',
    j: 'DDD',
    F: 'YYYY-MM-DD',
    T: 'HH24:MI:SS',
    R: 'HH24:MI',
  };
  const p = pattern[letter];
  if (p !== undefined) return `to_char(${u}, '${p}')`;
  switch (letter) {
    case 'w':
      return `extract(dow from ${u})::int::text`;
    case 'u':
      return `extract(isodow from ${u})::int::text`;
    case 's':
      return `floor(extract(epoch from ${t}))::bigint::text`;
    case 'W':
      // weeks start on Monday; the days before the year's first Monday are week 00
      return `lpad(((extract(doy from ${u})::int + 6 - (extract(dow from ${u})::int + 6) % 7) / 7)::text, 2, '0')`;
    default:
      throw new Error(`strftime letter ${letter} was not checked`);
  }
}

/** The SQL type a filter value type compares as. */
const SQL_TYPE: Record<FilterValueType, string> = {
  text: 'text',
  number: 'float8',
  bool: 'boolean',
  date: 'timestamptz',
  json: 'jsonb',
  unknown: 'text',
};

/** PocketBase's date text of a TIMESTAMPTZ expression (the session runs in UTC). */
const dateText = (sql: string) => `to_char((${sql}) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS"Z"')`;

/** A value of `type` that is always NULL but still names parameter `n` (PostgreSQL must see every parameter). */
const nullOf = (n: number, type: FilterValueType) => `(NULLIF($${n}::text, $${n}::text))::${SQL_TYPE[type]}`;

const NUMBER_TEXT = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d{1,3})?\s*$/;
/** True when PostgreSQL's float8 input accepts the text and gives the number JS would. */
function isNumberText(s: string): boolean {
  if (!NUMBER_TEXT.test(s)) return false;
  const n = Number(s);
  // PostgreSQL refuses what overflows or underflows double precision
  return Number.isFinite(n) && (n !== 0 || !/[1-9]/.test(s.split(/[eE]/)[0] as string));
}

const DATE_TEXT = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
/** True when the text is a date PostgreSQL's timestamptz input accepts (checked here, so a bad one never fails a query). */
export function isDateText(s: string): boolean {
  const m = DATE_TEXT.exec(s.trim());
  if (!m) return false;
  const [, y, mo, d, h = '0', mi = '0', sec = '0'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  if (day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return false;
  return Number(h) <= 23 && Number(mi) <= 59 && Number(sec) <= 59;
}

/** Formats PostgreSQL's timestamptz text (in UTC) PocketBase's way: `YYYY-MM-DD HH:MM:SS.sssZ`. */
export function formatTimestamp(raw: string): string {
  const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:[+-]00(?::?00)?)?$/.exec(raw);
  if (m) return `${m[1]}-${m[2]}-${m[3]} ${m[4]}:${m[5]}:${m[6]}.${(m[7] ?? '').padEnd(3, '0').slice(0, 3)}Z`;
  // another offset or an era: let JS read it
  const d = new Date(raw.replace(' ', 'T'));
  return Number.isNaN(d.getTime()) ? raw : d.toISOString().replace('T', ' ');
}

/**
 * PostgreSQL types a parameter from its context and refuses to compare
 * across types, so the filter compiler's values get an explicit type: the
 * type of what they are compared with when that is known. A value that has
 * no meaning in that type (the text "abc" against a date) becomes a typed
 * NULL, which matches nothing, instead of failing the query.
 */
function typedParam(n: number, value: SqlValue | undefined, hint: FilterValueType | undefined): string {
  const p = `$${n}`;
  if (value === undefined || value === null) return p;
  // against JSON a value keeps its own type; unify() picks the JSON values of that type
  const own: 'number' | 'bool' | 'text' = typeof value === 'number' ? 'number' : typeof value === 'boolean' ? 'bool' : 'text';
  const want: Exclude<FilterValueType, 'json'> = hint === undefined || hint === 'json' ? own : hint;
  if (typeof value === 'string') {
    switch (want) {
      case 'text':
      case 'unknown':
        return `${p}::text`;
      case 'number':
        return isNumberText(value) ? `${p}::float8` : nullOf(n, 'number');
      case 'bool':
        return isNumberText(value) ? `(${p}::float8 <> 0)` : nullOf(n, 'bool');
      case 'date':
        return isDateText(value) ? `${p}::timestamptz` : nullOf(n, 'date');
    }
  }
  if (typeof value === 'number') {
    // an integer without a hint is a count (LIMIT, OFFSET): bigint
    const num = hint === undefined && Number.isSafeInteger(value) ? `${p}::int8` : `${p}::float8`;
    switch (want) {
      case 'text':
      case 'unknown':
        return `${p}::float8::text`;
      case 'number':
        return num;
      case 'bool':
        return `(${p}::float8 <> 0)`;
      case 'date':
        return nullOf(n, 'date');
    }
  }
  switch (want) {
    case 'text':
    case 'unknown':
      return `(CASE WHEN ${p}::boolean THEN '1' ELSE '0' END)`;
    case 'number':
      return `${p}::boolean::int::float8`;
    case 'bool':
      return `${p}::boolean`;
    case 'date':
      return nullOf(n, 'date');
  }
}

function asText(sql: string, type: FilterValueType): string {
  switch (type) {
    case 'text':
      return sql;
    case 'date':
      return `COALESCE(${dateText(sql)}, '')`;
    case 'json':
      // a JSON string is its text, as SQLite's json_extract gives it; a list of
      // strings is written as JSON.stringify writes it (as SQLite stores it)
      return `(CASE jsonb_typeof(${sql}) WHEN 'string' THEN (${sql}) #>> '{}' WHEN 'array' THEN replace((${sql})::text, '", "', '","') ELSE (${sql})::text END)`;
    case 'bool':
      // SQLite's booleans are 1 and 0
      return `(CASE WHEN ${sql} THEN '1' WHEN NOT ${sql} THEN '0' END)`;
    default:
      return `(${sql})::text`;
  }
}

/**
 * A JSON value as `type`, NULL when it holds another JSON type: as in
 * SQLite, where json_extract gives SQL values, the number 1 is not the text "1"
 * and text never orders against numbers.
 */
function fromJsonb(sql: string, type: FilterValueType): string {
  switch (type) {
    case 'number':
      return `(CASE WHEN jsonb_typeof(${sql}) = 'number' THEN (${sql})::float8 END)`;
    case 'bool':
      return `(CASE WHEN jsonb_typeof(${sql}) = 'boolean' THEN (${sql})::boolean END)`;
    default:
      return `(CASE WHEN jsonb_typeof(${sql}) = 'string' THEN (${sql}) #>> '{}' END)`;
  }
}

/**
 * JSON text for a JSONB column. JSONB refuses the escapes `\u0000` and lone
 * surrogates: a NUL goes in as the character itself (which the engine
 * escapes, as in any string, and gives back as `\u0000`), a lone surrogate
 * as U+FFFD (what any UTF-8 store makes of it).
 */
function jsonText(value: unknown): string {
  const text = JSON.stringify(value);
  if (!text.includes('\\u')) return text;
  return text.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1\0').replace(/(?<!\\)((?:\\\\)*)\\ud[89a-f][0-9a-f]{2}/gi, '$1\\ufffd');
}

/** PostgreSQL's SQL. A class, so the engine-neutral interface may grow without this file. */
class PostgresDialect implements Dialect {
  readonly name = 'postgres' as const;
  readonly title = 'PostgreSQL';
  readonly bindBooleans = true;
  readonly totalInPage = true;

  param(n: number, value?: SqlValue, hint?: FilterValueType): string {
    return typedParam(n, value, hint);
  }
  ident(name: string): string {
    return ident(name);
  }
  storedName(name: string): string {
    return storedName(name);
  }

  createTable(table: string, columns: readonly ColumnSpec[]): string {
    return `CREATE TABLE ${ident(table)} (${columns.map(columnDDL).join(', ')}, "rowid" BIGINT GENERATED BY DEFAULT AS IDENTITY)`;
  }
  addColumn(table: string, column: ColumnSpec): string {
    return `ALTER TABLE ${ident(table)} ADD COLUMN ${columnDDL(column)}`;
  }
  dropColumn(table: string, column: string): string {
    return `ALTER TABLE ${ident(table)} DROP COLUMN ${ident(column)}`;
  }
  renameColumn(table: string, from: string, to: string): string {
    return `ALTER TABLE ${ident(table)} RENAME COLUMN ${ident(from)} TO ${ident(to)}`;
  }
  renameTable(from: string, to: string): string {
    return `ALTER TABLE ${ident(from)} RENAME TO ${ident(to)}`;
  }
  createView(name: string, query: string, columns: readonly { readonly name: string; readonly cast: ColumnKind | null }[]): string {
    const casts: Partial<Record<ColumnKind, (col: string) => string>> = {
      text: (col) => `(${col})::text`,
      number: (col) => `(${col})::float8`,
      bool: (col) => `(${col})::boolean`,
      date: (col) => `(${col})::timestamptz`,
      json: (col) => `to_jsonb(${col})`,
    };
    const list = columns
      .map((c) => {
        const col = `_ms_q.${ident(c.name)}`;
        const cast = c.cast ? casts[c.cast] : undefined;
        return `${cast ? cast(col) : col} AS ${ident(c.name)}`;
      })
      .join(', ');
    return `CREATE VIEW ${ident(name)} AS SELECT ${list} FROM (${query}) AS _ms_q`;
  }
  dropView(name: string): string {
    return `DROP VIEW IF EXISTS ${ident(name)}`;
  }
  dropTable(table: string): string {
    return `DROP TABLE IF EXISTS ${ident(table)}`;
  }
  createIndex(index: IndexSpec): string {
    // NULLS FIRST going up, as orderBy() sorts, so the index serves those sorts in both directions
    const cols = index.columns
      .map((c) => `${c.nocase ? `lower(${ident(c.name)})` : ident(c.name)}${c.desc ? ' DESC NULLS LAST' : ' NULLS FIRST'}`)
      .join(', ');
    const where = index.whereNotEmpty ? ` WHERE ${ident(index.whereNotEmpty)} <> ''` : '';
    return `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX ${ident(index.name)} ON ${ident(index.table)} (${cols})${where}`;
  }
  dropIndex(name: string): string {
    return `DROP INDEX IF EXISTS ${ident(name)}`;
  }
  // search indexes: search.ts
  readonly createSearchIndex = createSearchIndex;
  readonly dropSearchIndex = dropSearchIndex;
  readonly fullText = fullText;
  convertColumn(table: string, column: string, to: 'text' | 'array'): string[] {
    const t = ident(table);
    const c = ident(column);
    return to === 'array'
      ? [
          `ALTER TABLE ${t} ALTER COLUMN ${c} DROP DEFAULT`,
          `ALTER TABLE ${t} ALTER COLUMN ${c} TYPE JSONB USING (CASE WHEN ${c} IS NULL OR ${c} = '' THEN '[]'::jsonb ELSE jsonb_build_array(${c}) END)`,
          `ALTER TABLE ${t} ALTER COLUMN ${c} SET DEFAULT '[]'`,
        ]
      : [
          `ALTER TABLE ${t} ALTER COLUMN ${c} DROP DEFAULT`,
          `ALTER TABLE ${t} ALTER COLUMN ${c} TYPE TEXT COLLATE "C" USING (CASE WHEN jsonb_typeof(${c}) = 'array' THEN COALESCE(${c} ->> -1, '') ELSE COALESCE(${c} #>> '{}', '') END)`,
          `ALTER TABLE ${t} ALTER COLUMN ${c} SET DEFAULT ''`,
        ];
  }
  listTables(): string {
    return 'SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename';
  }
  syncRowid(table: string): { sql: string; params: SqlValue[] } {
    return {
      sql: `SELECT setval(pg_get_serial_sequence($1, 'rowid'), COALESCE((SELECT MAX("rowid") FROM ${ident(table)}), 0) + 1, false)`,
      params: [ident(table)],
    };
  }
  listIndexes(table: string): { sql: string; params: SqlValue[] } {
    return {
      sql: `SELECT i.indexname AS name FROM pg_indexes i WHERE i.schemaname = current_schema() AND i.tablename = $1 AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conname = i.indexname)`,
      params: [storedName(table)],
    };
  }

  encode(kind: ColumnKind, value: unknown): SqlValue {
    switch (kind) {
      case 'text':
        return value == null ? '' : String(value);
      case 'date':
        return value == null || value === '' ? null : String(value);
      case 'number':
        return typeof value === 'number' && Number.isFinite(value) ? value : 0;
      case 'bool':
        return value === true || value === 1;
      case 'json':
        return value === undefined || value === null ? null : jsonText(value);
      case 'array':
        return jsonText(Array.isArray(value) ? value : []);
      case 'point':
        return jsonText(asPoint(value));
    }
  }
  decode(kind: ColumnKind, raw: unknown): unknown {
    return decodeStored(kind, raw, (v) => v === true || v === 1 || v === 't');
  }

  jsonEach(arraySql: string, alias: string): string {
    return `jsonb_array_elements_text((${arraySql})::jsonb) AS ${alias}(value)`;
  }
  joinJsonEach(arraySql: string, alias: string, left: boolean): string {
    return `${left ? 'LEFT JOIN' : 'JOIN'} LATERAL ${this.jsonEach(arraySql, alias)} ON TRUE`;
  }
  jsonArrayContains(arraySql: string, valueSql: string): string {
    return `((${arraySql})::jsonb @> jsonb_build_array((${valueSql})::text))`;
  }
  jsonArrayLength(arraySql: string): string {
    return `jsonb_array_length((${arraySql})::jsonb)`;
  }
  jsonExtract(jsonSql: string, path: readonly (string | number)[], param: (v: SqlValue) => string): string {
    // a JSON null is SQL NULL, as SQLite's json_extract gives it
    // jsonb_extract_path takes at least one key: the whole value is the column itself
    if (path.length === 0) return `NULLIF(${jsonSql}, 'null'::jsonb)`;
    const keys = path.map((k) => param(String(k))).join(', ');
    return `NULLIF(jsonb_extract_path(${jsonSql}, ${keys}), 'null'::jsonb)`;
  }

  jsonItems(
    jsonSql: string,
    path: readonly (string | number)[],
    alias: string,
    param: (v: SqlValue) => string,
  ): { sql: string; value: string } {
    const v = path.length === 0 ? jsonSql : `jsonb_extract_path(${jsonSql}, ${path.map((k) => param(String(k))).join(', ')})`;
    // an array is walked, null or a missing key has no items, anything else is the one element of an array
    const list = `(CASE COALESCE(jsonb_typeof(${v}), 'null') WHEN 'array' THEN ${v} WHEN 'null' THEN '[]'::jsonb ELSE jsonb_build_array(${v}) END)`;
    return { sql: `jsonb_array_elements(${list}) AS ${alias}(value)`, value: `NULLIF(${alias}.value, 'null'::jsonb)` };
  }

  like(left: string, right: string, negate: boolean): string {
    return `${left} ${negate ? 'NOT ILIKE' : 'ILIKE'} ${right} ESCAPE '\\'`;
  }
  same(left: string, right: string, negate: boolean): string {
    return `${left} ${negate ? 'IS DISTINCT FROM' : 'IS NOT DISTINCT FROM'} ${right}`;
  }
  isEmpty(sql: string, type: FilterValueType, negate: boolean): string {
    if (type === 'text' || type === 'unknown') {
      const t = asText(sql, type);
      return negate ? `(${t} <> '' AND ${t} IS NOT NULL)` : `(${t} = '' OR ${t} IS NULL)`;
    }
    // a number, a boolean, a date ('' is NULL) or a JSON value is empty only when NULL
    return negate ? `(${sql} IS NOT NULL)` : `(${sql} IS NULL)`;
  }
  coalesceEmpty(sql: string, type: FilterValueType): string {
    return `COALESCE(${asText(sql, type)}, '')`;
  }
  asText(sql: string, type: FilterValueType): string {
    return asText(sql, type);
  }
  /**
   * SQLite's strftime text from `to_char` and `extract`, in UTC. Literal
   * text is bound; the letters, units and `to_char` patterns are ours.
   * `+N months` clamps to the month's last day where SQLite rolls over
   * (Jan 31 + 1 month: Feb 29 here, Mar 2 there).
   */
  strftime(call: StrftimeSql, param: (value: SqlValue) => string): string {
    if (call.time === null) return 'NULL::text';
    let t = call.time === 'now' ? 'now()' : 'sql' in call.time ? call.time.sql : `(${param(call.time.date)})::timestamptz`;
    for (const m of call.modifiers) {
      t = m.kind === 'start' ? `date_trunc('${UNITS[m.unit]}', ${t}, 'UTC')` : `(${t} + (${param(m.text)})::interval)`;
    }
    const u = `(${t} AT TIME ZONE 'UTC')`;
    const pieces = call.parts.map((p) => ('text' in p ? param(p.text) : strftimeLetter(p.letter, t, u)));
    return `(CASE WHEN ${t} IS NULL THEN NULL ELSE ${pieces.length > 0 ? pieces.join(' || ') : "''"} END)`;
  }
  unify(left: string, leftType: FilterValueType, right: string, rightType: FilterValueType): [string, string] {
    if (leftType === 'json') return [fromJsonb(left, rightType), rightType === 'date' ? dateText(right) : right];
    if (rightType === 'json') return [leftType === 'date' ? dateText(left) : left, fromJsonb(right, leftType)];
    return [asText(left, leftType), asText(right, rightType)];
  }
  /** NULL first going up, last going down: SQLite's order (PostgreSQL's default is the other way). */
  orderBy(sql: string, desc: boolean): string {
    return `${sql} ${desc ? 'DESC NULLS LAST' : 'ASC NULLS FIRST'}`;
  }
  random(): string {
    return 'RANDOM()';
  }
  /**
   * Data-modifying CTEs: the counts first, the insert only when they hold
   * (its parameters take their types from the columns, as in VALUES), and the
   * inserted row as RETURNING gives it (column types and collations kept)
   * when a rule reads it. PostgreSQL runs a data-modifying CTE even when
   * nothing reads it, so without a rule it returns only a constant.
   */
  insertChecked(
    insert: InsertParts,
    counts: readonly string[],
    expected: readonly number[],
    alias: string,
    condition: string | null,
  ): string {
    const checks = counts.length > 0 ? counts.map((sql, i) => `${sql} AS c${i}`).join(', ') : '1 AS c';
    const guard = counts.length > 0 ? ` WHERE ${expected.map((n, i) => `_checks.c${i} = ${Number(n)}`).join(' AND ')}` : '';
    const answers = counts.map((_, i) => `_checks.c${i}`);
    answers.push(condition === null ? 'TRUE' : `EXISTS (SELECT 1 FROM ${alias} WHERE ${condition})`);
    return (
      `WITH _checks AS (SELECT ${checks}), ` +
      `${alias} AS (INSERT INTO ${insert.table} (${insert.columns}) SELECT ${insert.values} FROM _checks${guard} RETURNING ${condition === null ? '1' : '*'}) ` +
      `SELECT ${answers.join(', ')} FROM _checks`
    );
  }
  /** PostgreSQL stops long statements itself (`statement_timeout`). */
  deadline(): string {
    return 'TRUE';
  }
  uniqueViolation(err: unknown): { columns?: string[]; index?: string } | null {
    const e = err as { code?: unknown; constraint?: unknown; detail?: unknown } | null;
    if (e?.code !== '23505') return null;
    const constraint = typeof e.constraint === 'string' ? e.constraint : '';
    if (constraint.endsWith('_pkey')) return { columns: ['id'] };
    if (constraint) return { index: constraint };
    // "Key (email)=(a@b.c) already exists."
    const m = /^Key \((.+?)\)=/.exec(String(e.detail ?? ''));
    return {
      columns: m
        ? (m[1] as string).split(',').map((s) =>
            s
              .trim()
              .replace(/^lower\((.*)\)$/, '$1')
              .replaceAll('"', ''),
          )
        : [],
    };
  }
}

export const postgresDialect: Dialect = new PostgresDialect();
