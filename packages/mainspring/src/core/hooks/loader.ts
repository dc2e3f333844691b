import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { builtinModules, findSourceMap } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomString } from '../ids.js';
import type { Mainspring } from './api.js';
import { typeErrorsApart } from './typecheck.js';

/**
 * Loads the hooks of a project: every `*.ts`, `*.mts`, `*.js` or `*.mjs`
 * file directly in `ms_hooks/` (names starting with `_` or `.` are helpers
 * others import, not entries), in name order. Each is bundled with esbuild
 * (TypeScript transpiled, its own relative imports inlined, npm packages
 * left as imports resolved from the hooks folder) into the data directory,
 * type-checked (hooks/typecheck.ts), imported, and its default export
 * called with the hooks API. `MS_HOOKS_TYPECHECK=off` skips the type check.
 */

/** A hooks file that cannot be built or loaded; `message` says where and why. */
export class HooksLoadError extends Error {
  override readonly name = 'HooksLoadError';
}

const ENTRY = /^[^_.].*\.(ts|mts|js|mjs)$/;
const BUILTINS = new Set(builtinModules);

/** The entry files of a hooks folder, sorted; empty when the folder does not exist. */
export function hookEntries(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir)
    .filter((f) => ENTRY.test(f) && !f.endsWith('.d.ts') && !f.endsWith('.test.ts'))
    .sort()
    .map((f) => join(dir, f));
}

let generation = 0;

/**
 * This process's folder of bundles: its pid and a random part, since
 * processes in different containers sharing one data volume may all be pid 1.
 */
const BUILD_NAME = `${process.pid}-${randomString(8)}`;

/** A folder this old whose pid is not running here is a dead process's (or another container's, long started). */
const STALE_AFTER_MS = 60 * 60 * 1000;

/** Bundles are written per process (several may share a data directory); those of processes gone are removed. */
function removeStaleBuilds(buildDir: string): void {
  if (!existsSync(buildDir)) return;
  for (const name of readdirSync(buildDir)) {
    const pid = Number(name.split('-', 1)[0]);
    if (!Number.isInteger(pid) || pid <= 0 || name === BUILD_NAME) continue;
    const path = join(buildDir, name);
    try {
      process.kill(pid, 0);
    } catch (err) {
      // not running in this pid namespace; a live process elsewhere wrote its folder when it started
      // (or reloaded), so only an old folder is removed
      if ((err as NodeJS.ErrnoException).code === 'ESRCH' && Date.now() - statSync(path).mtimeMs > STALE_AFTER_MS) {
        rmSync(path, { recursive: true, force: true });
      }
    }
  }
}

/**
 * Builds and runs the hooks in `dir` against `api`; returns the files
 * loaded. `buildDir` receives the bundles. Throws {@link HooksLoadError}
 * with esbuild's message (file, line, column, the line itself) for a
 * syntax error, and with the error and the hooks file's stack for a
 * failure while a file runs.
 */
export async function loadHooks(dir: string, buildDir: string, api: Mainspring): Promise<string[]> {
  const root = resolve(dir);
  const entries = hookEntries(root);
  if (entries.length === 0) return [];
  const outputs = await bundleFiles(root, entries, resolve(buildDir), 'hooks', (m) => new HooksLoadError(m));
  // syntax first (esbuild says it best), then types, before anything runs
  if (process.env.MS_HOOKS_TYPECHECK !== 'off') {
    const errors = await typeErrorsApart(root);
    if (errors) throw new HooksLoadError(`the hooks in ${shown(root)} have type errors:\n\n${errors}`);
  }
  // stack traces of the bundles point into the hooks' own files
  process.setSourceMapsEnabled(true);
  generation++;
  for (const [i, out] of outputs.entries()) await run(shown(entries[i] as string), out, api);
  return entries;
}

/** A path as the person who started the server would type it. */
export const shown = (file: string) => relative(process.cwd(), file) || file;

/**
 * Bundles each file (its own imports inlined, npm packages left as imports
 * of the project's copy) into `buildDir`; answers the bundles in the order of
 * `entries`. A file that does not build is the error `fail` makes of
 * esbuild's message, which names `what` (the hooks, the migrations) and the folder.
 */
