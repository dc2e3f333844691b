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

/** Splits filter text into tokens, following the `fexpr` scanner's rules. */
function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    const pos = i;
    if (isSpace(c)) {
      i++;
    } else if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (c === '(' || c === ')' || c === ',') {
      out.push({ t: c, pos });
      i++;
    } else if (c === '&' || c === '|') {
      let j = i;
      while (src[j] === '&' || src[j] === '|') j++;
      const lit = src.slice(i, j);
      if (lit !== '&&' && lit !== '||') throw new FilterError(`invalid join operator "${lit}" at position ${pos}`);
      out.push({ t: lit === '&&' ? 'and' : 'or', pos });
      i = j;
    } else if (isSignChar(c)) {
      let j = i;
      while (j < src.length && isSignChar(src[j] as string)) j++;
      const lit = src.slice(i, j);
      if (!OPERATORS.has(lit)) throw new FilterError(`invalid operator "${lit}" at position ${pos}`);
      out.push({ t: 'op', v: lit as Operator, pos });
      i = j;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      let closed = false;
      let prev = '';
      while (j < src.length) {
        const ch = src[j] as string;
        if (ch === c && prev !== '\\') {
          closed = true;
          break;
        }
        prev = ch;
        j++;
      }
      if (!closed) throw new FilterError(`unterminated text starting at position ${pos}`);
      // As in fexpr, only an escaped quote of the enclosing kind is unescaped;
      // other backslashes stay, so `\%` keeps its meaning for `~`.
      out.push({
        t: 'text',
        v: src
          .slice(i + 1, j)
          .split(`\\${c}`)
          .join(c),
        pos,
      });
      i = j + 1;
    } else if (isDigit(c) || (c === '-' && isDigit(src[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < src.length && isDigit(src[j] as string)) j++;
      if (src[j] === '.') {
        j++;
        const fracStart = j;
        while (j < src.length && isDigit(src[j] as string)) j++;
        if (j === fracStart) throw new FilterError(`invalid number "${src.slice(i, j)}" at position ${pos}`);
      }
      const raw = src.slice(i, j);
      const v = Number(raw);
      if (!Number.isFinite(v)) throw new FilterError(`invalid number "${raw}" at position ${pos}`);
      out.push({ t: 'number', v, raw, pos });
      i = j;
    } else if (isIdentStart(c)) {
      let j = i + 1;
      while (j < src.length && isIdentPart(src[j] as string)) j++;
      const v = src.slice(i, j);
      const last = v[v.length - 1] as string;
      if (last === '.' || last === ':' || (v.length === 1 && !isLetter(c))) {
        throw new FilterError(`invalid identifier "${v}" at position ${pos}`);
      }
      out.push({ t: 'ident', v, pos });
      i = j;
    } else {
      throw new FilterError(`unexpected character ${JSON.stringify(c)} at position ${pos}`);
    }
  }
  out.push({ t: 'eof', pos: src.length });
  return out;
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
  const tokens = tokenize(src);
  let at = 0;
  let comparisons = 0;
  const peek = () => tokens[at] as Token;
  const next = () => tokens[at++] as Token;

  const describe = (tok: Token) => (tok.t === 'eof' ? 'the end of the filter' : `position ${tok.pos}`);

  function operand(depth: number): Operand {
    const tok = next();
    switch (tok.t) {
      case 'text':
        return { kind: 'text', value: tok.v };
      case 'number':
        return { kind: 'number', value: tok.v };
      case 'ident': {
        if (peek().t !== '(') return { kind: 'ident', name: tok.v };
        if (depth >= MAX_FUNCTION_DEPTH) throw new FilterError(`functions nest at most ${MAX_FUNCTION_DEPTH} deep`);
        next();
        const args: Operand[] = [];
        if (peek().t !== ')') {
          for (;;) {
            args.push(operand(depth + 1));
            const sep = next();
            if (sep.t === ')') break;
            if (sep.t !== ',') throw new FilterError(`expected "," or ")" in ${tok.v}() at ${describe(sep)}`);
          }
        } else {
          next();
        }
        return { kind: 'call', name: tok.v, args };
      }
      default:
        throw new FilterError(`expected a field, text or number at ${describe(tok)}`);
    }
  }

  function comparison(): Expr {
    const left = operand(0);
    const opTok = next();
    if (opTok.t !== 'op') throw new FilterError(`expected an operator at ${describe(opTok)}`);
    const right = operand(0);
    if (++comparisons > limits.maxComparisons) {
      throw new FilterError(`the filter has more than ${limits.maxComparisons} comparisons`);
    }
    return { kind: 'cmp', op: opTok.v, left, right };
  }

  function primary(depth: number): Expr {
    if (peek().t === '(') {
      if (depth >= limits.maxDepth) throw new FilterError(`parentheses nest deeper than ${limits.maxDepth}`);
      next();
      const inner = disjunction(depth + 1);
      const close = next();
      if (close.t !== ')') throw new FilterError(`expected ")" at ${describe(close)}`);
      return inner;
    }
    return comparison();
  }

  function conjunction(depth: number): Expr {
    const items = [primary(depth)];
    while (peek().t === 'and') {
      next();
      items.push(primary(depth));
    }
    return items.length === 1 ? (items[0] as Expr) : { kind: 'and', items };
  }

  function disjunction(depth: number): Expr {
    const items = [conjunction(depth)];
    while (peek().t === 'or') {
      next();
      items.push(conjunction(depth));
    }
    return items.length === 1 ? (items[0] as Expr) : { kind: 'or', items };
  }

  if (peek().t === 'eof') throw new FilterError('empty filter expression');
  const expr = disjunction(0);
  const rest = peek();
  if (rest.t !== 'eof') throw new FilterError(`expected "&&" or "||" at ${describe(rest)}`);
  return expr;
}

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
