import { baseOp, type Expr, isAnyOp, type Operand, type Operator } from './ast.js';
import { FilterError } from './errors.js';
import { macroValue } from './macros.js';
import { parseStrftimeFormat, parseStrftimeModifier, type StrftimeCall, type StrftimeTime, strftimeTimeText } from './strftime.js';

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
    };

/** Maps the names in a filter (`title`, `author.name`, `@request.auth.id`) to SQL. */
export interface Resolver {
  /** Throws {@link FilterError} for a name the caller may not use or that does not exist. */
  resolve(name: string): Resolved;
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
  const resolve = (operand: Operand): Resolved => {
    switch (operand.kind) {
      case 'text':
        return { kind: 'value', value: operand.value };
      case 'number':
        return { kind: 'value', value: operand.value };
      case 'call':
        if (operand.name === 'geoDistance') return geoDistance(operand.args);
        if (operand.name === 'strftime') return strftime(operand.args);
        throw new FilterError(`unknown function "${operand.name}"`);
      case 'ident': {
        const macro = macroValue(operand.name);
        if (macro !== undefined) return { kind: 'value', value: macro };
        const lower = operand.name.toLowerCase();
        if (Object.hasOwn(LITERAL_IDENTS, lower) && resolver.knows?.(operand.name) === false) {
          return { kind: 'value', value: LITERAL_IDENTS[lower] ?? null };
        }
        try {
          return resolver.resolve(operand.name);
        } catch (err) {
          if (Object.hasOwn(LITERAL_IDENTS, lower)) return { kind: 'value', value: LITERAL_IDENTS[lower] ?? null };
          throw err;
        }
      }
    }
  };

  /**
   * PocketBase's `geoDistance(lonA, latA, lonB, latB)`: the great-circle
   * distance in kilometres (spherical law of cosines, Earth's radius 6371
   * km), NULL when a coordinate is. Each argument is a number, a number
   * field, a geoPoint's `lon`/`lat`, or a request value (a number, or text
   * that reads as one; anything else is NULL). The cosine is held to [-1, 1]:
   * rounding can push it past 1 for two equal points, where acos fails on
   * PostgreSQL.
   */
  const geoDistance = (args: readonly Operand[]): Resolved => {
    if (args.length !== 4) throw new FilterError(`geoDistance takes 4 arguments (lonA, latA, lonB, latB), not ${args.length}`);
    const [lonA, latA, lonB, latB] = args.map((arg, i) => {
      const which = `geoDistance's argument ${i + 1}`;
      if (arg.kind !== 'ident' && arg.kind !== 'number') throw new FilterError(`${which} must be a field or a number`);
      const r = resolve(arg);
      if (r.kind === 'value') {
        const n =
          typeof r.value === 'number' ? r.value : typeof r.value === 'string' && r.value.trim() !== '' ? Number(r.value) : Number.NaN;
        return Number.isFinite(n) ? params.add(n, 'number') : 'NULL';
      }
      if (r.multi) throw new FilterError(`${which} has many values per record; geoDistance takes one`);
      if (r.type === 'number') return r.sql;
      if (r.type === 'json') return flavor.unify ? flavor.unify(r.sql, 'json', '0', 'number')[0] : r.sql;
      throw new FilterError(`${which} must be a number field, a geoPoint's lon or lat, or a number`);
    }) as [string, string, string, string];
    const rad = (x: string) => `radians(${x})`;
    const cosine = `(cos(${rad(latA)}) * cos(${rad(latB)}) * cos(${rad(lonB)} - ${rad(lonA)}) + sin(${rad(latA)}) * sin(${rad(latB)}))`;
    const held = `CASE WHEN ${cosine} > 1 THEN 1 WHEN ${cosine} < -1 THEN -1 ELSE ${cosine} END`;
    return { kind: 'sql', sql: `(6371 * acos(${held}))`, type: 'number', nullFallback: 'disabled' };
  };

