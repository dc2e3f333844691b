import { baseOp, type Expr, isAnyOp, type Operand, type Operator } from './ast.js';
import { FilterError } from './errors.js';
import { FILTER_FUNCTIONS } from './functions/index.js';
import { macroValue } from './macros.js';
import type { StrftimeCall } from './strftime.js';
import type { FullTextIndex, FullTextMatch, IndexedLike, LikeWalk, RankedSource, TextIndex } from './text-index.js';

/** A value that is sent to the database as a bound parameter. */
export type SqlValue = string | number | boolean | null;

/** What kind of value an SQL operand holds, for engines that need casts. */
export type ValueType = 'text' | 'number' | 'bool' | 'date' | 'json' | 'unknown';

/**
 * The engine-specific SQL the compiler needs. Each storage dialect
 * implements it; the compiler itself writes only portable SQL.
 */
export interface SqlFlavor {
  /**
   * The placeholder of the n-th (1-based) bound parameter holding `value`,
   * compared with an operand of type `hint` when known. Engines that infer
   * parameter types from context (PostgreSQL) return an expression of type
   * `hint` — of the value's own type when `hint` is `json`.
   */
  param(n: number, value?: SqlValue, hint?: ValueType): string;
  /** Bind booleans as parameters (typed by {@link param}) instead of writing TRUE/FALSE. */
  readonly bindBooleans?: boolean;
  /**
   * Makes two SQL operands of different types comparable, for engines that
   * refuse to compare across types; absent where the engine converts itself.
   */
  unify?(left: string, leftType: ValueType, right: string, rightType: ValueType): [string, string];
  /** Case-insensitive `left LIKE right ESCAPE '\'`, negated for `!~`. */
  like(left: string, right: string, negate: boolean): string;
  /**
   * {@link like} over a column a search index holds, with the very same
   * answers, served by the index; null when the index cannot serve
   * `pattern` (a LIKE pattern, as {@link likePattern} writes it: one with no
   * run of 3 characters between its wildcards), and the caller scans.
   * Absent where the engine's own LIKE uses the index (pg_trgm).
   */
  likeIndexed?(left: string, pattern: string, negate: boolean, index: TextIndex, param: (value: SqlValue) => string): IndexedLike | null;
  /**
   * Ranked full-text search (the `search()` filter function) over the
   * columns of one search index: `match` is true for the rows that hold
   * every word of `query`, `rank` is larger for better matches (NULL on
   * rows that do not match). `query` is the user's text as it is: the
   * engine quotes it, so its syntax (FTS5's `"`, `NEAR(`, `*`, `-`) is never
   * the engine's.
   */
  fullText(index: FullTextIndex, query: string, param: (value: SqlValue) => string): FullTextMatch;
  /** Null-safe equality (`IS`), negated for inequality (`IS NOT`). */
  same(left: string, right: string, negate: boolean): string;
  /** True when `sql` holds the "empty" value of its type (`''` or NULL); negated for non-empty. */
  isEmpty(sql: string, type: ValueType, negate: boolean): string;
  /** `sql` with NULL replaced by its type's empty value, comparable with `=`. */
  coalesceEmpty(sql: string, type: ValueType): string;
  /** `sql` cast to text, to wrap it in `%…%` for `~`. */
  asText(sql: string, type: ValueType): string;
  /** PocketBase's `strftime()`, its arguments checked (query/strftime.ts); `param` binds a value. */
  strftime(call: StrftimeCall, param: (value: SqlValue) => string): string;
}

/**
 * A multi-valued operand (a multi relation, a back-relation, `:each`,
 * `@collection`): a correlated subquery `SELECT <value> AS v FROM …` over all
 * of its values, used to require that every value matches. The same shape
 * lists a field's items for the `?` operators ({@link Resolved} `any`).
 */
export interface MultiMatch {
  readonly query: string;
  readonly type: ValueType;
}

/**
 * What a name in a filter resolves to. `any`, where set, lists the items of
 * a value that holds a list (a multi select, relation or file field, a JSON
 * array, a submitted list): a `?` operator then matches when one item does,
 * where a plain operator compares the stored list as a whole (PocketBase).
 */
