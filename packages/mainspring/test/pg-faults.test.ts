/**
 * PostgreSQL lost under load, from the app's side: every connection to the
 * app's database ended by the server (`pg_terminate_backend`, what a
 * restart or a failover does to them; restarting the shared test server
 * would hit everyone else on it). Expected: requests meanwhile answer fast,
 * with success or a 503 in PocketBase's error shape (never a 500, never a
 * hang); the app recovers by itself; and realtime events still cross
 * instances, so the LISTEN connection was made again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { App } from '../src/core/app.js';
import { buildServer } from '../src/http/server.js';
import { relaxProtections, startServer, superuserToken, TEST_POSTGRES_URL, type TestServer } from './helpers/server.js';

let a: TestServer;
/** A second instance on a's database. */
let b: { url: string; app: App; server: FastifyInstance; dir: string };

beforeAll(async () => {
  if (!TEST_POSTGRES_URL) return;
  a = await startServer();
  const su = await superuserToken(a);
  const made = await a.request('POST', '/api/collections', {
    token: su,
    body: { name: 'items', listRule: '', viewRule: '', createRule: '', fields: [{ name: 'title', type: 'text' }] },
  });
  expect(made.status).toBe(200);
  const dir = mkdtempSync(join(tmpdir(), 'ms-pg-b-'));
  const app = await App.open({
    dataDir: dir,
    databaseUrl: (a.app.engine as unknown as { url: string }).url,
    logger: pino({ level: 'silent' }),
  });
  await relaxProtections(app);
  const server = await buildServer(app, { accessLog: false });
  await server.listen({ host: '127.0.0.1', port: 0 });
  b = { url: `http://127.0.0.1:${(server.server.address() as { port: number }).port}`, app, server, dir };
}, 60_000);

afterAll(async () => {
  if (b) {
    await b.server.close();
    await b.app.close();
    rmSync(b.dir, { recursive: true, force: true });
  }
  await a?.close();
});

/** Ends every connection to `url`'s database but the caller's; how many it ended. */
async function terminateBackends(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    const name = new URL(url).pathname.slice(1);
    const res = await client.query(
      'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [name],
    );
    return res.rows[0].n as number;
  } finally {
    await client.end();
  }
}

/** A realtime client of `url` subscribed to `items`: the titles of the events it receives. */
async function subscriber(url: string): Promise<{ titles: string[]; close: () => void }> {
  const controller = new AbortController();
  const res = await fetch(`${url}/api/realtime`, { signal: controller.signal });
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const titles: string[] = [];
  let clientId = '';
  const connected = new Promise<void>((ready) => {
    void (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          buffer += decoder.decode(value, { stream: true });
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            const event = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = /^data:(.*)$/m.exec(event)?.[1] ?? '';
            if (event.includes('event:PB_CONNECT')) {
              clientId = JSON.parse(data).clientId;
              ready();
            } else if (event.includes('event:items')) titles.push(JSON.parse(data).record.title);
            end = buffer.indexOf('\n\n');
          }
        }
      } catch {
        // aborted
      }
    })();
  });
  await connected;
  const sub = await fetch(`${url}/api/realtime`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ clientId, subscriptions: ['items'] }),
  });
  expect(sub.status).toBe(204);
  return { titles, close: () => controller.abort() };
}

const create = (url: string, title: string) =>
  fetch(`${url}/api/collections/items/records`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ title }),
  });

async function until(limitMs: number, check: () => boolean | Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > limitMs) throw new Error(`not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - started;
}

test.skipIf(!TEST_POSTGRES_URL)(
  'connections ended under load: fast answers, 200 or 503 in the error shape, recovery without help, realtime across instances again',
  async () => {
    const events = await subscriber(b.url);
    expect((await create(a.url, 'before')).status).toBe(200);
    await until(3000, () => events.titles.includes('before'));

    const answers: { status: number; ms: number; body: unknown }[] = [];
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const started = performance.now();
        const url = i % 2 === 0 ? a.url : b.url;
        const res = i % 3 === 0 ? await create(url, `w${w}-${i}`) : await fetch(`${url}/api/collections/items/records?perPage=5`);
        answers.push({ status: res.status, ms: performance.now() - started, body: await res.json() });
      }
    };
    const load = Promise.all(Array.from({ length: 20 }, (_, w) => worker(w)));
    await new Promise((r) => setTimeout(r, 300));
    expect(await terminateBackends((a.app.engine as unknown as { url: string }).url)).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1500));
    stop = true;
    await load;

    const refused = answers.filter((x) => x.status !== 200);
    for (const x of refused) {
      expect(x.status, JSON.stringify(x.body)).toBe(503);
      expect(Object.keys(x.body as object).sort()).toEqual(['data', 'message', 'status']);
    }
    // fail fast: no request waited on the broken connections
    expect(Math.max(...answers.map((x) => x.ms))).toBeLessThan(3000);
    // recovery without help: every instance answers again, reads and writes
    await until(5000, async () => (await create(a.url, 'after-a')).status === 200 && (await create(b.url, 'after-b')).status === 200);
    // realtime: an event made on a reaches b's subscriber, so b listens again
    const latency = await until(5000, async () => {
      if (events.titles.includes('across')) return true;
      await create(a.url, 'across');
      await new Promise((r) => setTimeout(r, 200));
      return events.titles.includes('across');
    });
    events.close();
    expect(latency).toBeLessThan(5000);
  },
  60_000,
);
