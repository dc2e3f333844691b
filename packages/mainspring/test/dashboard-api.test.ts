import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { App } from '../src/core/app.js';
import { timeOrderedId } from '../src/core/ids.js';
import { DASHBOARD_CSP, dashboardRoutes } from '../src/http/routes/dashboard.js';
import type { Engine } from '../src/storage/engine.js';
import { signedUpUser, startServer, superuserToken, type TestServer } from './helpers/server.js';

/**
 * What the dashboard needs of the server beyond PocketBase's API: the
 * one-time install link, the request log, the collection dry-run, and the
 * static files at /_/ — each with hostile input.
 */

describe('install link', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(() => s.close());

  test('creates the first superuser once, with the link of any start (or instance); then no link works', async () => {
    // two starts (or two instances sharing a database), each printing its own link
    const token = await s.app.install.newToken();
    const other = await s.app.install.newToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(other).not.toBe(token);
    const body = { token, email: 'first@example.com', password: 'first-password-1', passwordConfirm: 'first-password-1' };

    for (const bad of ['x'.repeat(43), '', null, 42, ['a'], { a: 1 }, `${token}x`]) {
      const r = await s.request('POST', '/api/ms/install', { body: { ...body, token: bad } });
      expect(r.status).toBe(400);
      expect(r.body.message).toMatch(/invalid or has expired/);
    }
    // a refused record does not use the token up
    const weak = await s.request('POST', '/api/ms/install', { body: { ...body, password: 'x', passwordConfirm: 'x' } });
    expect(weak.status).toBe(400);
    expect(weak.body.data.password).toBeDefined();

    const ok = await s.request('POST', '/api/ms/install', { body });
    expect(ok.status).toBe(200);
    expect(ok.body.record.email).toBe('first@example.com');
    const me = await s.request('GET', '/api/collections', { token: ok.body.token });
    expect(me.status).toBe(200);

    for (const used of [token, other]) {
      const again = await s.request('POST', '/api/ms/install', { body: { ...body, token: used, email: 'second@example.com' } });
      expect(again.status).toBe(400);
    }
    expect(await s.app.install.newToken()).toBeNull();
  });

  test('refuses hostile bodies without a 500', async () => {
    for (const raw of ['{"__proto__":{"x":1}}', '[1]', '"token"', '{"token":{"constructor":1}}']) {
      const r = await s.request('POST', '/api/ms/install', { raw, headers: { 'content-type': 'application/json' } });
      expect(r.status).toBe(400);
    }
  });

  test('an expired token is refused', async () => {
    const fresh = await startServer();
    try {
      const token = await fresh.app.install.newToken(Date.now() - 2 * 3_600_000);
      const r = await fresh.request('POST', '/api/ms/install', {
        body: { token, email: 'a@example.com', password: 'password-123', passwordConfirm: 'password-123' },
      });
      expect(r.status).toBe(400);
    } finally {
      await fresh.close();
    }
  });
});