export type Resolved =
  /** A request or literal value: bound as a parameter (null becomes NULL). */
  | { readonly kind: 'value'; readonly value: SqlValue; readonly any?: () => MultiMatch }
  | {
      readonly kind: 'sql';
      /** The expression, valid in the scope of the resolver's joins. */
      readonly sql: string;
      readonly type: ValueType;
      /**
       * How NULL and '' relate: `auto` treats them as one (PocketBase's
       * non-nullable fields); `disabled` compares with `IS` (JSON values).
       */
      readonly nullFallback?: 'auto' | 'disabled';
      /** Set when the operand has many values per record. */
      readonly multi?: MultiMatch;
      /** The items of a list value, for the `?` operators; built only when one asks (it may bind parameters). */
      readonly any?: () => MultiMatch;
      /** Wraps the finished comparison, e.g. to add `AND emailVisibility`. */
      readonly wrap?: (comparison: string) => string;
      /** Set when a search index holds this column: `~` and `!~` may use it. */
      readonly textIndex?: TextIndex;
      /**
       * Set when the SQL is a condition that is never NULL (`search()`):
       * `= true` is the condition itself, which the engine's planner may
       * then use to find the rows (an index, a subquery), and `= false` its negation.
       */
      readonly predicate?: boolean;
    };

/** Maps the names in a filter (`title`, `author.name`, `@request.auth.id`) to SQL. */
export interface Resolver {
  /** Throws {@link FilterError} for a name the caller may not use or that does not exist. */
  resolve(name: string): Resolved;
  /**
   * The search index that holds every one of `names` (fields of the
   * resolver's own record), for `search()`; throws {@link FilterError}
   * when none does or a name cannot be used. Absent where there is no
   * record (no search).
   */
  fullTextIndex?(names: readonly string[]): FullTextIndex;
  /**
   * False when `name` certainly does not resolve. Lets a literal such as
   * `false` in a rule skip the thrown error of a failed resolve, which costs
   * a stack trace (15 µs in a request) on every compile.
   */
  knows?(name: string): boolean;
}

/** The ordered list of bound parameters of one statement. */
export class SqlParams {
  readonly values: SqlValue[] = [];
  private aliases = 0;
  /**
   * The rank of the statement's `search()`, for `sort=@rank`: the SQL of
   * its first call (a filter with several is ranked by the first).
   */
  rank: string | null = null;
  /**
   * The ranked source of that first call, if its engine has one and its
   * owner lets the page join it (see {@link FullTextMatch.ranked}); the
   * owner clears it when the search is not a condition every row meets.
   */
  ranked: RankedSource | null = null;
  /** Set when a sort used {@link ranked}'s key: the page must join its source. */
  rankJoined = false;
  /** How many `~` a search index serves (not `!~`), and the walk of the only one, if it must hold for every row. */
  private likes = { count: 0, walk: null as LikeWalk | null };
  constructor(private readonly flavor: SqlFlavor) {}

  /**
   * A fresh table alias for this statement. A counter, not a random name, so
   * the same filter gives the same SQL text and its prepared statement is reused.
   */
  alias(prefix: string): string {
    return `__${prefix}${++this.aliases}`;
  }

  /**
   * How many aliases the statement has taken: a join or a subquery takes
   * one, so 0 means a condition on the row alone, whose cost cannot grow
   * with a table.
   */
  get aliasCount(): number {
    return this.aliases;
  }

  /**
   * The walk a page may take ({@link LikeWalk}): that of the statement's
   * only indexed `~`, where every row must meet it (reached through `&&`
   * only); null where there is none, or more than one, since a planner
   * would read the rows from another one's candidates.
   */
  get walk(): LikeWalk | null {
    return this.likes.count === 1 ? this.likes.walk : null;
  }

  /** Notes an indexed `~` the compiler wrote; `required`: every row must meet it. */
  noteIndexedLike(walk: LikeWalk | undefined, required: boolean): void {
    this.likes.count++;
    this.likes.walk = required && walk ? walk : null;
  }

  /** Binds a value and returns its placeholder; `hint` is the type of what it is compared with. */
  add(value: SqlValue, hint?: ValueType): string {
    this.values.push(value);
    return this.flavor.param(this.values.length, value, hint);
  }
}

