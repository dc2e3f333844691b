import { describe, expect, test } from 'vitest';
import { baseOp, countComparisons, type Expr, isAnyOp, type Operand, type Operator } from './ast.js';
import { FilterError } from './errors.js';
import { DEFAULT_PARSE_LIMITS, parseFilter, parseFilterCached } from './parse.js';

// ---------------------------------------------------------------- helpers

const id = (name: string): Operand => ({ kind: 'ident', name });
const text = (value: string): Operand => ({ kind: 'text', value });
const num = (value: number): Operand => ({ kind: 'number', value });
const cmp = (left: Operand, op: Operator, right: Operand): Expr => ({ kind: 'cmp', op, left, right });
const and = (...items: Expr[]): Expr => ({ kind: 'and', items });
const or = (...items: Expr[]): Expr => ({ kind: 'or', items });

/** The single comparison a filter parses to. */
function single(src: string): Extract<Expr, { kind: 'cmp' }> {
  const expr = parseFilter(src);
  if (expr.kind !== 'cmp') throw new Error(`expected one comparison, got ${JSON.stringify(expr)}`);
  return expr;
}

/** The error `fn` throws (fails the test when it throws nothing). */
function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error, nothing was thrown');
}

/** Asserts that parsing `src` fails with a FilterError (and never another error type). */
function rejects(src: unknown, limits = DEFAULT_PARSE_LIMITS): FilterError {
  const err = errorOf(() => parseFilter(src as string, limits));
  expect(err, `input ${JSON.stringify(src)?.slice(0, 80)} threw ${String(err)}`).toBeInstanceOf(FilterError);
  return err as FilterError;
}

const ALL_OPERATORS: Operator[] = ['=', '!=', '>', '>=', '<', '<=', '~', '!~', '?=', '?!=', '?>', '?>=', '?<', '?<=', '?~', '?!~'];

// ----------------------------------------------------------------- tests

describe('operators', () => {
  test.each(ALL_OPERATORS)('parses "a %s 1" with and without spaces', (op) => {
    expect(parseFilter(`a ${op} 1`)).toEqual(cmp(id('a'), op, num(1)));
    expect(parseFilter(`a${op}1`)).toEqual(cmp(id('a'), op, num(1)));
    expect(parseFilter(`a${op}"x"`)).toEqual(cmp(id('a'), op, text('x')));
  });

  test('the any-of forms are recognised and map to their plain operator', () => {
    for (const op of ALL_OPERATORS) {
      expect(isAnyOp(op)).toBe(op.startsWith('?'));
      expect(baseOp(op)).toBe(op.startsWith('?') ? op.slice(1) : op);
    }
    expect(single('tags ?!~ "x"').op).toBe('?!~');
    expect(single('tags?!="x"').op).toBe('?!=');
  });

  test.each([
    'a == 1',
    'a === 1',
    'a =! 1',
    'a => 1',
    'a =< 1',
    'a <> 1',
    'a >< 1',
    'a ~= 1',
    'a ~~ 1',
    'a !! 1',
    'a ! 1',
    'a ? 1',
    'a ?? 1',
    'a !?= 1',
    'a ?=? 1',
    'a =? 1',
    'a + 1',
    'a - b',
    'a * 1',
    'a % 1',
    'a ^ 1',
    'a IN 1',
    'a LIKE "x"',
  ])('an invalid operator is a FilterError: %s', (src) => {
    rejects(src);
  });

  test('two operators in a row or a missing operator is a FilterError', () => {
    rejects('a = = 1');
    rejects('a 1');
    rejects('a "x"');
    rejects('a');
    rejects('"x"');
    rejects('1');
    rejects('a =');
    rejects('= 1');
    rejects('a = 1 = 2');
  });

  test('either side may be a field, text or number', () => {
    expect(parseFilter('1 < a')).toEqual(cmp(num(1), '<', id('a')));
    expect(parseFilter('"x" = "y"')).toEqual(cmp(text('x'), '=', text('y')));
    expect(parseFilter('a = b')).toEqual(cmp(id('a'), '=', id('b')));
    expect(parseFilter('1 = 2')).toEqual(cmp(num(1), '=', num(2)));
  });
});

