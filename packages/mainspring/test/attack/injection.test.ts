/**
 * Injection (OWASP API8/API10 territory, and the classic A03): SQL fragments,
 * quotes, comments, NUL bytes, unicode confusables and separators, and
 * overlong strings in every place input reaches — each query parameter,
 * path parameters, field values, collection and field names — plus
 * prototype-pollution keys and JSON numbers and dates at their edges.
 *
 * Each answer is a 4xx in PocketBase's shape, or a 200 where the input is
 * plain data that is then stored and read back verbatim; never a 5xx; and
 * the schema and the data are unchanged afterwards.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectApiError } from '../helpers/hostile.js';
import { buildWorld, q, type World } from './world.js';

let w: World;
beforeAll(async () => {
  w = await buildWorld();
  // a collection whose rules read request data, to see that pollution grants nothing
  await w.createCollection({
    name: 'flags',
    listRule: '@request.query.isAdmin = "yes"',
    viewRule: '@request.query.isAdmin = "yes"',
    createRule: '@request.body.isAdmin = true',
    fields: [{ name: 'note', type: 'text' }],
  });
  w.ids.flag = await w.create('flags', { note: 'raised' });
}, 60_000);
afterAll(() => w?.close());

const PAYLOADS: [string, string][] = [
  ['quote or', "' OR '1'='1"],
  ['double quote or', '" OR ""="'],
  ['stacked statement', '1; DROP TABLE posts; --'],
  ['union', "x' UNION SELECT password, tokenKey FROM users --"],
  ['line comment', 'title -- comment'],
  ['block comment', 'title /* comment */'],
  ['comment close', '*/ SELECT 1 /*'],
  ['NUL', '\0'],
  ['NUL inside', 'tit\0le'],
  ['percent NUL', '%00'],
  ['backslash quote', "\\' OR 1=1 --"],
  ['fullwidth quotes', '＇ OR ＇1＇＝＇1'],
  ['fullwidth filter', 'ｔｉｔｌｅ ＝ ＂x＂'],
  ['line separator', '\u2028'],
  ['line separator in a filter', "title\u2028= 'x'"],
  ['paragraph separator in a value', "title = 'x\u2029'"],
  ['BOM', '\uFEFFtitle'],
  ['right-to-left override', "title = '\u202Ex'"],
  ['math letters', '𝐭𝐢𝐭𝐥𝐞 = 1'],
  ['dotless i', 'tıtle'],
  ['placeholder', '$1'],
  ['question mark', '?'],
  ['named param', ':title'],
  ['rowid', '_rowid_'],
  ['sqlite_master', 'sqlite_master'],
  ['pragma', 'PRAGMA table_info(users)'],
  ['function', "load_extension('x')"],
  ['overlong', 'x'.repeat(6000)],
  ['overlong parens', '('.repeat(3000)],
  ['overlong commas', ','.repeat(3000)],
  ['overlong dots', `title${'.x'.repeat(1500)}`],
  ['huge number', '9'.repeat(400)],
];

const PARAMS = ['filter', 'sort', 'expand', 'fields', 'page', 'perPage', 'skipTotal'];