/** Literal names that mean a value when the resolver does not know them. */
const LITERAL_IDENTS: Record<string, SqlValue> = { null: null, true: true, false: false };

const isEmptyValue = (r: Resolved) => r.kind === 'value' && (r.value === null || r.value === '');
const isKnownNonEmpty = (r: Resolved) => r.kind === 'value' && r.value !== null && r.value !== '';

/**
 * The LIKE pattern for a `~` value. As in PocketBase, a value with an
 * unescaped `%` is a pattern the caller wrote on purpose (`"Lorem%"` is a
 * prefix match) and is used as it is; any other value is text to find
 * anywhere: its lone `%`, `_` and `\` are escaped (an already escaped
 * `\%` stays one literal `%`) and it is wrapped in `%…%`.
 */
export function likePattern(value: string): string {
  let escaped = false;
  for (const c of value) {
    if (c === '%' && !escaped) return value;
    escaped = c === '\\' && !escaped;
  }
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    const next = value[i + 1];
    if (c === '\\' && (next === '%' || next === '_' || next === '\\')) {
      out += c + next;
      i++;
    } else if (c === '%' || c === '_' || c === '\\') {
      out += `\\${c}`;
    } else {
      out += c;
    }
  }
  return `%${out}%`;
}

/**
 * Compiles a parsed filter into an SQL boolean expression whose every value
 * is a bound parameter in `params`. Semantics follow PocketBase: NULL and ''
 * are one value for ordinary fields, `~` is a case-insensitive "contains",
 * and plain operators over a multi-valued operand require every value to
 * match while the `?` forms require one.
 */
export function compileFilter(expr: Expr, resolver: Resolver, flavor: SqlFlavor, params: SqlParams): string {
  return new FilterCompiler(resolver, flavor, params).expression(expr);
}

/** One compilation: the resolver, the engine's SQL and the statement's parameters, and a method per step. */
class FilterCompiler {
  /** Whether every row must meet the comparison being compiled: it is reached through `&&` only. */
  private required = true;

  constructor(
    private readonly resolver: Resolver,
    private readonly flavor: SqlFlavor,
    private readonly params: SqlParams,
  ) {}

  /** A node of the tree: a comparison, or items joined by AND or OR; `required`: reached through AND only. */
  expression(node: Expr, required = true): string {
    if (node.kind === 'cmp') {
      this.required = required;
      return this.comparison(node.op, node.left, node.right, node.bare === true);
    }
    const joiner = node.kind === 'and' ? ' AND ' : ' OR ';
    return `(${node.items.map((item) => this.expression(item, required && node.kind === 'and')).join(joiner)})`;
  }

  /** An operand: a literal value, a call of a filter function, a macro, or a name the resolver knows. */
  resolve = (operand: Operand): Resolved => {
    switch (operand.kind) {
      case 'text':
      case 'number':
        return { kind: 'value', value: operand.value };
      case 'call': {
        const fn = Object.hasOwn(FILTER_FUNCTIONS, operand.name) ? FILTER_FUNCTIONS[operand.name] : undefined;
        if (!fn) throw new FilterError(`unknown function "${operand.name}"`);
        return fn(operand.args, { resolve: this.resolve, params: this.params, flavor: this.flavor, resolver: this.resolver });
      }
      case 'ident':
        return this.name(operand.name);
    }
  };

  /** A name: a date macro, a field or request value, or the literal true/false/null when nothing else is so named. */
  private name(name: string): Resolved {
    const macro = macroValue(name);
    if (macro !== undefined) return { kind: 'value', value: macro };
    const lower = name.toLowerCase();
    const literal = Object.hasOwn(LITERAL_IDENTS, lower);
    if (literal && this.resolver.knows?.(name) === false) return { kind: 'value', value: LITERAL_IDENTS[lower] ?? null };
    try {
      return this.resolver.resolve(name);
    } catch (err) {
      if (literal) return { kind: 'value', value: LITERAL_IDENTS[lower] ?? null };
      throw err;
    }
  }

