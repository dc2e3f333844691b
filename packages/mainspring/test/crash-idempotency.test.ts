import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { type Served, serveProcess, superuserOf, withSuperuser } from './helpers/crash.js';
import { stopPrograms } from './helpers/processes.js';
import { freshDatabase, TEST_ENGINE } from './helpers/server.js';

/**
 * Idempotency-Keys across a crash (DESIGN §7, Idempotency-Key): a server
 * killed with SIGKILL while a keyed write is in flight, started again, and
 * the client's retry: answered within seconds, the write done exactly once.
 * Hooks hold the write at a chosen point (inside its transaction, or after
 * it committed and before the answer is kept), so the kill lands there.
 */

const HOOK = `export default (ms: any) => {
  const hold = (what: string) => {
    console.log('HOLDING ' + what);
    return new Promise(() => {});
  };
  const holding = process.env.MS_TEST_HOLD === '1';
  ms.onRecordCreate(async (e: any) => {
    if (holding && e.record.title === 'in-transaction') await hold('in-transaction');
    await e.next();
  }, 'orders');
  ms.onRecordCreateRequest(async (e: any) => {
    await e.next();
    if (holding && e.body.title === 'committed') await hold('committed');
  }, 'orders');
};
`;

let root: string;
let dir: string;
let hooksDir: string;
let db: Awaited<ReturnType<typeof freshDatabase>>;
let su: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'ms-crash-'));
  dir = join(root, 'ms_data');
  hooksDir = join(root, 'ms_hooks');
  mkdirSync(hooksDir, { recursive: true });
  writeFileSync(join(hooksDir, 'hold.ts'), HOOK);
  db = await freshDatabase();
  await withSuperuser(dir, db.url);
  const s = await serveProcess({ dir, databaseUrl: db.url, hooksDir });
  su = await superuserOf(s);
  const created = await s.request('POST', '/api/collections', {
    token: su,
    body: {
      name: 'orders',
      type: 'base',
      createRule: '',
      listRule: '',
      fields: [{ name: 'title', type: 'text' }],
    },
  });
  expect(created.status).toBe(200);
  await s.program.stop();
}, 60_000);

afterEach(() => stopPrograms());

afterAll(async () => {
  await stopPrograms();
  await db.drop();
  rmSync(root, { recursive: true, force: true });
});

/** The environment of a server whose hooks hold the marked writes. */
const HOLD = { MS_TEST_HOLD: '1' };

/** Sends a keyed create without waiting for its answer (the server dies before it comes). */
function sendKeyed(s: Served, key: string, title: string): Promise<unknown> {
  return s.request('POST', '/api/collections/orders/records', { body: { title }, headers: { 'idempotency-key': key } }).catch((err) => err);
}

async function ordersTitled(s: Served, title: string): Promise<number> {
  const res = await s.request('GET', `/api/collections/orders/records?filter=${encodeURIComponent(`title = "${title}"`)}`, { token: su });
  expect(res.status).toBe(200);
  return res.body.totalItems as number;
}

describe(`a keyed write killed in flight (${TEST_ENGINE})`, () => {
  test('killed inside its transaction: the retry after a restart runs it, once, within seconds', async () => {
    const first = await serveProcess({ dir, databaseUrl: db.url, hooksDir, env: HOLD });
    const lost = sendKeyed(first, 'order-1', 'in-transaction');
    await first.program.waitFor('HOLDING in-transaction', 10_000);
    await first.kill();
    await lost;

    const again = await serveProcess({ dir, databaseUrl: db.url, hooksDir });
    const started = Date.now();
    const retry = await again.request('POST', '/api/collections/orders/records', {
      body: { title: 'in-transaction' },
      headers: { 'idempotency-key': 'order-1' },
    });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(retry.status).toBe(200);
    expect(retry.body.title).toBe('in-transaction');
    expect(await ordersTitled(again, 'in-transaction')).toBe(1);
    // and a second retry replays the kept answer
    const replay = await again.request('POST', '/api/collections/orders/records', {
      body: { title: 'in-transaction' },
      headers: { 'idempotency-key': 'order-1' },
    });
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.id).toBe(retry.body.id);
  });

  test('killed after its commit, before its answer was kept: the retry is told it happened, and writes nothing', async () => {
    const first = await serveProcess({ dir, databaseUrl: db.url, hooksDir, env: HOLD });
    const lost = sendKeyed(first, 'order-2', 'committed');
    await first.program.waitFor('HOLDING committed', 10_000);
    await first.kill();
    await lost;

    const again = await serveProcess({ dir, databaseUrl: db.url, hooksDir });
    const started = Date.now();
    const retry = await again.request('POST', '/api/collections/orders/records', {
      body: { title: 'committed' },
      headers: { 'idempotency-key': 'order-2' },
    });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(retry.status).toBe(409);
    expect(retry.body).toMatchObject({ status: 409, message: expect.stringContaining('was carried out') });
    expect(await ordersTitled(again, 'committed')).toBe(1);
  });

  test.skipIf(TEST_ENGINE !== 'postgres')(
    'two instances: the one holding the claim dies, the other answers the retry once its lease ends',
    async () => {
      const holder = await serveProcess({ dir: join(root, 'a'), databaseUrl: db.url, hooksDir, env: HOLD });
      const other = await serveProcess({ dir: join(root, 'b'), databaseUrl: db.url, hooksDir });
      const lost = sendKeyed(holder, 'order-3', 'in-transaction');
      await holder.program.waitFor('HOLDING in-transaction', 10_000);
      // while the holder lives, a retry elsewhere waits for it (and would get 409 after 10 s)
      await holder.kill();
      await lost;
      const started = Date.now();
      const retry = await other.request('POST', '/api/collections/orders/records', {
        body: { title: 'in-transaction' },
        headers: { 'idempotency-key': 'order-3' },
      });
      const took = Date.now() - started;
      expect(retry.status).toBe(200);
      expect(took).toBeLessThan(8000);
      expect(await ordersTitled(other, 'in-transaction')).toBe(2); // the first test's, and this one
    },
  );
});