describe('joins and precedence', () => {
  test('&& binds tighter than ||', () => {
    expect(parseFilter('a = 1 || b = 2 && c = 3')).toEqual(
      or(cmp(id('a'), '=', num(1)), and(cmp(id('b'), '=', num(2)), cmp(id('c'), '=', num(3)))),
    );
    expect(parseFilter('a = 1 && b = 2 || c = 3')).toEqual(
      or(and(cmp(id('a'), '=', num(1)), cmp(id('b'), '=', num(2))), cmp(id('c'), '=', num(3))),
    );
    expect(parseFilter('a=1&&b=2||c=3&&d=4')).toEqual(
      or(and(cmp(id('a'), '=', num(1)), cmp(id('b'), '=', num(2))), and(cmp(id('c'), '=', num(3)), cmp(id('d'), '=', num(4)))),
    );
  });

  test('runs of the same join are flat', () => {
    const expr = parseFilter('a = 1 && b = 2 && c = 3 && d = 4');
    expect(expr.kind).toBe('and');
    expect(expr.kind !== 'cmp' && expr.items).toHaveLength(4);
    const ors = parseFilter('a = 1 || b = 2 || c = 3');
    expect(ors.kind).toBe('or');
    expect(ors.kind !== 'cmp' && ors.items).toHaveLength(3);
  });

  test('parentheses override precedence', () => {
    expect(parseFilter('(a = 1 || b = 2) && c = 3')).toEqual(
      and(or(cmp(id('a'), '=', num(1)), cmp(id('b'), '=', num(2))), cmp(id('c'), '=', num(3))),
    );
    expect(parseFilter('a = 1 && (b = 2 || c = 3)')).toEqual(
      and(cmp(id('a'), '=', num(1)), or(cmp(id('b'), '=', num(2)), cmp(id('c'), '=', num(3)))),
    );
  });

  test('redundant parentheses do not change the tree', () => {
    expect(parseFilter('((a = 1))')).toEqual(parseFilter('a = 1'));
    expect(parseFilter('(a = 1) && (b = 2)')).toEqual(parseFilter('a = 1 && b = 2'));
    expect(parseFilter('( ( a=1 ) || ( b=2 ) )')).toEqual(parseFilter('a=1||b=2'));
  });

  test('nested groups keep their structure', () => {
    expect(parseFilter('a = 1 && (b = 2 || (c = 3 && d = 4))')).toEqual(
      and(cmp(id('a'), '=', num(1)), or(cmp(id('b'), '=', num(2)), and(cmp(id('c'), '=', num(3)), cmp(id('d'), '=', num(4))))),
    );
  });

  test.each([
    'a = 1 &&',
    'a = 1 ||',
    '&& a = 1',
    '|| a = 1',
    'a = 1 && && b = 2',
    'a = 1 && || b = 2',
    'a = 1 & b = 2',
    'a = 1 | b = 2',
    'a = 1 &&& b = 2',
    'a = 1 |||| b = 2',
    'a = 1 &| b = 2',
    'a = 1 b = 2',
    'a = 1 "x"',
    'a = 1 2',
  ])('a broken join is a FilterError: %s', (src) => {
    rejects(src);
  });

  test.each([
    '(a = 1',
    'a = 1)',
    '((a = 1)',
    '(a = 1))',
    '()',
    '( )',
    '(a = 1) (b = 2)',
    'a = (1)',
    '(a) = 1',
    'a = 1 && ()',
    ')a = 1(',
    '(',
    ')',
  ])('unbalanced or empty parentheses are a FilterError: %s', (src) => {
    rejects(src);
  });
});

