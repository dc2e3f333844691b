import type { IndexSpec } from '../../storage/engine.js';
import type { Collection } from './model.js';

/**
 * Collection indexes are written as PocketBase writes them, as SQL text:
 * "CREATE UNIQUE INDEX `idx_x` ON `posts` (`title` COLLATE NOCASE DESC)".
 * The text is parsed into an {@link IndexSpec} and each engine writes its own
 * DDL from that, so no index text from a client ever reaches the database.
 */

const IDENT = String.raw`(?:\x60([^\x60]+)\x60|"([^"]+)"|\[([^\]]+)\]|(\w+))`;
// the table may be `` (PocketBase's scaffolds have no name yet): it is replaced by the collection's anyway
const INDEX_RE = new RegExp(
  String.raw`^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?${IDENT}\s+ON\s+(?:${IDENT}|\x60\x60)\s*(?:USING\s+(\w+)\s*)?\(([^()]*)\)\s*(?:WHERE\s+(.+?))?\s*;?\s*$`,
  'is',
);
const COLUMN_RE = new RegExp(String.raw`^\s*${IDENT}(\s+COLLATE\s+NOCASE)?(?:\s+(ASC|DESC))?\s*$`, 'i');
const WHERE_NOT_EMPTY_RE = new RegExp(String.raw`^${IDENT}\s*!=\s*''$`, 'i');

const pick = (m: RegExpExecArray, from: number) => m[from] ?? m[from + 1] ?? m[from + 2] ?? m[from + 3] ?? '';

/**
 * The index kind that declares text fields searchable (`USING search`): a
 * trigram index that `~` and `!~` use, and the full-text index of the
 * `search()` filter function (see docs/DESIGN.md, "Searchable fields").
 */
export const SEARCH_KIND = 'search';

/** A parsed index, before its table name is bound. */
export interface ParsedIndex {
  name: string;
  unique: boolean;
  /** `USING search`: the columns are searchable text, not a B-tree's keys. */
  search?: boolean;
  columns: { name: string; desc: boolean; nocase: boolean }[];
  whereNotEmpty?: string;
}

/** Parses index SQL text; returns an error message when it is not a supported index. */
export function parseIndex(sql: string): ParsedIndex | string {
  if (typeof sql !== 'string' || sql.length > 2000) return 'Must be a CREATE INDEX statement.';
  const m = INDEX_RE.exec(sql);
  if (!m) return 'Must be a CREATE [UNIQUE] INDEX name ON table (columns) statement.';
  const name = pick(m, 2);
  if (!/^\w{1,100}$/.test(name)) return 'The index name must hold only letters, digits and _.';
  const using = m[10];
  if (using !== undefined && using.toLowerCase() !== SEARCH_KIND) return `Unknown index kind "${using.slice(0, 50)}": only USING search.`;
  const columns: ParsedIndex['columns'] = [];
  for (const part of (m[11] ?? '').split(',')) {
    const c = COLUMN_RE.exec(part);
    if (!c) return `Unsupported index column "${part.trim().slice(0, 50)}".`;
    columns.push({ name: pick(c, 1), nocase: Boolean(c[5]), desc: (c[6] ?? '').toUpperCase() === 'DESC' });
  }
  if (columns.length === 0) return 'An index needs at least one column.';
  const parsed: ParsedIndex = { name, unique: Boolean(m[1]), columns };
  const where = m[12]?.trim();
  if (using !== undefined) {
    if (parsed.unique || where || columns.some((c) => c.desc || c.nocase)) {
      return 'A search index takes only column names: no UNIQUE, COLLATE, ASC/DESC or WHERE.';
    }
    parsed.search = true;
  }
  if (where) {
    const w = WHERE_NOT_EMPTY_RE.exec(where);
    if (!w) return "Only WHERE `column` != '' is supported as an index condition.";
    parsed.whereNotEmpty = pick(w, 1);
  }
  return parsed;
}

/** Writes an index back as PocketBase-style SQL text for the given table. */
export function formatIndex(index: ParsedIndex, table: string): string {
  const cols = index.columns.map((c) => `\`${c.name}\`${c.nocase ? ' COLLATE NOCASE' : ''}${c.desc ? ' DESC' : ''}`).join(', ');
  const where = index.whereNotEmpty ? ` WHERE \`${index.whereNotEmpty}\` != ''` : '';
  const using = index.search ? ` USING ${SEARCH_KIND}` : '';
  return `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX \`${index.name}\` ON \`${table}\`${using} (${cols})${where}`;
}

/** The engine-neutral spec of an index on `table`. */
export function indexSpec(index: ParsedIndex, table: string): IndexSpec {
  if (index.search) return { name: index.name, table, unique: false, columns: index.columns, search: true };
  return index.whereNotEmpty
    ? { name: index.name, table, unique: index.unique, columns: index.columns, whereNotEmpty: index.whereNotEmpty }
    : { name: index.name, table, unique: index.unique, columns: index.columns };
}

/** An index statement with its columns renamed after field renames between two versions. */
export function renameIndexColumns(sql: string, from: Collection, to: Collection): string {
  const p = parseIndex(sql);
  if (typeof p === 'string') return sql;
  const rename = (name: string) => {
    const f = from.fields.find((x) => x.name === name);
    const g = f && to.fields.find((x) => x.id === f.id);
    return g ? g.name : name;
  };
  const next: ParsedIndex = { ...p, columns: p.columns.map((c) => ({ ...c, name: rename(c.name) })) };
  if (p.whereNotEmpty) next.whereNotEmpty = rename(p.whereNotEmpty);
  return formatIndex(next, to.name);
}

const searchable = new WeakMap<Collection, ReadonlyMap<string, string>>();

/**
 * The searchable columns of `c` (its `USING search` indexes), each with the
 * name of the index that holds it (the first, where several do). Cached per
 * collection object: collections are immutable once built.
 */
export function searchColumns(c: Collection): ReadonlyMap<string, string> {
  let found = searchable.get(c);
  if (found) return found;
  const map = new Map<string, string>();
  for (const sql of c.indexes) {
    const p = parseIndex(sql);
    if (typeof p === 'string' || !p.search) continue;
    for (const col of p.columns) if (!map.has(col.name)) map.set(col.name, p.name);
  }
  found = map;
  searchable.set(c, found);
  return found;
}

/** The `USING search` index of `c` that holds every one of `columns`, if one does. */
export function searchIndexOf(c: Collection, columns: readonly string[]): ParsedIndex | undefined {
  for (const sql of c.indexes) {
    const p = parseIndex(sql);
    if (typeof p !== 'string' && p.search && columns.every((name) => p.columns.some((x) => x.name === name))) return p;
  }
  return undefined;
}
