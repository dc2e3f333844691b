import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import yauzl from 'yauzl';
import yazl from 'yazl';
import { type Served, serveProcess, superuserOf, withSuperuser } from './helpers/crash.js';
import { freshDatabase, TEST_ENGINE } from './helpers/server.js';
import { eventually } from './helpers/uploads.js';

/**
 * PocketBase's `/api/backups` on a real `mainspring serve` process:
 * who may do what (PocketBase's apis/backup_test.go), what an archive
 * holds, archives that must be refused, and a restore that brings the data
 * back as it was when the backup was made while the server restarts by
 * itself.
 */

const DB = TEST_ENGINE === 'sqlite' ? 'data.db' : 'data.pgdump';
let dir = '';
let databaseUrl = '';
let drop: () => Promise<void> = async () => {};
let s: Served;
let su = '';
let user = '';

async function zipOf(entries: { name: string; data: Buffer | string; mode?: number }[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const e of entries) zip.addBuffer(Buffer.from(e.data), e.name, e.mode === undefined ? {} : { mode: e.mode });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The names in a zip. */
async function namesIn(bytes: Buffer): Promise<string[]> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.fromBuffer(bytes, { lazyEntries: false }, (err, z) => (err ? reject(err) : resolve(z))),
  );
  const names: string[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (e: yauzl.Entry) => names.push(e.fileName));
    zip.on('end', resolve);
    zip.on('error', reject);
  });
  return names.sort();
}

async function upload(name: string, bytes: Buffer, token = su): Promise<{ status: number; body: any }> {
  const form = new FormData();
  form.set('file', new Blob([bytes], { type: 'application/zip' }), name);
  const res = await fetch(`${s.url}/api/backups/upload`, { method: 'POST', headers: { authorization: token }, body: form });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function keys(): Promise<string[]> {
  const res = await s.request('GET', '/api/backups', { token: su });
  expect(res.status).toBe(200);
  return (res.body as { key: string }[]).map((b) => b.key).sort();
}

async function fileToken(token = su): Promise<string> {
  const res = await s.request('POST', '/api/files/token', { token });
  expect(res.status).toBe(200);
  return res.body.token;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ms-backups-'));
  const db = await freshDatabase();
  drop = db.drop;
  databaseUrl = db.url;
  await withSuperuser(dir, db.url);
  s = await serveProcess({ dir, databaseUrl: db.url });
  su = await superuserOf(s);
  const made = await s.request('POST', '/api/collections/users/records', {
    body: { email: 'member@example.com', password: 'member-password-1', passwordConfirm: 'member-password-1' },
  });
  expect(made.status).toBe(200);
  user = (
    await s.request('POST', '/api/collections/users/auth-with-password', {
      body: { identity: 'member@example.com', password: 'member-password-1' },
    })
  ).body.token;
  const notes = await s.request('POST', '/api/collections', {
    token: su,
    body: {
      name: 'notes',
      type: 'base',
      listRule: '',
      viewRule: '',
      createRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'doc', type: 'file', maxSelect: 1, maxSize: 1 << 20 },
      ],
    },
  });
  expect(notes.status, JSON.stringify(notes.body)).toBe(200);
}, 120_000);

afterAll(async () => {
  await s?.kill();
  await drop();
  rmSync(dir, { recursive: true, force: true });
});

