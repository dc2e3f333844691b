/**
 * OWASP API8:2023 Security Misconfiguration.
 *
 * CORS (the default `*` and a configured list), security headers on every
 * kind of answer, and error answers that say nothing of the machinery:
 * no SQL, no SQLite messages, no stack frames, no file paths — including
 * for failures that come from the database itself (unique indexes, an
 * index that existing rows violate, required relations). Secrets of the
 * configuration (token secrets, the SMTP password) never leave either.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Answer, expectApiError, rawCall } from '../helpers/hostile.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { buildWorld, q, type World } from './world.js';

let w: World;
beforeAll(async () => {
  w = await buildWorld();
}, 60_000);
afterAll(() => w?.close());

/** Words that would betray the engine, the code or the file system in an error. */
const MACHINERY: RegExp[] = [
  /\bSELECT\b/,
  /\bINSERT\b/,
  /\bUPDATE\s+"/,
  /\bWHERE\b/,
  /sqlite/i,
  /SQLITE_/,
  /constraint failed/i,
  /no such (table|column)/i,
  /syntax error/i,
  /\n\s+at /,
  /\bat [\w.<>]+ \(/,
  /node_modules/,
  /\/work\//,
  /\.(ts|js):\d+/,
  /TypeError|ReferenceError|RangeError/,
  /__mm\d|__j\d|_r\./,
];

function expectNoMachinery(res: Answer, label: string): void {
  for (const re of MACHINERY) expect(re.test(res.text), `${label} (${res.status}) shows ${re}: ${res.text.slice(0, 300)}`).toBe(false);
}

describe('CORS', () => {
  test('default "*": any origin may read, but never with credentials', async () => {
    for (const [method, path, token] of [
      ['GET', '/api/health', ''],
      ['GET', '/api/collections/posts/records', ''],
      ['GET', '/api/collections', ''], // 401
      ['GET', '/api/collections', w.bob.token], // 403
      ['GET', '/api/nope', ''], // 404
    ] as const) {
      const res = await w.call(method, path, { token, headers: { origin: 'https://evil.example' } });
      expect(res.headers instanceof Headers && res.headers.get('access-control-allow-origin'), `${path} ${res.status}`).toBe('*');
      expect(res.headers instanceof Headers && res.headers.get('access-control-allow-credentials'), path).toBeNull();
    }
  });

  describe('a configured list', () => {
    let s: TestServer;
    const allowed = 'https://app.example.com';
    beforeAll(async () => {
      s = await startServer({ corsOrigins: [allowed] });
    });
    afterAll(() => s?.close());

    test.each([
      'https://evil.example',
      'https://app.example.com.evil.example',
      'https://evilapp.example.com',
      'http://app.example.com',
      'https://app.example.com:8443',
      'https://app.example.com/',
      'https://APP.EXAMPLE.COM',
      'null',
      '*',
      '',
    ])('origin %j gets no Access-Control-Allow-Origin on any answer, preflights included', async (origin) => {
      const headers = { origin };
      for (const [method, path, extra] of [
        ['GET', '/api/health', {}],
        ['GET', '/api/collections', {}],
        ['POST', '/api/collections/users/auth-with-password', { 'content-type': 'application/json' }],
        [
          'OPTIONS',
          '/api/collections/users/records',
          { 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
        ],
      ] as const) {
        const res = await rawCall(s.url, method, path, { headers: { ...headers, ...extra }, body: method === 'POST' ? '{}' : undefined });
        const h = res.headers as Record<string, unknown>;
        expect(h['access-control-allow-origin'], `${method} ${path}`).toBeUndefined();
        expect(h['access-control-allow-methods'], `${method} ${path}`).toBeUndefined();
        expect(h['access-control-allow-headers'], `${method} ${path}`).toBeUndefined();
        expect(h['access-control-allow-credentials'], `${method} ${path}`).toBeUndefined();
      }
    });

    test('the listed origin is echoed exactly, on errors too, with Vary: Origin', async () => {
      for (const path of ['/api/health', '/api/collections', '/api/nope']) {
        const res = await rawCall(s.url, 'GET', path, { headers: { origin: allowed } });
        const h = res.headers as Record<string, unknown>;
        expect(h['access-control-allow-origin'], path).toBe(allowed);
        expect(String(h.vary), path).toContain('Origin');
      }
    });
  });
});

describe('headers', () => {
  test('every JSON answer says nosniff and is application/json, whatever its status', async () => {
    const answers: [string, Answer][] = [
      ['200', await w.call('GET', '/api/health')],
      ['200 list', await w.call('GET', '/api/collections/posts/records')],
      [
        '204',
        await w.call(
          'DELETE',
          `/api/collections/posts/records/${await w.create('posts', { title: 'tmp', author: w.bob.id }, w.bob.token)}`,
          { token: w.bob.token },
        ),
      ],
      ['400', await w.call('GET', `/api/collections/posts/records${q({ filter: '(((' })}`)],
      ['401', await w.call('GET', '/api/collections')],
      ['403', await w.call('GET', '/api/collections', { token: w.bob.token })],
      ['404', await w.call('GET', '/api/collections/posts/records/zzzzzzzzzzzzzzz')],
      ['404 route', await w.call('GET', '/api/does/not/exist')],
      ['415', await w.call('POST', '/api/collections/posts/records', { raw: 'x', headers: { 'content-type': 'text/plain' } })],
    ];
    for (const [label, res] of answers) {
      const h = res.headers as Headers;
      expect(h.get('x-content-type-options'), label).toBe('nosniff');
      if (res.status !== 204) expect(h.get('content-type'), label).toMatch(/^application\/json/);
      expect(h.get('x-powered-by'), label).toBeNull();
      expect(h.get('server'), label).toBeNull();
    }
  });

  test('a 413 and a malformed request line are answered in the error shape with nosniff', async () => {
    const small = await startServer({ bodyLimit: 1024 });
    try {
      const big = `{"name":"${'a'.repeat(4096)}"}`;
      const res = await rawCall(small.url, 'POST', '/api/collections/users/records', {
        headers: { 'content-type': 'application/json', 'content-length': String(big.length) },
        body: big,
      });
      expectApiError(res, 413);
      expect((res.headers as Record<string, unknown>)['x-content-type-options']).toBe('nosniff');
      expectNoMachinery(res, '413');
    } finally {
      await small.close();
    }
  });

  test('TRACE is not echoed', async () => {
    const res = await rawCall(w.s.url, 'TRACE', '/api/health', { headers: { 'x-secret': 'echo-me', authorization: w.su } });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.text).not.toContain('echo-me');
    expect(res.text).not.toContain(w.su);
  });
});

describe('errors say nothing of the machinery', () => {
  test('bad filters, sorts, fields, expands and bodies', async () => {
    const reqs: [string, string, unknown?][] = [
      ['GET', `/api/collections/posts/records${q({ filter: 'title = "a" AND 1=1' })}`],
      ['GET', `/api/collections/posts/records${q({ filter: "title = 'unterminated" })}`],
      ['GET', `/api/collections/posts/records${q({ filter: 'nosuch.deep.path = 1' })}`],
      ['GET', `/api/collections/posts/records${q({ filter: 'author.org.admins.org.admins.org.admins.name = 1' })}`],
      ['GET', `/api/collections/posts/records${q({ filter: 'json_extract(meta, "$") = 1' })}`],
      ['GET', `/api/collections/posts/records${q({ filter: 'views > "abc" && meta.x.y ~ 1 && author.nosuch = 1' })}`],
      ['GET', `/api/collections/posts/records${q({ sort: 'title; DROP TABLE posts' })}`],
      ['GET', `/api/collections/posts/records${q({ sort: 'nosuch' })}`],
      ['GET', `/api/collections/posts/records${q({ fields: 'nosuch' })}`],
      ['GET', `/api/collections/posts/records${q({ expand: 'nosuch_via_x' })}`],
      ['GET', `/api/collections/posts/records${q({ page: 'x' })}`],
      ['POST', '/api/collections/posts/records', '{"title":'],
      ['POST', '/api/collections/posts/records', { title: { $gt: '' }, author: 'nope', views: 'x', when: 'never', tags: ['z'] }],
      ['POST', '/api/collections/comments/records', { post: 'zzzzzzzzzzzzzzz', author: 'x' }],
      ['PATCH', `/api/collections/posts/records/${w.ids.pB1}`, { id: 'other00000000id' }],
      ['POST', '/api/batch', { requests: [{ method: 'POST', url: '/api/collections/posts/records', body: { title: ['x'] } }] }],
      ['POST', '/api/batch', { requests: [{ method: 'GET', url: 'javascript:alert(1)' }] }],
    ];
    for (const [method, path, body] of reqs) {
      const res = await w.call(method, path, typeof body === 'string' ? { token: w.bob.token, raw: body } : { token: w.bob.token, body });
      expectApiError(res, undefined, `${method} ${path}`);
      expectNoMachinery(res, `${method} ${path}`);
    }
  });

  test('database constraint failures: unique email, unique index, required relation, an index that rows violate', async () => {
    const before = await w.snapshot();
    const answers: [string, Answer][] = [];
    answers.push([
      'duplicate email',
      await w.call('POST', '/api/collections/users/records', {
        body: { email: w.bob.email, password: 'dup-pass-123', passwordConfirm: 'dup-pass-123' },
      }),
    ]);
    answers.push([
      'duplicate id',
      await w.call('POST', '/api/collections/posts/records', { token: w.bob.token, body: { id: w.ids.pA1, title: 'x', author: w.bob.id } }),
    ]);
    answers.push([
      'delete a required relation target',
      await w.call('DELETE', `/api/collections/posts/records/${w.ids.pA1}`, { token: w.alice.token }),
    ]);
    // a unique index over rows that already repeat a value
    answers.push([
      'unique index over duplicates',
      await w.call('PATCH', '/api/collections/comments', {
        token: w.su,
        body: { indexes: ['CREATE UNIQUE INDEX idx_comments_post ON comments (post)'] },
      }),
    ]);
    answers.push([
      'index on an unknown column',
      await w.call('PATCH', '/api/collections/comments', { token: w.su, body: { indexes: ['CREATE INDEX idx_x ON comments (nope)'] } }),
    ]);
    answers.push([
      'a rule naming an unknown field',
      await w.call('PATCH', '/api/collections/posts', { token: w.su, body: { listRule: 'nope.deeper ~ 1' } }),
    ]);
    answers.push([
      'dropping a field a rule uses',
      await w.call('PATCH', '/api/collections/memberships', {
        token: w.su,
        body: { fields: [{ name: 'team', type: 'relation', collectionId: w.cols.teams, maxSelect: 1 }] },
      }),
    ]);
    for (const [label, res] of answers) {
      expect(res.status, `${label}: ${res.text.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `${label}: ${res.text.slice(0, 300)}`).toBeLessThan(500);
      expectApiError(res, undefined, label);
      expectNoMachinery(res, label);
    }
    expect(await w.snapshot()).toEqual(before);
  });
});

describe('configuration secrets', () => {
  test('token secrets never appear in collection JSON (list, view, after an update)', async () => {
    const secrets: string[] = [];
    for (const name of ['users', '_superusers']) {
      const a = w.s.app.records.collection(name).auth;
      for (const t of [a?.authToken, a?.passwordResetToken, a?.emailChangeToken, a?.verificationToken, a?.fileToken]) {
        if (t?.secret) secrets.push(t.secret);
      }
    }
    expect(secrets.length).toBeGreaterThanOrEqual(8);
    const texts = [
      (await w.call('GET', '/api/collections?perPage=1000', { token: w.su })).text,
      (await w.call('GET', '/api/collections/users', { token: w.su })).text,
      (await w.call('GET', '/api/collections/_superusers', { token: w.su })).text,
      (await w.call('PATCH', '/api/collections/users', { token: w.su, body: { authToken: { duration: 604800 } } })).text,
    ];
    for (const text of texts) for (const secret of secrets) expect(text.includes(secret)).toBe(false);
  });

  test('the SMTP password is write-only', async () => {
    const password = 'smtp-Secret-4711';
    const set = await w.call('PATCH', '/api/settings', { token: w.su, body: { smtp: { password, username: 'mailer' } } });
    expect(set.status).toBe(200);
    expect(set.text).not.toContain(password);
    const get = await w.call('GET', '/api/settings', { token: w.su });
    expect(get.text).not.toContain(password);
    expect(get.body.smtp.username).toBe('mailer');
    await w.ok(w.call('PATCH', '/api/settings', { token: w.su, body: { smtp: { password: '', username: '' } } }), 'reset');
  });
});
