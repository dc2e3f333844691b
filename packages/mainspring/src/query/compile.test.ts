import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sqliteDialect } from '../storage/sqlite/dialect.js';
import { SqliteEngine } from '../storage/sqlite/engine.js';
import { compileFilter, likePattern, type Resolved, type Resolver, type SqlFlavor, SqlParams, type SqlValue } from './compile.js';
import { FilterError } from './errors.js';
import { parseFilter } from './parse.js';

/*
 * compileFilter is exercised against a real SQLite file through the project's
 * engine and dialect. A small resolver stands in for the record resolver:
 *
 *   title, note, email   text (note may be NULL, as a LEFT JOIN column can be)
 *   n                    number        flag     bool
 *   created              date (text)   data.*   JSON path (no NULL/'' folding)
 *   tags, labels         JSON arrays stored as text; tags:each / labels:each are multi-valued
 *   secret               a name the resolver refuses
 *   @v.<name>            request-like values bound as parameters
 */

const flavor: SqlFlavor = sqliteDialect;

let dir: string;
let engine: SqliteEngine;

const COLUMNS = 'id, title, note, n, flag, created, data, tags, labels, email, visible';
const DDL = (table: string) =>
  `CREATE TABLE ${table} (id TEXT PRIMARY KEY NOT NULL, title TEXT DEFAULT '' NOT NULL, note TEXT, n NUMERIC DEFAULT 0 NOT NULL, ` +
  `flag BOOLEAN DEFAULT FALSE NOT NULL, created TEXT DEFAULT '' NOT NULL, data TEXT DEFAULT NULL, tags TEXT DEFAULT '[]' NOT NULL, ` +
  `labels TEXT DEFAULT '[]' NOT NULL, email TEXT DEFAULT '' NOT NULL, visible BOOLEAN DEFAULT FALSE NOT NULL)`;

type Row = [string, string, string | null, number, number, string, string | null, string, string, string, number];
const ROWS: Row[] = [
  ['r1', 'Hello World', null, 10, 1, '2024-01-01 10:00:00.000Z', '{"a":{"b":1},"s":"x","list":[1,2]}', '["a","b"]', '["a"]', 'one@x.io', 1],
  ['r2', '', '', 0, 0, '', null, '[]', '[]', '', 0],
  ['r3', '100% sure', 'x', -5.5, 0, '2023-06-01 00:00:00.000Z', '{"a":{"b":2},"s":""}', '["a"]', '["a"]', 'three@x.io', 0],
  ['r4', 'under_score', null, 2.5, 1, '2025-02-03 04:05:06.000Z', '{"s":null}', '["b","c"]', '["c"]', 'four@x.io', 1],
  ['r5', 'userXscore', 'y', 3, 0, '2022-12-31 23:59:59.999Z', '"str"', '["c"]', '[]', '', 0],
  ['r6', 'HELLO there', 'X', 2, 1, '2024-01-01 09:59:59.000Z', '5', '["a","a"]', '["a"]', 'six@x.io', 0],
  ['r7', 'back\\slash', null, 1, 0, '', '[1,2]', '[]', '[]', '', 0],
  ['r8', 'it\'s "quoted"', null, 1000000, 0, '', null, '["c","a"]', '["a","c"]', '', 0],
];
const ALL = ROWS.map((r) => r[0]);

/** Strings an attacker would try; each is stored as the title of one row of `hostile`. */
const HOSTILE: [string, string][] = [
  ['h1', "' OR 1=1 --"],
  ['h2', '"; DROP TABLE items; --'],
  ['h3', 'nul\u0000byte'],
  ['h4', '日本語 😀 ünïcödé'],
  ['h5', "'); DELETE FROM items WHERE ('1'='1"],
  ['h6', '$1'],
  ['h7', "\\' OR ''='"],
  ['h8', '\u202Eevil\u202C'],
  ['h9', '%_\\x'],
  ['h10', '*/ SELECT 1; /*'],
];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ms-compile-'));
  engine = new SqliteEngine(join(dir, 'data.db'));
  await engine.run(DDL('items'));
  await engine.run(DDL('hostile'));
  const placeholders = COLUMNS.split(', ')
    .map((_, i) => `$${i + 1}`)
    .join(', ');
  for (const row of ROWS) await engine.run(`INSERT INTO items (${COLUMNS}) VALUES (${placeholders})`, row);
  for (const [id, title] of HOSTILE) await engine.run('INSERT INTO hostile (id, title) VALUES ($1, $2)', [id, title]);
});

