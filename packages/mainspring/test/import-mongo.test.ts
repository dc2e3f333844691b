import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import PocketBase, { ClientResponseError } from 'pocketbase';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { importMongoInto } from '../src/cli/import-mongo.js';
import { App } from '../src/core/app.js';
import { buildServer } from '../src/http/server.js';
import { SHOP_IDS, SHOP_USERS, shop, writeBsonDump, writeJsonExport } from './helpers/mongo-dump.js';
import { BIN } from './helpers/serve.js';
import { freshDatabase, startServer, superuserToken, type TestServer } from './helpers/server.js';

/**
 * `mainspring import-mongo` on a shop that a Node.js + Express + MongoDB app
 * kept (users, products, orders naming both), dumped with the bson package
 * as mongodump and mongoexport write it: the collections it makes are
 * queried with the pocketbase SDK, expand included, and the users sign in
 * with the passwords they had. On both engines (MS_TEST_POSTGRES_URL).
 */

/** A field as the collections API shows it. */
type FieldJson = { name: string; type: string; [option: string]: unknown };

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'ms-mongo-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs the import on an open app; the report is returned as text. */
async function runImport(s: TestServer, from: string, options: { dryRun?: boolean; auth?: string; prefix?: string } = {}) {
  const out = new PassThrough();
  let report = '';
  out.on('data', (d) => {
    report += d;
  });
  const result = await importMongoInto(s.app, { from, out, ...options });
  return { report, ...result };
}

async function superuserClient(s: TestServer): Promise<PocketBase> {
  const pb = new PocketBase(s.url);
  pb.authStore.save(await superuserToken(s), null);
  return pb;
}