describe('query parameters', () => {
  test.each(PARAMS)('%s: every payload is a 4xx or plain data, never a 5xx; nothing changes', async (param) => {
    await w.unchanged(async () => {
      for (const [label, payload] of PAYLOADS) {
        for (const [path, token] of [
          ['/api/collections/posts/records', w.bob.token],
          [`/api/collections/posts/records/${w.ids.pA1}`, w.bob.token],
          ['/api/collections/users/records', ''],
          ['/api/collections', w.su],
        ] as const) {
          const res = await w.call('GET', `${path}${q({ [param]: payload })}`, { token });
          expect(res.status, `${param}=${label} on ${path}: ${res.text.slice(0, 200)}`).toBeLessThan(500);
          if (res.status >= 400) expectApiError(res, undefined, `${param}=${label} on ${path}`);
          else expect(res.status, label).toBe(200);
          // no password hash or token key ever comes back, whatever the parameter did
          expect(res.text).not.toMatch(/\$2[aby]\$/);
        }
      }
    });
  });

  test('filter values are bound: a quote-laden value finds only what equals it', async () => {
    // (the filter language unescapes only the enclosing quote: a backslash is an ordinary character)
    const title = `it's "quoted" -- /* not a comment */ ; DROP TABLE posts; \u2028 ＇ \\ %_ $1`;
    const id = await w.create('posts', { title, author: w.bob.id, public: true }, w.bob.token);
    try {
      const escaped = title.replaceAll('"', '\\"');
      expect(await w.listIds('posts', { filter: `title = "${escaped}"` }, '')).toEqual([id]);
      expect(await w.listIds('posts', { filter: `title = "${escaped}" || title = "' OR '1'='1"` }, '')).toEqual([id]);
      expect(await w.listIds('posts', { filter: `title = "x' OR '1'='1"` }, '')).toEqual([]);
    } finally {
      await w.ok(w.call('DELETE', `/api/collections/posts/records/${id}`, { token: w.bob.token }), 'cleanup', 204);
    }
  });
});

describe('path parameters', () => {
  const names = [
    "posts' --",
    'posts"; DROP TABLE users; --',
    'posts/**/',
    'ｐｏｓｔｓ',
    'posts\u2028',
    'pos\0ts',
    'POSTS\u0130',
    '_collections',
    '_params',
    // internal tables that are not collections (_otps and _mfas are: PocketBase's system collections)
    '_ms_sessions',
    '_migrations',
    'sqlite_master',
    'sqlite_sequence',
    'users_via_org',
    'x'.repeat(490),
  ];
  const ids = ["' OR '1'='1", '%', '_%', '_______________', '\0', 'ｚｚｚ', 'a\u2028b', '1 OR 1=1', 'x'.repeat(490)];

  test('collection names: 404 "Missing collection context." for every method; nothing changes', async () => {
    await w.unchanged(async () => {
      for (const name of names) {
        const base = `/api/collections/${encodeURIComponent(name)}/records`;
        for (const [method, path, body] of [
          ['GET', base, undefined],
          ['POST', base, { title: 'x' }],
          ['GET', `${base}/${w.ids.pA1}`, undefined],
          ['PATCH', `${base}/${w.ids.pA1}`, { title: 'x' }],
          ['DELETE', `${base}/${w.ids.pA1}`, undefined],
        ] as const) {
          const res = await w.call(method, path, { token: w.su, body });
          expectApiError(res, 404, `${method} ${JSON.stringify(name.slice(0, 40))}`);
        }
        expectApiError(
          await w.call('GET', `/api/collections/${encodeURIComponent(name)}`, { token: w.su }),
          404,
          `collection ${name.slice(0, 40)}`,
        );
      }
    });
  });

  test('record ids: 404 for every method, even for the superuser; nothing changes', async () => {
    await w.unchanged(async () => {
      for (const id of ids) {
        for (const method of ['GET', 'PATCH', 'DELETE']) {
          const res = await w.call(method, `/api/collections/posts/records/${encodeURIComponent(id)}`, {
            token: w.su,
            body: method === 'PATCH' ? { title: 'x' } : undefined,
          });
          expectApiError(res, 404, `${method} ${JSON.stringify(id.slice(0, 40))}`);
        }
      }
    });
  });
});