describe('quoted text', () => {
  test('double and single quotes', () => {
    expect(single('a = "hello world"').right).toEqual(text('hello world'));
    expect(single("a = 'hello world'").right).toEqual(text('hello world'));
    expect(single('a = ""').right).toEqual(text(''));
    expect(single("a = ''").right).toEqual(text(''));
  });

  test('the other kind of quote needs no escape', () => {
    expect(single(`a = "it's"`).right).toEqual(text("it's"));
    expect(single(`a = 'say "hi"'`).right).toEqual(text('say "hi"'));
  });

  test('an escaped quote of the enclosing kind is unescaped', () => {
    expect(single('a = "say \\"hi\\""').right).toEqual(text('say "hi"'));
    expect(single("a = 'it\\'s'").right).toEqual(text("it's"));
    expect(single('a = "\\""').right).toEqual(text('"'));
  });

  test('other backslashes are kept as written', () => {
    // an escaped quote of the other kind keeps its backslash
    expect(single('a = "it\\\'s"').right).toEqual(text("it\\'s"));
    expect(single("a = 'say \\\"hi'").right).toEqual(text('say \\"hi'));
    // \% and \_ stay, so `~` can use them
    expect(single('a ~ "100\\%"').right).toEqual(text('100\\%'));
    expect(single('a ~ "a\\_b"').right).toEqual(text('a\\_b'));
    expect(single('a = "back\\\\slash x"').right).toEqual(text('back\\\\slash x'));
    expect(single('a = "\\n"').right).toEqual(text('\\n'));
  });

  test('text may hold operators, joins, parentheses, comments and newlines', () => {
    expect(single('a = "x && y || (z) // not a comment"').right).toEqual(text('x && y || (z) // not a comment'));
    expect(single('a = "?!~ >= \' ,"').right).toEqual(text("?!~ >= ' ,"));
    expect(single('a = "line1\nline2"').right).toEqual(text('line1\nline2'));
  });

  test('text keeps unicode, NUL and SQL-looking content byte for byte', () => {
    for (const v of ['héllo wörld', '日本語', '😀 emoji', "' OR 1=1 --", '"; DROP TABLE x; --', 'nul\u0000byte', '\u202Eltr']) {
      const quoted = `"${v.replaceAll('"', '\\"')}"`;
      expect(single(`a = ${quoted}`).right).toEqual(text(v));
    }
  });

  test('text can be on the left and on both sides', () => {
    expect(parseFilter('"x" ~ a')).toEqual(cmp(text('x'), '~', id('a')));
    expect(parseFilter('\'a\' != "b"')).toEqual(cmp(text('a'), '!=', text('b')));
  });

  test.each(['a = "abc', "a = 'abc", 'a = "abc\'', 'a = \'abc"', 'a = "abc\\"', "a = 'abc\\'", 'a = "', '"', "'", 'a = "x" && b = "y'])(
    'unterminated text is a FilterError: %s',
    (src) => {
      rejects(src);
    },
  );
});

describe('numbers', () => {
  test.each([
    ['0', 0],
    ['1', 1],
    ['42', 42],
    ['007', 7],
    ['1.5', 1.5],
    ['0.25', 0.25],
    ['-1', -1],
    ['-1.5', -1.5],
    ['-0.001', -0.001],
    ['123456789012', 123456789012],
  ])('parses %s', (raw, value) => {
    expect(single(`a = ${raw}`).right).toEqual(num(value));
    expect(single(`${raw} < a`).left).toEqual(num(value));
  });

  test('a minus sign directly after an operator starts a negative number', () => {
    expect(parseFilter('a>-1')).toEqual(cmp(id('a'), '>', num(-1)));
    expect(parseFilter('a>=-2.5')).toEqual(cmp(id('a'), '>=', num(-2.5)));
    expect(parseFilter('a?<-3')).toEqual(cmp(id('a'), '?<', num(-3)));
  });

  test('number tokens are numbers, not text', () => {
    expect(single('a = 1').right.kind).toBe('number');
    expect(single('a = "1"').right.kind).toBe('text');
  });

  test.each([
    'a = 1.',
    'a = .5',
    'a = 1..2',
    'a = 1.2.3',
    'a = -',
    'a = - 1',
    'a = --1',
    'a = +1',
    'a = 1e5',
    'a = 0x10',
    'a = 1_000',
    'a = 1,5',
    `a = ${'9'.repeat(400)}`,
    `a = -${'9'.repeat(400)}`,
  ])('a malformed number is a FilterError: %s', (src) => {
    rejects(src);
  });
});