describe('a mongodump of a shop', () => {
  let s: TestServer;
  let dump: string;
  let report: string;

  beforeAll(async () => {
    dump = join(work, 'shop');
    writeBsonDump(dump, await shop());
    s = await startServer();
    report = (await runImport(s, dump)).report;
  });
  afterAll(() => s.close());

  test('makes one collection per MongoDB collection, with typed fields', async () => {
    const pb = await superuserClient(s);
    const fields = async (name: string): Promise<Record<string, FieldJson>> =>
      Object.fromEntries((await pb.collections.getOne(name)).fields.map((f) => [f.name, f as unknown as FieldJson]));
    const users = await pb.collections.getOne('users');
    expect(users.type).toBe('auth');
    const u = await fields('users');
    expect(u.roles).toMatchObject({ type: 'select', maxSelect: 2 });
    expect([...((u.roles?.values as string[]) ?? [])].sort()).toEqual(['admin', 'customer']);
    expect(u.address?.type).toBe('json');
    expect(u.mongo_id?.type).toBe('text');
    expect(u.__v).toBeUndefined();
    expect(u.createdAt).toBeUndefined();
    const p = await fields('products');
    expect(p.price?.type).toBe('number');
    expect(p.stock?.type).toBe('number');
    expect(p.active?.type).toBe('bool');
    expect(p.sku?.type).toBe('text');
    expect(p.tags?.type).toBe('select');
    expect([...((p.tags?.values as string[]) ?? [])].sort()).toEqual(['clothes', 'gift', 'kitchen', 'office']);
    const o = await fields('orders');
    expect(o.user).toMatchObject({ type: 'relation', collectionId: users.id, maxSelect: 1 });
    expect(o.products).toMatchObject({ type: 'relation', collectionId: (await pb.collections.getOne('products')).id });
    expect(o.products?.maxSelect).toBeGreaterThan(1);
    expect(o.items?.type).toBe('json');
    expect(o.total?.type).toBe('number');
    expect(o.placedAt?.type).toBe('date');
    expect(o.status?.type).toBe('text');
    // the unique SKU index of the metadata, and the original ids' own
    const indexes = (await pb.collections.getOne('products')).indexes.join('\n');
    expect(indexes).toMatch(/CREATE UNIQUE INDEX `[^`]+` ON `products` \(`sku`\)/);
    expect(indexes).toMatch(/CREATE UNIQUE INDEX `[^`]+` ON `products` \(`mongo_id`\)/);
  });

  test('orders expand to their user and products through the SDK', async () => {
    const pb = await superuserClient(s);
    const orders = await pb.collection('orders').getFullList({ sort: 'placedAt', expand: 'user,products' });
    expect(orders.map((o) => o.mongo_id)).toEqual(SHOP_IDS.orders);
    for (const o of orders) expect(o.id).toMatch(/^[a-z0-9]{15}$/);
    const [first, second, third] = orders;
    expect(first?.expand?.user.email).toBe('ann@example.com');
    expect(first?.expand?.products.map((p: { name: string }) => p.name)).toEqual(['Mug', 'Pen']);
    expect(first?.total).toBe(37.5);
    expect(first?.placedAt).toBe('2024-03-01 10:00:00.000Z');
    expect(first?.items).toEqual([
      { product: SHOP_IDS.products[0], qty: 2 },
      { product: SHOP_IDS.products[2], qty: 10 },
    ]);
    expect(second?.expand?.user.email).toBe('Bob@Example.com');
    // the user of the third order is not in the dump: the relation is left empty, and the report says so
    expect(third?.user).toBe('');
    expect(third?.expand?.user).toBeUndefined();
    expect(report).toContain('orders.user: 1 × names no document of users');
    expect(report).toContain(`_id ${SHOP_IDS.orders[2]}`);
    // filters work on the typed columns
    const gifts = await pb.collection('products').getFullList({ filter: 'tags ?= "gift" && price < 5' });
    expect(gifts.map((p) => p.name)).toEqual(['Pen']);
  });

  test('users keep their dates and sign in with their original passwords', async () => {
    const pb = new PocketBase(s.url);
    for (const u of SHOP_USERS) {
      const auth = await pb.collection('users').authWithPassword(u.email.toLowerCase(), u.password);
      expect(auth.record.email).toBe(u.email);
      expect(auth.token).toBeTruthy();
    }
    const ann = await pb.collection('users').authWithPassword('ann@example.com', SHOP_USERS[0]?.password as string);
    expect(ann.record.created).toBe('2023-01-02 03:04:05.000Z');
    expect(ann.record.updated).toBe('2023-06-02 03:04:05.000Z');
    expect(ann.record.roles).toEqual(['admin', 'customer']);
    expect(ann.record.address).toEqual({ city: 'Lyon', zip: '69000' });
    await expect(pb.collection('users').authWithPassword('ann@example.com', 'wrong-password')).rejects.toBeInstanceOf(ClientResponseError);
    // a SHA-1 hash is not kept: that account exists, without a password until it is reset
    await expect(pb.collection('users').authWithPassword('dan@example.com', 'password')).rejects.toMatchObject({ status: 400 });
    expect(report).toMatch(/users\.password: 1 × not a bcrypt hash/);
    const su = await superuserClient(s);
    expect((await su.collection('users').getFirstListItem('email = "dan@example.com"')).mongo_id).toBe(SHOP_IDS.users[3]);
  });

  test('the report names each mapping', () => {
    expect(report).toContain('users → users (auth, into the existing collection): 4 documents');
    expect(report).toMatch(/password +string +→ password \(3 of 4 are bcrypt hashes/);
    expect(report).toMatch(/user +objectId +→ user \(relation to users\)/);
    expect(report).toMatch(/__v +int +→ skipped: Mongoose's version key/);
    expect(report).toMatch(/createdAt +date +→ created/);
    expect(report).toContain('Imported 10 records into 3 collections (orders 3, products 3, users 4)');
  });

  test('running it again replaces what it wrote, and nothing more', async () => {
    const again = await runImport(s, dump);
    expect(again.report).toContain('Imported 10 records into 3 collections');
    const pb = await superuserClient(s);
    expect((await pb.collection('orders').getList(1, 50)).totalItems).toBe(3);
    expect((await pb.collection('users').getList(1, 50)).totalItems).toBe(4);
    const auth = await new PocketBase(s.url).collection('users').authWithPassword('cat@example.com', 'cat-password-1');
    expect(auth.record.mongo_id).toBe(SHOP_IDS.users[2]);
  });
});

describe('mongoexport files', () => {
  test('canonical lines, relaxed lines and a JSON array give the same shop', async () => {
    const dir = join(work, 'export');
    const data = await shop();
    writeJsonExport(dir, 'users', data.users?.docs ?? [], 'canonical');
    writeJsonExport(dir, 'products', data.products?.docs ?? [], 'relaxed');
    writeJsonExport(dir, 'orders', data.orders?.docs ?? [], 'array');
    const s = await startServer();
    try {
      const { report } = await runImport(s, dir, { prefix: 'shop_' });
      expect(report).toContain('Imported 10 records into 3 collections (shop_orders 3, shop_products 3, shop_users 4)');
      const pb = await superuserClient(s);
      const orders = await pb.collection('shop_orders').getFullList({ sort: 'placedAt', expand: 'user,products' });
      expect(orders[0]?.expand?.user.email).toBe('ann@example.com');
      expect(orders[0]?.expand?.products.map((p: { sku: string }) => p.sku)).toEqual(['MUG-1', 'PEN-3']);
      expect(orders[1]?.total).toBe(20);
      const products = await pb.collection('shop_products').getFullList({ sort: 'sku' });
      expect(products.map((p) => [p.sku, p.price, p.stock, p.active])).toEqual([
        ['MUG-1', 12.5, 40, true],
        ['PEN-3', 1.25, 500, true],
        ['TEE-2', 20, 0, false],
      ]);
      const auth = await new PocketBase(s.url).collection('shop_users').authWithPassword('bob@example.com', 'bob-password-1');
      expect(auth.record.name).toBe('User 2');
    } finally {
      await s.close();
    }
  });
});

describe('a dry run', () => {
  test('checks everything, reports, and writes nothing', async () => {
    const dir = join(work, 'dry');
    writeBsonDump(dir, await shop());
    const s = await startServer();
    try {
      const { report } = await runImport(s, dir, { dryRun: true });
      expect(report).toContain('Dry run: 10 records would be written (orders 3, products 3, users 4); nothing was written.');
      const pb = await superuserClient(s);
      await expect(pb.collections.getOne('orders')).rejects.toMatchObject({ status: 404 });
      const users = await pb.collections.getOne('users');
      expect(users.fields.some((f) => f.name === 'mongo_id')).toBe(false);
      expect((await pb.collection('users').getList(1, 1)).totalItems).toBe(0);
    } finally {
      await s.close();
    }
  });
});

describe('odd dumps', () => {
  test('odd names, odd ids, duplicate ids, mixed types and large values are imported or reported, never a crash', async () => {
    const dir = join(work, 'odd');
    const big = 'x'.repeat(2 * 1024 * 1024);
    const weird: Record<string, unknown> = {
      _id: 7,
      'first name': 'Ann',
      $odd: 1,
      'a.b': true,
      '': 'empty key',
      [`k${'y'.repeat(199)}`]: 'long key',
      MiXed: 'upper',
      mixed: 'lower',
      id: 'their own id',
      expand: 'reserved',
      constructor: 'also reserved',
      mixedType: 1,
      huge: big,
      deep: { list: Array.from({ length: 150_000 }, (_, i) => ({ i })) },
    };
    Object.defineProperty(weird, '__proto__', { value: 'a key, not a prototype', enumerable: true });
    writeBsonDump(dir, {
      'we%20ird-name': {
        docs: [
          weird,
          { _id: 'string-id', mixedType: 'one' },
          { _id: 'string-id', mixedType: 2 },
          { _id: { compound: 1 }, mixedType: null },
        ],
      },
      '1st': { docs: [{ _id: 1, n: 1 }] },
    });
    const s = await startServer();
    try {
      const { report } = await runImport(s, dir);
      const pb = await superuserClient(s);
      const c = await pb.collections.getOne('we_ird_name');
      const names = c.fields.map((f) => f.name);
      for (const n of [
        'first_name',
        '_odd',
        'a_b',
        'f_',
        'MiXed',
        'mixed_mongo',
        'id_mongo',
        'expand_mongo',
        'constructor_mongo',
        'huge',
      ]) {
        expect(names).toContain(n);
      }
      expect(names.some((n) => /^ky+$/.test(n) && n.length === 90)).toBe(true);
      expect(c.fields.find((f) => f.name === 'mixedType')?.type).toBe('json');
      const records = await pb.collection('we_ird_name').getFullList({ sort: 'mongo_id' });
      expect(records.map((r) => r.mongo_id)).toEqual(['7', 'string-id', '{"compound":1}']);
      const seven = records[0];
      expect(seven?.huge.length).toBe(big.length);
      expect(seven?.deep.list.length).toBe(150_000);
      expect(seven?.first_name).toBe('Ann');
      expect(records[1]?.mixedType).toBe('one');
      expect(report).toContain('an _id another document has');
      expect(report).toContain('we ird-name: 1 documents not imported');
      expect((await pb.collection('c_1st').getFullList()).length).toBe(1);
    } finally {
      await s.close();
    }
  });

  test('a collection of 1,000 distinct keys: the 900 most common get fields, the rest one JSON object', async () => {
    const dir = join(work, 'wide');
    const wide: Record<string, unknown> = { _id: 1 };
    for (let i = 0; i < 1000; i++) wide[`k${i}`] = i;
    // k999 to k950 are in both documents: among the most common whatever their order
    const other: Record<string, unknown> = { _id: 2 };
    for (let i = 950; i < 1000; i++) other[`k${i}`] = -i;
    writeBsonDump(dir, { wide: { docs: [wide, other] } });
    const s = await startServer();
    try {
      const { report } = await runImport(s, dir);
      expect(report).toContain('100 rarer keys (past 900 fields) → mongo_extra (json)');
      const pb = await superuserClient(s);
      const names = (await pb.collections.getOne('wide')).fields.map((f) => f.name);
      for (const n of ['k0', 'k849', 'k950', 'k999', 'mongo_extra']) expect(names).toContain(n);
      expect(names).not.toContain('k850');
      const [first, second] = await pb.collection('wide').getFullList({ sort: 'mongo_id' });
      expect(first?.k0).toBe(0);
      expect(first?.k999).toBe(999);
      expect(second?.k999).toBe(-999);
      expect(first?.mongo_extra).toEqual(Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${850 + i}`, 850 + i])));
      expect(second?.mongo_extra).toBeNull();
    } finally {
      await s.close();
    }
  });

  test('a corrupt file stops the import before anything is written', async () => {
    const dir = join(work, 'corrupt');
    writeBsonDump(dir, await shop());
    appendFileSync(join(dir, 'orders.bson'), Buffer.from([0x30, 0, 0]));
    const s = await startServer();
    try {
      await expect(runImport(s, dir)).rejects.toThrow(/cannot read the dump: orders\.bson, byte \d+: the file ends inside a document/);
      const pb = await superuserClient(s);
      await expect(pb.collections.getOne('products')).rejects.toMatchObject({ status: 404 });
    } finally {
      await s.close();
    }
  });

  test('data that breaks a unique index of the metadata is an error naming it, and nothing is written', async () => {
    const dir = join(work, 'dupes');
    const data = await shop();
    const products = data.products?.docs ?? [];
    (products[2] as { sku: string }).sku = 'MUG-1';
    writeBsonDump(dir, data);
    const s = await startServer();
    try {
      await expect(runImport(s, dir)).rejects.toThrow(
        /^products \(byte 0 to byte \d+\): two records have the same .*sku.*; nothing was imported$/,
      );
      const pb = await superuserClient(s);
      await expect(pb.collections.getOne('products')).rejects.toMatchObject({ status: 404 });
    } finally {
      await s.close();
    }
  });

  test('a collection of that name holding other records is refused', async () => {
    const dir = join(work, 'taken');
    writeBsonDump(dir, await shop());
    const s = await startServer();
    try {
      const pb = await superuserClient(s);
      await pb.collections.create({ name: 'products', type: 'base', fields: [{ name: 'title', type: 'text' }] });
      await pb.collection('products').create({ title: 'mine' });
      await expect(runImport(s, dir)).rejects.toThrow(
        /"products" exists and holds records the import did not write; give the import a --prefix/,
      );
      expect((await pb.collection('products').getFullList()).map((r) => r.title)).toEqual(['mine']);
      await expect(pb.collections.getOne('orders')).rejects.toMatchObject({ status: 404 });
    } finally {
      await s.close();
    }
  });
});

describe('the command', () => {
  /** `mainspring ARGS` as a user runs it (the built binary; `npm test` builds first). */
  function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, MS_LOG_LEVEL: 'warn', ...env } });
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

  test('import-mongo --from=DIR, then a server on that data signs the users in', { timeout: 60_000 }, async () => {
    const dump = join(work, 'cli-shop');
    writeBsonDump(dump, await shop());
    const dataDir = join(work, 'cli-data');
    const db = await freshDatabase();
    try {
      const env = { DATABASE_URL: db.url };
      const help = await cli(['import-mongo', '--help'], env);
      expect(help.stdout).toContain('Usage: mainspring import-mongo --from=DIR');
      // its flags, as the CLI suite checks every command's (kept here: that test spawns one process per command)
      for (const flag of ['--from=', '--dry-run', '--auth=', '--prefix=', '--dir=', '--db=']) expect(help.stdout).toContain(`  ${flag}`);
      const missing = await cli(['import-mongo', `--dir=${dataDir}`], env);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('import-mongo needs --from=DIR');
      const dry = await cli(['import-mongo', `--from=${dump}`, `--dir=${dataDir}`, '--dry-run'], env);
      expect(dry.code).toBe(0);
      expect(dry.stdout).toContain('Dry run: 10 records would be written');
      const run = await cli(['import-mongo', `--from=${dump}`, `--dir=${dataDir}`], env);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('Imported 10 records into 3 collections');
      const broken = await cli(['import-mongo', `--from=${join(work, 'nowhere')}`, `--dir=${dataDir}`], env);
      expect(broken.code).toBe(1);
      expect(broken.stderr).toMatch(/^error: cannot read the dump: cannot read .*nowhere: ENOENT/);

      const app = await App.open({ dataDir, databaseUrl: db.url, logger: pino({ level: 'silent' }) });
      const server = await buildServer(app, { accessLog: false });
      try {
        await server.listen({ host: '127.0.0.1', port: 0 });
        const url = `http://127.0.0.1:${(server.server.address() as { port: number }).port}`;
        const auth = await new PocketBase(url).collection('users').authWithPassword('ann@example.com', 'ann-password-1');
        expect(auth.record.mongo_id).toBe(SHOP_IDS.users[0]);
      } finally {
        await server.close();
        await app.close();
      }
    } finally {
      await db.drop();
    }
  });
});
