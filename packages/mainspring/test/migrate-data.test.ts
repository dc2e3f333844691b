import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { App } from '../src/core/app.js';
import { buildServer } from '../src/http/server.js';
import { freshDatabase, TEST_POSTGRES_URL } from './helpers/server.js';

/**
 * `mainspring migrate-data`: an app that ran on SQLite moves to PostgreSQL
 * with its schema, records (in their order), settings and accounts; users
 * sign in with the passwords they had; running it twice changes nothing.
 */

const BIN = new URL('../bin/mainspring.js', import.meta.url).pathname;
const SU = { identity: 'root@example.com', password: 'root-password-1' };
const USERS = [
  { email: 'ann@example.com', password: 'ann-password-1' },
  { email: 'bob@example.com', password: 'bob-password-1' },
  { email: 'cat@example.com', password: 'cat-password-1' },
];

/** A server over the app in `dataDir`, on SQLite ('') or the given PostgreSQL database. */
async function serveApp(dataDir: string, databaseUrl: string) {
  const app = await App.open({ dataDir, databaseUrl, logger: pino({ level: 'silent' }) });
  const server = await buildServer(app, { accessLog: false });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const port = (server.server.address() as { port: number }).port;
  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = token;
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  return {
    app,
    call,
    close: async () => {
      await server.close();
      await app.close();
    },
  };
}

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, MS_LOG_LEVEL: 'warn', DATABASE_URL: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.runIf(TEST_POSTGRES_URL)('migrate-data from SQLite to PostgreSQL', () => {
  let dir: string;
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let before: { posts: unknown[]; users: unknown[]; counts: unknown[]; appName: string; origins: unknown[]; otps: unknown[] };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ms-migrate-data-'));
    db = await freshDatabase();
    const made = await cli(['superuser', 'upsert', SU.identity, SU.password, `--dir=${join(dir, 'sqlite')}`]);
    expect(made.code).toBe(0);
    const s = await serveApp(join(dir, 'sqlite'), '');
    try {
      const su = (await s.call('POST', '/api/collections/_superusers/auth-with-password', SU)).body.token as string;
      for (const u of USERS) {
        expect((await s.call('POST', '/api/collections/users/records', { ...u, passwordConfirm: u.password })).status).toBe(200);
      }
      const coll = await s.call(
        'POST',
        '/api/collections',
        {
          name: 'posts',
          listRule: '',
          viewRule: '',
          fields: [
            { name: 'title', type: 'text' },
            { name: 'views', type: 'number' },
            { name: 'published', type: 'bool' },
            { name: 'due', type: 'date' },
            { name: 'meta', type: 'json' },
            { name: 'tags', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
            { name: 'author', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
          ],
          indexes: ['CREATE UNIQUE INDEX idx_posts_title ON posts (title)'],
        },
        su,
      );
      expect(coll.status).toBe(200);
      const users = (await s.call('GET', '/api/collections/users/records?perPage=10', undefined, su)).body.items as { id: string }[];
      const ids: string[] = [];
      for (let i = 0; i < 25; i++) {
        const post = await s.call(
          'POST',
          '/api/collections/posts/records',
          {
            title: i === 7 ? 'with a NUL\0 inside' : `post ${String(25 - i).padStart(2, '0')}`,
            views: i * 1.5,
            published: i % 2 === 0,
            due: i % 3 === 0 ? '' : `2024-0${(i % 9) + 1}-15 10:30:00.123Z`,
            meta: i % 4 === 0 ? null : { n: i, nested: { list: [i, 'x'] } },
            tags: i % 5 === 0 ? [] : ['a', 'c'].slice(0, (i % 2) + 1),
            author: users[i % users.length]?.id,
          },
          su,
        );
        expect(post.status).toBe(200);
        ids.push(post.body.id);
      }
      // gaps in the insertion order
      for (const id of [ids[3], ids[11]])
        expect((await s.call('DELETE', `/api/collections/posts/records/${id}`, undefined, su)).status).toBe(204);
      expect((await s.call('PATCH', '/api/settings', { meta: { appName: 'Moved app' } }, su)).status).toBe(200);
      // a view collection, written in SQL both engines understand
      const view = await s.call(
        'POST',
        '/api/collections',
        {
          name: 'post_counts',
          type: 'view',
          listRule: '',
          viewQuery:
            'SELECT u.id AS id, u.email AS email, COUNT(p.id) AS posts FROM users u LEFT JOIN posts p ON p.author = u.id GROUP BY u.id, u.email',
        },
        su,
      );
      expect(view.status).toBe(200);
      // rows of the auth flows' system collections: where users signed in from, an OTP on its way
      for (const u of USERS) {
        expect(
          (await s.call('POST', '/api/collections/users/auth-with-password', { identity: u.email, password: u.password })).status,
        ).toBe(200);
      }
      expect((await s.call('PATCH', '/api/collections/users', { otp: { enabled: true } }, su)).status).toBe(200);
      expect((await s.call('POST', '/api/collections/users/request-otp', { email: USERS[0]?.email })).status).toBe(200);
      const usersOnly = `filter=${encodeURIComponent('collectionRef = "_pb_users_auth_"')}`;
      const flows = async () => ({
        origins: (await s.call('GET', `/api/collections/_authOrigins/records?${usersOnly}`, undefined, su)).body.items,
        otps: (await s.call('GET', `/api/collections/_otps/records?${usersOnly}`, undefined, su)).body.items,
      });
      // written after their answers
      for (let until = Date.now() + 5000; Date.now() < until; await new Promise((r) => setTimeout(r, 25))) {
        const now = await flows();
        if (now.origins.length === USERS.length && now.otps.length === 1) break;
      }
      const { origins, otps } = await flows();
      expect(origins).toHaveLength(USERS.length);
      expect(otps).toHaveLength(1);
      before = {
        origins,
        otps,
        posts: (await s.call('GET', '/api/collections/posts/records?perPage=100&expand=author', undefined, su)).body.items,
        users: (await s.call('GET', '/api/collections/users/records?perPage=100', undefined, su)).body.items,
        counts: (await s.call('GET', '/api/collections/post_counts/records?sort=email', undefined, su)).body.items,
        appName: 'Moved app',
      };
      expect(before.posts).toHaveLength(23);
    } finally {
      await s.close();
    }
  }, 60_000);

  afterAll(async () => {
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('copies everything, verifies the counts, and can run again', async () => {
    const first = await cli(['migrate-data', `--from=${join(dir, 'sqlite')}`, `--to=${db.url}`]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/posts: 23 rows copied/);
    expect(first.stdout).toMatch(/Verified: \d+ tables, \d+ rows/);
    const again = await cli(['migrate-data', `--from=${join(dir, 'sqlite')}`, `--to=${db.url}`]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(first.stdout);
  });

  test('on PostgreSQL: users sign in with their old passwords; records, order and settings are as they were', async () => {
    const s = await serveApp(join(dir, 'pg'), db.url);
    try {
      expect(s.app.engine.dialect.name).toBe('postgres');
      const su0 = (await s.call('POST', '/api/collections/_superusers/auth-with-password', SU)).body.token as string;
      const usersOnly = `filter=${encodeURIComponent('collectionRef = "_pb_users_auth_"')}`;
      expect((await s.call('GET', `/api/collections/_authOrigins/records?${usersOnly}`, undefined, su0)).body.items).toEqual(
        before.origins,
      );
      expect((await s.call('GET', `/api/collections/_otps/records?${usersOnly}`, undefined, su0)).body.items).toEqual(before.otps);
      for (const u of USERS) {
        const auth = await s.call('POST', '/api/collections/users/auth-with-password', { identity: u.email, password: u.password });
        expect(auth.status, u.email).toBe(200);
      }
      const wrong = await s.call('POST', '/api/collections/users/auth-with-password', {
        identity: USERS[0]?.email,
        password: 'nope-nope-1',
      });
      expect(wrong.status).toBe(400);
      const su = (await s.call('POST', '/api/collections/_superusers/auth-with-password', SU)).body.token as string;
      expect(su).toBeTruthy();
      const posts = (await s.call('GET', '/api/collections/posts/records?perPage=100&expand=author', undefined, su)).body.items;
      expect(posts).toEqual(before.posts);
      expect((await s.call('GET', '/api/collections/users/records?perPage=100', undefined, su)).body.items).toEqual(before.users);
      expect((await s.call('GET', '/api/settings', undefined, su)).body.meta.appName).toBe(before.appName);
      expect(before.counts.map((r) => (r as { posts: number }).posts)).toEqual([8, 8, 7]);
      expect((await s.call('GET', '/api/collections/post_counts/records?sort=email', undefined, su)).body.items).toEqual(before.counts);
      // the unique index came along, and new records go after the copied ones
      const dup = await s.call('POST', '/api/collections/posts/records', { title: 'post 01' }, su);
      expect(dup.status).toBe(400);
      const fresh = await s.call('POST', '/api/collections/posts/records', { title: 'after the move' }, su);
      expect(fresh.status).toBe(200);
      const all = (await s.call('GET', '/api/collections/posts/records?perPage=100', undefined, su)).body.items as { id: string }[];
      expect(all.at(-1)?.id).toBe(fresh.body.id);
    } finally {
      await s.close();
    }
  });

  test('a database holding other data is refused', async () => {
    const other = await freshDatabase();
    try {
      const s = await serveApp(join(dir, 'other'), other.url);
      await s.call('POST', '/api/collections/users/records', {
        email: 'x@example.com',
        password: 'x-password-1',
        passwordConfirm: 'x-password-1',
      });
      await s.close();
      const r = await cli(['migrate-data', `--from=${join(dir, 'sqlite')}`, `--to=${other.url}`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/already holds data/);
    } finally {
      await other.drop();
    }
  });
});