describe('comments and whitespace', () => {
  test('a // comment runs to the end of the line', () => {
    expect(parseFilter('a = 1 // the rest is ignored && b = 2')).toEqual(cmp(id('a'), '=', num(1)));
    expect(parseFilter('a = 1 // first\n&& b = 2 // second\n')).toEqual(and(cmp(id('a'), '=', num(1)), cmp(id('b'), '=', num(2))));
    expect(parseFilter('// leading comment\na = 1')).toEqual(cmp(id('a'), '=', num(1)));
    expect(parseFilter('a = // between\n 1')).toEqual(cmp(id('a'), '=', num(1)));
  });

  test('tabs, newlines and carriage returns are whitespace', () => {
    expect(parseFilter('\ta\r\n=\n\t1\r\n')).toEqual(cmp(id('a'), '=', num(1)));
    expect(parseFilter('   a   =   1   ')).toEqual(cmp(id('a'), '=', num(1)));
  });

  test.each(['', ' ', '\n\t ', '// only a comment', '// one\n// two\n', '()'])('an empty expression is a FilterError: %j', (src) => {
    rejects(src);
  });

  test.each(['a = 1 / 2', 'a = 1 /', '/ a = 1', 'a = 1 /* block */', 'a = 1 # note', 'a = 1 -- note', 'a = 1;'])(
    'a lone slash or another comment style is a FilterError: %s',
    (src) => {
      rejects(src);
    },
  );
});

describe('identifiers', () => {
  test.each([
    'title',
    'Title_2',
    '_private',
    'a.b.c',
    'author.name',
    'tags:each',
    'tags:length',
    'name:lower',
    'title:isset',
    'role:changed',
    'data.a.b',
    'data.list.0.x',
    'comments_via_post.message',
    '@request.auth.id',
    '@request.auth.team.name',
    '@request.body.title:isset',
    '@request.body.tags:each',
    '@request.query.page',
    '@request.headers.x_token',
    '@request.method',
    '@request.context',
    '@collection.users.name',
    '@collection.users:alias.name',
    '@collection.users:u2.team.name',
    '@now',
    '@todayStart',
    '#hash',
  ])('parses %s as one identifier', (name) => {
    expect(single(`${name} = 1`).left).toEqual(id(name));
    expect(single(`1 = ${name}`).right).toEqual(id(name));
  });

  test('identifiers keep their case', () => {
    expect(single('Title = TRUE').left).toEqual(id('Title'));
    expect(single('Title = TRUE').right).toEqual(id('TRUE'));
  });

  test('null, true and false are identifiers to the parser (the compiler gives them meaning)', () => {
    expect(single('a = null').right).toEqual(id('null'));
    expect(single('a = true').right).toEqual(id('true'));
    expect(single('a != false').right).toEqual(id('false'));
  });

  test('an identifier ends at an operator, paren, comma, quote or space', () => {
    expect(parseFilter('a.b?=c.d')).toEqual(cmp(id('a.b'), '?=', id('c.d')));
    expect(parseFilter('(a=b)')).toEqual(cmp(id('a'), '=', id('b')));
    expect(parseFilter('a="x"')).toEqual(cmp(id('a'), '=', text('x')));
  });

  test.each([
    'a. = 1',
    'a.b. = 1',
    'a: = 1',
    'tags:each: = 1',
    '@ = 1',
    '# = 1',
    '. = 1',
    '.a = 1',
    ': = 1',
    ':a = 1',
    '1a = 1',
    'a-b = 1',
    'a$ = 1',
    'a[0] = 1',
    'a{b} = 1',
    'títle = 1',
    'naïve = 1',
    'a\u0000 = 1',
    'a\u00a0= 1',
    '$1 = 1',
    '`a` = 1',
  ])('a malformed identifier or stray character is a FilterError: %j', (src) => {
    rejects(src);
  });
});