describe('field values', () => {
  const VALUES = PAYLOADS.filter(([, v]) => v.length <= 5000).map(([label, v]) => [label, v] as const);

  test('text and JSON values are stored and read back verbatim; the table and its neighbours survive', async () => {
    const created: string[] = [];
    try {
      for (const [label, value] of VALUES) {
        const body = {
          title: value.slice(0, 500),
          body: value,
          meta: { [value.slice(0, 100) || 'k']: value, list: [value] },
          author: w.bob.id,
        };
        const res = await w.call('POST', '/api/collections/posts/records', { token: w.bob.token, body });
        const rec = await w.ok(res, label);
        created.push(rec.id);
        const back = await w.read('posts', rec.id);
        expect(back.title, label).toBe(body.title);
        expect(back.body, label).toBe(value);
        expect(back.meta, label).toEqual(body.meta);
      }
      // nothing was executed: every table is still there and answers
      for (const c of ['posts', 'users', 'comments', 'docs']) await w.list(c, { perPage: '1' }, w.su);
      expect(JSON.stringify(await w.schema())).toContain('posts');
    } finally {
      for (const id of created)
        await w.ok(w.call('DELETE', `/api/collections/posts/records/${id}`, { token: w.bob.token }), 'cleanup', 204);
    }
  });

  test.each([
    ['views', '1e309'],
    ['views', '-1e309'],
    ['views', 'NaN'],
    ['views', 'Infinity'],
    ['views', '0x10'],
    ['views', '"1; DROP TABLE posts"'],
    ['meta', '{"n":1e309}'],
    ['meta', '[1e309]'],
    ['when', '"2024-02-30"'],
    ['when', '"0000-00-00"'],
    ['when', '"0000-00-00 00:00:00"'],
    ['when', '"not a date"'],
    ['when', `"2024-01-01'; DROP TABLE posts; --"`],
    ['when', '"2024-01-01\\u0000"'],
    ['when', '"２０２４-０１-０１"'],
  ])('raw JSON %s: %s → 400, nothing stored', async (field, raw) => {
    await w.unchanged(async () => {
      const res = await w.call('POST', '/api/collections/posts/records', {
        token: w.bob.token,
        raw: `{"title":"edge","author":"${w.bob.id}","${field}":${raw}}`,
      });
      expectApiError(res, 400, `${field}=${raw}`);
      const upd = await w.call('PATCH', `/api/collections/posts/records/${w.ids.pB1}`, { token: w.bob.token, raw: `{"${field}":${raw}}` });
      expectApiError(upd, 400, `update ${field}=${raw}`);
    });
  });

  test('numbers at the edges that are numbers are kept: -0 as 0, 1e308, 5e-324', async () => {
    for (const [raw, expected] of [
      ['-0', 0],
      ['1e308', 1e308],
      ['5e-324', 5e-324],
      ['-1.7976931348623157e308', -1.7976931348623157e308],
    ] as const) {
      const res = await w.call('PATCH', `/api/collections/posts/records/${w.ids.pB2}`, { token: w.bob.token, raw: `{"views":${raw}}` });
      const body = await w.ok(res, raw);
      expect(body.views, raw).toBe(expected);
      expect((await w.read('posts', w.ids.pB2)).views, raw).toBe(expected);
    }
    await w.ok(w.call('PATCH', `/api/collections/posts/records/${w.ids.pB2}`, { token: w.bob.token, body: { views: 40 } }), 'reset');
  });
});

describe('collection and field names', () => {
  test.each([
    ['collection name', (v: string) => ({ name: v })],
    ['field name', (v: string) => ({ name: 'inj_ok', fields: [{ name: v, type: 'text' }] })],
    ['select value', (v: string) => ({ name: 'inj_ok', fields: [{ name: 's', type: 'select', values: ['a', v], maxSelect: 1 }] })],
    ['list rule', (v: string) => ({ name: 'inj_ok', listRule: v })],
    [
      'index',
      (v: string) => ({ name: 'inj_ok', fields: [{ name: 't', type: 'text' }], indexes: [`CREATE INDEX idx_inj ON inj_ok (t) ${v}`] }),
    ],
  ])('%s with SQL, quotes, NULs and confusables → 400 or stored as plain data; the schema is untouched', async (label, make) => {
    const names = [
      "x'; DROP TABLE users; --",
      'x"; DROP TABLE users; --',
      'x`y',
      'x]y',
      'x/*y*/',
      'x--y',
      'ｘｙｚ',
      'x\u2028y',
      'x\0y',
      'x y',
      'x;y',
      '\u202Ex',
      'x'.repeat(300),
    ];
    const schema = await w.schema();
    for (const v of names) {
      const res = await w.call('POST', '/api/collections', { token: w.su, body: make(v) });
      expect(res.status, `${label} ${JSON.stringify(v.slice(0, 40))}: ${res.text.slice(0, 200)}`).toBeLessThan(500);
      if (res.status === 200) {
        // only a select value may be any text: it is data, kept verbatim
        expect(label, `${label} ${JSON.stringify(v)} was accepted`).toBe('select value');
        expect(res.body.fields.find((f: { name: string }) => f.name === 's').values).toEqual(['a', v]);
        await w.ok(w.call('DELETE', '/api/collections/inj_ok', { token: w.su }), 'cleanup', 204);
      } else {
        expectApiError(res, 400, `${label} ${JSON.stringify(v.slice(0, 40))}`);
      }
    }
    expect(await w.schema()).toEqual(schema);
  });
});