  private sqlOf(r: Resolved, hint?: ValueType): string {
    if (r.kind === 'sql') return r.sql;
    if (r.value === null) return 'NULL';
    if (typeof r.value === 'boolean' && !this.flavor.bindBooleans) return r.value ? 'TRUE' : 'FALSE';
    return this.params.add(r.value, hint);
  }

  private typeOf(r: Resolved): ValueType {
    if (r.kind === 'sql') return r.type;
    if (typeof r.value === 'number') return 'number';
    if (typeof r.value === 'boolean') return 'bool';
    return 'text';
  }

  /**
   * Both sides of a comparison as SQL: a value is bound as the type of the
   * other side, and SQL operands of different types are made comparable.
   */
  private both(left: Resolved, right: Resolved): [string, string] {
    const lh = left.kind === 'value' && right.kind === 'sql' ? right.type : undefined;
    const rh = right.kind === 'value' ? this.typeOf(left) : undefined;
    const l = this.sqlOf(left, lh);
    const r = this.sqlOf(right, rh);
    if (!this.flavor.unify || l === 'NULL' || r === 'NULL') return [l, r];
    // a bound value has the type of its hint, but keeps its own against JSON (whose values have JSON types)
    const bound = (x: Resolved, hint: ValueType | undefined): ValueType =>
      x.kind === 'sql' ? x.type : hint && hint !== 'json' ? hint : this.typeOf(x);
    const lt = bound(left, lh);
    const rt = bound(right, rh);
    return lt === rt ? [l, r] : this.flavor.unify(l, lt, r, rt);
  }

  private equality(equal: boolean, left: Resolved, right: Resolved): string {
    const flavor = this.flavor;
    const noFallback =
      (left.kind === 'sql' && left.nullFallback === 'disabled') || (right.kind === 'sql' && right.nullFallback === 'disabled');
    if (noFallback) return flavor.same(...this.both(left, right), !equal);

    const leftEmpty = isEmptyValue(left);
    const rightEmpty = isEmptyValue(right);
    if (leftEmpty && rightEmpty) return equal ? 'TRUE' : 'FALSE';
    if (leftEmpty) return flavor.isEmpty(this.sqlOf(right), this.typeOf(right), !equal);
    if (rightEmpty) return flavor.isEmpty(this.sqlOf(left), this.typeOf(left), !equal);
    if (isKnownNonEmpty(left) || isKnownNonEmpty(right)) {
      const [l, r] = this.both(left, right);
      return equal ? `${l} = ${r}` : flavor.same(l, r, true);
    }
    const l = flavor.coalesceEmpty(this.sqlOf(left), this.typeOf(left));
    const r = flavor.coalesceEmpty(this.sqlOf(right), this.typeOf(right));
    return equal ? `${l} = ${r}` : `${l} <> ${r}`;
  }

  private like(negate: boolean, left: Resolved, right: Resolved): string {
    const flavor = this.flavor;
    // NULL is contained in nothing and contains nothing, as in SQL: `x ~ null` must not match every row
    if ((right.kind === 'value' && right.value === null) || (left.kind === 'value' && left.value === null)) {
      const l = left.kind === 'value' && left.value === null ? 'NULL' : flavor.asText(this.sqlOf(left), this.typeOf(left));
      return flavor.like(l, 'NULL', negate);
    }
    const l = flavor.asText(this.sqlOf(left), this.typeOf(left));
    if (right.kind === 'value') {
      const pattern = likePattern(String(right.value));
      if (left.kind === 'sql' && left.textIndex && flavor.likeIndexed) {
        const indexed = flavor.likeIndexed(l, pattern, negate, left.textIndex, (v) => this.params.add(v));
        if (indexed !== null) {
          if (!negate) this.params.noteIndexedLike(indexed.walk, this.required);
          return indexed.sql;
        }
      }
      return flavor.like(l, this.params.add(pattern), negate);
    }
    return flavor.like(l, `('%' || ${flavor.asText(right.sql, right.type)} || '%')`, negate);
  }

  private plain(op: Operator, left: Resolved, right: Resolved): string {
    switch (op) {
      case '=':
        return this.equality(true, left, right);
      case '!=':
        return this.equality(false, left, right);
      case '~':
        return this.like(false, left, right);
      case '!~':
        return this.like(true, left, right);
      case '<':
      case '<=':
      case '>':
      case '>=': {
        const [l, r] = this.both(left, right);
        return `${l} ${op} ${r}`;
      }
      default:
        throw new FilterError(`unknown operator "${op}"`);
    }
  }