describe('function calls', () => {
  test('a call with arguments of every kind', () => {
    expect(single('geoDistance(lon, lat, 1.5, -2) < 25').left).toEqual({
      kind: 'call',
      name: 'geoDistance',
      args: [id('lon'), id('lat'), num(1.5), num(-2)],
    });
    expect(single('strftime("%Y", created) = "2024"').left).toEqual({
      kind: 'call',
      name: 'strftime',
      args: [text('%Y'), id('created')],
    });
  });

  test('a call without arguments, and a call on the right', () => {
    expect(single('f() = 1').left).toEqual({ kind: 'call', name: 'f', args: [] });
    expect(single('a = f( )').right).toEqual({ kind: 'call', name: 'f', args: [] });
    expect(single('a = f(1)').right).toEqual({ kind: 'call', name: 'f', args: [num(1)] });
  });

  test('a call alone is a condition: it means `= true` (search(…)), and joins as any comparison', () => {
    const call = { kind: 'call', name: 'search', args: [id('title'), text('x')] };
    expect(parseFilter('search(title, "x")')).toEqual({ kind: 'cmp', op: '=', left: call, right: id('true'), bare: true });
    expect(parseFilter('search(title, "x") && a = 1')).toEqual({
      kind: 'and',
      items: [{ kind: 'cmp', op: '=', left: call, right: id('true'), bare: true }, cmp(id('a'), '=', num(1))],
    });
    rejects('search(title, "x") 1');
    rejects('1 search(title, "x")');
  });

  test('calls nest a little', () => {
    expect(single('f(g(1), h(i(2))) = 1').left).toEqual({
      kind: 'call',
      name: 'f',
      args: [
        { kind: 'call', name: 'g', args: [num(1)] },
        { kind: 'call', name: 'h', args: [{ kind: 'call', name: 'i', args: [num(2)] }] },
      ],
    });
  });

  test('deeply nested calls are a FilterError', () => {
    rejects(`${'f('.repeat(10)}1${')'.repeat(10)} = 1`);
    rejects(`${'f('.repeat(500)}1${')'.repeat(500)} = 1`);
  });

  test.each([
    'f( = 1',
    'f(1 = 1',
    'f(1,) = 1',
    'f(,1) = 1',
    'f(1 2) = 1',
    'f(1,,2) = 1',
    'f(a = 1) = 1',
    'f(1)) = 1',
    'f((1)) = 1',
    'f(1) (2) = 1',
    'f(1) = ',
    '@request.auth.id(1) = 1 && f(',
  ])('a malformed call is a FilterError: %s', (src) => {
    rejects(src);
  });
});

describe('limits', () => {
  test('text up to the length limit is accepted, one character more is not', () => {
    const prefix = 'a = "';
    const exact = `${prefix}${'x'.repeat(DEFAULT_PARSE_LIMITS.maxLength - prefix.length - 1)}"`;
    expect(exact).toHaveLength(DEFAULT_PARSE_LIMITS.maxLength);
    expect(single(exact).kind).toBe('cmp');
    const over = `${prefix}${'x'.repeat(DEFAULT_PARSE_LIMITS.maxLength - prefix.length)}"`;
    rejects(over);
  });

  test('the default limits are PocketBase-sized', () => {
    expect(DEFAULT_PARSE_LIMITS.maxLength).toBeGreaterThanOrEqual(3500);
    expect(DEFAULT_PARSE_LIMITS.maxComparisons).toBeGreaterThanOrEqual(200);
    expect(DEFAULT_PARSE_LIMITS.maxDepth).toBeGreaterThanOrEqual(8);
  });

  test('a very long input is refused before it is scanned', () => {
    rejects(`a = "${'x'.repeat(1_000_000)}"`);
    rejects('('.repeat(1_000_000));
  });

  test('comparisons up to the limit are accepted, one more is not', () => {
    const n = DEFAULT_PARSE_LIMITS.maxComparisons;
    const atLimit = Array.from({ length: n }, (_, i) => `a=${i}`).join('&&');
    expect(countComparisons(parseFilter(atLimit))).toBe(n);
    const overLimit = Array.from({ length: n + 1 }, (_, i) => `a=${i}`).join('||');
    rejects(overLimit);
  });

  test('comparisons are counted across groups', () => {
    const limits = { ...DEFAULT_PARSE_LIMITS, maxComparisons: 3 };
    expect(countComparisons(parseFilter('(a=1 || b=2) && c=3', limits))).toBe(3);
    rejects('(a=1 || b=2) && (c=3 || d=4)', limits);
    rejects('((a=1)) && ((b=2)) && ((c=3)) && ((d=4))', limits);
  });

  test('nesting up to the depth limit is accepted, one more level is not', () => {
    const d = DEFAULT_PARSE_LIMITS.maxDepth;
    const atLimit = `${'('.repeat(d)}a = 1${')'.repeat(d)}`;
    expect(parseFilter(atLimit)).toEqual(cmp(id('a'), '=', num(1)));
    rejects(`${'('.repeat(d + 1)}a = 1${')'.repeat(d + 1)}`);
    // unbalanced deep nesting is refused too
    rejects(`${'('.repeat(d + 1)}a = 1`);
  });

  test('depth counts nesting, not the number of groups', () => {
    const d = DEFAULT_PARSE_LIMITS.maxDepth;
    const wide = Array.from({ length: d * 3 }, (_, i) => `(a=${i})`).join(' || ');
    expect(countComparisons(parseFilter(wide))).toBe(d * 3);
  });

  test('custom limits apply', () => {
    const tight = { maxLength: 20, maxComparisons: 2, maxDepth: 1 };
    expect(countComparisons(parseFilter('a=1 && (b=2)', tight))).toBe(2);
    rejects('a=1 && b=2 && c=3', tight);
    rejects('((a=1))', tight);
    rejects('a = "more than twenty chars"', tight);
  });
});

