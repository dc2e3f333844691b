import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { App } from '../src/core/app.js';
import { MigrationError } from '../src/core/app-migrations/model.js';
import { freshDatabase, startServer, superuserToken, TEST_ENGINE, TEST_POSTGRES_URL, type TestServer } from './helpers/server.js';

/**
 * The app's migrations as files (PocketBase's pb_migrations): automigrate
 * writes one per collection change made through the API, a fresh database
 * with those files gets the same schema, `down` undoes them, and a broken
 * file changes nothing and names itself. The CLI's side (serve stopping on
 * a broken file, migrate create|up|down|status) is in migrations-cli.test.ts.
 */

const folders: string[] = [];
const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});
afterAll(() => {
  for (const d of folders) rmSync(d, { recursive: true, force: true });
});

/** A project folder of its own (never the shared temporary folder, which other tests' data folders sit in). */
function project(): { root: string; migrations: string } {
  const root = mkdtempSync(join(tmpdir(), 'ms-migrations-'));
  folders.push(root);
  return { root, migrations: join(root, 'ms_migrations') };
}

async function server(migrations: string, automigrate = false): Promise<TestServer> {
  const s = await startServer({ migrationsDir: migrations, automigrate });
  servers.push(s);
  return s;
}

const files = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);
const appliedRows = async (s: TestServer) =>
  (await s.app.engine.all<{ file: string }>('SELECT file FROM _migrations'))
    .map((r) => r.file)
    .filter((f) => f.endsWith('.ts'))
    .sort();

// type-checking each file (a child tsc over the package's sources) is tested once, in migrations-cli.test.ts
process.env.MS_HOOKS_TYPECHECK = 'off';
const silent = pino({ level: 'silent' });

/** A migration file, as a teammate would write it. */
function migration(up: string, down = ''): string {
  return `import type { Migration } from 'mainspring';

export default {
  async up(app) {
    ${up}
  },
  async down(app) {
    ${down}
  },
} satisfies Migration;
`;
}

