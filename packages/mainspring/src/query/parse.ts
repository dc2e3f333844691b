import type { Expr, Operand, Operator } from './ast.js';
import { FilterError } from './errors.js';

/** Bounds on what one filter may cost to parse. */
export interface ParseLimits {
  /** Longest accepted text, in characters. */
  maxLength: number;
  /** Most comparisons in one expression. */
  maxComparisons: number;
  /** Deepest nesting of parentheses. */
  maxDepth: number;
}

/** The bounds PocketBase applies (3500 characters, 200 comparisons), plus a nesting bound. */
export const DEFAULT_PARSE_LIMITS: ParseLimits = { maxLength: 3500, maxComparisons: 200, maxDepth: 32 };

const OPERATORS: ReadonlySet<string> = new Set([
  '=',
  '!=',
  '>',
  '>=',
  '<',
  '<=',
  '~',
  '!~',
  '?=',
  '?!=',
  '?>',
  '?>=',
  '?<',
  '?<=',
  '?~',
  '?!~',
]);

const MAX_FUNCTION_DEPTH = 3;

type Token =
  | { t: 'ident'; v: string; pos: number }
  | { t: 'text'; v: string; pos: number }
  | { t: 'number'; v: number; raw: string; pos: number }
  | { t: 'op'; v: Operator; pos: number }
  | { t: 'and' | 'or' | '(' | ')' | ',' | 'eof'; pos: number };

const isLetter = (c: string) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
const isDigit = (c: string) => c >= '0' && c <= '9';
const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r';
const isIdentStart = (c: string) => isLetter(c) || c === '@' || c === '_' || c === '#';
const isIdentPart = (c: string) => isLetter(c) || isDigit(c) || c === '_' || c === '.' || c === ':' || c === '@' || c === '#';
const isSignChar = (c: string) => c === '=' || c === '?' || c === '!' || c === '>' || c === '<' || c === '~';

/** A token and the index just past it. */
type Scanned = [Token, number];

/** Splits filter text into tokens, following the `fexpr` scanner's rules. */
function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    const [token, next] = scanToken(src, i, c);
    out.push(token);
    i = next;
  }
  out.push({ t: 'eof', pos: src.length });
  return out;
}

/** The token that starts at `i` with the character `c`. */
function scanToken(src: string, i: number, c: string): Scanned {
  if (c === '(' || c === ')' || c === ',') return [{ t: c, pos: i }, i + 1];
  if (c === '&' || c === '|') return scanJoin(src, i);
  if (isSignChar(c)) return scanOperator(src, i);
  if (c === '"' || c === "'") return scanText(src, i, c);
  if (isDigit(c) || (c === '-' && isDigit(src[i + 1] ?? ''))) return scanNumber(src, i);
  if (isIdentStart(c)) return scanIdent(src, i, c);
  throw new FilterError(`unexpected character ${JSON.stringify(c)} at position ${i}`);
}

function scanJoin(src: string, i: number): Scanned {
  let j = i;
  while (src[j] === '&' || src[j] === '|') j++;
  const lit = src.slice(i, j);
  if (lit !== '&&' && lit !== '||') throw new FilterError(`invalid join operator "${lit}" at position ${i}`);
  return [{ t: lit === '&&' ? 'and' : 'or', pos: i }, j];
}

function scanOperator(src: string, i: number): Scanned {
  let j = i;
  while (j < src.length && isSignChar(src[j] as string)) j++;
  const lit = src.slice(i, j);
  if (!OPERATORS.has(lit)) throw new FilterError(`invalid operator "${lit}" at position ${i}`);
  return [{ t: 'op', v: lit as Operator, pos: i }, j];
}

function scanText(src: string, i: number, quote: string): Scanned {
  let j = i + 1;
  let prev = '';
  while (j < src.length) {
    const ch = src[j] as string;
    if (ch === quote && prev !== '\\') {
      // As in fexpr, only an escaped quote of the enclosing kind is unescaped;
      // other backslashes stay, so `\%` keeps its meaning for `~`.
      const v = src
        .slice(i + 1, j)
        .split(`\\${quote}`)
        .join(quote);
      return [{ t: 'text', v, pos: i }, j + 1];
    }
    prev = ch;
    j++;
  }
  throw new FilterError(`unterminated text starting at position ${i}`);
}

function scanNumber(src: string, i: number): Scanned {
  let j = i + 1;
  while (j < src.length && isDigit(src[j] as string)) j++;
  if (src[j] === '.') {
    j++;
    const fracStart = j;
    while (j < src.length && isDigit(src[j] as string)) j++;
    if (j === fracStart) throw new FilterError(`invalid number "${src.slice(i, j)}" at position ${i}`);
  }
  const raw = src.slice(i, j);
  const v = Number(raw);
  if (!Number.isFinite(v)) throw new FilterError(`invalid number "${raw}" at position ${i}`);
  return [{ t: 'number', v, raw, pos: i }, j];
}

function scanIdent(src: string, i: number, c: string): Scanned {
  let j = i + 1;
  while (j < src.length && isIdentPart(src[j] as string)) j++;
  const v = src.slice(i, j);
  const last = v[v.length - 1] as string;
  if (last === '.' || last === ':' || (v.length === 1 && !isLetter(c))) {
    throw new FilterError(`invalid identifier "${v}" at position ${i}`);
  }
  return [{ t: 'ident', v, pos: i }, j];
}

