import { FilterError } from '../../query/index.js';

/**
 * The text of an aggregate request (`groupBy`, `fields`, `sort`) read into
 * what it asks for, shapes only: whether a name exists, may be seen, or
 * holds numbers is the compiler's to judge (core/records/aggregate.ts).
 *
 *   groupBy=account,strftime('%Y-%m', created) as month
 *   fields=count(),sum(amount) as total,countDistinct(account.owner)
 *   sort=-total,month
 */

/** The aggregate functions, by the name a request writes. */
export const AGGREGATE_FUNCTIONS = ['count', 'sum', 'avg', 'min', 'max', 'countDistinct'] as const;
export type AggregateFunction = (typeof AGGREGATE_FUNCTIONS)[number];

/** One group key: a field path, or a strftime bucket of a date path. */
export interface GroupKey {
  readonly alias: string;
  readonly path: string;
  /** A bucket of the path's date: a format and its modifiers, as the filter's strftime takes them. */
  readonly strftime?: { readonly format: string; readonly modifiers: readonly string[] };
}

/** One computed value: a function over a field path (none for `count()`). */
export interface AggregateField {
  readonly alias: string;
  readonly fn: AggregateFunction;
  readonly path: string | null;
}

/** One sort key: an alias of a group key or of a field. */
export interface AggregateSortKey {
  readonly alias: string;
  readonly desc: boolean;
}

/** What a request may ask of one aggregate, judged before anything is compiled. */
export const AGGREGATE_LIMITS = { maxGroupKeys: 5, maxFields: 20, maxSortKeys: 8, maxText: 2000 } as const;

const PATH = /^[A-Za-z_]\w*(\.[A-Za-z_]\w*){0,6}$/;
const ALIAS = /^[A-Za-z_]\w{0,63}$/;

type Token = { kind: 'name'; text: string } | { kind: 'text'; text: string } | { kind: '(' | ')' | ',' };

/** The tokens of a `groupBy` or `fields` text: names (paths), quoted texts, parentheses and commas. */
function tokenize(raw: string, param: string): Token[] {
  if (raw.length > AGGREGATE_LIMITS.maxText) throw new FilterError(`${param} is longer than ${AGGREGATE_LIMITS.maxText} characters`);
  const tokens: Token[] = [];
  let i = 0;
  while (i < raw.length) {
    const c = raw[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: c });
      i++;
    } else if (c === "'" || c === '"') {
      const end = raw.indexOf(c, i + 1);
      if (end < 0) throw new FilterError(`${param} has an unclosed quote`);
      tokens.push({ kind: 'text', text: raw.slice(i + 1, end) });
      i = end + 1;
    } else {
      const m = /^[\w.]+/.exec(raw.slice(i));
      if (!m) throw new FilterError(`${param} has an unexpected "${c}"`);
      tokens.push({ kind: 'name', text: m[0] });
      i += m[0].length;
    }
  }
  return tokens;
}

/** Splits tokens at top-level commas. */
function terms(tokens: Token[], param: string): Token[][] {
  const out: Token[][] = [[]];
  let depth = 0;
  for (const t of tokens) {
    if (t.kind === '(') depth++;
    if (t.kind === ')') depth--;
    if (depth < 0) throw new FilterError(`${param} has an unmatched ")"`);
    if (t.kind === ',' && depth === 0) out.push([]);
    else (out[out.length - 1] as Token[]).push(t);
  }
  if (depth !== 0) throw new FilterError(`${param} has an unclosed "("`);
  if (out.some((term) => term.length === 0)) throw new FilterError(`${param} has an empty term`);
  return out;
}

/** The `as alias` at the end of a term, if any, and the term without it. */
function splitAlias(term: Token[], param: string): { body: Token[]; alias: string | null } {
  const n = term.length;
  const as = term[n - 2];
  if (n >= 3 && as?.kind === 'name' && as.text.toLowerCase() === 'as') {
    const alias = term[n - 1] as Token;
    if (alias.kind !== 'name' || !ALIAS.test(alias.text)) throw new FilterError(`${param}: an alias is a name of letters, digits and _`);
    return { body: term.slice(0, n - 2), alias: alias.text };
  }
  return { body: term, alias: null };
}

function path(t: Token | undefined, param: string): string {
  if (t?.kind !== 'name' || !PATH.test(t.text)) throw new FilterError(`${param}: expected a field name or path`);
  return t.text;
}

