import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, superuserToken, TEST_ENGINE, type TestServer } from '../../../test/helpers/server.js';

/**
 * The superusers' SQL console, `POST /api/ms/sql`, on the engine the suite
 * runs on (SQLite, or PostgreSQL with MS_TEST_POSTGRES_URL): read-only by
 * default, and then it cannot write, attach a file, load an extension or
 * run past its time limit; writes only once the settings allow them, and
 * then each is in the log.
 */

let s: TestServer;
let su: string;
let user: string;

const sql = (body: unknown, token = su) => s.request('POST', '/api/ms/sql', { token, body });
const count = async () => Number((await s.app.engine.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM notes'))?.n);

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  const created = await s.request('POST', '/api/collections', {
    token: su,
    body: {
      name: 'notes',
      type: 'base',
      listRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'n', type: 'number' },
      ],
    },
  });
  expect(created.status).toBe(200);
  for (let i = 1; i <= 5; i++) {
    const r = await s.request('POST', '/api/collections/notes/records', {
      token: su,
      body: { id: `note0000000000${i}`, title: `note ${i}`, n: i },
    });
    expect(r.status).toBe(200);
  }
  const signup = await s.request('POST', '/api/collections/users/records', {
    body: { email: 'ann@example.com', password: 'password-123', passwordConfirm: 'password-123' },
  });
  expect(signup.status).toBe(200);
  user = (
    await s.request('POST', '/api/collections/users/auth-with-password', {
      body: { identity: 'ann@example.com', password: 'password-123' },
    })
  ).body.token;
});

afterAll(async () => {
  await s?.close();
});

test('only superusers may use it', async () => {
  expect((await sql({ sql: 'SELECT 1' }, '')).status).toBe(401);
  const refused = await sql({ sql: 'SELECT 1' }, user);
  expect(refused.status).toBe(403);
  expect(refused.body).toMatchObject({ status: 403, data: {} });
});

test('a query answers its columns and a page of rows', async () => {
  const all = await sql({ sql: 'SELECT id, title, n FROM notes ORDER BY n;' });
  expect(all.status).toBe(200);
  expect(all.body).toMatchObject({ columns: ['id', 'title', 'n'], page: 1, perPage: 100, more: false, changes: null, write: false });
  expect(all.body.rows).toEqual([1, 2, 3, 4, 5].map((i) => [`note0000000000${i}`, `note ${i}`, i]));

  const second = await sql({ sql: 'SELECT n FROM notes ORDER BY n', page: 2, perPage: 2 });
  expect(second.body).toMatchObject({ rows: [[3], [4]], more: true, page: 2, perPage: 2 });
  const last = await sql({ sql: 'SELECT n FROM notes ORDER BY n', page: 3, perPage: 2 });
  expect(last.body).toMatchObject({ rows: [[5]], more: false });
});

test('hostile bodies are 400s', async () => {
  for (const body of [
    {},
    { sql: 1 },
    { sql: '  ;; ' },
    { sql: 'SELECT 1', perPage: 5000 },
    { sql: 'SELECT 1', page: 0 },
    { sql: 'x'.repeat(100_001) },
    { sql: 'SELECT 1', write: 'yes' },
  ]) {
    const r = await sql(body);
    expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
    expect(r.body).toMatchObject({ status: 400 });
  }
  const broken = await sql({ sql: 'SELECT nope FROM nowhere' });
  expect(broken.status).toBe(400);
  expect(broken.body.message).toMatch(/nowhere|nope/);
});

