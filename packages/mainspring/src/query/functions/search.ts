import type { Expr, Operand } from '../ast.js';
import type { Resolved } from '../compile.js';
import { FilterError } from '../errors.js';
import type { FilterFunctionContext } from './index.js';

/** Most fields one `search()` may name. */
const MAX_FIELDS = 8;
/** Most words one `search()` may look for (FTS5's query tree is at most 256 deep; a search box's text is far less). */
const MAX_WORDS = 32;

/**
 * Ranked full-text search, beside PocketBase's dialect:
 * `search(title, body, "words")` is true for the records whose fields (of
 * one search index: `CREATE INDEX … USING search (title, body)`) hold
 * every word of the text, and `sort=-@rank` puts the best matches first
 * (FTS5's bm25 on SQLite, ts_rank on PostgreSQL). The text is words, never
 * the engine's query syntax. Alone, the call is a condition; `= true` and
 * `= false` are too.
 */
export function search(args: readonly Operand[], ctx: FilterFunctionContext): Resolved {
  if (args.length < 2 || args.length > MAX_FIELDS + 1) {
    throw new FilterError(`search takes 1 to ${MAX_FIELDS} fields and then the text to find, such as search(title, body, "words")`);
  }
  const fields = args.slice(0, -1).map((arg, i) => {
    if (arg.kind !== 'ident' || /[.:@]/.test(arg.name)) throw new FilterError(`search's argument ${i + 1} must be a field of the record`);
    return arg.name;
  });
  const last = args[args.length - 1] as Operand;
  if (last.kind !== 'text' && last.kind !== 'ident') throw new FilterError("search's last argument must be the text to find");
  const text = ctx.resolve(last);
  if (text.kind !== 'value') throw new FilterError("search's last argument must be a text or a request value, not a field");
  if (!ctx.resolver.fullTextIndex) throw new FilterError('search() works only on the records of a collection');
  const index = ctx.resolver.fullTextIndex(fields);
  const query = text.value === null ? '' : String(text.value);
  if (query.split(/\s+/).filter((w) => w !== '').length > MAX_WORDS) throw new FilterError(`search looks for at most ${MAX_WORDS} words`);
  const { match, rank, ranked } = ctx.flavor.fullText(index, query, (v) => ctx.params.add(v));
  if (ctx.params.rank === null) {
    ctx.params.rank = rank;
    ctx.params.ranked = ranked ?? null;
  }
  return { kind: 'sql', sql: `(${match})`, type: 'bool', nullFallback: 'disabled', predicate: true };
}

/**
 * True when the statement whose conditions are `exprs` (ANDed: a list rule,
 * a filter) holds one `search()` and every row must meet it: reached from
 * the top through `&&` only, written alone or `= true`. Only then may a
 * page join the search's ranked matches (FullTextMatch.ranked), which hold
 * no other row; under `||` or `= false` it ranks by the per-row expression.
 */
export function searchRequired(exprs: readonly (Expr | null)[]): boolean {
  let calls = 0;
  const countIn = (o: Operand): void => {
    if (o.kind !== 'call') return;
    if (o.name === 'search') calls++;
    for (const a of o.args) countIn(a);
  };
  const visit = (e: Expr): void => {
    if (e.kind === 'cmp') {
      countIn(e.left);
      countIn(e.right);
    } else for (const item of e.items) visit(item);
  };
  const required = (e: Expr): boolean =>
    e.kind === 'cmp'
      ? e.left.kind === 'call' &&
        e.left.name === 'search' &&
        (e.bare === true || (e.op === '=' && e.right.kind === 'ident' && e.right.name === 'true'))
      : e.kind === 'and' && e.items.some(required);
  for (const e of exprs) if (e) visit(e);
  return calls === 1 && exprs.some((e) => e !== null && required(e));
}
