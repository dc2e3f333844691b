import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  freshDatabase,
  relaxProtections,
  requester,
  startServer,
  superuserToken,
  TEST_ENGINE,
  type TestServer,
} from '../../../test/helpers/server.js';
import { buildServer } from '../../http/server.js';
import { App } from '../app.js';

/*
 * A list's total (core/search/provider.ts) through the records API, on the
 * engine the suite runs on: PocketBase's `totalItems`/`totalPages` whatever
 * way the total was had (a count, the short page itself, a count kept from
 * an earlier read), and never a total older than the request.
 *
 * notes: n (number, indexed) 1..7, tag "a" for n 1..4 and "b" for n 5..7.
 */

let s: TestServer;
let su: string;

async function ok(method: string, path: string, body?: unknown, server: TestServer = s): Promise<any> {
  const res = await server.request(method, path, { body, token: su });
  if (res.status !== 200 && res.status !== 204) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

const list = (query: string) => ok('GET', `/api/collections/notes/records?sort=n&${query}`);
const paging = (p: any) => ({
  page: p.page,
  perPage: p.perPage,
  totalItems: p.totalItems,
  totalPages: p.totalPages,
  n: p.items.map((r: any) => r.n),
});

const NOTES = {
  name: 'notes',
  type: 'base',
  listRule: '',
  viewRule: '',
  fields: [
    { name: 'n', type: 'number' },
    { name: 'tag', type: 'text' },
  ],
  indexes: ['CREATE INDEX idx_notes_n ON notes (n)'],
};

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  await ok('POST', '/api/collections', NOTES);
  for (let n = 1; n <= 7; n++) await ok('POST', '/api/collections/notes/records', { n, tag: n <= 4 ? 'a' : 'b' });
});
afterAll(async () => {
  await s?.close();
});

describe('totals', () => {
  test.each([
    // a short first page is its own total
    ['perPage=10', { page: 1, perPage: 10, totalItems: 7, totalPages: 1, n: [1, 2, 3, 4, 5, 6, 7] }],
    // a full page is counted
    ['perPage=7', { page: 1, perPage: 7, totalItems: 7, totalPages: 1, n: [1, 2, 3, 4, 5, 6, 7] }],
    ['perPage=3', { page: 1, perPage: 3, totalItems: 7, totalPages: 3, n: [1, 2, 3] }],
    // a short later page: the rows before it and its own
    ['perPage=5&page=2', { page: 2, perPage: 5, totalItems: 7, totalPages: 2, n: [6, 7] }],
    ['perPage=3&page=3', { page: 3, perPage: 3, totalItems: 7, totalPages: 3, n: [7] }],
    // past the end: counted, as PocketBase does
    ['perPage=5&page=3', { page: 3, perPage: 5, totalItems: 7, totalPages: 2, n: [] }],
    ['perPage=7&page=2', { page: 2, perPage: 7, totalItems: 7, totalPages: 1, n: [] }],
    ['perPage=3&page=2&filter=tag="a"', { page: 2, perPage: 3, totalItems: 4, totalPages: 2, n: [4] }],
    ['perPage=2&page=2&filter=tag="a"', { page: 2, perPage: 2, totalItems: 4, totalPages: 2, n: [3, 4] }],
    ['perPage=2&page=9&filter=tag="b"', { page: 9, perPage: 2, totalItems: 3, totalPages: 2, n: [] }],
    // nothing at all
    ['filter=tag="none"', { page: 1, perPage: 30, totalItems: 0, totalPages: 0, n: [] }],
    ['filter=tag="none"&page=2', { page: 2, perPage: 30, totalItems: 0, totalPages: 0, n: [] }],
    // skipTotal: never counted
    ['perPage=5&page=2&skipTotal=1', { page: 2, perPage: 5, totalItems: -1, totalPages: -1, n: [6, 7] }],
    ['perPage=5&page=3&skipTotal=1', { page: 3, perPage: 5, totalItems: -1, totalPages: -1, n: [] }],
  ])('%s', async (query, expected) => {
    expect(paging(await list(query))).toEqual(expected);
    // the same list again (on SQLite, its count may now come from the earlier read): the same answer
    expect(paging(await list(query))).toEqual(expected);
  });

  test('the total follows every write, at once', async () => {
    const total = async () => (await list('perPage=2&filter=tag="a"')).totalItems;
    expect(await total()).toBe(4);
    expect(await total()).toBe(4);
    const made = await ok('POST', '/api/collections/notes/records', { n: 8, tag: 'a' });
    expect(await total()).toBe(5);
    await ok('PATCH', `/api/collections/notes/records/${made.id}`, { tag: 'b' });
    expect(await total()).toBe(4);
    await ok('PATCH', `/api/collections/notes/records/${made.id}`, { tag: 'a' });
    expect(await total()).toBe(5);
    await ok('POST', '/api/batch', {
      requests: [
        { method: 'POST', url: '/api/collections/notes/records', body: { n: 9, tag: 'a' } },
        { method: 'POST', url: '/api/collections/notes/records', body: { n: 10, tag: 'a' } },
      ],
    });
    expect(await total()).toBe(7);
    const extra = await list('perPage=10&filter=n>7');
    for (const r of extra.items) await ok('DELETE', `/api/collections/notes/records/${r.id}`);
    expect(await total()).toBe(4);
    expect(paging(await list('perPage=3'))).toEqual({ page: 1, perPage: 3, totalItems: 7, totalPages: 3, n: [1, 2, 3] });
  });

  test('a commit by another process shows in the next total', async (ctx) => {
    if (TEST_ENGINE !== 'sqlite') ctx.skip(); // PostgreSQL counts every time: its instances are tested below
    const total = async () => (await list('perPage=2')).totalItems;
    expect(await total()).toBe(7);
    expect(await total()).toBe(7);
    // as `mainspring` CLI commands beside the server write: another connection to the file
    const other = new Database(join(s.dir, 'data.db'));
    try {
      other.prepare(`INSERT INTO notes (id, n, tag) VALUES ('othersprocess01', 100, 'a')`).run();
      expect(await total()).toBe(8);
      other.prepare(`DELETE FROM notes WHERE id = 'othersprocess01'`).run();
      expect(await total()).toBe(7);
    } finally {
      other.close();
    }
  });
});

