/**
 * The text of a view collection's query (`viewQuery`), read before any
 * engine sees it: one SELECT that only reads, no wildcard columns, and the
 * expression of each column, whose form tells the type of a value the engine
 * cannot (on SQLite, an expression has no type until it runs). The engines
 * check again for themselves ({@link Executor.describe}); this reading gives
 * the clear message, and refuses what an engine would run but a view must
 * not do (load an extension, read the server's files, sleep, write through a
 * function).
 */

import type { FieldType } from './model.js';

/** Thrown for a query a view cannot have; the message says why, for the `viewQuery` field error. */
export class ViewQueryError extends Error {
  override readonly name = 'ViewQueryError';
}

/** A token of SQL text: comments are dropped, strings and quoted names kept whole. */
interface Token {
  readonly kind: 'word' | 'quoted' | 'string' | 'number' | 'symbol';
  readonly text: string;
}

/** Words that begin statements that write, change the schema or reach outside the database. */
const STATEMENT_WORDS = new Set([
  'insert',
  'update',
  'delete',
  'merge',
  'upsert',
  'create',
  'drop',
  'alter',
  'attach',
  'detach',
  'pragma',
  'vacuum',
  'reindex',
  'grant',
  'revoke',
  'truncate',
  'copy',
  'call',
  'execute',
]);

/**
 * Functions a view may not call: they load code, read or write the server's
 * files, stop or signal other sessions, change settings, sleep, take locks,
 * write (sequences, notifications) or run SQL given as text.
 */
const FORBIDDEN_FUNCTIONS =
  /^(load_extension|readfile|writefile|edit|fts3_tokenizer|pg_read_.*|pg_ls_.*|pg_stat_file|pg_file_.*|lo_.*|dblink.*|pg_terminate_backend|pg_cancel_backend|pg_reload_conf|pg_rotate_logfile|pg_promote|pg_switch_wal|pg_create_.*|pg_drop_.*|pg_log_.*|pg_logical_.*|pg_replication_.*|pg_import_.*|set_config|pg_sleep.*|pg_advisory.*|pg_try_advisory.*|pg_notify|nextval|setval|.*_to_xml.*|.*_to_xmlschema|xpath_table)$/;

/** Splits SQL into tokens; an unterminated string, name or comment is an error. */
function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = sql.length;
  const until = (end: string, from: number, what: string): number => {
    const at = sql.indexOf(end, from);
    if (at < 0) throw new ViewQueryError(`The query has an unterminated ${what}.`);
    return at;
  };
  while (i < n) {
    const c = sql[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      i = until('*/', i + 2, 'comment') + 2;
    } else if (c === "'" || c === '"' || c === '`') {
      // a doubled quote is the quote itself
      let j = i + 1;
      for (;;) {
        j = until(c, j, c === "'" ? 'string' : 'quoted name');
        if (sql[j + 1] === c) j += 2;
        else break;
      }
      out.push({ kind: c === "'" ? 'string' : 'quoted', text: sql.slice(i, j + 1) });
      i = j + 1;
    } else if (c === '[') {
      const j = until(']', i + 1, 'quoted name');
      out.push({ kind: 'quoted', text: sql.slice(i, j + 1) });
      i = j + 1;
    } else if (c === '$' && /[A-Za-z_$]/.test(sql[i + 1] ?? '')) {
      // PostgreSQL's dollar quoting: $tag$ … $tag$
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i))?.[0];
      if (!tag) throw new ViewQueryError('The query has a stray "$".');
      const j = until(tag, i + tag.length, 'string');
      out.push({ kind: 'string', text: sql.slice(i, j + tag.length) });
      i = j + tag.length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(sql.slice(i)) as RegExpExecArray;
      out.push({ kind: 'word', text: m[0] });
      i += m[0].length;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      const m = /^[0-9]*\.?[0-9]+(e[+-]?[0-9]+)?|^[0-9]+\./i.exec(sql.slice(i)) as RegExpExecArray;
      out.push({ kind: 'number', text: m[0] });
      i += m[0].length;
    } else {
      out.push({ kind: 'symbol', text: c });
      i++;
    }
  }
  return out;
}

/** One column of a view query's first SELECT, as written. */
export interface ViewQueryColumn {
  /** Its expression, as text with single spaces. */
  readonly expression: string;
  /** When the expression is a plain column (`alias.name` or `name`): the table of its FROM item and the name. */
  readonly ref: { readonly table: string; readonly column: string } | null;
}

