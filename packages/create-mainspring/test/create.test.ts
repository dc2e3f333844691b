import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, test } from 'vitest';

/**
 * `create-mainspring` as a command, run from the workspace (where it copies
 * templates/app itself): what it makes, and what it refuses. Its packed
 * tarball, installed and started, is packages/mainspring/test/first-use.test.ts.
 */

const REPO = resolve(import.meta.dirname, '../../..');
const CLI = join(REPO, 'packages/create-mainspring/index.js');
const TEMPLATE = join(REPO, 'templates/app');
const dir = mkdtempSync(join(tmpdir(), 'ms-create-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function create(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], { cwd: dir });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Every file under `root`, relative to it. */
function files(root: string, prefix = ''): string[] {
  return readdirSync(join(root, prefix), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(root, join(prefix, e.name)) : [join(prefix, e.name)],
  );
}

test('makes an app of the template, named after its folder, with the next steps', async () => {
  const made = await create('My App!');
  expect(made.code).toBe(0);
  expect(made.stdout).toContain('cd "My App!"\n  npm install && npm start');
  const app = join(dir, 'My App!');
  expect(files(app).sort()).toEqual(files(TEMPLATE).sort());
  expect(readFileSync(join(app, '.gitignore'), 'utf8')).toBe(readFileSync(join(TEMPLATE, '.gitignore'), 'utf8'));
  const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
  expect(pkg).toEqual({ ...JSON.parse(readFileSync(join(TEMPLATE, 'package.json'), 'utf8')), name: 'my-app' });
  // the version of mainspring the template asks for is the one in this repository (semver comes with fastify)
  const semver = createRequire(import.meta.url)('semver') as { satisfies(v: string, range: string): boolean };
  const version = JSON.parse(readFileSync(join(REPO, 'packages/mainspring/package.json'), 'utf8')).version;
  expect(semver.satisfies(version, pkg.dependencies.mainspring)).toBe(true);
  expect(readFileSync(join(app, 'ms_hooks/posts.ts'), 'utf8')).toContain("import type { TypedMainspring } from './_types';");
});

test('my-app when no folder is given; the current folder when it is empty', async () => {
  expect((await create()).code).toBe(0);
  expect(JSON.parse(readFileSync(join(dir, 'my-app/package.json'), 'utf8')).name).toBe('my-app');
  mkdirSync(join(dir, 'empty'));
  const here = await promisify(execFile)(process.execPath, [CLI, '.'], { cwd: join(dir, 'empty') });
  expect(here.stdout).toContain('Next:\n  npm install && npm start\n');
  expect(JSON.parse(readFileSync(join(dir, 'empty/package.json'), 'utf8')).name).toBe('empty');
});

test('refuses a folder that holds anything, and leaves it alone', async () => {
  mkdirSync(join(dir, 'taken'));
  writeFileSync(join(dir, 'taken/notes.txt'), 'mine');
  const refused = await create('taken');
  expect(refused.code).toBe(1);
  expect(refused.stderr).toBe('error: taken already exists and is not empty; pick another name\n');
  expect(readdirSync(join(dir, 'taken'))).toEqual(['notes.txt']);
});

test('unknown options and extra folders are usage errors; --help prints the usage', async () => {
  for (const args of [['--template=react'], ['a', 'b']]) {
    const refused = await create(...args);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('Usage: npm create mainspring@latest [folder]');
  }
  expect(existsSync(join(dir, 'a'))).toBe(false);
  const help = await create('--help');
  expect(help.code).toBe(0);
  expect(help.stdout).toContain('Usage: npm create mainspring@latest [folder]');
});