/** `name(args)`: the function's name and its argument tokens split at commas; null when the term is not a call. */
function call(body: Token[], param: string): { name: string; args: Token[][] } | null {
  const [head, open] = body;
  if (head?.kind !== 'name' || open?.kind !== '(') return null;
  if (body[body.length - 1]?.kind !== ')') throw new FilterError(`${param}: "${head.text}(" is not closed`);
  const inner = body.slice(2, -1);
  return { name: head.text, args: inner.length === 0 ? [] : terms(inner, param) };
}

/** Reads `groupBy`: field paths and `strftime('%Y-%m', created[, modifiers])` buckets, each with an optional `as alias`. */
export function parseGroupBy(raw: string | undefined): GroupKey[] {
  if (raw === undefined || raw.trim() === '') return [];
  const keys = terms(tokenize(raw, 'groupBy'), 'groupBy').map((term): GroupKey => {
    const { body, alias } = splitAlias(term, 'groupBy');
    const fn = call(body, 'groupBy');
    if (!fn) {
      if (body.length !== 1) throw new FilterError('groupBy: expected a field name or strftime(...)');
      const p = path(body[0], 'groupBy');
      return { alias: alias ?? p, path: p };
    }
    if (fn.name !== 'strftime') throw new FilterError(`groupBy takes field names and strftime(), not "${fn.name.slice(0, 50)}()"`);
    const [format, time, ...modifiers] = fn.args;
    const one = (arg: Token[] | undefined) => (arg?.length === 1 ? arg[0] : undefined);
    const f = one(format);
    if (f?.kind !== 'text') throw new FilterError("groupBy: strftime's first argument is a format text, such as '%Y-%m'");
    const p = path(one(time), 'groupBy');
    if (modifiers.length > 8) throw new FilterError('groupBy: strftime takes at most 8 modifiers');
    const mods = modifiers.map((m) => {
      const t = one(m);
      if (t?.kind !== 'text') throw new FilterError("groupBy: strftime's modifiers are texts, such as 'start of month'");
      return t.text;
    });
    return { alias: alias ?? p, path: p, strftime: { format: f.text, modifiers: mods } };
  });
  if (keys.length > AGGREGATE_LIMITS.maxGroupKeys) throw new FilterError(`groupBy takes at most ${AGGREGATE_LIMITS.maxGroupKeys} keys`);
  return keys;
}

/** Reads `fields`: `count()`, `count(f)`, `sum(f)`, `avg(f)`, `min(f)`, `max(f)`, `countDistinct(f)`, each with an optional `as alias`. */
export function parseAggregateFields(raw: string | undefined): AggregateField[] {
  if (raw === undefined || raw.trim() === '') return [{ alias: 'count', fn: 'count', path: null }];
  const fields = terms(tokenize(raw, 'fields'), 'fields').map((term): AggregateField => {
    const { body, alias } = splitAlias(term, 'fields');
    const fn = call(body, 'fields');
    if (!fn || body.length < 3) throw new FilterError(`fields takes functions: ${AGGREGATE_FUNCTIONS.map((f) => `${f}()`).join(', ')}`);
    const name = AGGREGATE_FUNCTIONS.find((f) => f === fn.name);
    if (!name) throw new FilterError(`fields: unknown function "${fn.name.slice(0, 50)}()"; known: ${AGGREGATE_FUNCTIONS.join(', ')}`);
    if (fn.args.length === 0) {
      if (name !== 'count') throw new FilterError(`fields: ${name}() takes a field`);
      return { alias: alias ?? 'count', fn: name, path: null };
    }
    const [arg, ...more] = fn.args;
    if (more.length > 0 || arg?.length !== 1) throw new FilterError(`fields: ${name}() takes one field`);
    const p = path(arg[0], 'fields');
    return { alias: alias ?? `${name}_${p.replaceAll('.', '_')}`, fn: name, path: p };
  });
  if (fields.length > AGGREGATE_LIMITS.maxFields) throw new FilterError(`fields takes at most ${AGGREGATE_LIMITS.maxFields} functions`);
  return fields;
}

/** Reads `sort`: aliases, `-` before one for descending. */
export function parseAggregateSort(raw: string | undefined): AggregateSortKey[] {
  if (raw === undefined || raw.trim() === '') return [];
  const keys = raw.split(',').map((part) => {
    let name = part.trim();
    const desc = name.startsWith('-');
    if (desc || name.startsWith('+')) name = name.slice(1);
    if (!PATH.test(name)) throw new FilterError(`invalid sort key "${name.slice(0, 100)}"`);
    return { alias: name, desc };
  });
  if (keys.length > AGGREGATE_LIMITS.maxSortKeys) throw new FilterError(`sort takes at most ${AGGREGATE_LIMITS.maxSortKeys} keys`);
  return keys;
}
