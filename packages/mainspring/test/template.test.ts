import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { typescriptTypes } from '../src/core/collections/typegen.js';
import { signedUpUser, startServer, superuserToken, type TestServer } from './helpers/server.js';

/**
 * `templates/app`, the starting point the README documents, works as
 * copied: its typed hooks pass the strict type check and load, `npm run
 * migrate` (migrate.mjs) applies its schema and can run again, the
 * committed `ms_hooks/_types.ts` is what `npm run types` writes for that
 * schema, and the hooks act on the records. `MS_UPDATE_TEMPLATE_TYPES=1`
 * rewrites the committed types after a generator change.
 */

const run = promisify(execFile);
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
  s = await startServer({ hooksDir: join(dir, 'ms_hooks') });
  await superuserToken(s, admin.email, admin.password);
});
afterAll(async () => {
  await s?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('migrate applies the schema, again without harm, and the committed types match it', async () => {
  const env = { ...process.env, MS_URL: s.url, MS_SUPERUSER_EMAIL: admin.email, MS_SUPERUSER_PASSWORD: admin.password };
  expect((await run(process.execPath, ['migrate.mjs'], { cwd: dir, env })).stdout).toBe('created posts\n');
  expect((await run(process.execPath, ['migrate.mjs'], { cwd: dir, env })).stdout).toBe('updated posts\n');
  const types = typescriptTypes(s.app.collections.registry.all());
  const committed = join(TEMPLATE, 'ms_hooks/_types.ts');
  if (process.env.MS_UPDATE_TEMPLATE_TYPES === '1') writeFileSync(committed, types);
  expect(types).toBe(readFileSync(committed, 'utf8'));
});

test('the typed hooks act on records, and the route answers', async () => {
  const { id, token } = await signedUpUser(s, 'writer@example.com');
  const made = await s.request('POST', '/api/collections/posts/records', { token, body: { title: 'Hello, World!', author: id } });
  expect(made.status).toBe(200);
  expect(made.body).toMatchObject({ slug: 'hello-world', status: 'draft' });
  await s.request('PATCH', `/api/collections/posts/records/${made.body.id}`, { token, body: { status: 'published' } });
  expect((await s.request('GET', '/api/posts/count')).body).toEqual({ published: 1 });
});