  /** Every value of a multi-valued side must satisfy the comparison. */
  private everyValue(op: Operator, multi: MultiMatch, other: Resolved, multiOnLeft: boolean): string {
    const alias = this.params.alias('mm');
    const value: Resolved = { kind: 'sql', sql: `${alias}.v`, type: multi.type };
    const cond = multiOnLeft ? this.plain(op, value, other) : this.plain(op, other, value);
    return `NOT EXISTS (SELECT 1 FROM (${multi.query}) ${alias} WHERE NOT COALESCE(${cond}, FALSE))`;
  }

  private bothEvery(op: Operator, left: MultiMatch, right: MultiMatch): string {
    const suffix = this.params.alias('mmx');
    const l: Resolved = { kind: 'sql', sql: `__ml${suffix}.v`, type: left.type };
    const r: Resolved = { kind: 'sql', sql: `__mr${suffix}.v`, type: right.type };
    return `NOT EXISTS (SELECT 1 FROM (${left.query}) __ml${suffix} CROSS JOIN (${right.query}) __mr${suffix} WHERE NOT COALESCE(${this.plain(op, l, r)}, FALSE))`;
  }

  /**
   * A `?` comparison where a side is a list: true when one of its items (one
   * pair of items, when both are) satisfies the plain comparison. A list
   * without items satisfies none, `?!=` included. (`:each` and paths through
   * relations keep PocketBase's LEFT JOIN, where an empty list counts as one
   * empty value; here that would let a guest, whose `@request.auth.id` is
   * empty, match every record with no owners under `owners ?= @request.auth.id`.)
   */
  private someItem(op: Operator, left: Resolved, right: Resolved): string {
    const from: string[] = [];
    const item = (r: Resolved): Resolved => {
      if (!r.any) return r;
      const items = r.any();
      const alias = this.params.alias('any');
      from.push(`(${items.query}) ${alias}`);
      // JSON items compare as JSON values do: null is not ''
      return items.type === 'json'
        ? { kind: 'sql', sql: `${alias}.v`, type: 'json', nullFallback: 'disabled' }
        : { kind: 'sql', sql: `${alias}.v`, type: items.type };
    };
    const cond = this.plain(op, item(left), item(right));
    return `EXISTS (SELECT 1 FROM ${from.join(' CROSS JOIN ')} WHERE ${cond})`;
  }

  private comparison(op: Operator, leftOperand: Operand, rightOperand: Operand, bare = false): string {
    const left = this.resolve(leftOperand);
    const right = this.resolve(rightOperand);
    if (bare && !(left.kind === 'sql' && left.predicate)) {
      const name = leftOperand.kind === 'call' ? leftOperand.name : 'it';
      throw new FilterError(`${name}(…) alone is not a condition: compare it, as in ${name}(…) > 1`);
    }
    if (
      (op === '=' || op === '!=') &&
      left.kind === 'sql' &&
      left.predicate &&
      right.kind === 'value' &&
      typeof right.value === 'boolean'
    ) {
      return (op === '=') === right.value ? left.sql : `NOT ${left.sql}`;
    }
    const base = baseOp(op);
    let sql: string;
    if (isAnyOp(op) && (left.any || right.any)) {
      sql = this.someItem(base, left, right);
    } else {
      sql = this.plain(base, left, right);
      if (!isAnyOp(op)) {
        const lm = left.kind === 'sql' ? left.multi : undefined;
        const rm = right.kind === 'sql' ? right.multi : undefined;
        if (lm && rm) sql = `(${sql} AND ${this.bothEvery(base, lm, rm)})`;
        else if (lm) sql = `(${sql} AND ${this.everyValue(base, lm, right, true)})`;
        else if (rm) sql = `(${sql} AND ${this.everyValue(base, rm, left, false)})`;
      }
    }
    if (left.kind === 'sql' && left.wrap) sql = left.wrap(sql);
    if (right.kind === 'sql' && right.wrap) sql = right.wrap(sql);
    return sql;
  }
}