/** A view query as read: the text to run, and its columns (in order). */
export interface ReadViewQuery {
  /** The query without surrounding space and trailing semicolons. */
  readonly query: string;
  readonly columns: readonly ViewQueryColumn[];
}

/** The most characters a view query may have. */
export const MAX_VIEW_QUERY = 100_000;

/**
 * Reads a view query; throws {@link ViewQueryError} for anything but one
 * SELECT (or WITH … SELECT) that only reads and names its columns.
 */
export function readViewQuery(raw: string): ReadViewQuery {
  if (raw.length > MAX_VIEW_QUERY) throw new ViewQueryError(`The query is longer than ${MAX_VIEW_QUERY} characters.`);
  const query = raw.trim().replace(/[;\s]+$/, '');
  if (query === '') throw new ViewQueryError('Cannot be blank.');
  const tokens = tokenize(query);
  if (tokens.some((t) => t.kind === 'symbol' && t.text === ';')) {
    throw new ViewQueryError('The query must be one statement: a single SELECT, without ";".');
  }
  const first = tokens[0]?.text.toLowerCase();
  if (first !== 'select' && first !== 'with') throw new ViewQueryError('The query must be a SELECT (or WITH … SELECT).');

  let depth = 0;
  for (const [i, t] of tokens.entries()) {
    if (t.kind === 'symbol' && t.text === '(') depth++;
    if (t.kind === 'symbol' && t.text === ')') depth--;
    if (depth < 0) throw new ViewQueryError('The query has an unmatched ")".');
    if (t.kind !== 'word') continue;
    const word = t.text.toLowerCase();
    const before = tokens[i - 1];
    const after = tokens[i + 1];
    const isCall = after?.kind === 'symbol' && after.text === '(';
    const isQualified = (before?.kind === 'symbol' && before.text === '.') || (after?.kind === 'symbol' && after.text === '.');
    if (isCall && FORBIDDEN_FUNCTIONS.test(word)) throw new ViewQueryError(`The function ${t.text}() cannot be used in a view.`);
    if (!isCall && !isQualified && STATEMENT_WORDS.has(word)) {
      throw new ViewQueryError(
        `A view only reads: "${t.text}" is not allowed (write "${t.text}" in double quotes if it is the name of a column).`,
      );
    }
  }
  if (depth !== 0) throw new ViewQueryError('The query has an unmatched "(".');
  return { query, columns: selectColumns(tokens) };
}

const isSymbol = (t: Token | undefined, text: string) => t?.kind === 'symbol' && t.text === text;
/** A name as written, unquoted. */
const nameOf = (t: Token) =>
  t.kind === 'quoted' ? t.text.slice(1, -1).replaceAll(t.text.slice(0, 1).repeat(2), t.text.slice(0, 1)) : t.text;
const isName = (t: Token | undefined): t is Token => t?.kind === 'word' || t?.kind === 'quoted';
const CLAUSE_END = /^(where|group|having|order|limit|window|union|intersect|except|offset|fetch)$/i;

/**
 * Splits the tokens from `start` into items at top-level commas, up to a
 * top-level word that `stop` matches.
 */
function itemsFrom(tokens: Token[], start: number, stop: RegExp): { items: Token[][]; end: number } {
  const items: Token[][] = [[]];
  let depth = 0;
  let i = start;
  for (; i >= 0 && i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (isSymbol(t, '(')) depth++;
    if (isSymbol(t, ')')) depth--;
    if (depth === 0 && t.kind === 'word' && stop.test(t.text)) break;
    if (depth === 0 && isSymbol(t, ',')) {
      items.push([]);
      continue;
    }
    (items[items.length - 1] as Token[]).push(t);
  }
  return { items, end: i };
}

