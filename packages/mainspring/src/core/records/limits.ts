import type { Expr, Operand } from '../../query/index.js';
import { parseIndex, searchColumns } from '../collections/indexes.js';
import type { Collection } from '../collections/model.js';
import { ApiError } from '../errors.js';
import type { ResolverCost } from '../rules/resolver.js';

/**
 * Limits on what a client's filter and sort may ask of the database, judged
 * before anything runs. The time limit stops any statement that runs too
 * long; these refuse, with a message that says which limit and how to raise
 * it, the shapes whose work grows with the product of tables: a path that
 * crosses many relations, one that walks back-relations twice (each walk
 * multiplies rows by the fan-out: a user's 10,000 posts, then each post's
 * author's 10,000), and long ORs of comparisons no index serves. Rules are
 * written by superusers, and superusers' own filters are theirs: neither is
 * limited.
 */
export interface QueryLimits {
  /** Relations and back-relations one path of a filter or sort may cross. */
  maxRelationDepth: number;
  /** Back-relations (`x_via_y`) one path may cross. */
  maxBackRelations: number;
  /** Comparisons of fields no index leads with, joined by `||`, in one filter. */
  maxUnindexedOrTerms: number;
}

/** The defaults: every example of PocketBase's documentation, and of ours, stays within them. */
export const DEFAULT_QUERY_LIMITS: QueryLimits = { maxRelationDepth: 3, maxBackRelations: 1, maxUnindexedOrTerms: 20 };

/** Where a refusal tells the superuser to raise a limit. */
const HOW = (key: keyof QueryLimits, collection: string) =>
  `a superuser may raise it in the settings (queryLimits.${key}, or for this collection alone queryLimits.collections with "collection": "${collection}")`;

/** Refuses a filter or sort over the limits (a 400 that names the limit). */
export function checkQueryCost(c: Collection, cost: ResolverCost, expr: Expr | null, limits: QueryLimits): void {
  if (cost.depth > limits.maxRelationDepth) {
    throw refused(
      `"${cost.deepest}" crosses ${cost.depth} relations; a filter or sort may cross at most ${limits.maxRelationDepth} (${HOW('maxRelationDepth', c.name)}).`,
    );
  }
  if (cost.backRelations > limits.maxBackRelations) {
    throw refused(
      `"${cost.mostBack}" walks ${cost.backRelations} back-relations; a path may walk at most ${limits.maxBackRelations} (${HOW('maxBackRelations', c.name)}).`,
    );
  }
  const ors = expr ? unindexedOrTerms(expr, c) : 0;
  if (ors > limits.maxUnindexedOrTerms) {
    throw refused(
      `the filter joins ${ors} comparisons of fields without an index with "||"; at most ${limits.maxUnindexedOrTerms} are allowed (index the fields you filter on, or ${HOW('maxUnindexedOrTerms', c.name)}).`,
    );
  }
}

function refused(message: string): ApiError {
  return new ApiError(400, 'query_limit', `The filter asks too much of the database: ${message}`);
}

/** The columns of `c` a B-tree index leads with, and `id` (a search index serves only `~`). */
function indexedColumns(c: Collection): Set<string> {
  const leading = new Set(['id']);
  for (const sql of c.indexes) {
    const p = parseIndex(sql);
    if (typeof p !== 'string' && !p.search && p.columns[0]) leading.add(p.columns[0].name);
  }
  return leading;
}

const LITERALS = new Set(['true', 'false', 'null']);

/** An operand that names a field of the collection (or a path), not a value, a macro or a request value. */
const isField = (o: Operand) => o.kind === 'ident' && !o.name.startsWith('@') && !LITERALS.has(o.name.toLowerCase());

/** Operators an index can seek with: the rows they admit are one run of the index. */
const SEEKS = new Set(['=', '>', '>=', '<', '<=']);

/**
 * True when the rows of a list are found by walking one index, and every
 * sort key reads a column an index leads with: `exprs` (the rule's and the
 * filter's, no joins, all ANDed) compare the collection's own columns with
 * values, plainly (no `~`, no function, no modifier, no path), and either
 * every comparison reads an indexed column, or one ANDed at the top seeks
 * an index (`author = me && n >= 10 && n < 20`: the rows of the range on
 * `n`, with `author` checked on each). Such a list walks at most one index,
 * so it may run where reads are cheapest instead of apart (Engine.read's
 * `light`); how long that walk is depends on the data, which
 * Engine.read's `lightKey` watches.
 */
export function readsByIndex(c: Collection, exprs: readonly (Expr | null)[], sortKeys: readonly string[]): boolean {
  const leading = indexedColumns(c);
  const indexed = (o: Operand) => isField(o) && leading.has((o as { name: string }).name);
  const own = (o: Operand) => o.kind !== 'call' && (!isField(o) || !/[.:]/.test((o as { name: string }).name));
  const plain = (node: Expr): boolean => {
    if (node.kind !== 'cmp') return node.items.every(plain);
    return !node.op.includes('~') && own(node.left) && own(node.right);
  };
  const allIndexed = (node: Expr): boolean =>
    node.kind === 'cmp' ? [node.left, node.right].every((o) => !isField(o) || indexed(o)) : node.items.every(allIndexed);
  const seeks = (node: Expr): boolean =>
    node.kind === 'cmp'
      ? SEEKS.has(node.op) && (indexed(node.left) ? !isField(node.right) : indexed(node.right) && !isField(node.left))
      : node.kind === 'and' && node.items.some(seeks);
  const present = exprs.filter((e): e is Expr => e !== null);
  if (!present.every(plain) || !sortKeys.every((k) => leading.has(k))) return false;
  return present.every(allIndexed) || present.some(seeks);
}

/**
 * True when the first of `sortKeys` is `id` or the first column of a
 * B-tree index of `c` that serves any row in SQL's order (not partial, not
 * NOCASE): a page so sorted can walk that index and stop at the page's end.
 */
export function sortWalksIndex(c: Collection, sortKeys: readonly string[]): boolean {
  const first = sortKeys[0];
  if (first === undefined) return false;
  if (first === 'id') return true;
  return c.indexes.some((sql) => {
    const p = parseIndex(sql);
    const lead = typeof p === 'string' || p.search || p.whereNotEmpty !== undefined ? undefined : p.columns[0];
    return lead !== undefined && lead.name === first && !lead.nocase;
  });
}

/**
 * How many comparisons inside `||` groups read a field no index of the
 * collection leads with (or a path through a relation, which no index of
 * this table serves); `id` is always indexed.
 */
export function unindexedOrTerms(expr: Expr, c: Collection): number {
  const leading = indexedColumns(c);
  const searchable = searchColumns(c);
  const unindexed = (o: Operand, like: boolean) => {
    if (!isField(o)) return false;
    const name = (o as { name: string }).name;
    return !leading.has(name.split(':')[0] as string) && !(like && searchable.has(name));
  };
  const count = (node: Expr, inOr: boolean): number => {
    if (node.kind === 'cmp') {
      const like = node.op === '~' || node.op === '!~';
      return inOr && (unindexed(node.left, like) || unindexed(node.right, like)) ? 1 : 0;
    }
    let n = 0;
    for (const item of node.items) n += count(item, inOr || node.kind === 'or');
    return n;
  };
  return count(expr, false);
}
