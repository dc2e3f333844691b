import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { freePort, type Program, run, startProgram, stopPrograms, userEnv } from './helpers/processes.js';
import { BIN, waitForHealth } from './helpers/serve.js';
import { freshDatabase, TEST_ENGINE, TEST_POSTGRES_URL } from './helpers/server.js';

/**
 * The app's migrations from the command line, as a team uses them: the
 * dashboard's changes under `serve` (automigrate on by default) become files,
 * a teammate's `serve` on a fresh data folder applies them, `migrate
 * down|status|create` work on them, and a broken file stops `serve` naming it.
 */

const roots: string[] = [];
const drops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await stopPrograms();
});
afterAll(async () => {
  for (const d of roots) rmSync(d, { recursive: true, force: true });
  for (const drop of drops) await drop();
});

/** A project folder (data folders and ms_migrations/ inside it) and a database of its own. */
async function project(): Promise<{ root: string; migrations: string; db: string }> {
  const root = mkdtempSync(join(tmpdir(), 'ms-migrations-cli-'));
  roots.push(root);
  const database = await freshDatabase();
  drops.push(database.drop);
  return { root, migrations: join(root, 'ms_migrations'), db: database.url };
}

/** The environment `serve` gets: as a user's shell, so automigrate takes its default; no type check unless asked. */
function env(db: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e = userEnv({ MS_LOG_LEVEL: 'info', DATABASE_URL: db, MS_HOOKS_TYPECHECK: 'off', ...extra });
  if (!('MS_AUTOMIGRATE' in extra)) delete e.MS_AUTOMIGRATE;
  if (!('NODE_ENV' in extra)) delete e.NODE_ENV;
  return e;
}

const cli = (root: string, args: string[], e: NodeJS.ProcessEnv) => run(process.execPath, [BIN, ...args], { cwd: root, env: e });

/** `mainspring migrate …` that is expected to fail: its exit code and what it printed. */
async function refused(root: string, args: string[], e: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  try {
    const r = await cli(root, args, e);
    return { code: 0, output: r.stdout + r.stderr };
  } catch (err) {
    const m = /failed \((\d+)\):\n([\s\S]*)$/.exec((err as Error).message);
    return { code: Number(m?.[1] ?? -1), output: m?.[2] ?? (err as Error).message };
  }
}

async function serve(root: string, data: string, e: NodeJS.ProcessEnv): Promise<{ url: string; program: Program }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const program = startProgram(process.execPath, [BIN, 'serve', `--http=127.0.0.1:${port}`, `--dir=${data}`], { cwd: root, env: e });
  try {
    await waitForHealth(url, 200, 90_000);
  } catch (err) {
    await program.stop();
    throw new Error(`${(err as Error).message}\n${program.output()}`);
  }
  return { url, program };
}

async function superuser(root: string, data: string, e: NodeJS.ProcessEnv, url: string): Promise<string> {
  await cli(root, ['superuser', 'upsert', 'root@example.com', 'root-password-1', `--dir=${data}`], e);
  const res = await fetch(`${url}/api/collections/_superusers/auth-with-password`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ identity: 'root@example.com', password: 'root-password-1' }),
  });
  return ((await res.json()) as { token: string }).token;
}

