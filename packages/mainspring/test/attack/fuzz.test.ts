/**
 * Property-based fuzzing of the filter language with fast-check.
 *
 * 1. The parser, for any text at all (UTF-16 strings, full unicode, and a
 *    grammar-aware generator built from the language's own tokens), returns
 *    a syntax tree or throws FilterError — never anything else.
 * 2. What parses and compiles through the real record resolver (relations,
 *    back-relations, JSON paths, `@request.*`, `@collection`, modifiers, date
 *    macros) is SQL in which every literal is a bound parameter: no text
 *    literal (each carries the marker §) and no number literal appears in the
 *    SQL, every placeholder is bound, and SQLite runs the statement.
 * 3. Over HTTP, random filters sent to the list endpoint never get a 5xx.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Collection } from '../../src/core/collections/model.js';
import type { RequestInfo } from '../../src/core/rules/request-info.js';
import { type Expr, FilterError, parseFilter } from '../../src/query/index.js';
import { call } from '../helpers/hostile.js';
import { startServer, type TestServer } from '../helpers/server.js';

const MARK = '§';
const SEED = Number(process.env.MS_FUZZ_SEED ?? Date.now() % 1_000_000);

// ------------------------------------------------------------ generators

const IDENTS = [
  'id',
  'title',
  'views',
  'published',
  'when',
  'created',
  'tags',
  'tags:each',
  'tags:length',
  'title:lower',
  'meta',
  'meta.a',
  'meta.a.b',
  'meta.list.0',
  'secret',
  'author',
  'author.id',
  'author.name',
  'author.email',
  'author.verified',
  'author.tokenKey',
  'author.password',
  'parent.title',
  'parent.author.name',
  'parent.parent.parent.parent.parent.parent.title',
  'parent.parent.parent.parent.parent.parent.parent.title',
  'comments_via_post.text',
  'comments_via_post.author.name',
  'comments_via_post.post.title',
  'nope_via_post.id',
  'likes',
  'likes.name',
  'likes:each',
  'likes:length',
  '@request.auth.id',
  '@request.auth.email',
  '@request.auth.name',
  '@request.auth.verified',
  '@request.auth.collectionName',
  '@request.body.title',
  '@request.body.title:isset',
  '@request.body.title:changed',
  '@request.body.title:lower',
  '@request.body.tags:each',
  '@request.body.tags:length',
  '@request.body.author.name',
  '@request.body.nope',
  '@request.query.q',
  '@request.headers.x_h',
  '@request.method',
  '@request.context',
  '@collection.comments.text',
  '@collection.comments:c.text',
  '@collection.comments:c.post.title',
  '@collection.users.name',
  '@collection.nope.x',
  '@now',
  '@todayStart',
  '@yesterday',
  '@month',
  '@rowid',
  'nope',
  'title:isset',
  'title:nope',
  'null',
  'true',
  'false',
  'NULL',
];
const OPERATORS = ['=', '!=', '>', '>=', '<', '<=', '~', '!~', '?=', '?!=', '?>', '?>=', '?<', '?<=', '?~', '?!~'];
const BAD_OPERATORS = ['==', '=!', '<>', '!', '?', '=~', '&', '|', '&&&'];

/** Characters for text literals: quotes of the other kind, SQL punctuation, LIKE wildcards, unicode. */
const TEXT_CHARS = [
  'a',
  'Z',
  '0',
  ' ',
  ';',
  '-',
  '/',
  '*',
  '%',
  '_',
  '(',
  ')',
  '$',
  '?',
  ':',
  '@',
  '.',
  ',',
  '\0',
  '\n',
  '\u2028',
  'é',
  '＇',
  '🎉',
];
const textLiteral = fc
  .constantFrom('"', "'")
  .chain((quote) =>
    fc
      .array(fc.constantFrom(...TEXT_CHARS, quote === '"' ? "'" : '"', `\\${quote}`), { maxLength: 8 })
      .map((parts) => `${quote}${MARK}${parts.join('')}${quote}`),
  );
/** Whole numbers of five digits (findable in SQL text), and other numbers. */
const bigNumber = fc.integer({ min: 10_000, max: 99_999 }).map(String);
const number = fc.oneof(bigNumber, fc.constantFrom('0', '-1', '1.5', '-0.25', '007', '1e5', '.5', '1.', '99999999999999999999'));
const call_ = fc.constantFrom('strftime("%Y", created)', 'lower(title)', 'geoDistance(1, 2, 3, 4)', 'x()', 'f(f(f(f(1))))');
const operand = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...IDENTS) },
  { weight: 3, arbitrary: textLiteral },
  { weight: 2, arbitrary: number },
  { weight: 1, arbitrary: call_ },
);
const space = fc.constantFrom(' ', '', '  ', '\n', '\t', ' // comment\n');
const comparison = fc
  .tuple(
    operand,
    space,
    fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...OPERATORS) }, { weight: 1, arbitrary: fc.constantFrom(...BAD_OPERATORS) }),
    space,
    operand,
  )
  .map((parts) => parts.join(''));