/**
 * Parses filter or rule text into an expression tree.
 * Throws {@link FilterError} for anything that is not a complete, bounded expression.
 */
export function parseFilter(src: string, limits: ParseLimits = DEFAULT_PARSE_LIMITS): Expr {
  if (typeof src !== 'string') throw new FilterError('the filter must be a string');
  if (src.length > limits.maxLength) {
    throw new FilterError(`the filter is longer than ${limits.maxLength} characters`);
  }
  return new Parser(tokenize(src), limits).expression();
}

/** A recursive-descent parser over one filter's tokens: `||` binds looser than `&&`, parentheses group. */
class Parser {
  private at = 0;
  private comparisons = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly limits: ParseLimits,
  ) {}

  /** The whole filter: one expression and nothing after it. */
  expression(): Expr {
    if (this.peek().t === 'eof') throw new FilterError('empty filter expression');
    const expr = this.disjunction(0);
    const rest = this.peek();
    if (rest.t !== 'eof') throw new FilterError(`expected "&&" or "||" at ${describe(rest)}`);
    return expr;
  }

  private peek(): Token {
    return this.tokens[this.at] as Token;
  }

  private next(): Token {
    return this.tokens[this.at++] as Token;
  }

  private disjunction(depth: number): Expr {
    const items = [this.conjunction(depth)];
    while (this.peek().t === 'or') {
      this.next();
      items.push(this.conjunction(depth));
    }
    return items.length === 1 ? (items[0] as Expr) : { kind: 'or', items };
  }

  private conjunction(depth: number): Expr {
    const items = [this.primary(depth)];
    while (this.peek().t === 'and') {
      this.next();
      items.push(this.primary(depth));
    }
    return items.length === 1 ? (items[0] as Expr) : { kind: 'and', items };
  }

  private primary(depth: number): Expr {
    if (this.peek().t !== '(') return this.comparison();
    if (depth >= this.limits.maxDepth) throw new FilterError(`parentheses nest deeper than ${this.limits.maxDepth}`);
    this.next();
    const inner = this.disjunction(depth + 1);
    const close = this.next();
    if (close.t !== ')') throw new FilterError(`expected ")" at ${describe(close)}`);
    return inner;
  }

  private comparison(): Expr {
    const left = this.operand(0);
    if (left.kind === 'call' && this.peek().t !== 'op') {
      // a function call alone is a condition (`search(title, "words")`): it means `= true`
      if (++this.comparisons > this.limits.maxComparisons) {
        throw new FilterError(`the filter has more than ${this.limits.maxComparisons} comparisons`);
      }
      return { kind: 'cmp', op: '=', left, right: { kind: 'ident', name: 'true' }, bare: true };
    }
    const opTok = this.next();
    if (opTok.t !== 'op') throw new FilterError(`expected an operator at ${describe(opTok)}`);
    const right = this.operand(0);
    if (++this.comparisons > this.limits.maxComparisons) {
      throw new FilterError(`the filter has more than ${this.limits.maxComparisons} comparisons`);
    }
    return { kind: 'cmp', op: opTok.v, left, right };
  }

  private operand(depth: number): Operand {
    const tok = this.next();
    switch (tok.t) {
      case 'text':
        return { kind: 'text', value: tok.v };
      case 'number':
        return { kind: 'number', value: tok.v };
      case 'ident':
        return this.peek().t === '(' ? this.call(tok.v, depth) : { kind: 'ident', name: tok.v };
      default:
        throw new FilterError(`expected a field, text or number at ${describe(tok)}`);
    }
  }

  /** `name(arg, …)`, its `(` next. */
  private call(name: string, depth: number): Operand {
    if (depth >= MAX_FUNCTION_DEPTH) throw new FilterError(`functions nest at most ${MAX_FUNCTION_DEPTH} deep`);
    this.next();
    const args: Operand[] = [];
    if (this.peek().t === ')') {
      this.next();
      return { kind: 'call', name, args };
    }
    for (;;) {
      args.push(this.operand(depth + 1));
      const sep = this.next();
      if (sep.t === ')') break;
      if (sep.t !== ',') throw new FilterError(`expected "," or ")" in ${name}() at ${describe(sep)}`);
    }
    return { kind: 'call', name, args };
  }
}

/** Where a token is, for an error message. */
const describe = (tok: Token) => (tok.t === 'eof' ? 'the end of the filter' : `position ${tok.pos}`);

const parsedCache = new Map<string, Expr>();
const PARSED_CACHE_LIMIT = 1000;

/**
 * {@link parseFilter} with a bounded cache, for rules and the filters clients
 * send again and again. The tree is immutable, so sharing it is safe.
 */
export function parseFilterCached(src: string, limits: ParseLimits = DEFAULT_PARSE_LIMITS): Expr {
  const key = limits === DEFAULT_PARSE_LIMITS ? src : `${limits.maxLength}/${limits.maxComparisons}/${limits.maxDepth}/${src}`;
  let expr = parsedCache.get(key);
  if (expr) return expr;
  expr = parseFilter(src, limits);
  if (parsedCache.size >= PARSED_CACHE_LIMIT) parsedCache.clear();
  parsedCache.set(key, expr);
  return expr;
}
