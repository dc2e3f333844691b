// Transpiles src/ to dist/ file by file (no bundling), so `npm start` needs no
// type-check pass: esbuild takes ~100 ms where tsc takes seconds. Types are
// checked separately by `npm run typecheck` in CI.
//
//   node build.mjs                 dist/: JavaScript with source maps (npm start, npm test)
//   node build.mjs --types         also the .d.ts declarations, with tsc (~10 s): what npm pack ships
//   node build.mjs --out=DIR       into DIR instead of dist/ (the packing test builds apart, so the
//                                  dist/ other tests are running from is never emptied under them)
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = new URL('.', import.meta.url).pathname;
const { values } = parseArgs({ options: { out: { type: 'string' }, types: { type: 'boolean' } } });
const outdir = resolve(values.out ?? join(root, 'dist'));

/** Test code is not shipped: test files, and suites they run that sit beside what they test (storage/contract.ts). */
const isTestCode = (name, path) => name.endsWith('.test.ts') || readFileSync(path, 'utf8').includes("from 'vitest'");

function sources(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') && !isTestCode(name, path) ? [path] : [];
  });
}

rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: sources(join(root, 'src')),
  outdir,
  outbase: join(root, 'src'),
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
});

if (values.types) {
  // a user's `tsc --strict` reads these, never our sources (which it would compile under its own options)
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.types.json'), '--outDir', outdir], { stdio: 'inherit' });
}