const { expr: grammarFilter } = fc.letrec<{ expr: string; group: string }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    comparison,
    fc.tuple(tie('expr'), space, fc.constantFrom('&&', '||'), space, tie('expr')).map((p) => p.join('')),
    tie('group'),
  ),
  group: fc.tuple(tie('expr')).map(([e]) => `(${e})`),
}));

/** Token soup: the language's pieces in any order, mostly not a filter at all. */
const tokenSoup = fc
  .array(fc.oneof(fc.constantFrom(...IDENTS, ...OPERATORS, ...BAD_OPERATORS, '&&', '||', '(', ')', ',', '"', "'"), textLiteral, number), {
    maxLength: 12,
  })
  .chain((tokens) => space.map((sep) => tokens.join(sep || ' ')));

const anyText = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary-ascii', maxLength: 60 }),
);

const FAST = { seed: SEED, numRuns: 1000 };

// --------------------------------------------------------------- the parser

function parsesOrRefuses(text: string): Expr | null {
  try {
    const expr = parseFilter(text);
    expect(['cmp', 'and', 'or']).toContain(expr.kind);
    return expr;
  } catch (err) {
    if (err instanceof FilterError) return null;
    throw err;
  }
}

describe('parseFilter', () => {
  test.each([
    ['UTF-16 strings', fc.string({ maxLength: 200 })],
    ['full unicode', fc.string({ unit: 'binary', maxLength: 200 })],
    ['graphemes', fc.string({ unit: 'grapheme', maxLength: 100 })],
    ['the grammar', grammarFilter],
    ['token soup', tokenSoup],
  ] as [string, fc.Arbitrary<string>][])('%s: a tree or a FilterError, never anything else', (_label, arb) => {
    fc.assert(
      fc.property(arb, (text) => {
        parsesOrRefuses(text);
      }),
      FAST,
    );
  });

  test('the grammar generator mostly produces filters that parse (so the compile property below has work)', () => {
    const samples = fc.sample(grammarFilter, { seed: SEED, numRuns: 500 });
    const parsed = samples.filter((s) => parsesOrRefuses(s) !== null).length;
    expect(parsed).toBeGreaterThan(200);
  });

  test('text over the length bound is refused, whatever it holds', () => {
    fc.assert(
      fc.property(grammarFilter, fc.integer({ min: 3501, max: 6000 }), (f, n) => {
        const long = `${f} ${' '.repeat(Math.max(0, n - f.length - 1))}`;
        expect(() => parseFilter(long)).toThrow(FilterError);
      }),
      { seed: SEED, numRuns: 100 },
    );
  });
});

// ------------------------------------------------- compiling to real SQL

let s: TestServer;
let posts: Collection;
let userToken = '';

beforeAll(async () => {
  s = await startServer();
  const app = s.app;
  const c = await app.collections.create({
    name: 'posts',
    listRule: '',
    viewRule: '',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'views', type: 'number' },
      { name: 'published', type: 'bool' },
      { name: 'when', type: 'date' },
      { name: 'tags', type: 'select', values: ['a', 'b', `${MARK}t`], maxSelect: 3 },
      { name: 'meta', type: 'json' },
      { name: 'secret', type: 'text', hidden: true },
      { name: 'author', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
      { name: 'likes', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 5 },
    ],
  });
  await app.collections.update(c.id, {
    fields: [...c.fields, { name: 'parent', type: 'relation', collectionId: c.id, maxSelect: 1 }],
  });
  await app.collections.create({
    name: 'comments',
    listRule: 'post.published = true',
    viewRule: 'post.published = true',
    fields: [
      { name: 'post', type: 'relation', collectionId: c.id, maxSelect: 1 },
      { name: 'author', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
      { name: 'text', type: 'text' },
    ],
  });
  posts = app.records.collection('posts');

  const signUp = await call(s.url, 'POST', '/api/collections/users/records', {
    body: { email: 'fuzz@example.com', password: 'fuzz-password-1', passwordConfirm: 'fuzz-password-1', name: 'fuzz' },
  });
  expect(signUp.status, signUp.text).toBe(200);
  const auth = await call(s.url, 'POST', '/api/collections/users/auth-with-password', {
    body: { identity: 'fuzz@example.com', password: 'fuzz-password-1' },
  });
  userToken = auth.body.token;
  const user = signUp.body.id as string;
  // a few rows, so the statements below run over data (written as the system would: no rules)
  const system: RequestInfo = {
    auth: { collection: app.records.collection('_superusers'), record: { id: 'fuzzsuperuser01' } },
    method: 'POST',
    context: 'default',
    query: {},
    headers: {},
    body: {},
  };
  const p1 = await app.records.create(
    posts,
    {
      data: { title: 'one', views: 1, author: user, likes: [user], tags: ['a'], meta: { a: { b: 1 }, list: [1] }, published: true },
      source: 'json',
    },
    {},
    system,
  );
  await app.records.create(posts, { data: { title: 'two', parent: p1.id, secret: 'x' }, source: 'json' }, {}, system);
  await app.records.create(
    app.records.collection('comments'),
    { data: { post: p1.id, author: user, text: 'hi' }, source: 'json' },
    {},
    system,
  );
}, 60_000);
afterAll(() => s?.close());