describe('request log', () => {
  let s: TestServer;
  let su: string;
  let user: string;
  beforeAll(async () => {
    s = await startServer();
    su = await superuserToken(s);
    user = (await signedUpUser(s, 'logged@example.com')).token;
  });
  afterAll(() => s.close());

  test('records API requests without secrets, for superusers only', async () => {
    await s.request('GET', '/api/collections/users/records?filter=id%3D%22x%22&token=SECRET-FILE-TOKEN&perPage=1', { token: user });
    await s.request('GET', '/api/collections/nope/records');
    await s.request('POST', '/api/collections/users/auth-with-password', {
      body: { identity: 'logged@example.com', password: 'password-123' },
    });
    await s.app.logs.flush();

    expect((await s.request('GET', '/api/logs')).status).toBe(401);
    expect((await s.request('GET', '/api/logs', { token: user })).status).toBe(403);
    expect((await s.request('GET', '/api/logs/stats', { token: user })).status).toBe(403);

    const all = await s.request('GET', '/api/logs?perPage=100', { token: su });
    expect(all.status).toBe(200);
    const text = JSON.stringify(all.body);
    expect(text).not.toContain('SECRET-FILE-TOKEN');
    expect(text).not.toContain('password-123');
    expect(text).not.toContain(user);
    const listed = all.body.items.find((l: any) => l.data.url.includes('token='));
    expect(listed.data.url).toContain('token=***');
    expect(listed.data.auth).toBe('users');
    expect(listed.level).toBe(0);

    const missing = await s.request('GET', `/api/logs?filter=${encodeURIComponent('data.status = 404')}`, { token: su });
    expect(missing.body.items.length).toBe(1);
    expect(missing.body.items[0]).toMatchObject({ level: 4, message: 'GET /api/collections/nope/records' });

    const one = await s.request('GET', `/api/logs/${missing.body.items[0].id}`, { token: su });
    expect(one.body.id).toBe(missing.body.items[0].id);
    expect((await s.request('GET', '/api/logs/nothere', { token: su })).status).toBe(404);

    const stats = await s.request('GET', '/api/logs/stats', { token: su });
    expect(stats.body.length).toBeGreaterThan(0);
    expect(stats.body[0]).toEqual({ total: expect.any(Number), date: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:00:00\.000Z$/) });
  });

  test('a flush of an odd number of rows (written in chunks of 200 and powers of two) keeps every row and field', async () => {
    const count = 537; // 200 + 200 + 128 + 8 + 1
    const entry = (i: number) => ({
      method: i % 2 ? 'POST' : 'GET',
      url: `/api/chunked/${i}?n=${i}`,
      status: 200 + (i % 3),
      execTime: i / 1000,
      remoteIP: '127.0.0.9',
      userIP: '10.0.0.9',
      referer: `https://ref.example/${i}`,
      userAgent: `agent-${i}`,
      auth: i % 5 ? 'users' : '',
      authId: i % 5 ? `user${i}` : '',
      error: i === count - 1 ? 'last one' : '',
    });
    for (let i = 0; i < count; i++) s.app.logs.add(entry(i));
    await s.app.logs.flush();
    const filter = encodeURIComponent('data.url ~ "/api/chunked/"');
    const page = await s.request('GET', `/api/logs?perPage=500&filter=${filter}`, { token: su });
    expect(page.body.totalItems).toBe(count);
    const rest = await s.request('GET', `/api/logs?perPage=500&page=2&filter=${filter}`, { token: su });
    const byUrl = new Map([...page.body.items, ...rest.body.items].map((l: any) => [l.data.url, l]));
    expect(byUrl.size).toBe(count);
    for (const i of [0, 199, 200, 399, 400, 527, 535, 536]) {
      const { error, ...sent } = entry(i);
      expect(byUrl.get(sent.url)).toMatchObject({
        level: 0,
        message: `${sent.method} /api/chunked/${i}`,
        // the log answers each field under the name it was given; an empty error is left out, as PocketBase does
        data: { ...sent, ...(error ? { error } : {}) },
      });
    }
  });

  test('the error column holds why a 4xx or 5xx failed: the message its client got', async () => {
    const answers = [
      await s.request('GET', '/api/collections/nope-err/records'),
      await s.request('POST', '/api/collections/users/auth-with-password', {
        body: { identity: 'logged@example.com', password: 'wrong-pass' },
      }),
      await s.request('GET', '/api/no-such-route-err'),
    ];
    await s.request('GET', '/api/health?from=ok-err');
    await s.app.logs.flush();
    const urls = ['/api/collections/nope-err/records', '/api/collections/users/auth-with-password', '/api/no-such-route-err'];
    for (const [i, url] of urls.entries()) {
      const filter = encodeURIComponent(`data.url = "${url}"`);
      const rows = (await s.request('GET', `/api/logs?sort=-created&perPage=1&filter=${filter}`, { token: su })).body.items;
      const answer = answers[i] as { status: number; body: { message: string } };
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(rows[0].data, url).toMatchObject({ status: answer.status, error: answer.body.message });
    }
    const ok = await s.request('GET', `/api/logs?filter=${encodeURIComponent('data.url = "/api/health?from=ok-err"')}`, { token: su });
    expect(ok.body.items[0].data.error).toBeUndefined();
  });

  test('a row whose id is taken (another process with the same tag) costs no row: the flush writes it with a fresh id', async () => {
    const at = Date.UTC(2028, 0, 2, 3, 4, 5, 6);
    const entry = (tag: string, i: number) => ({
      method: 'GET',
      url: `/api/collide/${tag}/${i}`,
      status: 200,
      execTime: 1,
      remoteIP: '',
      userIP: '',
      referer: '',
      userAgent: '',
      auth: '',
      authId: '',
      error: '',
    });
    // the ids the next rows of that millisecond will get: the sequence after this one's
    const probe = timeOrderedId(at);
    const next = (k: number) =>
      probe.slice(0, 9) + (Number.parseInt(probe.slice(9, 11), 36) + k).toString(36).padStart(2, '0') + probe.slice(11);
    const logsEngine = (s.app.logs as unknown as { engine: Engine }).engine;
    for (const k of [1, 6, 151]) {
      await logsEngine.run(
        'INSERT INTO _ms_logs (id, created, hour, level, message, method, url, status) VALUES ($1, $2, $6, 0, $3, $4, $5, 200)',
        [
          next(k),
          logsEngine.dialect.encode('date', '2028-01-02 03:04:05.006Z') as string,
          'planted',
          'GET',
          `/api/collide/planted/${k}`,
          Math.floor(at / 3_600_000),
        ],
      );
    }
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(at);
      for (let i = 0; i < 300; i++) s.app.logs.add(entry('second', i));
      await s.app.logs.flush();
    } finally {
      vi.useRealTimers();
    }
    const filter = encodeURIComponent('data.url ~ "/api/collide/"');
    const page = await s.request('GET', `/api/logs?perPage=500&filter=${filter}`, { token: su });
    expect(page.body.totalItems).toBe(303);
    const urls = new Set(page.body.items.map((l: { data: { url: string } }) => l.data.url));
    for (let i = 0; i < 300; i++) expect(urls.has(`/api/collide/second/${i}`), `second ${i}`).toBe(true);
  });

  test('hostile filters and sorts are 400s, values are only parameters', async () => {
    for (const filter of [
      'password = "x"',
      'data.url ~ "\'; DROP TABLE _ms_logs; --"',
      '__proto__ = 1',
      'data.constructor = 1',
      '@collection.users.email = "logged@example.com"',
      '(((',
    ]) {
      const r = await s.request('GET', `/api/logs?filter=${encodeURIComponent(filter)}`, { token: su });
      expect([200, 400], `${filter}: ${JSON.stringify(r.body)}`).toContain(r.status);
      if (r.status === 200) expect(r.body.items).toEqual([]);
    }
    for (const sort of ['password', '-data.url;DROP', 'hour']) {
      expect((await s.request('GET', `/api/logs?sort=${encodeURIComponent(sort)}`, { token: su })).status).toBe(400);
    }
    expect((await s.request('GET', '/api/logs?perPage=abc', { token: su })).status).toBe(400);
    // Object.prototype names were once a 500 in the shared filter compiler
    for (const name of ['constructor', '__proto__', 'toString']) {
      expect((await s.request('GET', `/api/collections/users/records?filter=${name}%3D1`, { token: su })).status).toBe(400);
    }
    expect((await s.request('GET', '/api/logs?sort=-data.status,created', { token: su })).status).toBe(200);
  });

  test('on SQLite the log has a file of its own, auxiliary.db; data.db holds none of it', async (ctx) => {
    if (s.app.engine.dialect.name !== 'sqlite') return ctx.skip();
    await s.request('GET', '/api/health?from=aux-test');
    await s.app.logs.flush();
    const aux = new Database(join(s.dir, 'auxiliary.db'), { readonly: true });
    const data = new Database(join(s.dir, 'data.db'), { readonly: true });
    try {
      expect(aux.prepare(`SELECT COUNT(*) AS n FROM _ms_logs WHERE url = '/api/health?from=aux-test'`).get()).toEqual({ n: 1 });
      expect(data.prepare(`SELECT name FROM sqlite_master WHERE name = '_ms_logs'`).all()).toEqual([]);
    } finally {
      aux.close();
      data.close();
    }
  });

  test('a start that fails before the log opened closes auxiliary.db with data.db, and says nothing about the request log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ms-failed-start-'));
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
    try {
      // a data.db whose migrations table is not ours: the start fails in the migrations
      const db = new Database(join(dir, 'data.db'));
      db.exec('CREATE TABLE _migrations (something TEXT)');
      db.close();
      await expect(App.open({ dataDir: dir, databaseUrl: '', logger })).rejects.toThrow(/file/);
      // a WAL database's last connection removes its -wal file when it closes
      expect(existsSync(join(dir, 'auxiliary.db'))).toBe(true);
      expect(existsSync(join(dir, 'auxiliary.db-wal'))).toBe(false);
      expect(existsSync(join(dir, 'data.db-wal'))).toBe(false);
      expect(lines.filter((l) => l.includes('request log'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('maxDays 0 turns logging off', async () => {
    await s.app.settings.update({ logs: { maxDays: 0 } });
    await s.app.logs.flush();
    const before = (await s.request('GET', '/api/logs?perPage=1', { token: su })).body.totalItems;
    await s.request('GET', '/api/health');
    await s.app.logs.flush();
    expect((await s.request('GET', '/api/logs?perPage=1', { token: su })).body.totalItems).toBe(before);
    await s.app.settings.update({ logs: { maxDays: 5 } });
  });
});

describe('collection dry-run', () => {
  let s: TestServer;
  let su: string;
  beforeAll(async () => {
    s = await startServer();
    su = await superuserToken(s);
  });
  afterAll(() => s.close());

  test('checks a draft and its rules without saving anything', async () => {
    const draft = { name: 'drafts', type: 'base', fields: [{ name: 'title', type: 'text' }], listRule: 'title != ""' };
    const ok = await s.request('POST', '/api/ms/collections/check', { token: su, body: { collection: draft } });
    expect(ok.status).toBe(200);
    expect(ok.body.collection.name).toBe('drafts');
    expect((await s.request('GET', '/api/collections/drafts', { token: su })).status).toBe(404);

    const bad = await s.request('POST', '/api/ms/collections/check', {
      token: su,
      body: { collection: { ...draft, listRule: 'nope = 1', viewRule: '@request.auth.password = "x" &&' } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.data.listRule.code).toBe('validation_invalid_rule');
    expect(bad.body.data.viewRule.code).toBe('validation_invalid_rule');

    const update = await s.request('POST', '/api/ms/collections/check', {
      token: su,
      body: { target: 'users', collection: { listRule: 'verified = true' } },
    });
    expect(update.status).toBe(200);
    expect(update.body.collection.listRule).toBe('verified = true');
    expect((await s.request('GET', '/api/collections/users', { token: su })).body.listRule).not.toBe('verified = true');
  });

  test('superusers only, and hostile input is a 4xx', async () => {
    const user = await signedUpUser(s, 'drafter@example.com');
    expect((await s.request('POST', '/api/ms/collections/check', { body: { collection: {} } })).status).toBe(401);
    expect((await s.request('POST', '/api/ms/collections/check', { token: user.token, body: { collection: {} } })).status).toBe(403);
    for (const body of [
      { target: 'nope', collection: {} },
      { target: ['users'], collection: {} },
      { collection: 'x' },
      { collection: { name: 'x', fields: [{ name: '__proto__', type: 'text' }] } },
      { collection: { name: "x'; DROP TABLE users; --" } },
    ]) {
      const r = await s.request('POST', '/api/ms/collections/check', { token: su, body });
      expect(r.status, JSON.stringify(body)).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
    }
  });
});

describe('static dashboard at /_/', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ms-dash-'));
  const server = Fastify();
  beforeAll(async () => {
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), `<!doctype html><title>x</title>${'<!-- padding -->'.repeat(100)}`);
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    writeFileSync(join(dir, 'assets', 'index-abc123.css'), 'body{}');
    writeFileSync(join(tmpdir(), 'secret.txt'), 'secret');
    dashboardRoutes(server, dir);
    await server.ready();
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('types, caching, policy and fallback', async () => {
    const index = await server.inject({ url: '/_/', headers: { 'accept-encoding': 'gzip' } });
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(index.headers['content-encoding']).toBe('gzip');
    expect(index.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).not.toContain('unsafe');

    const js = await server.inject('/_/assets/index-abc123.js');
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toContain('immutable');
    expect(js.body).toBe('console.log(1)');
    expect((await server.inject('/_/assets/index-abc123.css')).headers['content-type']).toBe('text/css; charset=utf-8');

    const deep = await server.inject('/_/collections/posts');
    expect(deep.statusCode).toBe(200);
    expect(deep.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  test('missing assets and escapes are 404s, never files outside', async () => {
    for (const url of [
      '/_/assets/nope.js',
      '/_/../secret.txt',
      '/_/%2e%2e/secret.txt',
      '/_/..%2fsecret.txt',
      '/_/assets/..%2f..%2fsecret.txt',
      '/_/%2e%2e%2f%2e%2e%2fpackage.json',
    ]) {
      const r = await server.inject(url);
      expect(r.body, url).not.toBe('secret');
      expect(r.headers['content-type'], url).not.toBe('text/javascript; charset=utf-8');
    }
  });
});
