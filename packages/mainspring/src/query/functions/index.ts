import type { Operand } from '../ast.js';
import type { Resolved, Resolver, SqlFlavor, SqlParams } from '../compile.js';
import { geoDistance } from './geo-distance.js';
import { search } from './search.js';
import { strftime } from './strftime.js';

/** What a filter function works with: its arguments resolved as any operand, the statement's parameters, the engine's SQL. */
export interface FilterFunctionContext {
  /** An argument as the compiler resolves any operand (a field, a value, a request value, a macro). */
  resolve(operand: Operand): Resolved;
  readonly params: SqlParams;
  readonly flavor: SqlFlavor;
  /** The names of the statement's record, for a function that needs more than an operand (`search()`'s index). */
  readonly resolver: Resolver;
}

/**
 * A function of the filter language (`geoDistance(…)`, `strftime(…)`): its
 * arguments checked, its SQL written portably or through the engine's
 * {@link SqlFlavor}. A bad call throws a FilterError saying what is wrong.
 */
export type FilterFunction = (args: readonly Operand[], ctx: FilterFunctionContext) => Resolved;

/**
 * The filter functions by name. To add one (a search function, say), write
 * its module beside these and name it here; engine-specific SQL goes
 * through a method of {@link SqlFlavor} that each dialect implements.
 */
export const FILTER_FUNCTIONS: Readonly<Record<string, FilterFunction>> = { geoDistance, search, strftime };