describe('compileFilter through the record resolver', () => {
  const compileAndRun = async (text: string, superuser: boolean): Promise<'refused' | 'ran'> => {
    let expr: Expr;
    try {
      expr = parseFilter(text);
    } catch (err) {
      if (err instanceof FilterError) return 'refused';
      throw err;
    }
    const users = s.app.records.collection('users');
    const info: RequestInfo = {
      auth: superuser
        ? { collection: s.app.records.collection('_superusers'), record: { id: 'fuzzsuperuser01' } }
        : { collection: users, record: { id: 'fuzzuser0000001', email: `${MARK}@x.io`, name: `${MARK}n`, verified: false } },
      method: 'GET',
      context: 'default',
      query: { q: `${MARK}query` },
      headers: { x_h: `${MARK}header` },
      body: { title: `${MARK}body`, tags: ['a', `${MARK}t`], author: 'fuzzuser0000001', nope: { deep: MARK } },
    };
    const scope = s.app.records.access.scope(info);
    let sql: string;
    try {
      sql = s.app.records.access.filter(scope, posts, expr, superuser);
    } catch (err) {
      if (err instanceof FilterError) return 'refused';
      throw err;
    }
    const params = scope.params.values;
    // no literal reaches the SQL text: each is a bound parameter
    expect(sql.includes(MARK), `a text literal in the SQL of ${JSON.stringify(text)}: ${sql}`).toBe(false);
    for (const n of text.match(/\b\d{5}\b/g) ?? []) expect(sql.includes(n), `number ${n} in the SQL of ${text}: ${sql}`).toBe(false);
    // every placeholder is bound
    for (const m of sql.matchAll(/\$(\d+)/g)) expect(Number(m[1])).toBeLessThanOrEqual(params.length);
    // and SQLite accepts and runs it
    await s.app.engine.get(`SELECT COUNT(*) AS n FROM "posts" _r WHERE ${sql}`, params);
    return 'ran';
  };

  test.each([
    ['a user', false],
    ['a superuser', true],
  ] as const)('as %s: literals are bound, and the SQL runs', async (_label, superuser) => {
    let ran = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof({ weight: 4, arbitrary: grammarFilter }, { weight: 1, arbitrary: tokenSoup }), async (text) => {
        if ((await compileAndRun(text, superuser)) === 'ran') ran++;
      }),
      { seed: SEED, numRuns: 600 },
    );
    // the property must have exercised real SQL, not only refusals
    expect(ran).toBeGreaterThan(100);
  });

  test('hand-picked literals that look like SQL are bound too', async () => {
    for (const value of ["' OR 1=1 --", '"; DROP TABLE posts; --', '*/ SELECT 1 /*', '$1', '?', ':x', '%_\\x', '\0']) {
      for (const op of OPERATORS) {
        const text = `title ${op} '${MARK}${value.replaceAll("'", "\\'")}'`;
        expect(await compileAndRun(text, false), text).toBe('ran');
      }
    }
  });
});

// ------------------------------------------------------------------ HTTP

describe('the list endpoint', () => {
  test('random filters never get a 5xx, as a guest or a user, on three collections', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof({ weight: 3, arbitrary: grammarFilter }, { weight: 1, arbitrary: tokenSoup }, { weight: 1, arbitrary: anyText }),
        fc.constantFrom('guest', 'user'),
        fc.constantFrom('posts', 'comments', 'users'),
        async (filter, who, collection) => {
          const res = await call(s.url, 'GET', `/api/collections/${collection}/records?filter=${encodeURIComponent(filter)}&perPage=5`, {
            token: who === 'user' ? userToken : undefined,
          });
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          expect(res.status, `${collection} ${who} ${JSON.stringify(filter)}: ${res.text.slice(0, 200)}`).toBeLessThan(500);
          expect([200, 400, 403]).toContain(res.status);
          if (res.status !== 200) expect(Object.keys(res.body).sort()).toEqual(['data', 'message', 'status']);
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
    expect(statuses.get(200) ?? 0, JSON.stringify([...statuses])).toBeGreaterThan(10);
    const health = await call(s.url, 'GET', '/api/health');
    expect(health.status).toBe(200);
  });
});
