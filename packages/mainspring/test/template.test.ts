import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { typescriptTypes } from '../src/core/collections/typegen.js';
import { signedUpUser, startServer, superuserToken, type TestServer } from './helpers/server.js';

/**
 * `templates/app`, the starting point the README documents, works as
 * copied: its typed hooks and migrations pass the strict type check, the
 * migrations in `ms_migrations/` make its schema as the server opens (and
 * `down` undoes them), the committed `ms_hooks/_types.ts` is what `npm run
 * types` writes for that schema, and the hooks act on the records. `MS_UPDATE_TEMPLATE_TYPES=1`
 * rewrites the committed types after a generator change.
 */

const REPO = resolve(import.meta.dirname, '../../..');
const TEMPLATE = join(REPO, 'templates/app');
let dir: string;
let s: TestServer;
const admin = { email: 'owner@example.com', password: 'owner-password-1' };

beforeAll(async () => {
  // inside the repository, so `mainspring` and `pocketbase` resolve as in an installed app
  mkdirSync(join(REPO, '.vitest-tmp'), { recursive: true });
  dir = mkdtempSync(join(REPO, '.vitest-tmp', 'template-'));
  cpSync(TEMPLATE, dir, { recursive: true });
  s = await startServer({ hooksDir: join(dir, 'ms_hooks'), migrationsDir: join(dir, 'ms_migrations') });
  await superuserToken(s, admin.email, admin.password);
  // two strict type checks (the migrations', then the hooks'), each a compiler over the package's sources
}, 120_000);
afterAll(async () => {
  await s?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('its migrations make the schema as the server opens, down undoes them, and the committed types match it', async () => {
  const migrations = s.app.migrations as NonNullable<typeof s.app.migrations>;
  const status = await migrations.status();
  expect(status.map((m) => [m.file, m.applied !== null])).toEqual([['1767225600_created_posts.ts', true]]);
  const types = typescriptTypes(s.app.collections.registry.all());
  const committed = join(TEMPLATE, 'ms_hooks/_types.ts');
  if (process.env.MS_UPDATE_TEMPLATE_TYPES === '1') writeFileSync(committed, types);
  expect(types).toBe(readFileSync(committed, 'utf8'));
  // checked as the server opened: not again (a compiler run) for down and up
  process.env.MS_HOOKS_TYPECHECK = 'off';
  try {
    expect(await migrations.down(1)).toEqual(['1767225600_created_posts.ts']);
    expect(s.app.collections.registry.find('posts')).toBeUndefined();
    expect(await migrations.up()).toEqual(['1767225600_created_posts.ts']);
  } finally {
    delete process.env.MS_HOOKS_TYPECHECK;
  }
  expect(typescriptTypes(s.app.collections.registry.all())).toBe(types);
});

test('the typed hooks act on records, and the route answers', async () => {
  const { id, token } = await signedUpUser(s, 'writer@example.com');
  const made = await s.request('POST', '/api/collections/posts/records', { token, body: { title: 'Hello, World!', author: id } });
  expect(made.status).toBe(200);
  expect(made.body).toMatchObject({ slug: 'hello-world', status: 'draft' });
  await s.request('PATCH', `/api/collections/posts/records/${made.body.id}`, { token, body: { status: 'published' } });
  expect((await s.request('GET', '/api/posts/count')).body).toEqual({ published: 1 });
});