  /**
   * PocketBase's `strftime(format, [time, modifiers…])`: the time as text in
   * `format` (SQLite's conversions, those both engines give alike; see
   * query/strftime.ts), NULL (so '') when the time is. The time is a date
   * field, a date text, 'now' (the default) or a date macro; the modifiers
   * shift it (`'+1 day'`) or take the start of its year, month or day.
   */
  const strftime = (args: readonly Operand[]): Resolved => {
    if (args.length < 1 || args.length > 10) {
      throw new FilterError(`strftime takes a format, a time and at most 8 modifiers, not ${args.length} arguments`);
    }
    const [format, time, ...modifiers] = args as [Operand, ...Operand[]];
    if (format.kind !== 'text') throw new FilterError("strftime's first argument must be a format text, such as '%Y-%m'");
    const call: StrftimeCall = {
      format: format.value,
      parts: parseStrftimeFormat(format.value),
      time: time === undefined ? 'now' : strftimeTime(time),
      modifiers: modifiers.map((m, i) => {
        if (m.kind !== 'text') throw new FilterError(`strftime's modifier ${i + 1} must be a text, such as '+1 day'`);
        return parseStrftimeModifier(m.value);
      }),
    };
    return { kind: 'sql', sql: flavor.strftime(call, (v) => params.add(v, 'text')), type: 'text' };
  };

  const strftimeTime = (operand: Operand): StrftimeTime | null => {
    const what = "strftime's time must be a date field, a date text or 'now'";
    if (operand.kind === 'number' || operand.kind === 'call') throw new FilterError(what);
    const r = operand.kind === 'text' ? ({ kind: 'value', value: operand.value } as const) : resolve(operand);
    if (r.kind === 'value') return typeof r.value === 'string' ? strftimeTimeText(r.value) : null;
    if (r.multi) throw new FilterError("strftime's time has many values per record; strftime takes one");
    if (r.type !== 'date') throw new FilterError(what);
    return { sql: r.sql };
  };

  const sqlOf = (r: Resolved, hint?: ValueType): string => {
    if (r.kind === 'sql') return r.sql;
    if (r.value === null) return 'NULL';
    if (typeof r.value === 'boolean' && !flavor.bindBooleans) return r.value ? 'TRUE' : 'FALSE';
    return params.add(r.value, hint);
  };

  const typeOf = (r: Resolved): ValueType => {
    if (r.kind === 'sql') return r.type;
    if (typeof r.value === 'number') return 'number';
    if (typeof r.value === 'boolean') return 'bool';
    return 'text';
  };

  /**
   * Both sides of a comparison as SQL: a value is bound as the type of the
   * other side, and SQL operands of different types are made comparable.
   */
  const both = (left: Resolved, right: Resolved): [string, string] => {
    const lh = left.kind === 'value' && right.kind === 'sql' ? right.type : undefined;
    const rh = right.kind === 'value' ? typeOf(left) : undefined;
    const l = sqlOf(left, lh);
    const r = sqlOf(right, rh);
    if (!flavor.unify || l === 'NULL' || r === 'NULL') return [l, r];
    // a bound value has the type of its hint, but keeps its own against JSON (whose values have JSON types)
    const bound = (x: Resolved, hint: ValueType | undefined): ValueType =>
      x.kind === 'sql' ? x.type : hint && hint !== 'json' ? hint : typeOf(x);
    const lt = bound(left, lh);
    const rt = bound(right, rh);
    return lt === rt ? [l, r] : flavor.unify(l, lt, r, rt);
  };

  const equality = (equal: boolean, left: Resolved, right: Resolved): string => {
    const noFallback =
      (left.kind === 'sql' && left.nullFallback === 'disabled') || (right.kind === 'sql' && right.nullFallback === 'disabled');
    if (noFallback) return flavor.same(...both(left, right), !equal);

    const leftEmpty = isEmptyValue(left);
    const rightEmpty = isEmptyValue(right);
    if (leftEmpty && rightEmpty) return equal ? 'TRUE' : 'FALSE';
    if (leftEmpty) return flavor.isEmpty(sqlOf(right), typeOf(right), !equal);
    if (rightEmpty) return flavor.isEmpty(sqlOf(left), typeOf(left), !equal);
    if (isKnownNonEmpty(left) || isKnownNonEmpty(right)) {
      const [l, r] = both(left, right);
      return equal ? `${l} = ${r}` : flavor.same(l, r, true);
    }
    const l = flavor.coalesceEmpty(sqlOf(left), typeOf(left));
    const r = flavor.coalesceEmpty(sqlOf(right), typeOf(right));
    return equal ? `${l} = ${r}` : `${l} <> ${r}`;
  };

  const like = (negate: boolean, left: Resolved, right: Resolved): string => {
    // NULL is contained in nothing and contains nothing, as in SQL: `x ~ null` must not match every row
    if ((right.kind === 'value' && right.value === null) || (left.kind === 'value' && left.value === null)) {
      return flavor.like(left.kind === 'value' && left.value === null ? 'NULL' : flavor.asText(sqlOf(left), typeOf(left)), 'NULL', negate);
    }
    const l = flavor.asText(sqlOf(left), typeOf(left));
    if (right.kind === 'value') {
      const pattern = params.add(likePattern(String(right.value)));
      return flavor.like(l, pattern, negate);
    }
    return flavor.like(l, `('%' || ${flavor.asText(right.sql, right.type)} || '%')`, negate);
  };