describe('read-only', () => {
  test('cannot write, whatever the statement', async () => {
    const attempts = [
      "INSERT INTO notes (id, title) VALUES ('x00000000000001', 'x')",
      "UPDATE notes SET title = 'changed'",
      'DELETE FROM notes',
      'DROP TABLE notes',
      'SELECT 1; DELETE FROM notes',
      'WITH gone AS (DELETE FROM notes RETURNING id) SELECT * FROM gone',
      'CREATE TABLE evil (a INTEGER)',
    ];
    for (const statement of attempts) {
      const r = await sql({ sql: statement });
      expect(r.status, statement).toBe(400);
    }
    expect(await count()).toBe(5);
    const titles = await sql({ sql: 'SELECT title FROM notes ORDER BY n' });
    expect(titles.body.rows.flat()).toEqual(['note 1', 'note 2', 'note 3', 'note 4', 'note 5']);
  });

  test('cannot make its connection writable', async () => {
    const attempts =
      TEST_ENGINE === 'sqlite'
        ? ['PRAGMA query_only = 0', 'PRAGMA query_only = OFF']
        : [
            'SET TRANSACTION READ WRITE',
            'SET transaction_read_only = off',
            'COMMIT',
            'SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE',
          ];
    for (const statement of attempts) expect((await sql({ sql: statement })).status, statement).toBe(400);
    // and a later statement is read-only still
    expect((await sql({ sql: 'DELETE FROM notes' })).status).toBe(400);
    expect(await count()).toBe(5);
  });

  test('cannot attach a file', async () => {
    const file = join(s.dir, 'attached.db');
    for (const statement of [`ATTACH DATABASE '${file}' AS other`, `ATTACH '${join(s.dir, 'data.db')}' AS copy`, `VACUUM INTO '${file}'`]) {
      const r = await sql({ sql: statement });
      expect(r.status, statement).toBe(400);
    }
    expect(existsSync(file)).toBe(false);
  });

  test('cannot load an extension', async () => {
    const attempts =
      TEST_ENGINE === 'sqlite'
        ? ["SELECT load_extension('/usr/lib/x86_64-linux-gnu/libm.so.6')", "SELECT load_extension('./nothing.so', 'entry')"]
        : ['CREATE EXTENSION IF NOT EXISTS pgcrypto', "LOAD 'auto_explain'", 'SELECT * FROM pg_extension; CREATE EXTENSION pgcrypto'];
    for (const statement of attempts) {
      const r = await sql({ sql: statement });
      expect(r.status, statement).toBe(400);
    }
    if (TEST_ENGINE === 'postgres') {
      const ext = await s.app.engine.all<{ extname: string }>('SELECT extname FROM pg_extension');
      expect(ext.map((e) => e.extname)).not.toContain('pgcrypto');
    }
  });

  test('is stopped at its time limit, and the server goes on', async () => {
    await s.app.settings.update({ sqlConsole: { timeoutMs: 300 } });
    try {
      const slow =
        TEST_ENGINE === 'sqlite'
          ? 'WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r'
          : 'SELECT pg_sleep(10)';
      const started = Date.now();
      const r = await sql({ sql: slow });
      expect(r.status).toBe(400);
      expect(r.body.message).toMatch(/ran longer than 300 ms/);
      expect(Date.now() - started).toBeLessThan(3000);
      expect((await s.request('GET', '/api/health')).status).toBe(200);
      expect((await sql({ sql: 'SELECT COUNT(*) AS n FROM notes' })).body.rows).toEqual([[5]]);
    } finally {
      await s.app.settings.update({ sqlConsole: { timeoutMs: 5000 } });
    }
  });
});

describe('writes', () => {
  test('are refused until the settings allow them, and audited either way', async () => {
    const insert = "INSERT INTO notes (id, title, n) VALUES ('note00000000006', 'six', 6)";
    const refused = await sql({ sql: insert, write: true });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toMatch(/sqlConsole\.allowWrites/);
    expect(await count()).toBe(5);

    await s.app.settings.update({ sqlConsole: { allowWrites: true } });
    try {
      // a read without `write` stays read-only
      expect((await sql({ sql: insert })).status).toBe(400);
      const written = await sql({ sql: insert, write: true });
      expect(written.status).toBe(200);
      expect(written.body).toMatchObject({ changes: 1, write: true, columns: [], rows: [] });
      expect(await count()).toBe(6);
      const record = await s.request('GET', '/api/collections/notes/records/note00000000006', { token: su });
      expect(record.body).toMatchObject({ title: 'six', n: 6 });
    } finally {
      await s.app.settings.update({ sqlConsole: { allowWrites: false } });
    }
    await s.app.logs.flush();
    const logs = await s.request('GET', `/api/logs?filter=${encodeURIComponent('message ~ "SQL console"')}&sort=created`, { token: su });
    expect(logs.status).toBe(200);
    const messages = logs.body.items.map((l: { message: string }) => l.message);
    expect(messages).toEqual([
      `SQL console write refused by admin@example.com: ${insert}`,
      `SQL console write by admin@example.com: ${insert}`,
    ]);
  });
});