describe(`automigrate (${TEST_ENGINE})`, () => {
  test('each change made through the API writes a migration, recorded as applied; a fresh database with the files gets the same schema', async () => {
    const { migrations } = project();
    const s = await server(migrations, true);
    const token = await superuserToken(s);
    const made = await s.request('POST', '/api/collections', {
      token,
      body: { name: 'posts', type: 'base', listRule: '', fields: [{ name: 'title', type: 'text', required: true }] },
    });
    expect(made.status).toBe(200);
    expect(files(migrations)).toEqual([expect.stringMatching(/^\d{10}_created_posts\.ts$/)]);
    const changed = await s.request('PATCH', '/api/collections/posts', {
      token,
      body: { viewRule: 'title != ""', fields: [...made.body.fields, { name: 'views', type: 'number', min: 0 }] },
    });
    expect(changed.status).toBe(200);
    const tags = await s.request('POST', '/api/collections', {
      token,
      body: { name: 'tags', type: 'base', fields: [{ name: 'label', type: 'text' }] },
    });
    expect((await s.request('DELETE', '/api/collections/tags', { token })).status).toBe(204);
    // users is an auth collection: its options go into the file, its secrets do not
    expect((await s.request('PATCH', '/api/collections/users', { token, body: { listRule: '' } })).status).toBe(200);
    const written = files(migrations);
    expect(written.map((f) => f.replace(/^\d{10}_/, ''))).toEqual([
      'created_posts.ts',
      'updated_posts.ts',
      'created_tags.ts',
      'deleted_tags.ts',
      'updated_users.ts',
    ]);
    // filename order is the order the changes were made in, even within one second
    expect(new Set(written.map((f) => f.slice(0, 10))).size).toBe(written.length);
    expect(await appliedRows(s)).toEqual(written);
    expect(readFileSync(join(migrations, written[3] as string), 'utf8')).toContain(`await app.collections.delete("${tags.body.id}");`);
    const users = readFileSync(join(migrations, written[4] as string), 'utf8');
    expect(users).toContain('"authToken"');
    expect(users).not.toMatch(/"secret"|"clientSecret"|"password":\s*"/);

    // a teammate's fresh database: the same collections, with the same ids, fields and rules
    const fresh = await server(migrations);
    expect(await appliedRows(fresh)).toEqual(written);
    const want = (await s.request('GET', '/api/collections/posts', { token })).body;
    const got = (await fresh.request('GET', '/api/collections/posts', { token: await superuserToken(fresh) })).body;
    const shape = (c: any) => ({ ...c, created: undefined, updated: undefined });
    expect(shape(got)).toEqual(shape(want));
    expect(got.fields.map((f: any) => f.name)).toEqual(['id', 'title', 'created', 'updated', 'views']);
    expect(fresh.app.collections.registry.find('tags')).toBeUndefined();
    expect(fresh.app.collections.registry.find('users')?.listRule).toBe('');
    // records work on what the files made
    const rec = await fresh.request('POST', '/api/collections/posts/records', {
      token: await superuserToken(fresh),
      body: { title: 'hi', views: 2 },
    });
    expect(rec.status).toBe(200);

    // down undoes them, newest first: users' rule back, tags back (empty), the views field gone, then posts
    const mig = fresh.app.migrations as NonNullable<App['migrations']>;
    expect(await mig.down(2)).toEqual([written[4], written[3]]);
    expect(fresh.app.collections.registry.find('users')?.listRule).toBe('id = @request.auth.id');
    expect(fresh.app.collections.registry.find('tags')?.id).toBe(tags.body.id);
    expect(await mig.down(2)).toEqual([written[2], written[1]]);
    expect(fresh.app.collections.registry.find('tags')).toBeUndefined();
    expect(fresh.app.collections.registry.find('posts')?.fields.map((f) => f.name)).toEqual(['id', 'title', 'created', 'updated']);
    expect(fresh.app.collections.registry.find('posts')?.viewRule).toBeNull();
    expect(await mig.down(1)).toEqual([written[0]]);
    expect(fresh.app.collections.registry.find('posts')).toBeUndefined();
    expect(await appliedRows(fresh)).toEqual([]);
    expect((await mig.status()).every((m) => m.applied === null && !m.missing)).toBe(true);
    // and up applies them all again
    expect(await mig.up()).toEqual(written);
    expect(fresh.app.collections.registry.find('posts')?.fields.map((f) => f.name)).toContain('views');
  });

  test('an import writes a file per collection it changed; with automigrate off nothing is written', async () => {
    const { migrations } = project();
    const s = await server(migrations, true);
    const token = await superuserToken(s);
    const body = {
      collections: [
        { name: 'a', type: 'base', fields: [{ name: 'x', type: 'text' }] },
        { name: 'b', type: 'base', fields: [{ name: 'y', type: 'number' }] },
      ],
    };
    expect((await s.request('PUT', '/api/collections/import', { token, body })).status).toBe(204);
    expect(files(migrations).map((f) => f.slice(11))).toEqual(['created_a.ts', 'created_b.ts']);

    const off = project();
    const quiet = await server(off.migrations, false);
    const t2 = await superuserToken(quiet);
    expect((await quiet.request('POST', '/api/collections', { token: t2, body: { name: 'c', type: 'base' } })).status).toBe(200);
    expect(existsSync(off.migrations)).toBe(false);
  });

  test('a change the API refuses writes nothing', async () => {
    const { migrations } = project();
    const s = await server(migrations, true);
    const token = await superuserToken(s);
    const bad = await s.request('POST', '/api/collections', { token, body: { name: 'bad name!', type: 'base' } });
    expect(bad.status).toBe(400);
    expect(files(migrations)).toEqual([]);
  });
  test('migrate collections: a project with collections and no files gets one file that makes them all on a fresh database', async () => {
    const { migrations } = project();
    const s = await server(migrations, false);
    const token = await superuserToken(s);
    // relations both ways: only an import can make these in one step
    const body = {
      collections: [
        {
          id: 'pbc_authors',
          name: 'authors',
          type: 'base',
          fields: [{ name: 'favorite', type: 'relation', collectionId: 'pbc_books', maxSelect: 1 }],
        },
        {
          id: 'pbc_books',
          name: 'books',
          type: 'base',
          listRule: '',
          fields: [{ name: 'author', type: 'relation', collectionId: 'pbc_authors', maxSelect: 1 }],
        },
      ],
    };
    expect((await s.request('PUT', '/api/collections/import', { token, body })).status).toBe(204);
    const mig = s.app.migrations as NonNullable<App['migrations']>;
    const path = await mig.snapshotAll();
    expect(path).toMatch(/\/\d{10}_collections_snapshot\.ts$/);
    expect((await mig.status()).map((m) => m.applied !== null)).toEqual([true]);
    const fresh = await server(migrations);
    const shape = (c: any) => ({ ...c, created: undefined, updated: undefined });
    for (const name of ['authors', 'books', 'users']) {
      const want = s.app.collections.toJSON(s.app.collections.registry.find(name) as any);
      expect(shape(fresh.app.collections.toJSON(fresh.app.collections.registry.find(name) as any)), name).toEqual(shape(want));
    }
  });
});

describe(`migration files (${TEST_ENGINE})`, () => {
  test('a migration that throws halfway is rolled back whole, named, and stops the ones after it; those before it stay', async () => {
    const { migrations } = project();
    mkdirSync(migrations);
    writeFileSync(join(migrations, '1000000001_first.ts'), migration("await app.collections.create({ name: 'first', type: 'base' });"));
    writeFileSync(
      join(migrations, '1000000002_halfway.ts'),
      migration(`await app.collections.create({ name: 'half', type: 'base', fields: [{ name: 'n', type: 'number' }] });
    await app.records.create('half', { n: 1 });
    await app.collections.update('first', { listRule: '' });
    throw new Error('out of coffee');`),
    );
    writeFileSync(join(migrations, '1000000003_after.ts'), migration("await app.collections.create({ name: 'after', type: 'base' });"));
    const db = await freshDatabase();
    const dataDir = join(migrations, '..', 'data');
    try {
      const err = await App.open({ dataDir, databaseUrl: db.url, logger: silent, migrationsDir: migrations }).then(
        (app) => app.close().then(() => null),
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(MigrationError);
      expect((err as Error).message).toMatch(/1000000002_halfway\.ts failed \(up\) and was rolled back/);
      expect((err as Error).message).toContain('Error: out of coffee');
      expect((err as Error).message).toMatch(/1000000002_halfway\.ts:\d+/);
      // the first applied; the second left nothing (no table, no record, no rule change); the third never ran
      const app = await App.open({ dataDir, databaseUrl: db.url, logger: silent });
      try {
        expect(app.collections.registry.find('half')).toBeUndefined();
        expect(app.collections.registry.find('after')).toBeUndefined();
        expect(app.collections.registry.find('first')?.listRule).toBeNull();
        const rows = await app.engine.all<{ file: string }>('SELECT file FROM _migrations');
        expect(rows.map((r) => r.file).filter((f) => f.endsWith('.ts'))).toEqual(['1000000001_first.ts']);
        const tables = await app.engine.all<{ name: string }>(app.engine.dialect.listTables());
        expect(tables.map((t) => t.name)).not.toContain('half');
      } finally {
        await app.close();
      }
    } finally {
      await db.drop();
    }
  });

  test('the same, on one database: after the failure the schema and history are as the first migration left them', async () => {
    const { migrations } = project();
    mkdirSync(migrations);
    writeFileSync(join(migrations, '1000000001_first.ts'), migration("await app.collections.create({ name: 'first', type: 'base' });"));
    const s = await server(migrations);
    writeFileSync(
      join(migrations, '1000000002_halfway.ts'),
      migration(`await app.collections.create({ name: 'half', type: 'base' });
    await app.collections.update('first', { listRule: '' });
    await app.db.run('DELETE FROM _migrations');
    throw new Error('halfway');`),
    );
    const mig = s.app.migrations as NonNullable<App['migrations']>;
    await expect(mig.up()).rejects.toThrow(/1000000002_halfway\.ts failed \(up\)/);
    expect(s.app.collections.registry.find('half')).toBeUndefined();
    expect(s.app.collections.registry.find('first')?.listRule).toBeNull();
    expect(await appliedRows(s)).toEqual(['1000000001_first.ts']);
    const tables = await s.app.engine.all<{ name: string }>(s.app.engine.dialect.listTables());
    expect(tables.map((t) => t.name)).not.toContain('half');
    // the API still works on the schema as it was
    const token = await superuserToken(s);
    expect((await s.request('GET', '/api/collections/first', { token })).status).toBe(200);
  });

  test('a syntax error, a bad export, a throw while loading: nothing applied, the file named', async () => {
    const cases: [string, string, RegExp][] = [
      [
        '1000000002_syntax.ts',
        'export default { async up(app) { await app.collections.create({ name: "x" ) } };',
        /do not build[\s\S]*1000000002_syntax\.ts:1:/,
      ],
      ['1000000002_shape.ts', 'export default { upp() {} };', /1000000002_shape\.ts must export default \{ async up\(app\)/],
      [
        '1000000002_loading.ts',
        "throw new Error('at the top');\nexport default { up() {} };",
        /1000000002_loading\.ts failed while loading:[\s\S]*at the top/,
      ],
      ['1000000002_nothing.js', 'export const x = 1;', /1000000002_nothing\.js must export default/],
    ];
    for (const [name, text, message] of cases) {
      const { migrations } = project();
      mkdirSync(migrations);
      // a valid file before the broken one is not applied either: every pending file is built first
      writeFileSync(join(migrations, '1000000001_ok.ts'), migration("await app.collections.create({ name: 'ok', type: 'base' });"));
      writeFileSync(join(migrations, name), text);
      const db = await freshDatabase();
      const dataDir = join(migrations, '..', 'data');
      try {
        await expect(App.open({ dataDir, databaseUrl: db.url, logger: silent, migrationsDir: migrations })).rejects.toThrow(message);
        const app = await App.open({ dataDir, databaseUrl: db.url, logger: silent });
        try {
          expect(app.collections.registry.find('ok'), name).toBeUndefined();
          expect((await app.engine.all<{ file: string }>('SELECT file FROM _migrations')).some((r) => r.file.endsWith('.ts'))).toBe(false);
        } finally {
          await app.close();
        }
      } finally {
        await db.drop();
      }
    }
  });

  test('a file removed after it was applied: status says so, down refuses naming it, history-sync forgets it', async () => {
    const { migrations } = project();
    mkdirSync(migrations);
    writeFileSync(
      join(migrations, '1000000001_a.ts'),
      migration("await app.collections.create({ name: 'a', type: 'base' });", "await app.collections.delete('a');"),
    );
    writeFileSync(
      join(migrations, '1000000002_b.ts'),
      migration("await app.collections.create({ name: 'b', type: 'base' });", "await app.collections.delete('b');"),
    );
    const s = await server(migrations);
    const mig = s.app.migrations as NonNullable<App['migrations']>;
    unlinkSync(join(migrations, '1000000002_b.ts'));
    writeFileSync(join(migrations, '1000000003_c.ts'), migration('', ''));
    const status = await mig.status();
    expect(status.map((m) => [m.file, m.applied !== null, m.missing])).toEqual([
      ['1000000001_a.ts', true, false],
      ['1000000002_b.ts', true, true],
      ['1000000003_c.ts', false, false],
    ]);
    await expect(mig.down(1)).rejects.toThrow(/1000000002_b\.ts was applied but is no longer in .*history-sync/);
    expect(s.app.collections.registry.find('b')).toBeDefined();
    expect(await mig.historySync()).toEqual(['1000000002_b.ts']);
    expect(await mig.down(1)).toEqual(['1000000001_a.ts']);
    expect(s.app.collections.registry.find('a')).toBeUndefined();
  });

  test('a migration without down() is not reverted: down refuses, naming it, and changes nothing', async () => {
    const { migrations } = project();
    mkdirSync(migrations);
    writeFileSync(
      join(migrations, '1000000001_oneway.ts'),
      "import type { Migration } from 'mainspring';\nexport default { async up(app) { await app.collections.create({ name: 'oneway', type: 'base' }); } } satisfies Migration;\n",
    );
    const s = await server(migrations);
    const mig = s.app.migrations as NonNullable<App['migrations']>;
    await expect(mig.down(1)).rejects.toThrow('1000000001_oneway.ts has no down(): it cannot be reverted');
    expect(await appliedRows(s)).toEqual(['1000000001_oneway.ts']);
    expect(s.app.collections.registry.find('oneway')).toBeDefined();
  });

  test('records and SQL in a migration share its transaction; a collection made in it is usable at once', async () => {
    const { migrations } = project();
    mkdirSync(migrations);
    writeFileSync(
      join(migrations, '1000000001_seed.ts'),
      migration(
        `await app.collections.create({ name: 'colors', type: 'base', fields: [{ name: 'name', type: 'text', required: true }] });
    for (const name of ['red', 'green']) await app.records.create('colors', { name });
    await app.db.run('UPDATE colors SET name = $1 WHERE name = $2', ['blue', 'green']);
    const rows = await app.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM colors');
    if (Number(rows[0]?.n) !== 2) throw new Error('not in the same transaction');`,
        "await app.collections.delete('colors');",
      ),
    );
    const s = await server(migrations);
    const names = (await s.app.api.records.find('colors', { sort: 'name' })).map((r) => r.name);
    expect(names).toEqual(['blue', 'red']);
  });
});

describe.skipIf(!TEST_POSTGRES_URL)('several instances on one PostgreSQL', () => {
  test('two apps opening together apply each migration once', async () => {
    const { root, migrations } = project();
    mkdirSync(migrations);
    writeFileSync(
      join(migrations, '1000000001_runs.ts'),
      migration("await app.collections.create({ name: 'runs', type: 'base', fields: [{ name: 'n', type: 'number' }] });"),
    );
    // no unique constraint: applied twice, this would leave two records
    writeFileSync(join(migrations, '1000000002_seed.ts'), migration("await app.records.create('runs', { n: 1 });"));
    const db = await freshDatabase();
    try {
      const opened = await Promise.all(
        [1, 2].map((n) => App.open({ dataDir: join(root, `node${n}`), databaseUrl: db.url, logger: silent, migrationsDir: migrations })),
      );
      try {
        expect(await opened[0]?.api.records.count('runs')).toBe(1);
        const rows = await opened[1]?.engine.all<{ file: string }>("SELECT file FROM _migrations WHERE file LIKE '1%'");
        expect(rows?.map((r) => r.file).sort()).toEqual(['1000000001_runs.ts', '1000000002_seed.ts']);
        // both know the collection the other may have made
        expect(opened[1]?.collections.registry.find('runs')).toBeDefined();
      } finally {
        for (const app of opened) await app.close();
      }
    } finally {
      await db.drop();
    }
  });
});