afterAll(async () => {
  await engine?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The test resolver over the row joined as `alias`; collects the joins its names need. */
class TestResolver implements Resolver {
  readonly joins = new Map<string, string>();
  readonly seen: string[] = [];
  constructor(
    private readonly alias: string,
    private readonly params: SqlParams,
    private readonly values: Record<string, SqlValue> = {},
  ) {}

  resolve(name: string): Resolved {
    this.seen.push(name);
    const a = this.alias;
    switch (name) {
      case 'id':
      case 'title':
      case 'email':
        return { kind: 'sql', sql: `${a}.${name}`, type: 'text', nullFallback: 'auto' };
      case 'note':
        return { kind: 'sql', sql: `${a}.note`, type: 'text' };
      case 'n':
        return { kind: 'sql', sql: `${a}.n`, type: 'number' };
      case 'flag':
        return { kind: 'sql', sql: `${a}.flag`, type: 'bool' };
      case 'created':
        return { kind: 'sql', sql: `${a}.created`, type: 'date' };
      case 'tags':
      case 'labels':
        return { kind: 'sql', sql: `${a}.${name}`, type: 'text' };
      case 'tags:each':
      case 'labels:each': {
        const col = name.split(':')[0] as string;
        const je = `je_${col}`;
        this.joins.set(je, `LEFT JOIN json_each(${a}.${col}) ${je}`);
        return {
          kind: 'sql',
          sql: `${je}.value`,
          type: 'text',
          multi: { query: `SELECT mm.value AS v FROM json_each(${a}.${col}) mm`, type: 'text' },
        };
      }
      case 'visibleEmail':
        return {
          kind: 'sql',
          sql: `${a}.email`,
          type: 'text',
          wrap: (cmp) => `(${cmp} AND ${a}.visible = TRUE)`,
        };
      case 'secret':
        throw new FilterError(`unknown field "${name}"`);
    }
    if (name === 'data' || name.startsWith('data.')) {
      let path = '$';
      for (const key of name.split('.').slice(1)) path += /^\d+$/.test(key) ? `[${key}]` : `.${key}`;
      return { kind: 'sql', sql: `json_extract(${a}.data, ${this.params.add(path)})`, type: 'json', nullFallback: 'disabled' };
    }
    if (name.startsWith('@v.')) {
      const key = name.slice(3);
      return { kind: 'value', value: Object.hasOwn(this.values, key) ? (this.values[key] as SqlValue) : null };
    }
    throw new FilterError(`unknown field "${name}"`);
  }
}

interface Compiled {
  sql: string;
  params: SqlValue[];
  where: string;
}

/** Compiles `filter` over `table` the way the record layer does: joins wrapped in one EXISTS. */
function compile(filter: string, values: Record<string, SqlValue> = {}, table = 'items'): Compiled {
  const params = new SqlParams(flavor);
  const resolver = new TestResolver('r', params, values);
  const cond = compileFilter(parseFilter(filter), resolver, flavor, params);
  const where =
    resolver.joins.size === 0 ? cond : `EXISTS (SELECT 1 FROM (SELECT 1 AS one) j ${[...resolver.joins.values()].join(' ')} WHERE ${cond})`;
  return { sql: `SELECT r.id AS id FROM ${table} r WHERE ${where} ORDER BY r.rowid`, params: params.values, where: cond };
}

/** The ids of the rows of `table` that `filter` admits. */
async function ids(filter: string, values: Record<string, SqlValue> = {}, table = 'items'): Promise<string[]> {
  const { sql, params } = compile(filter, values, table);
  const rows = await engine.all<{ id: string }>(sql, params);
  return rows.map((r) => r.id);
}

const except = (...excluded: string[]) => ALL.filter((id) => !excluded.includes(id));

/** `value` as filter text: double quotes unless it holds one (only the enclosing quote is unescaped). */
const quote = (value: string) => (value.includes('"') ? `'${value.replaceAll("'", "\\'")}'` : `"${value}"`);

// -------------------------------------------------------------- likePattern

describe('likePattern', () => {
  test('wraps a plain value in % for a contains match', () => {
    expect(likePattern('abc')).toBe('%abc%');
    expect(likePattern('')).toBe('%%');
    expect(likePattern('Hello World')).toBe('%Hello World%');
  });

  test('escapes _ and backslashes so they match literally', () => {
    expect(likePattern('a_b')).toBe('%a\\_b%');
    expect(likePattern('___')).toBe('%\\_\\_\\_%');
    expect(likePattern('a\\b')).toBe('%a\\\\b%');
    expect(likePattern('\\')).toBe('%\\\\%');
  });

  test('a value with an unescaped % is a pattern used as it is', () => {
    expect(likePattern('abc%')).toBe('abc%');
    expect(likePattern('%abc')).toBe('%abc');
    expect(likePattern('a%b_c')).toBe('a%b_c');
    expect(likePattern('%')).toBe('%');
    // an escaped backslash does not escape the % after it
    expect(likePattern('a\\\\%')).toBe('a\\\\%');
    // an escaped % next to an unescaped one: still a pattern
    expect(likePattern('50\\%%')).toBe('50\\%%');
  });

  test('an already escaped % or _ keeps its single escape (as PocketBase does)', () => {
    // `\%` means a literal percent sign: it must not become `\\\%` (a backslash, then a percent)
    expect(likePattern('100\\%')).toBe('%100\\%%');
    expect(likePattern('a\\_b')).toBe('%a\\_b%');
  });
});

// ------------------------------------------------------------ equality and null

describe('= and != treat NULL and empty text as one value', () => {
  test('field = null and field = "" match both NULL and empty', async () => {
    const empty = ['r1', 'r2', 'r4', 'r7', 'r8'];
    expect(await ids('note = null')).toEqual(empty);
    expect(await ids('note = ""')).toEqual(empty);
    expect(await ids("note = ''")).toEqual(empty);
    expect(await ids('null = note')).toEqual(empty);
    expect(await ids('"" = note')).toEqual(empty);
    expect(await ids('note = NULL')).toEqual(empty);
  });

  test('field != null and field != "" match only non-empty values', async () => {
    expect(await ids('note != null')).toEqual(['r3', 'r5', 'r6']);
    expect(await ids('note != ""')).toEqual(['r3', 'r5', 'r6']);
    expect(await ids('null != note')).toEqual(['r3', 'r5', 'r6']);
  });

  test('a NOT NULL text column: "" and null are the same test', async () => {
    expect(await ids('title = null')).toEqual(['r2']);
    expect(await ids('title = ""')).toEqual(['r2']);
    expect(await ids('title != null')).toEqual(except('r2'));
  });

  test('!= a value also matches rows where the field is NULL', async () => {
    // `note != "x"` must not lose the rows whose note is NULL (SQL's `<>` would)
    expect(await ids('note != "x"')).toEqual(except('r3'));
    expect(await ids('"x" != note')).toEqual(except('r3'));
  });

  test('= a value is exact and case-sensitive', async () => {
    expect(await ids('note = "x"')).toEqual(['r3']);
    expect(await ids('note = "X"')).toEqual(['r6']);
    expect(await ids('title = "Hello World"')).toEqual(['r1']);
    expect(await ids('title = "hello world"')).toEqual([]);
  });

  test('field against field folds NULL into empty on both sides', async () => {
    // r2: note '' and title ''; no other row has equal note/title
    expect(await ids('note = title')).toEqual(['r2']);
    expect(await ids('title = note')).toEqual(['r2']);
    expect(await ids('note != title')).toEqual(except('r2'));
    expect(await ids('title = title')).toEqual(ALL);
    expect(await ids('note = note')).toEqual(ALL);
    expect(await ids('note != note')).toEqual([]);
  });

  test('two literals', async () => {
    expect(await ids('null = ""')).toEqual(ALL);
    expect(await ids('"" = null')).toEqual(ALL);
    expect(await ids('null = null')).toEqual(ALL);
    expect(await ids('null != ""')).toEqual([]);
    expect(await ids('"a" = "a"')).toEqual(ALL);
    expect(await ids('"a" = "b"')).toEqual([]);
    expect(await ids('"a" != "b"')).toEqual(ALL);
    expect(await ids('"a" != null')).toEqual(ALL);
    expect(await ids('1 = 1')).toEqual(ALL);
    expect(await ids('1 != 1')).toEqual([]);
  });

  test('resolved request values take part like literals', async () => {
    const values = { nil: null, empty: '', str: 'x', num: 10, yes: true };
    expect(await ids('note = @v.nil', values)).toEqual(await ids('note = null'));
    expect(await ids('note = @v.empty', values)).toEqual(await ids('note = null'));
    expect(await ids('@v.missing = note', values)).toEqual(await ids('note = null'));
    expect(await ids('note = @v.str', values)).toEqual(['r3']);
    expect(await ids('note != @v.str', values)).toEqual(except('r3'));
    expect(await ids('n = @v.num', values)).toEqual(['r1']);
    expect(await ids('flag = @v.yes', values)).toEqual(['r1', 'r4', 'r6']);
    expect(await ids('@v.nil = ""', values)).toEqual(ALL);
    expect(await ids('@v.nil = @v.empty', values)).toEqual(ALL);
    expect(await ids('@v.str != ""', values)).toEqual(ALL);
    expect(await ids('@v.str = ""', values)).toEqual([]);
    expect(await ids('@v.str = "x"', values)).toEqual(ALL);
    expect(await ids('@v.str != @v.nil', values)).toEqual(ALL);
  });

  test('true, false and null are literals (any case) unless the resolver knows the name', async () => {
    expect(await ids('flag = true')).toEqual(['r1', 'r4', 'r6']);
    expect(await ids('flag = TRUE')).toEqual(['r1', 'r4', 'r6']);
    expect(await ids('flag = false')).toEqual(['r2', 'r3', 'r5', 'r7', 'r8']);
    expect(await ids('flag != True')).toEqual(['r2', 'r3', 'r5', 'r7', 'r8']);
    expect(await ids('true = flag')).toEqual(['r1', 'r4', 'r6']);

    const params = new SqlParams(flavor);
    const known: Resolver = {
      resolve: (name) => (name === 'true' ? { kind: 'value', value: 'a field named true' } : { kind: 'sql', sql: 'r.title', type: 'text' }),
    };
    compileFilter(parseFilter('title = true'), known, flavor, params);
    expect(params.values).toEqual(['a field named true']);

    // a resolver that can say cheaply that it does not know the name is not asked to resolve it
    const asked: string[] = [];
    const knowing: Resolver = {
      knows: (name) => name !== 'false',
      resolve: (name) => {
        asked.push(name);
        return { kind: 'sql', sql: 'r.flag', type: 'bool' };
      },
    };
    const sql = compileFilter(parseFilter('flag = false'), knowing, flavor, new SqlParams(flavor));
    expect(asked).toEqual(['flag']);
    expect(sql).not.toContain('false');
  });

  test('numbers and booleans are never folded into empty', async () => {
    // 0 and false are values, not "empty"
    expect(await ids('n = 0')).toEqual(['r2']);
    expect(await ids('n = null')).toEqual([]);
    expect(await ids('n != null')).toEqual(ALL);
    expect(await ids('flag = null')).toEqual([]);
  });
});

// ------------------------------------------------------------------ contains

describe('~ and !~', () => {
  test('~ is a case-insensitive contains', async () => {
    expect(await ids('title ~ "hello"')).toEqual(['r1', 'r6']);
    expect(await ids('title ~ "WORLD"')).toEqual(['r1']);
    expect(await ids("title ~ 'LlO'")).toEqual(['r1', 'r6']);
    expect(await ids('title ~ "o"')).toEqual(['r1', 'r4', 'r5', 'r6', 'r8']);
  });

  test('!~ is its negation', async () => {
    expect(await ids('title !~ "hello"')).toEqual(except('r1', 'r6'));
    expect(await ids('title !~ "o"')).toEqual(['r2', 'r3', 'r7']);
  });

  test('_ in the value matches only an underscore', async () => {
    expect(await ids('title ~ "r_s"')).toEqual(['r4']);
    expect(await ids('title !~ "r_s"')).toEqual(except('r4'));
  });

  test('a backslash in the value matches a backslash', async () => {
    expect(await ids('title ~ "k\\s"')).toEqual(['r7']);
  });

  test('an escaped % in the value matches a percent sign', async () => {
    expect(await ids('title ~ "0\\% s"')).toEqual(['r3']);
    expect(await ids('title ~ "100\\%"')).toEqual(['r3']);
  });

  test('a value with an unescaped % is a LIKE pattern', async () => {
    expect(await ids('title ~ "hel%"')).toEqual(['r1', 'r6']);
    expect(await ids('title ~ "%world"')).toEqual(['r1']);
    expect(await ids('title ~ "%world%"')).toEqual(['r1']);
    expect(await ids('title ~ "h_llo%"')).toEqual(['r1', 'r6']);
    expect(await ids('title ~ "u%score"')).toEqual(['r4', 'r5']);
    expect(await ids('title !~ "hel%"')).toEqual(except('r1', 'r6'));
  });

  test('a bare unescaped % matches everything', async () => {
    expect(await ids('title ~ "%"')).toEqual(ALL);
  });

  test('null is contained in nothing (unlike "", which is in everything), as in PocketBase', async () => {
    // a rule such as `viewers ~ @request.auth.id` must not admit every row to an anonymous caller
    expect(await ids('title ~ null')).toEqual([]);
    expect(await ids('title ~ @v.nil', { nil: null })).toEqual([]);
    expect(await ids('title ?~ @v.missing')).toEqual([]);
  });

  test('an empty value is contained in everything', async () => {
    expect(await ids('title ~ ""')).toEqual(ALL);
    expect(await ids('title !~ ""')).toEqual([]);
  });

  test('quotes in the value are matched literally', async () => {
    expect(await ids(`title ~ "it's"`)).toEqual(['r8']);
    expect(await ids('title ~ \'"quoted"\'')).toEqual(['r8']);
    expect(await ids('title ~ "\\"quoted\\""')).toEqual(['r8']);
  });

  test('a field on the right is wrapped in % (contains that field)', async () => {
    expect(await ids('"well, Hello World!" ~ title')).toEqual(['r1', 'r2']);
    expect(await ids('"well, Hello World!" !~ title')).toEqual(except('r1', 'r2'));
  });

  test('numbers can be searched as text', async () => {
    expect(await ids('n ~ 5')).toEqual(['r3', 'r4']);
  });
});

// --------------------------------------------------------------- comparisons

describe('<, <=, >, >=', () => {
  test('compare numbers numerically (negatives and decimals included)', async () => {
    expect(await ids('n > 2')).toEqual(['r1', 'r4', 'r5', 'r8']);
    expect(await ids('n >= 2')).toEqual(['r1', 'r4', 'r5', 'r6', 'r8']);
    expect(await ids('n < 0')).toEqual(['r3']);
    expect(await ids('n <= 1')).toEqual(['r2', 'r3', 'r7']);
    expect(await ids('n > -6')).toEqual(ALL);
    expect(await ids('n >= -5.5')).toEqual(ALL);
    expect(await ids('n > -5.5')).toEqual(except('r3'));
    expect(await ids('n < 2.5')).toEqual(['r2', 'r3', 'r6', 'r7']);
    expect(await ids('n > 100')).toEqual(['r8']);
    expect(await ids('10 <= n')).toEqual(['r1', 'r8']);
    expect(await ids('n = 2.5')).toEqual(['r4']);
    expect(await ids('n = -5.5')).toEqual(['r3']);
    expect(await ids('n != 10')).toEqual(except('r1'));
  });

  test('a numeric text compares as a number against a number field', async () => {
    expect(await ids('n > "2"')).toEqual(await ids('n > 2'));
    expect(await ids('n = "10"')).toEqual(['r1']);
  });

  test('ranges combine', async () => {
    expect(await ids('n > 1 && n < 10')).toEqual(['r4', 'r5', 'r6']);
    expect(await ids('n < 0 || n >= 10')).toEqual(['r1', 'r3', 'r8']);
  });

  test('dates stored as text compare in time order', async () => {
    expect(await ids('created > "2024-01-01 00:00:00.000Z"')).toEqual(['r1', 'r4', 'r6']);
    expect(await ids('created >= "2024-01-01 10:00:00.000Z"')).toEqual(['r1', 'r4']);
    expect(await ids('created < "2023-01-01" && created != ""')).toEqual(['r5']);
  });

  test('field against field', async () => {
    expect(await ids('n > flag')).toEqual(['r1', 'r4', 'r5', 'r6', 'r7', 'r8']);
  });
});

// -------------------------------------------------------------- any/every

describe('multi-valued operands', () => {
  test('a plain operator requires every value to match', async () => {
    expect(await ids('tags:each = "a"')).toEqual(['r3', 'r6']);
    expect(await ids('"a" = tags:each')).toEqual(['r3', 'r6']);
    expect(await ids('tags:each != "a"')).toEqual(['r2', 'r4', 'r5', 'r7']);
    expect(await ids('tags:each ~ "c"')).toEqual(['r5']);
    // as in PocketBase, NOT LIKE over the empty list's NULL row is unknown, so empty lists drop out here
    expect(await ids('tags:each !~ "a"')).toEqual(['r4', 'r5']);
  });

  test('a ? operator requires one value to match', async () => {
    expect(await ids('tags:each ?= "a"')).toEqual(['r1', 'r3', 'r6', 'r8']);
    expect(await ids('"a" ?= tags:each')).toEqual(['r1', 'r3', 'r6', 'r8']);
    expect(await ids('tags:each ?= "c"')).toEqual(['r4', 'r5', 'r8']);
    expect(await ids('tags:each ?~ "B"')).toEqual(['r1', 'r4']);
    expect(await ids('tags:each ?!= "a"')).toEqual(expect.arrayContaining(['r1', 'r4', 'r5', 'r8']));
    expect(await ids('tags:each ?!= "a"')).not.toContain('r3');
    expect(await ids('tags:each ?!= "a"')).not.toContain('r6');
  });

  test('an empty list has no value that equals anything', async () => {
    expect(await ids('tags:each = "x"')).toEqual([]);
    expect(await ids('tags:each ?= "x"')).toEqual([]);
    expect(await ids('tags:each = null')).toEqual(['r2', 'r7']);
  });

  test('conditions on the same :each operand speak of the same item (one shared join)', async () => {
    // one item cannot be both "a" and "c"
    expect(await ids('tags:each ?= "a" && tags:each ?= "c"')).toEqual([]);
    expect(await ids('tags:each ?= "a" || tags:each ?= "c"')).toEqual(['r1', 'r3', 'r4', 'r5', 'r6', 'r8']);
    expect(await ids('tags:each ?= "a" && tags:each != "b"')).toEqual(['r3', 'r6', 'r8']);
  });

  test('every against every', async () => {
    // every pair (tag, label) is equal: both lists hold one repeated value, the same one
    // (or both are empty, which is vacuously true)
    expect(await ids('tags:each = labels:each')).toEqual(['r2', 'r3', 'r6', 'r7']);
    // (two empty lists meet as NULL = NULL, which the NULL/'' folding makes equal, as in PocketBase)
    expect(await ids('tags:each ?= labels:each')).toEqual(['r1', 'r2', 'r3', 'r4', 'r6', 'r7', 'r8']);
  });

  test('the raw list compares as its stored text', async () => {
    expect(await ids('tags = \'["a","b"]\'')).toEqual(['r1']);
    expect(await ids('tags ~ "b"')).toEqual(['r1', 'r4']);
  });

  test('? operators on a single-valued operand behave like the plain ones', async () => {
    for (const [plain, any] of [
      ['title = "Hello World"', 'title ?= "Hello World"'],
      ['note != "x"', 'note ?!= "x"'],
      ['title ~ "hello"', 'title ?~ "hello"'],
      ['title !~ "hello"', 'title ?!~ "hello"'],
      ['n > 2', 'n ?> 2'],
      ['n >= 2', 'n ?>= 2'],
      ['n < 2', 'n ?< 2'],
      ['n <= 2', 'n ?<= 2'],
    ] as const) {
      expect(await ids(any)).toEqual(await ids(plain));
    }
  });
});

// ---------------------------------------------------------------------- JSON

describe('JSON values compare without NULL folding', () => {
  test('paths into JSON', async () => {
    expect(await ids('data.a.b = 1')).toEqual(['r1']);
    expect(await ids('data.a.b > 1')).toEqual(['r3']);
    expect(await ids('data.s = "x"')).toEqual(['r1']);
    expect(await ids('data.list.1 = 2')).toEqual(['r1']);
  });

  test('a missing key is null, an empty string is not', async () => {
    expect(await ids('data.s = ""')).toEqual(['r3']);
    expect(await ids('data.s = null')).toEqual(['r2', 'r4', 'r5', 'r6', 'r7', 'r8']);
    expect(await ids('data.s != null')).toEqual(['r1', 'r3']);
    expect(await ids('data.s != "x"')).toEqual(except('r1'));
  });

  test('top-level scalars', async () => {
    expect(await ids('data = 5')).toEqual(['r6']);
    expect(await ids('data = "str"')).toEqual(['r5']);
    expect(await ids('data = null')).toEqual(['r2', 'r8']);
  });
});

// --------------------------------------------------------------- structure

describe('structure', () => {
  test('&& and || keep their precedence in SQL', async () => {
    // a || b && c  ==  a || (b && c)
    expect(await ids('n = 10 || flag = true && n < 2.5')).toEqual(['r1', 'r6']);
    expect(await ids('(n = 10 || flag = true) && n < 2.5')).toEqual(['r6']);
    expect(await ids('n < 0 || n = 0 || n = 1000000')).toEqual(['r2', 'r3', 'r8']);
    expect(await ids('flag = true && (title ~ "hello" || note = null) && n > 2')).toEqual(['r1', 'r4']);
  });

  test('a wrap applies to the finished comparison', async () => {
    expect(await ids('visibleEmail ~ "x.io"')).toEqual(['r1', 'r4']);
    expect(await ids('visibleEmail = "three@x.io"')).toEqual([]);
    expect(await ids('visibleEmail = "one@x.io"')).toEqual(['r1']);
  });

  test('every operator compiles to SQL SQLite runs, on every combination of operands', async () => {
    const ops = ['=', '!=', '>', '>=', '<', '<=', '~', '!~', '?=', '?!=', '?>', '?>=', '?<', '?<=', '?~', '?!~'];
    const sides = ['title', 'note', 'n', 'data.s', 'tags:each', '"x"', '5', 'null', 'true', '@v.s'];
    for (const op of ops) {
      for (const l of sides) {
        for (const r of sides) {
          const { sql, params } = compile(`${l} ${op} ${r}`, { s: 'v' });
          await expect(engine.all(sql, params), `${l} ${op} ${r}`).resolves.toBeInstanceOf(Array);
        }
      }
    }
  });

  test('compiling continues the numbering of parameters already bound', async () => {
    const params = new SqlParams(flavor);
    const first = params.add('r1');
    const resolver = new TestResolver('r', params);
    const cond = compileFilter(parseFilter('title ~ "hello" || n < 0'), resolver, flavor, params);
    const rows = await engine.all<{ id: string }>(
      `SELECT r.id AS id FROM items r WHERE r.id <> ${first} AND (${cond}) ORDER BY r.rowid`,
      params.values,
    );
    expect(rows.map((r) => r.id)).toEqual(['r3', 'r6']);
    expect(params.values[0]).toBe('r1');
  });

  test('two filters compiled into one parameter list compose', async () => {
    const params = new SqlParams(flavor);
    const a = compileFilter(parseFilter('tags:each ?= "a"'), new TestResolver('r', params), flavor, params);
    const b = compileFilter(parseFilter('n > 2 && title !~ "hello"'), new TestResolver('r', params), flavor, params);
    const wrapA = `EXISTS (SELECT 1 FROM (SELECT 1 AS one) j LEFT JOIN json_each(r.tags) je_tags WHERE ${a})`;
    const rows = await engine.all<{ id: string }>(
      `SELECT r.id AS id FROM items r WHERE (${wrapA}) AND (${b}) ORDER BY r.rowid`,
      params.values,
    );
    expect(rows.map((r) => r.id)).toEqual(['r8']);
  });

  test('the same filter compiles to the same SQL (so prepared statements are reused)', () => {
    for (const f of ['title = "a" && n > 1', 'tags:each = "a"', 'tags:each != labels:each', 'data.a.b = 1 || note ~ "x"']) {
      expect(compile(f).sql).toBe(compile(f).sql);
    }
  });
});

// ----------------------------------------------------------------- errors

describe('errors', () => {
  test('an unknown or refused name is a FilterError', () => {
    expect(() => compile('nope = 1')).toThrow(FilterError);
    expect(() => compile('secret = 1')).toThrow(FilterError);
    expect(() => compile('1 = secret')).toThrow(FilterError);
    expect(() => compile('title = "a" || secret ~ "x"')).toThrow(FilterError);
  });

  test('an unknown function is a FilterError', () => {
    expect(() => compile('nope(1) = 1')).toThrow(FilterError);
    expect(() => compile('title = lower(title)')).toThrow(FilterError);
    expect(() => compile('title = unknownFn()')).toThrow(FilterError);
  });

  test('the resolver is asked about every name, once per occurrence', () => {
    const params = new SqlParams(flavor);
    const resolver = new TestResolver('r', params);
    compileFilter(parseFilter('title = note && n > 1 || title ~ "x"'), resolver, flavor, params);
    expect(resolver.seen).toEqual(['title', 'note', 'n', 'title']);
  });
});

// --------------------------------------------------------- bound parameters

describe('every value is a bound parameter', () => {
  test.each(HOSTILE)('%s: the SQL does not depend on the text, which is bound and finds exactly its row', async (id, value) => {
    const literal = quote(value);
    const templates = [
      (v: string) => `title = ${v}`,
      (v: string) => `${v} = title`,
      (v: string) => `title != ${v}`,
      (v: string) => `title ?= ${v}`,
    ];
    for (const t of templates) {
      const hostile = compile(t(literal), {}, 'hostile');
      expect(hostile.sql).toBe(compile(t('"benign"'), {}, 'hostile').sql);
      expect(hostile.params).toEqual([value]);
      if (value !== '$1') expect(hostile.sql).not.toContain(value);
    }
    const like = compile(`title ~ ${literal}`, {}, 'hostile');
    expect(like.sql).toBe(compile('title ~ "benign"', {}, 'hostile').sql);
    expect(like.params).toEqual([likePattern(value)]);
    expect(await ids(`title = ${literal}`, {}, 'hostile')).toEqual([id]);
    expect(await ids(`title != ${literal}`, {}, 'hostile')).toEqual(HOSTILE.map((h) => h[0]).filter((h) => h !== id));
    expect(await engine.all('SELECT COUNT(*) AS c FROM items')).toEqual([{ c: ROWS.length }]);
  });

  test('hostile values resolved from the request are bound too', async () => {
    for (const [id, value] of HOSTILE) {
      const { sql, params } = compile('title = @v.x', { x: value }, 'hostile');
      if (value !== '$1') expect(sql).not.toContain(value);
      expect(params).toEqual([value]);
      expect(await ids('title = @v.x', { x: value }, 'hostile')).toEqual([id]);
      expect(await ids('title != @v.x', { x: value }, 'hostile')).toEqual(HOSTILE.map((h) => h[0]).filter((h) => h !== id));
    }
  });

  test('a hostile ~ value is bound as a LIKE pattern and matches its row', async () => {
    const { sql, params } = compile('title ~ "\' OR 1=1 --"', {}, 'hostile');
    expect(sql).not.toContain('OR 1=1');
    expect(params).toEqual(["%' OR 1=1 --%"]);
    expect(await ids('title ~ "\' OR 1=1 --"', {}, 'hostile')).toEqual(['h1']);
    expect(await ids('title ~ "DROP table"', {}, 'hostile')).toEqual(['h2']);
    expect(await ids('title ~ "日本語"', {}, 'hostile')).toEqual(['h4']);
    expect(await ids('title ~ "😀"', {}, 'hostile')).toEqual(['h4']);
  });

  test('a NUL byte is part of the value, not its end', async () => {
    expect(await ids('title = @v.x', { x: 'nul' }, 'hostile')).toEqual([]);
    expect(await ids('title = @v.x', { x: 'nul\u0000byte' }, 'hostile')).toEqual(['h3']);
    expect(await ids('title = "nul\u0000byte"', {}, 'hostile')).toEqual(['h3']);
  });

  test('numbers are bound, not inlined', () => {
    const { sql, params } = compile('n > 123456 && n < -98765.4321 && n != 424242');
    expect(sql).not.toMatch(/123456|98765|424242/);
    expect(params).toEqual([123456, -98765.4321, 424242]);
  });

  test('text is bound, not inlined, wherever it stands', () => {
    const { where, params } = compile('"left-side" = title && title != "xyzzy" && "zork" ~ title && tags:each ?= "plugh"');
    for (const word of ['left-side', 'xyzzy', 'zork', 'plugh']) expect(where).not.toContain(word);
    expect(params).toEqual(expect.arrayContaining(['left-side', 'xyzzy', 'zork', 'plugh']));
  });

  test('every placeholder in the SQL has a value and every value a placeholder', () => {
    const { sql, params } = compile(
      'title = "a" && (note != "b" || n > 3) && tags:each = "c" && data.a.b = 4 && title ~ "d%" && @v.x != "" && labels:each ?!= tags:each',
      { x: 'e' },
    );
    const used = new Set([...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
    expect([...used].sort((a, b) => a - b)).toEqual(params.map((_, i) => i + 1));
  });

  test('the table is intact after every hostile filter', async () => {
    const tables = await engine.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
    expect(tables.map((t) => t.name)).toEqual(['hostile', 'items']);
    expect(await ids('title != ""')).toEqual(except('r2'));
  });
});

test('names that are Object.prototype keys are unknown names, not macros', () => {
  const resolver = {
    resolve(name: string): never {
      throw new FilterError(`unknown field "${name}"`);
    },
  };
  for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    expect(() => compileFilter(parseFilter(`${name} = 1`), resolver, flavor, new SqlParams(flavor))).toThrow(FilterError);
  }
});