describe("who may do what (PocketBase's statuses)", () => {
  test('guests get 401 and users 403 on every route but the download, which wants a superuser file token (403)', async () => {
    for (const [method, path] of [
      ['GET', '/api/backups'],
      ['POST', '/api/backups'],
      ['DELETE', '/api/backups/a.zip'],
      ['POST', '/api/backups/a.zip/restore'],
    ] as const) {
      expect((await s.request(method, path)).status, `${method} ${path}`).toBe(401);
      const refused = await s.request(method, path, { token: user });
      expect(refused.status, `${method} ${path}`).toBe(403);
      expect(refused.body).toMatchObject({ status: 403, data: {} });
    }
    expect((await upload('a.zip', await zipOf([]), '')).status).toBe(401);
    expect((await upload('a.zip', await zipOf([]), user)).status).toBe(403);
    await s.request('POST', '/api/backups', { token: su, body: { name: 'who.zip' } });
    const userFileToken = await fileToken(user);
    for (const query of ['', '?token=', `?token=${user}`, `?token=${userFileToken}`, `?token=${su}`]) {
      const res = await s.request('GET', `/api/backups/who.zip${query}`, { token: su });
      expect(res.status, query).toBe(403);
    }
    expect(await keys()).not.toContain('a.zip');
  });

  test('a superuser lists (key, size, modified), creates, downloads with a file token, deletes', async () => {
    expect((await s.request('POST', '/api/backups', { token: su, body: { name: '!bad.zip' } })).body).toMatchObject({
      status: 400,
      data: { name: { code: 'validation_match_invalid' } },
    });
    const created = await s.request('POST', '/api/backups', { token: su, body: { name: 'first.zip' } });
    expect(created.status, JSON.stringify(created.body)).toBe(204);
    const again = await s.request('POST', '/api/backups', { token: su, body: { name: 'first.zip' } });
    expect(again.body).toMatchObject({ status: 400, data: { name: { code: 'validation_backup_name_exists' } } });
    const auto = await s.request('POST', '/api/backups', { token: su });
    expect(auto.status).toBe(204);
    const list = (await s.request('GET', '/api/backups', { token: su })).body as { key: string; size: number; modified: string }[];
    const first = list.find((b) => b.key === 'first.zip');
    expect(first?.size).toBeGreaterThan(100);
    expect(first?.modified).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(list.some((b) => /^ms_backup_\d{14}\.zip$/.test(b.key))).toBe(true);

    const res = await fetch(`${s.url}/api/backups/first.zip?token=${await fileToken()}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/zip');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.length).toBe(first?.size);
    expect(await namesIn(bytes)).toEqual(expect.arrayContaining(['mainspring-backup.json', DB]));
    expect((await s.request('GET', `/api/backups/missing.zip?token=${await fileToken()}`)).status).toBe(404);

    expect((await s.request('DELETE', '/api/backups/missing.zip', { token: su })).status).toBe(400);
    expect((await s.request('DELETE', '/api/backups/first.zip', { token: su })).status).toBe(204);
    expect(await keys()).not.toContain('first.zip');
    expect((await s.request('POST', '/api/backups/missing.zip/restore', { token: su })).status).toBe(400);
  });

  test('an upload is stored under its own name; none, or a name taken, is a 400 naming file', async () => {
    const none = await fetch(`${s.url}/api/backups/upload`, { method: 'POST', headers: { authorization: su }, body: new FormData() });
    expect(none.status).toBe(400);
    expect(await none.json()).toMatchObject({ data: { file: { code: 'validation_required' } } });
    expect((await upload('uploaded.zip', await zipOf([{ name: 'x.txt', data: 'x' }]))).status).toBe(204);
    expect(await keys()).toContain('uploaded.zip');
    const taken = await upload('uploaded.zip', await zipOf([]));
    expect(taken).toMatchObject({ status: 400, body: { data: { file: { code: 'validation_backup_name_exists' } } } });
    // a client's path is dropped from the part's name (as browsers do); a name that would hide is refused
    expect((await upload('../escape.zip', await zipOf([]))).status).toBe(204);
    expect(await keys()).toContain('escape.zip');
    expect((await upload('.hidden.zip', await zipOf([]))).status).toBe(400);
    expect(readdirSync(dir).filter((n) => n.endsWith('.zip'))).toEqual([]);
    expect(readdirSync(join(dir, 'backups')).filter((n) => n.startsWith('.'))).toEqual([]);
  });
});

describe('archives a restore must refuse, changing nothing', () => {
  const hostile: [string, () => Promise<Buffer>][] = [
    ['not a zip at all', async () => Buffer.from('PK\x03\x04 this is not really a zip')],
    ['a zip of something else', () => zipOf([{ name: 'photo.jpg', data: 'jpeg' }])],
    [
      'a manifest of another program',
      () =>
        zipOf([
          { name: 'mainspring-backup.json', data: '{"format":9}' },
          { name: DB, data: 'x' },
        ]),
    ],
    [
      'a database copy that is not one',
      () =>
        zipOf([
          { name: 'mainspring-backup.json', data: manifest(DB) },
          { name: DB, data: 'garbage' },
        ]),
    ],
    [
      'a copy made on the other engine',
      () =>
        zipOf([
          { name: 'mainspring-backup.json', data: manifest(DB === 'data.db' ? 'data.pgdump' : 'data.db') },
          { name: DB, data: 'x' },
        ]),
    ],
    ['a path that climbs out', () => climbing()],
    [
      'a link',
      () =>
        zipOf([
          { name: 'mainspring-backup.json', data: manifest(DB) },
          { name: 'storage/evil', data: '/etc/passwd', mode: 0o120777 },
        ]),
    ],
    [
      'an entry outside storage/',
      () =>
        zipOf([
          { name: 'mainspring-backup.json', data: manifest(DB) },
          { name: 'ms_hooks/x.ts', data: 'x' },
        ]),
    ],
  ];

  for (const [what, make] of hostile) {
    test(what, async () => {
      const name = `hostile-${what.replace(/\W+/g, '-')}.zip`;
      expect((await upload(name, await make())).status).toBe(204);
      const before = await s.request('GET', '/api/collections/notes/records', { token: su });
      const res = await s.request('POST', `/api/backups/${name}/restore`, { token: su });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body).toMatchObject({ status: 400, data: {} });
      expect(existsSync(join(dir, '.restore'))).toBe(false);
      expect(existsSync(join(tmpdir(), 'evil'))).toBe(false);
      expect(existsSync(join(dir, 'ms_hooks'))).toBe(false);
      // still serving, on the same data
      const after = await s.request('GET', '/api/collections/notes/records', { token: su });
      expect(after.body.totalItems).toBe(before.body.totalItems);
    });
  }
});

describe('a restore', () => {
  test('brings back records and files as they were when the backup was made; the server serves again by itself', async () => {
    const form = new FormData();
    form.set('title', 'kept');
    form.set('doc', new Blob(['the document']), 'doc.txt');
    const kept = (await (await fetch(`${s.url}/api/collections/notes/records`, { method: 'POST', body: form })).json()) as Record<
      string,
      string
    >;
    expect(kept.doc).toMatch(/^doc_\w+\.txt$/);
    expect((await s.request('POST', '/api/backups', { token: su, body: { name: 'before.zip' } })).status).toBe(204);

    // after the backup: the kept record goes (and its file), another comes
    expect((await s.request('DELETE', `/api/collections/notes/records/${kept.id}`, { token: su })).status).toBe(204);
    const later = await s.request('POST', '/api/collections/notes/records', { body: { title: 'later' } });
    expect(later.status).toBe(200);

    expect((await s.request('POST', '/api/backups/before.zip/restore', { token: su })).status).toBe(204);
    await eventually(async () => {
      const list = await s.request('GET', '/api/collections/notes/records?sort=title');
      expect(list.status).toBe(200);
      expect(list.body.items.map((r: { title: string }) => r.title)).toEqual(['kept']);
    }, 30_000);
    const file = await fetch(`${s.url}/api/files/notes/${kept.id}/${kept.doc}`);
    expect(file.status).toBe(200);
    expect(await file.text()).toBe('the document');
    // the superuser's token still works: the restored data has them
    su = await superuserOf(s);
    expect(await keys()).toContain('before.zip');
    expect(existsSync(join(dir, '.restore'))).toBe(false);
    const health = await s.request('GET', '/api/health', { token: su });
    expect(health.body.data.canBackup).toBe(true);
  }, 60_000);

  test('of a backup made while 200 writers ran holds every write answered before it began, each order whole', async () => {
    const orders = await s.request('POST', '/api/collections', {
      token: su,
      body: {
        name: 'orders',
        type: 'base',
        listRule: '',
        createRule: '',
        fields: [{ name: 'total', type: 'number' }],
      },
    });
    expect(orders.status).toBe(200);
    const items = await s.request('POST', '/api/collections', {
      token: su,
      body: {
        name: 'order_items',
        type: 'base',
        listRule: '',
        createRule: '',
        fields: [
          { name: 'order', type: 'relation', collectionId: orders.body.id, maxSelect: 1, required: true },
          { name: 'amount', type: 'number' },
        ],
      },
    });
    expect(items.status).toBe(200);
    let n = 0;
    let stop = false;
    const acknowledged: string[] = [];
    // an order and its two items in one batch: a backup sees all three or none
    const writer = async () => {
      while (!stop) {
        const i = ++n;
        const id = `ord${String(i).padStart(12, '0')}`;
        const res = await s.request('POST', '/api/batch', {
          body: {
            requests: [
              { method: 'POST', url: '/api/collections/orders/records', body: { id, total: i * 3 } },
              { method: 'POST', url: '/api/collections/order_items/records', body: { order: id, amount: i } },
              { method: 'POST', url: '/api/collections/order_items/records', body: { order: id, amount: i * 2 } },
            ],
          },
        });
        if (res.status === 200) acknowledged.push(id);
      }
    };
    const writers = Array.from({ length: 200 }, writer);
    await eventually(() => expect(acknowledged.length).toBeGreaterThan(200), 30_000);
    const before = [...acknowledged];
    expect((await s.request('POST', '/api/backups', { token: su, body: { name: 'busy.zip' } })).status).toBe(204);
    stop = true;
    await Promise.all(writers);
    // written after the backup: gone once the restore has taken effect
    const marker = await s.request('POST', '/api/collections/notes/records', { body: { title: 'after busy.zip' } });
    expect(marker.status).toBe(200);
    expect((await s.request('POST', '/api/backups/busy.zip/restore', { token: su })).status).toBe(204);
    await eventually(async () => {
      const r = await s.request('GET', `/api/collections/notes/records/${marker.body.id}`);
      expect(r.status).toBe(404);
    }, 30_000);
    const restoredOrders = await all('orders');
    const restoredItems = await all('order_items');
    const ids = new Set(restoredOrders.map((o) => o.id));
    for (const id of before) expect(ids.has(id), id).toBe(true);
    const sums = new Map<string, number>();
    for (const it of restoredItems) sums.set(it.order, (sums.get(it.order) ?? 0) + it.amount);
    for (const o of restoredOrders) expect(sums.get(o.id), o.id).toBe(o.total);
    expect(restoredItems.length).toBe(restoredOrders.length * 2);
  }, 180_000);
});

test('a backup cut short by kill -9 leaves no half archive listed, and the server starts again', async () => {
  // enough stored data that the archive takes a moment
  for (let i = 0; i < 20; i++) {
    const form = new FormData();
    form.set('title', `big ${i}`);
    form.set('doc', new Blob([Buffer.alloc(900_000, i)]), `big${i}.bin`);
    expect((await fetch(`${s.url}/api/collections/notes/records`, { method: 'POST', body: form })).status).toBe(200);
  }
  const making = s.request('POST', '/api/backups', { token: su, body: { name: 'cut.zip' } }).catch(() => null);
  await new Promise((r) => setTimeout(r, 150));
  await s.kill();
  await making;
  s = await serveProcess({ dir, databaseUrl });
  su = await superuserOf(s);
  const listed = await keys();
  if (listed.includes('cut.zip')) {
    // it finished before the kill: then it is whole
    const res = await fetch(`${s.url}/api/backups/cut.zip?token=${await fileToken()}`);
    expect(await namesIn(Buffer.from(await res.arrayBuffer()))).toContain(DB);
  }
  // what the killed backup had written (its copy, its unfinished archive) is swept at start: only this instance's folder is left
  expect(readdirSync(join(dir, 'backups')).filter((n) => n.startsWith('.'))).toEqual([]);
  await eventually(() => expect(readdirSync(join(dir, '.backup-work')).length).toBeLessThanOrEqual(1), 15_000);
}, 120_000);

function manifest(database: string): string {
  return JSON.stringify({ format: 1, database, created: new Date().toISOString() });
}

/** A zip whose entry is named `../evil` (yazl refuses to write one: the name is patched in place). */
async function climbing(): Promise<Buffer> {
  const bytes = await zipOf([
    { name: 'mainspring-backup.json', data: manifest(DB) },
    { name: 'xx/evil', data: 'written outside' },
  ]);
  return Buffer.from(bytes.toString('latin1').replaceAll('xx/evil', '../evil'), 'latin1');
}

async function all(collection: string): Promise<Record<string, any>[]> {
  const out: Record<string, any>[] = [];
  for (let page = 1; ; page++) {
    const r = await s.request('GET', `/api/collections/${collection}/records?perPage=500&page=${page}`, { token: su });
    expect(r.status).toBe(200);
    out.push(...r.body.items);
    if (page >= r.body.totalPages) return out;
  }
}
