/**
 * The syntax tree of the filter and rule language (PocketBase's `fexpr`
 * grammar): comparisons joined by `&&` / `||`, with parentheses.
 */

/** Comparison operators; the `?` forms are "any of" over multi-valued operands. */
export type Operator = '=' | '!=' | '>' | '>=' | '<' | '<=' | '~' | '!~' | '?=' | '?!=' | '?>' | '?>=' | '?<' | '?<=' | '?~' | '?!~';

/** One side of a comparison. */
export type Operand =
  | { readonly kind: 'ident'; readonly name: string }
  | { readonly kind: 'text'; readonly value: string }
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'call'; readonly name: string; readonly args: readonly Operand[] };

/** A node of the expression tree. */
export type Expr =
  | {
      readonly kind: 'cmp';
      readonly op: Operator;
      readonly left: Operand;
      readonly right: Operand;
      /** A function call written alone (`search(title, "x")`), read as `= true`: the call must be a condition. */
      readonly bare?: true;
    }
  | { readonly kind: 'and' | 'or'; readonly items: readonly Expr[] };

const ANY_OPS: ReadonlySet<Operator> = new Set(['?=', '?!=', '?>', '?>=', '?<', '?<=', '?~', '?!~']);

/** True for the "any of" operators (`?=`, `?~`, …). */
export function isAnyOp(op: Operator): boolean {
  return ANY_OPS.has(op);
}

/** The plain operator behind an "any of" one: `?>=` → `>=`. */
export function baseOp(op: Operator): Operator {
  return (isAnyOp(op) ? op.slice(1) : op) as Operator;
}

/** Number of comparisons in a tree, the unit of the expression-size limit. */
export function countComparisons(expr: Expr): number {
  if (expr.kind === 'cmp') return 1;
  let n = 0;
  for (const item of expr.items) n += countComparisons(item);
  return n;
}
