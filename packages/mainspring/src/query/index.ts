/**
 * The filter and rule language: text → tree → SQL with bound parameters.
 * It knows nothing of HTTP or collections; a {@link Resolver} says what a name means.
 */
export { baseOp, countComparisons, type Expr, isAnyOp, type Operand, type Operator } from './ast.js';
export {
  compileFilter,
  likePattern,
  type MultiMatch,
  type Resolved,
  type Resolver,
  type SqlFlavor,
  SqlParams,
  type SqlValue,
  type ValueType,
} from './compile.js';
export { FilterError } from './errors.js';
export { searchRequired } from './functions/search.js';
export { DEFAULT_PARSE_LIMITS, type ParseLimits, parseFilter, parseFilterCached } from './parse.js';
export { MAX_SORT_KEYS, parseSort, type SortKey } from './sort.js';
export type { FullTextIndex, FullTextMatch, IndexedLike, LikeWalk, RankedSource, TextIndex } from './text-index.js';