describe('prototype pollution', () => {
  const pollution = [
    '{"__proto__":{"isAdmin":true},"note":"x"}',
    '{"constructor":{"prototype":{"isAdmin":true}},"note":"x"}',
    '{"note":"x","meta":{"__proto__":{"isAdmin":true}}}',
    '{"note":"x","prototype":{"isAdmin":true}}',
    '{"note":"x","\\u005f_proto__":{"isAdmin":true}}',
  ];

  test('keys __proto__ / constructor / prototype are refused (400) in JSON, forms, multipart and batch items', async () => {
    await w.unchanged(async () => {
      for (const raw of pollution) {
        expectApiError(await w.call('POST', '/api/collections/flags/records', { raw }), 400, raw);
        expectApiError(await w.call('PATCH', `/api/collections/posts/records/${w.ids.pB1}`, { token: w.bob.token, raw }), 400, raw);
        const batch = `{"requests":[{"method":"POST","url":"/api/collections/flags/records","body":${raw}}]}`;
        expectApiError(await w.call('POST', '/api/batch', { raw: batch }), 400, `batch ${raw}`);
        const boundary = 'polluted';
        const multipart = `--${boundary}\r\nContent-Disposition: form-data; name="@jsonPayload"\r\n\r\n${raw}\r\n--${boundary}--\r\n`;
        expectApiError(
          await w.call('POST', '/api/collections/flags/records', {
            raw: multipart,
            headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
          }),
          400,
          `multipart ${raw}`,
        );
      }
      for (const form of ['__proto__[isAdmin]=true', 'constructor[prototype][isAdmin]=true', '__proto__=x']) {
        const res = await w.call('POST', '/api/collections/flags/records', {
          raw: form,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
        expect(res.status, form).toBeGreaterThanOrEqual(400);
        expect(res.status, form).toBeLessThan(500);
      }
    });
  });

  test('afterwards the rules that read request data still deny, and still allow what they should', async () => {
    for (const query of [
      '__proto__[isAdmin]=yes',
      '__proto__.isAdmin=yes',
      'constructor[prototype][isAdmin]=yes',
      'isAdmin[]=yes',
      'isadmin=yes',
    ]) {
      const res = await w.ok(w.call('GET', `/api/collections/flags/records?${query}`), query);
      expect(res.totalItems, query).toBe(0);
      expectApiError(await w.call('GET', `/api/collections/flags/records/${w.ids.flag}?${query}`), 404, query);
    }
    expect((await w.ok(w.call('GET', '/api/collections/flags/records?isAdmin=yes'), 'control')).totalItems).toBe(1);
    await w.unchanged(async () => {
      for (const body of [
        {},
        { note: 'x' },
        { isAdmin: 'true' },
        { isAdmin: false },
        { isAdmin: [true] },
        { isAdmin: { valueOf: true } },
      ]) {
        expectApiError(await w.call('POST', '/api/collections/flags/records', { body }), 400, JSON.stringify(body));
      }
    });
    const allowed = await w.ok(w.call('POST', '/api/collections/flags/records', { body: { note: 'y', isAdmin: true } }), 'control');
    await w.ok(w.call('DELETE', `/api/collections/flags/records/${allowed.id}`, { token: w.su }), 'cleanup', 204);
    // the server runs in this process: its Object.prototype is this one
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(Object.hasOwn(Object.prototype, 'isAdmin')).toBe(false);
  });
});