const api = (url: string, token: string, method: string, path: string, body?: unknown) =>
  fetch(`${url}${path}`, {
    method,
    headers: { authorization: token, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

const files = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);

describe(`mainspring serve and migrate (${TEST_ENGINE})`, () => {
  test('the dashboard writes files under serve; a fresh data folder under serve gets the collection; migrate down reverts it', async () => {
    const { root, migrations, db } = await project();
    const e = env(db);
    // SQLite: a second data folder is a fresh database; PostgreSQL: a second database
    const fresh = TEST_ENGINE === 'postgres' ? await freshDatabase() : null;
    if (fresh) drops.push(fresh.drop);
    const e2 = env(fresh?.url ?? '');

    const first = await serve(root, join(root, 'data'), e);
    const token = await superuser(root, join(root, 'data'), e, first.url);
    const made = await api(first.url, token, 'POST', '/api/collections', {
      name: 'notes',
      type: 'base',
      createRule: '',
      fields: [{ name: 'text', type: 'text', max: 50 }],
    });
    expect(made.status).toBe(200);
    await first.program.waitFor('automigrate: migration written');
    await first.program.stop();
    const written = files(migrations);
    expect(written).toEqual([expect.stringMatching(/^\d{10}_created_notes\.ts$/)]);

    const second = await serve(root, join(root, 'data2'), e2);
    await second.program.waitFor('applied 1 migration(s)');
    const created = await fetch(`${second.url}/api/collections/notes/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'from a teammate' }),
    });
    expect(created.status).toBe(200);
    const tooLong = await fetch(`${second.url}/api/collections/notes/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'x'.repeat(51) }),
    });
    expect(tooLong.status).toBe(400);
    await second.program.stop();

    const status = await cli(root, ['migrate', 'status', `--dir=${join(root, 'data2')}`], e2);
    expect(status.stdout).toMatch(new RegExp(`^${written[0]}\\tapplied \\d{4}-`, 'm'));
    const down = await cli(root, ['migrate', 'down', `--dir=${join(root, 'data2')}`], e2);
    expect(down.stdout).toBe(`Reverted ${written[0]}.\n`);
    expect((await cli(root, ['migrate', 'status', `--dir=${join(root, 'data2')}`], e2)).stdout).toBe(`${written[0]}\tpending\n`);
    expect((await cli(root, ['migrate', 'down', `--dir=${join(root, 'data2')}`], e2)).stdout).toBe('No applied migration to revert.\n');
    expect((await cli(root, ['migrate', `--dir=${join(root, 'data2')}`], e2)).stdout).toBe(
      `Applied ${written[0]}.\nApplied 1 migration(s) from ms_migrations.\n`,
    );
  }, 180_000);

  test('with NODE_ENV=production or MS_AUTOMIGRATE=off, serve writes no file', async () => {
    for (const extra of [{ NODE_ENV: 'production' }, { MS_AUTOMIGRATE: 'off' }] as Record<string, string>[]) {
      const { root, migrations, db } = await project();
      const e = env(db, extra);
      const s = await serve(root, join(root, 'data'), e);
      const token = await superuser(root, join(root, 'data'), e, s.url);
      expect((await api(s.url, token, 'POST', '/api/collections', { name: 'quiet', type: 'base' })).status).toBe(200);
      await s.program.stop();
      expect(files(migrations), JSON.stringify(extra)).toEqual([]);
    }
  }, 180_000);

  test('a migration that does not build stops serve with its file named, and the database as it was', async () => {
    const { root, migrations, db } = await project();
    mkdirSync(migrations);
    writeFileSync(
      join(migrations, '1000000001_fine.ts'),
      "export default { async up(app) { await app.collections.create({ name: 'fine', type: 'base' }); } };\n",
    );
    writeFileSync(
      join(migrations, '1000000002_broken.ts'),
      'export default { async up(app) { await app.collections.create({ name: ) } };\n',
    );
    const port = await freePort();
    const e = env(db);
    const out = await refused(root, ['serve', `--http=127.0.0.1:${port}`, `--dir=${join(root, 'data')}`], e);
    expect(out.code).toBe(1);
    expect(out.output).toMatch(/the migrations in ms_migrations do not build/);
    expect(out.output).toMatch(/\[ERROR\] Unexpected[\s\S]*1000000002_broken\.ts:1:\d+/);
    const status = await cli(root, ['migrate', 'status', `--dir=${join(root, 'data')}`], e);
    expect(status.stdout).toBe('1000000001_fine.ts\tpending\n1000000002_broken.ts\tpending\n');
  });

  test('migrate create: a typed empty migration that passes the type check; names that are not a file name are refused', async () => {
    const { root, migrations, db } = await project();
    const e = env(db);
    for (const name of ['../escape', 'a/b', 'x.ts', '', ' space', 'dash!', 'a'.repeat(101), 'semi;colon']) {
      const r = await refused(root, ['migrate', 'create', name], e);
      expect(r.code, name).toBe(2);
      expect(r.output, name).toMatch(/error: (invalid migration name|migrate create needs a name)/);
    }
    expect(existsSync(migrations)).toBe(false);
    expect(readdirSync(root)).toEqual([]);
    const made = await cli(root, ['migrate', 'create', 'add_tags'], e);
    expect(made.stdout).toMatch(/^Created ms_migrations\/\d{10}_add_tags\.ts\.\n$/);
    const [file] = files(migrations);
    expect(readFileSync(join(migrations, file as string), 'utf8')).toContain('} satisfies Migration;');
    // a type error in a second file is reported by serve with its file and line (the check on, as by default)
    writeFileSync(
      join(migrations, '9999999999_typo.ts'),
      "import type { Migration } from 'mainspring';\nexport default {\n  async up(app) {\n    await app.collection.create({ name: 'x' });\n  },\n} satisfies Migration;\n",
    );
    const checked = env(db, { MS_HOOKS_TYPECHECK: 'on' });
    const bad = await refused(root, ['migrate', 'up', `--dir=${join(root, 'data')}`], checked);
    expect(bad.code).toBe(1);
    expect(bad.output).toMatch(/ms_migrations\/9999999999_typo\.ts:4:\d+ - error TS2551: Property 'collection' does not exist/);
    rmSync(join(migrations, '9999999999_typo.ts'));
    const up = await cli(root, ['migrate', 'up', `--dir=${join(root, 'data')}`], checked);
    expect(up.stdout).toBe(`Applied ${file}.\nApplied 1 migration(s) from ms_migrations.\n`);
    for (const args of [['down', '0'], ['down', 'two'], ['down', '-1'], ['sideways'], ['status', 'extra']]) {
      const r = await refused(root, ['migrate', ...args, `--dir=${join(root, 'data')}`], e);
      expect(r.code, args.join(' ')).toBe(2);
    }
  }, 300_000);
});

describe.skipIf(!TEST_POSTGRES_URL)('two servers starting together on one PostgreSQL', () => {
  test('apply each migration once', async () => {
    const { root, migrations, db } = await project();
    mkdirSync(migrations);
    writeFileSync(
      join(migrations, '1000000001_runs.ts'),
      "export default { async up(app) { await app.collections.create({ name: 'runs', type: 'base', listRule: '', fields: [{ name: 'n', type: 'number' }] }); } };\n",
    );
    // no unique constraint: applied twice, this would leave two records
    writeFileSync(
      join(migrations, '1000000002_seed.ts'),
      "export default { async up(app) { await app.records.create('runs', { n: 1 }); } };\n",
    );
    const e = env(db);
    const [a, b] = await Promise.all([serve(root, join(root, 'node1'), e), serve(root, join(root, 'node2'), e)]);
    for (const s of [a, b]) {
      const list = await (await fetch(`${s.url}/api/collections/runs/records`)).json();
      expect((list as { totalItems: number }).totalItems).toBe(1);
    }
    // one of them applied both; the other found them applied
    const said = [a, b].map((s) => s.program.output().includes('applied 2 migration(s)'));
    expect(said.sort()).toEqual([false, true]);
  }, 180_000);
});