describe('malformed input never escapes as another error type', () => {
  test.each([undefined, null, 42, {}, [], ['a = 1'], true, Symbol.iterator])('a non-string filter is a FilterError: %s', (input) => {
    rejects(input);
  });

  test('arbitrary garbage is either parsed or refused with a FilterError', () => {
    // a deterministic pseudo-random generator, so failures reproduce
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const pieces = [
      'a',
      'b.c',
      '@request.auth.id',
      'tags:each',
      '=',
      '!=',
      '?=',
      '?!~',
      '~',
      '>',
      '<=',
      '&&',
      '||',
      '(',
      ')',
      ',',
      '"x"',
      "'y'",
      '"',
      "'",
      '\\',
      '1',
      '-2.5',
      '.',
      ':',
      '//',
      '\n',
      ' ',
      'f(',
      '@',
      '#',
      '-',
      '!',
      '?',
      '\u0000',
      'é',
      '😀',
    ];
    for (let i = 0; i < 3000; i++) {
      const len = 1 + Math.floor(rand() * 12);
      let src = '';
      for (let j = 0; j < len; j++) src += pieces[Math.floor(rand() * pieces.length)];
      try {
        const expr = parseFilter(src);
        expect(countComparisons(expr)).toBeGreaterThan(0);
      } catch (err) {
        expect(err, `input ${JSON.stringify(src)}`).toBeInstanceOf(FilterError);
      }
    }
  });

  test('FilterError is an Error with a message and its own name', () => {
    const err = rejects('a = ');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('FilterError');
    expect(err.message.length).toBeGreaterThan(0);
  });
});

describe('parseFilterCached', () => {
  test('gives the same tree as parseFilter and reuses it', () => {
    const src = 'title ~ "cached" && (n > 1 || tags:each ?= "x")';
    const first = parseFilterCached(src);
    expect(first).toEqual(parseFilter(src));
    expect(parseFilterCached(src)).toBe(first);
  });

  test('errors are not cached: a bad filter fails every time', () => {
    expect(errorOf(() => parseFilterCached('a = ('))).toBeInstanceOf(FilterError);
    expect(errorOf(() => parseFilterCached('a = ('))).toBeInstanceOf(FilterError);
  });

  test('limits are part of the cache key', () => {
    const src = 'a = 1 && b = 2 && c = 3';
    expect(countComparisons(parseFilterCached(src))).toBe(3);
    expect(errorOf(() => parseFilterCached(src, { ...DEFAULT_PARSE_LIMITS, maxComparisons: 2 }))).toBeInstanceOf(FilterError);
    const long = `a = "${'x'.repeat(50)}"`;
    expect(parseFilterCached(long).kind).toBe('cmp');
    expect(errorOf(() => parseFilterCached(long, { ...DEFAULT_PARSE_LIMITS, maxLength: 20 }))).toBeInstanceOf(FilterError);
  });

  test('stays correct when many distinct filters pass through it', () => {
    for (let i = 0; i < 2500; i++) {
      expect(parseFilterCached(`n = ${i}`)).toEqual(cmp(id('n'), '=', num(i)));
    }
    expect(parseFilterCached('n = 7')).toEqual(cmp(id('n'), '=', num(7)));
  });

  test('a non-string is a FilterError', () => {
    expect(errorOf(() => parseFilterCached(undefined as unknown as string))).toBeInstanceOf(FilterError);
  });
});

describe('countComparisons', () => {
  test('counts leaves of the tree', () => {
    expect(countComparisons(parseFilter('a = 1'))).toBe(1);
    expect(countComparisons(parseFilter('a = 1 && (b = 2 || c = 3) && d ?~ "x"'))).toBe(4);
  });
});
