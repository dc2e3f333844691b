import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Served, serveProcess, superuserOf, withSuperuser } from './helpers/crash.js';
import { run, stopPrograms, userEnv } from './helpers/processes.js';
import { freshDatabase, TEST_ENGINE } from './helpers/server.js';

/**
 * kill -9 in the middle of a stream of writes (DESIGN §1.4: no acknowledged
 * write is ever lost): creates, updates, batches and uploads run from
 * several clients; the server is killed with SIGKILL while they run; after
 * a restart every acknowledged write is there whole, no record is half
 * written, no temporary upload is left, `mainspring doctor --fix` leaves
 * only files that records name, and SQLite's integrity check passes.
 */

const BIN = new URL('../bin/mainspring.js', import.meta.url).pathname;
let root: string;
let dir: string;
let db: Awaited<ReturnType<typeof freshDatabase>>;
let su: string;
let s: Served;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'ms-kill-'));
  dir = join(root, 'ms_data');
  db = await freshDatabase();
  await withSuperuser(dir, db.url);
  s = await serveProcess({ dir, databaseUrl: db.url });
  su = await superuserOf(s);
  const created = await s.request('POST', '/api/collections', {
    token: su,
    body: {
      name: 'items',
      type: 'base',
      createRule: '',
      updateRule: '',
      listRule: '',
      viewRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'a', type: 'number' },
        // written together with a: a half-written record would show them apart
        { name: 'b', type: 'number' },
        { name: 'doc', type: 'file', maxSelect: 1, maxSize: 1 << 20 },
      ],
    },
  });
  expect(created.status).toBe(200);
}, 60_000);

afterAll(async () => {
  await stopPrograms();
  await db.drop();
  rmSync(root, { recursive: true, force: true });
});

interface Acked {
  creates: Map<string, { id: string; a: number }>;
  /** The last acknowledged value of `a` of each updated record. */
  updates: Map<string, number>;
  /** Records an update was sent for (acknowledged or not: one may commit and lose its answer). */
  patched: Set<string>;
  uploads: Map<string, { id: string; size: number }>;
}

/** One client writing until `stop` says so; every write it got a 2xx for is recorded. */
async function client(n: number, acked: Acked, stop: { now: boolean }): Promise<void> {
  const post = (path: string, body: unknown) =>
    fetch(s.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  for (let i = 0; !stop.now; i++) {
    const title = `c${n}-${i}`;
    try {
      const kind = i % 4;
      if (kind === 0) {
        const res = await post('/api/collections/items/records', { title, a: i, b: i });
        if (res.ok) acked.creates.set(title, { id: ((await res.json()) as { id: string }).id, a: i });
      } else if (kind === 1) {
        const last = [...acked.creates.values()].at(-1);
        if (!last) continue;
        acked.patched.add(last.id);
        const res = await fetch(`${s.url}/api/collections/items/records/${last.id}`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ a: 1000 + i, b: 1000 + i }),
        });
        if (res.ok) acked.updates.set(last.id, 1000 + i);
      } else if (kind === 2) {
        const requests = [0, 1, 2].map((k) => ({
          method: 'POST',
          url: '/api/collections/items/records',
          body: { title: `${title}-b${k}`, a: k, b: k },
        }));
        const res = await post('/api/batch', { requests });
        if (res.ok) {
          const out = (await res.json()) as { body: { id: string } }[];
          out.forEach((r, k) => {
            acked.creates.set(`${title}-b${k}`, { id: r.body.id, a: k });
          });
        }
      } else {
        const size = 50_000 + n * 1000 + i;
        const form = new FormData();
        form.append('title', title);
        form.append('a', '7');
        form.append('b', '7');
        form.append('doc', new Blob([Buffer.alloc(size, n)]), 'doc.bin');
        const res = await fetch(`${s.url}/api/collections/items/records`, { method: 'POST', body: form });
        if (res.ok) {
          const rec = (await res.json()) as { id: string };
          acked.uploads.set(title, { id: rec.id, size });
          acked.creates.set(title, { id: rec.id, a: 7 });
        }
      }
    } catch {
      // the server died under this request: not acknowledged
    }
  }
}

describe(`kill -9 during a stream of writes (${TEST_ENGINE})`, () => {
  test('every acknowledged write survives, whole; nothing is left behind', async () => {
    const acked: Acked = { creates: new Map(), updates: new Map(), patched: new Set(), uploads: new Map() };
    const stop = { now: false };
    const clients = [0, 1, 2, 3, 4, 5].map((n) => client(n, acked, stop));
    await new Promise((r) => setTimeout(r, 1500));
    await s.kill();
    stop.now = true;
    await Promise.all(clients);
    expect(acked.creates.size).toBeGreaterThan(20);
    expect(acked.uploads.size).toBeGreaterThan(0);

    // the files of writes that never committed are removed by doctor (no grace: no server runs)
    await run(process.execPath, [BIN, 'doctor', '--fix', '--grace=0', `--dir=${dir}`], {
      cwd: root,
      env: userEnv({ DATABASE_URL: db.url }),
    });
    if (TEST_ENGINE === 'sqlite') {
      const check = new Database(join(dir, 'data.db'), { readonly: true });
      expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
      check.close();
    }

    s = await serveProcess({ dir, databaseUrl: db.url });
    const all = new Map<string, { id: string; title: string; a: number; b: number; doc: string }>();
    for (let page = 1; ; page++) {
      const res = await s.request('GET', `/api/collections/items/records?perPage=500&page=${page}&skipTotal=1`, { token: su });
      expect(res.status).toBe(200);
      for (const r of res.body.items) all.set(r.id, r);
      if (res.body.items.length < 500) break;
    }
    // no half-record: a and b were always written together
    for (const r of all.values()) expect(r.a).toBe(r.b);
    for (const [title, { id, a }] of acked.creates) {
      const r = all.get(id);
      expect(r, `acknowledged create ${title}`).toBeDefined();
      expect(r?.title).toBe(title);
      if (!acked.patched.has(id)) expect(r?.a).toBe(a);
    }
    // an acknowledged update is there, or a later one of the same record
    for (const [id, a] of acked.updates) expect(all.get(id)?.a).toBeGreaterThanOrEqual(a);
    for (const [title, { id, size }] of acked.uploads) {
      const r = all.get(id);
      const file = await fetch(`${s.url}/api/files/items/${id}/${r?.doc}`);
      expect(file.status, `file of ${title}`).toBe(200);
      expect((await file.arrayBuffer()).byteLength).toBe(size);
    }
    // stored files: exactly those the records name
    const c = (await s.request('GET', '/api/collections/items', { token: su })).body.id as string;
    const named = new Set([...all.values()].filter((r) => r.doc).map((r) => `${r.id}/${r.doc}`));
    const stored = existsSync(join(dir, 'storage', c))
      ? readdirSync(join(dir, 'storage', c)).flatMap((id) =>
          readdirSync(join(dir, 'storage', c, id))
            .filter((f) => !f.startsWith('thumbs_'))
            .map((f) => `${id}/${f}`),
        )
      : [];
    expect(new Set(stored)).toEqual(named);
    // temporary uploads of the killed process are gone once the new one serves (on PostgreSQL once its lease ended)
    await expect.poll(() => readdirSync(join(dir, '.uploads')).length, { timeout: 8000 }).toBe(1);
  }, 60_000);
});