  const plain = (op: Operator, left: Resolved, right: Resolved): string => {
    switch (op) {
      case '=':
        return equality(true, left, right);
      case '!=':
        return equality(false, left, right);
      case '~':
        return like(false, left, right);
      case '!~':
        return like(true, left, right);
      case '<':
      case '<=':
      case '>':
      case '>=': {
        const [l, r] = both(left, right);
        return `${l} ${op} ${r}`;
      }
      default:
        throw new FilterError(`unknown operator "${op}"`);
    }
  };

  /** Every value of a multi-valued side must satisfy the comparison. */
  const everyValue = (op: Operator, multi: MultiMatch, other: Resolved, multiOnLeft: boolean): string => {
    const alias = params.alias('mm');
    const value: Resolved = { kind: 'sql', sql: `${alias}.v`, type: multi.type };
    const cond = multiOnLeft ? plain(op, value, other) : plain(op, other, value);
    return `NOT EXISTS (SELECT 1 FROM (${multi.query}) ${alias} WHERE NOT COALESCE(${cond}, FALSE))`;
  };

  const bothEvery = (op: Operator, left: MultiMatch, right: MultiMatch): string => {
    const suffix = params.alias('mmx');
    const l: Resolved = { kind: 'sql', sql: `__ml${suffix}.v`, type: left.type };
    const r: Resolved = { kind: 'sql', sql: `__mr${suffix}.v`, type: right.type };
    return `NOT EXISTS (SELECT 1 FROM (${left.query}) __ml${suffix} CROSS JOIN (${right.query}) __mr${suffix} WHERE NOT COALESCE(${plain(op, l, r)}, FALSE))`;
  };

  /**
   * A `?` comparison where a side is a list: true when one of its items (one
   * pair of items, when both are) satisfies the plain comparison. A list
   * without items satisfies none, `?!=` included. (`:each` and paths through
   * relations keep PocketBase's LEFT JOIN, where an empty list counts as one
   * empty value; here that would let a guest, whose `@request.auth.id` is
   * empty, match every record with no owners under `owners ?= @request.auth.id`.)
   */
  const someItem = (op: Operator, left: Resolved, right: Resolved): string => {
    const from: string[] = [];
    const item = (r: Resolved): Resolved => {
      if (!r.any) return r;
      const items = r.any();
      const alias = params.alias('any');
      from.push(`(${items.query}) ${alias}`);
      // JSON items compare as JSON values do: null is not ''
      return items.type === 'json'
        ? { kind: 'sql', sql: `${alias}.v`, type: 'json', nullFallback: 'disabled' }
        : { kind: 'sql', sql: `${alias}.v`, type: items.type };
    };
    const cond = plain(op, item(left), item(right));
    return `EXISTS (SELECT 1 FROM ${from.join(' CROSS JOIN ')} WHERE ${cond})`;
  };

  const comparison = (op: Operator, leftOperand: Operand, rightOperand: Operand): string => {
    const left = resolve(leftOperand);
    const right = resolve(rightOperand);
    const base = baseOp(op);
    let sql: string;
    if (isAnyOp(op) && (left.any || right.any)) {
      sql = someItem(base, left, right);
    } else {
      sql = plain(base, left, right);
      if (!isAnyOp(op)) {
        const lm = left.kind === 'sql' ? left.multi : undefined;
        const rm = right.kind === 'sql' ? right.multi : undefined;
        if (lm && rm) sql = `(${sql} AND ${bothEvery(base, lm, rm)})`;
        else if (lm) sql = `(${sql} AND ${everyValue(base, lm, right, true)})`;
        else if (rm) sql = `(${sql} AND ${everyValue(base, rm, left, false)})`;
      }
    }
    if (left.kind === 'sql' && left.wrap) sql = left.wrap(sql);
    if (right.kind === 'sql' && right.wrap) sql = right.wrap(sql);
    return sql;
  };

  const walk = (node: Expr): string => {
    if (node.kind === 'cmp') return comparison(node.op, node.left, node.right);
    const joiner = node.kind === 'and' ? ' AND ' : ' OR ';
    return `(${node.items.map(walk).join(joiner)})`;
  };

  return walk(expr);
}