/**
 * Writers and readers at once. Each reader's total must be the true count at
 * some moment of its request: at least the rows whose insert was answered
 * before it started, less every delete sent before it was answered; at most
 * every insert sent before it was answered, less the deletes answered
 * before it started. The writers pause now and then, so that the bounds
 * meet and a total kept from before a write would show.
 */
describe('totals under concurrent writers', () => {
  const servers: TestServer[] = [];
  let cleanup: () => Promise<void> = async () => {};

  beforeAll(async () => {
    if (TEST_ENGINE === 'sqlite') {
      servers.push(s);
      return;
    }
    // PostgreSQL: writes on one instance, reads on another, one database
    const db = await freshDatabase();
    const dirs = [mkdtempSync(join(tmpdir(), 'ms-test-')), mkdtempSync(join(tmpdir(), 'ms-test-'))];
    const apps: App[] = [];
    const closers: (() => Promise<void>)[] = [];
    for (const dir of dirs) {
      const app = await App.open({ dataDir: dir, databaseUrl: db.url, logger: pino({ level: 'silent' }) });
      apps.push(app);
      await relaxProtections(app);
      const server = await buildServer(app, { accessLog: false, idleCloseGraceMs: 0 });
      await server.listen({ host: '127.0.0.1', port: 0 });
      const address = server.server.address();
      const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      closers.push(async () => {
        await server.close();
        await app.close();
      });
      servers.push({ url, app, server, dir, request: requester(url), close: async () => {} });
    }
    cleanup = async () => {
      for (const close of closers) await close();
      await db.drop();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    };
    su = await superuserToken(servers[0] as TestServer);
    await ok('POST', '/api/collections', { ...NOTES, name: 'notes2', indexes: ['CREATE INDEX idx_notes2_n ON notes2 (n)'] }, servers[0]);
    // the other instance hears of the new collection through the event bus, after the answer (CI read it before once: a 404)
    const reader = servers[1] as TestServer;
    for (const until = Date.now() + 10_000; ; ) {
      const res = await reader.request('GET', '/api/collections/notes2/records?perPage=1', { token: su });
      if (res.status === 200) break;
      if (Date.now() > until) throw new Error(`notes2 never reached the second instance: ${res.status}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }, 60_000);
  afterAll(async () => {
    await cleanup();
  });

  test('every total is the count of some moment of its request', async () => {
    const collection = TEST_ENGINE === 'sqlite' ? 'notes' : 'notes2';
    const writer = servers[0] as TestServer;
    const reader = (servers[1] ?? servers[0]) as TestServer;
    const path = `/api/collections/${collection}/records?perPage=2&sort=n&filter=tag="p"`;
    const base = (await ok('GET', path, undefined, reader)).totalItems as number;
    const at = { insertsSent: 0, insertsDone: 0, deletesSent: 0, deletesDone: 0 };
    let writing = true;
    const failures: string[] = [];
    let reads = 0;

    const writerLoop = async (w: number) => {
      const mine: string[] = [];
      for (let i = 0; i < 60; i++) {
        if (i % 15 === 14) await new Promise((r) => setTimeout(r, 30)); // a pause: the bounds meet
        if (mine.length > 0 && i % 3 === 2) {
          const id = mine.shift() as string;
          at.deletesSent++;
          await ok('DELETE', `/api/collections/${collection}/records/${id}`, undefined, writer);
          at.deletesDone++;
        } else {
          at.insertsSent++;
          const made = await ok('POST', `/api/collections/${collection}/records`, { n: 1000 + w * 100 + i, tag: 'p' }, writer);
          at.insertsDone++;
          mine.push(made.id);
        }
      }
    };
    const readerLoop = async () => {
      while (writing) {
        const before = { ...at };
        const total = (await ok('GET', path, undefined, reader)).totalItems as number;
        const after = { ...at };
        reads++;
        const lo = base + before.insertsDone - after.deletesSent;
        const hi = base + after.insertsSent - before.deletesDone;
        if (total < lo || total > hi) failures.push(`total ${total} outside [${lo}, ${hi}]`);
      }
    };
    const writers = Promise.all([0, 1, 2].map(writerLoop)).finally(() => {
      writing = false;
    });
    await Promise.all([writers, readerLoop(), readerLoop(), readerLoop()]);
    expect(failures).toEqual([]);
    expect(reads).toBeGreaterThan(20);
    // at rest: exactly what was written (3 writers × 60 steps: 40 inserts and 20 deletes each)
    expect(at).toEqual({ insertsSent: 120, insertsDone: 120, deletesSent: 60, deletesDone: 60 });
    expect((await ok('GET', path, undefined, reader)).totalItems).toBe(base + 60);
  }, 120_000);
});