export async function bundleFiles(
  root: string,
  entries: string[],
  buildDir: string,
  what: string,
  fail: (message: string) => Error,
): Promise<string[]> {
  const esbuild = await import('esbuild');
  const outdir = join(buildDir, BUILD_NAME);
  removeStaleBuilds(buildDir);
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  try {
    const result = await esbuild.build({
      entryPoints: entries,
      absWorkingDir: root,
      outdir,
      outbase: root,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      sourcemap: 'inline',
      logLevel: 'silent',
      metafile: true,
      plugins: [packagesFromProject],
    });
    // each entry's bundle, found by its entry point (relative to the working directory, root)
    const byEntry = new Map<string, string>();
    for (const [file, o] of Object.entries(result.metafile.outputs)) {
      if (o.entryPoint !== undefined) byEntry.set(resolve(root, o.entryPoint), resolve(root, file));
    }
    return entries.map((e) => byEntry.get(resolve(e)) as string);
  } catch (err) {
    const failure = err as { errors?: import('esbuild').Message[] };
    if (!failure.errors) throw fail(`building the ${what} in ${shown(root)} failed: ${(err as Error).message}`);
    const text = await esbuild.formatMessages(failure.errors, { kind: 'error', color: false });
    throw fail(`the ${what} in ${shown(root)} do not build:\n\n${text.join('\n').trimEnd()}`);
  }
}

/**
 * npm packages stay imports, but of the file they resolve to from the hooks
 * folder, so they load from the project's node_modules wherever the bundle is written.
 */
const packagesFromProject: import('esbuild').Plugin = {
  name: 'packages-from-project',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      const bare = args.path.startsWith('node:') ? args.path.slice(5) : args.path;
      if (BUILTINS.has(bare) || BUILTINS.has(bare.split('/')[0] ?? '')) return { path: args.path, external: true };
      if (args.pluginData === 'resolving') return undefined;
      const found = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: 'resolving' });
      if (found.errors.length > 0) return { errors: found.errors };
      return { path: pathToFileURL(found.path).href, external: true };
    });
  },
};

/** Imports one bundle and runs its default export against `api`; a failure names the hooks file. */
async function run(source: string, out: string, api: Mainspring): Promise<void> {
  let mod: { default?: unknown };
  try {
    mod = (await import(`${pathToFileURL(out).href}?v=${generation}`)) as { default?: unknown };
  } catch (err) {
    throw new HooksLoadError(`${source} failed while loading:\n\n${describe(err)}`);
  }
  if (typeof mod.default !== 'function') {
    throw new HooksLoadError(`${source} must export a function: export default (ms: Mainspring) => { … }`);
  }
  try {
    await (mod.default as (ms: Mainspring) => unknown)(api);
  } catch (err) {
    throw new HooksLoadError(`${source} failed while registering its hooks:\n\n${describe(err)}`);
  }
}

/** The error and its frames inside the hooks (not Mainspring's loader), at their places in the hooks' own files. */
export function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const frames = (err.stack ?? '')
    .split('\n')
    .slice(1)
    .filter((l) => !l.includes('/mainspring/dist/') && !l.includes('/mainspring/src/') && !l.includes('node:internal'))
    .map(original);
  return [`${err.name}: ${err.message}`, ...frames.slice(0, 6)].join('\n');
}

/**
 * A stack frame in a bundle, moved to the hooks file and line it came from.
 * Node does this itself once source maps are on, unless something else
 * (a test runner) formats stacks; then the frame is mapped here.
 */
function original(frame: string): string {
  const m = /(file:\/\/[^\s)]+?\.mjs)(\?v=\d+)?:(\d+):(\d+)/.exec(frame);
  if (!m) return frame;
  const map = findSourceMap(`${m[1]}${m[2] ?? ''}`) ?? findSourceMap(m[1] as string);
  const entry = map?.findEntry(Number(m[3]) - 1, Number(m[4]) - 1) as
    | { originalSource?: string; originalLine?: number; originalColumn?: number }
    | undefined;
  if (!entry?.originalSource) return frame;
  const source = entry.originalSource.startsWith('file:') ? fileURLToPath(entry.originalSource) : entry.originalSource;
  return frame.replace(m[0], `${source}:${(entry.originalLine ?? 0) + 1}:${(entry.originalColumn ?? 0) + 1}`);
}