/** The columns of the first top-level SELECT (after any WITH), with the tables of its FROM items. */
function selectColumns(tokens: Token[]): ViewQueryColumn[] {
  let depth = 0;
  let start = -1;
  for (const [i, t] of tokens.entries()) {
    if (isSymbol(t, '(')) depth++;
    else if (isSymbol(t, ')')) depth--;
    else if (depth === 0 && t.kind === 'word' && t.text.toLowerCase() === 'select') {
      start = i + 1;
      break;
    }
  }
  const list = itemsFrom(tokens, start, /^(from|where|group|having|order|limit|window|union|intersect|except)$/i);
  const first = list.items[0]?.[0]?.text.toLowerCase();
  if (first === 'distinct' || first === 'all') list.items[0]?.shift();
  const tables = fromTables(tokens, list.end);
  return list.items.map((item) => {
    const last = item[item.length - 1];
    if (isSymbol(last, '*') && (item.length === 1 || isSymbol(item[item.length - 2], '.'))) {
      throw new ViewQueryError('Wildcard columns (*) are not supported: name each column the view shows.');
    }
    // a plain column, with or without an alias: `p.title`, `title`, `p.title AS t`, `p.title t`
    const bare = withoutAlias(item);
    let ref: ViewQueryColumn['ref'] = null;
    if (bare.length === 3 && isName(bare[0]) && isSymbol(bare[1], '.') && isName(bare[2])) {
      const table = tables.get(nameOf(bare[0]).toLowerCase());
      if (table) ref = { table, column: nameOf(bare[2]) };
    } else if (bare.length === 1 && isName(bare[0]) && tables.size === 1) {
      ref = { table: [...tables.values()][0] as string, column: nameOf(bare[0]) };
    }
    return { expression: item.map((t) => t.text).join(' '), ref };
  });
}

/** A select item without its alias (`AS t`, or a trailing name after another name). */
function withoutAlias(item: Token[]): Token[] {
  const n = item.length;
  if (n < 2 || !isName(item[n - 1])) return item;
  if (item[n - 2]?.text.toLowerCase() === 'as') return item.slice(0, -2);
  return isName(item[n - 2]) ? item.slice(0, -1) : item;
}

/**
 * The tables a top-level FROM clause names (from the token at `at`), by the
 * lower-cased alias or name they go by; subqueries and functions are left out.
 */
function fromTables(tokens: Token[], at: number): Map<string, string> {
  const tables = new Map<string, string>();
  if (tokens[at]?.text.toLowerCase() !== 'from') return tables;
  // JOIN … ON … items read like comma-separated ones once each JOIN is a comma and each ON condition skipped
  const rest: Token[] = [];
  let depth = 0;
  let skipping = false;
  for (let i = at + 1; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (isSymbol(t, '(')) depth++;
    if (isSymbol(t, ')')) depth--;
    const word = t.kind === 'word' ? t.text.toLowerCase() : '';
    if (depth === 0 && CLAUSE_END.test(word)) break;
    if (depth === 0 && word === 'join') {
      skipping = false;
      rest.push({ kind: 'symbol', text: ',' });
      continue;
    }
    if (depth === 0 && (word === 'on' || word === 'using')) skipping = true;
    if (depth === 0 && /^(left|right|inner|outer|full|cross|natural|lateral)$/.test(word)) continue;
    if (!skipping) rest.push(t);
  }
  for (const item of itemsFrom(rest, 0, /^$/).items) {
    if (!isName(item[0]) || isSymbol(item[1], '(') || isSymbol(item[1], '.')) continue;
    const table = nameOf(item[0]);
    const alias = item[1]?.text.toLowerCase() === 'as' ? item[2] : item[1];
    tables.set((isName(alias) ? nameOf(alias) : table).toLowerCase(), table);
  }
  return tables;
}

/** A field's type and options for a column that is no field of a collection, told from its expression's form. */
export function typeOfExpression(expression: string): { type: Extract<FieldType, 'number' | 'bool' | 'text'>; onlyInt?: boolean } | null {
  const e = expression
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .replace(/ ?\( ?/g, '(')
    .replace(/ ?\) ?/g, ')');
  if (e.startsWith('count(')) return { type: 'number', onlyInt: true };
  if (/^(total|sum|avg)\(/.test(e)) return { type: 'number' };
  const cast = /^cast\(.* as (\w+)\)$/.exec(e);
  switch (cast?.[1]) {
    case 'real':
    case 'decimal':
    case 'numeric':
    case 'float':
    case 'double':
      return { type: 'number' };
    case 'int':
    case 'integer':
    case 'bigint':
      return { type: 'number', onlyInt: true };
    case 'text':
    case 'varchar':
      return { type: 'text' };
    case 'boolean':
    case 'bool':
      return { type: 'bool' };
    default:
      return null;
  }
}
