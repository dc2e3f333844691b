import { fork } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Type-checks the TypeScript hooks before they run, with the TypeScript
 * compiler of the project (else the one installed beside Mainspring), so a
 * type error stops the start with its file, line and message rather than
 * surfacing as a wrong answer later. `mainspring` resolves to this
 * package's own types. Only the hooks' own files are judged: errors inside
 * packages, and the ones that only say Node's types are not installed, are
 * left out. Without a TypeScript compiler there is no check (esbuild still
 * transpiles). A `tsconfig.json` in the hooks folder or the project above it
 * sets the options; otherwise they are lenient (no `strict`), so quick
 * untyped hooks still start.
 *
 * The check runs in a child process (`typeErrorsApart`): the compiler and
 * the program it builds take some 100 MB, which a server would otherwise keep
 * as resident memory for the rest of its life. A worker thread was not
 * enough: some 25 MB of what it had used stayed resident after it ended.
 */

type TS = typeof import('typescript');

/**
 * This package's type entry, which `import type { Mainspring } from 'mainspring'` names: the
 * sources in the repository (always current, where the declarations are built only to pack),
 * the published declarations (dist/index.d.ts) in an installed package, which ships no sources.
 */
const TYPES_ENTRY = [
  resolve(dirname(fileURLToPath(import.meta.url)), '../../../src/index.ts'),
  resolve(dirname(fileURLToPath(import.meta.url)), '../../../dist/index.d.ts'),
].find((p) => existsSync(p));

/** "Cannot find name 'process'… install @types/node" and its kin: missing Node types, not the hooks' fault. */
const IGNORED = new Set([2580, 2591, 2592, 2593, 2867, 2868]);

function loadTypeScript(dir: string): TS | null {
  for (const from of [join(dir, 'package.json'), fileURLToPath(import.meta.url)]) {
    try {
      return createRequire(from)('typescript') as TS;
    } catch {
      // not installed there
    }
  }
  return null;
}

/** Every .ts/.mts file under the hooks folder (entries and their helpers), skipping node_modules. */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (/\.m?ts$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/**
 * The type errors of the hooks in `dir`, formatted as `file:line:col - error TSnnnn: message`
 * with the line itself; '' when there are none; null when no TypeScript compiler is installed.
 */
export function typeErrors(dir: string): string | null {
  const root = resolve(dir);
  const files = sources(root);
  if (files.length === 0) return '';
  const ts = loadTypeScript(root);
  if (!ts) return null;

  let options: import('typescript').CompilerOptions = { strict: false };
  const config = [join(root, 'tsconfig.json'), join(root, '..', 'tsconfig.json')].find((p) => existsSync(p));
  if (config) {
    const read = ts.readConfigFile(config, ts.sys.readFile);
    if (!read.error) options = ts.parseJsonConfigFileContent(read.config, ts.sys, dirname(config)).options;
  }
  options = {
    ...options,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    // esbuild's rules: relative imports with or without extensions
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    allowImportingTsExtensions: true,
    noEmit: true,
    skipLibCheck: true,
    esModuleInterop: true,
    paths: { ...options.paths, ...(TYPES_ENTRY ? { mainspring: [TYPES_ENTRY] } : {}) },
  };
  const program = ts.createProgram(files, options);
  const inHooks = (d: import('typescript').Diagnostic) =>
    d.file !== undefined && resolve(d.file.fileName).startsWith(`${root}/`) && !IGNORED.has(d.code);
  const diagnostics = files
    .map((f) => program.getSourceFile(f))
    .flatMap((sf) => (sf ? [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)] : []))
    .filter(inHooks);
  if (diagnostics.length === 0) return '';
  return diagnostics
    .slice(0, 20)
    .map((d) => {
      const file = d.file as import('typescript').SourceFile;
      const { line, character } = file.getLineAndCharacterOfPosition(d.start ?? 0);
      const text = file.text.split('\n')[line] ?? '';
      const where = `${relative(process.cwd(), file.fileName) || file.fileName}:${line + 1}:${character + 1}`;
      return `${where} - error TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}\n    ${line + 1} │ ${text}`;
    })
    .join('\n\n');
}

/** This module as built (dist/), where a worker can load it: src/ and dist/ sit at the same depth. */
const BUILT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../dist/core/hooks/typecheck.js');

/**
 * {@link typeErrors} in a child process, so all of the compiler's memory goes
 * back when it is done; in this process when the package is not built (its
 * own tests, run from src/, before `npm run build`).
 */
export function typeErrorsApart(dir: string): Promise<string | null> {
  if (!existsSync(BUILT)) return Promise.resolve(typeErrors(dir));
  return new Promise((done, fail) => {
    // no inherited flags (a profiler, a test runner's loader, an --inspect port): the built module is plain JavaScript
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const child = fork(BUILT, [CHILD_FLAG, dir], { execArgv: [], env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    let answered = false;
    child.once('message', (answer: { errors: string | null } | { failure: string }) => {
      answered = true;
      if ('failure' in answer) fail(new Error(`the hooks type check failed: ${answer.failure}`));
      else done(answer.errors);
      child.kill();
    });
    child.once('error', fail);
    child.once('exit', (code) => {
      if (!answered) fail(new Error(`the hooks type check stopped (exit code ${code})`));
    });
  });
}

const CHILD_FLAG = '--mainspring-typecheck';

if (process.argv[2] === CHILD_FLAG && process.send && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = process.argv[3] as string;
  let answer: { errors: string | null } | { failure: string };
  try {
    answer = { errors: typeErrors(dir) };
  } catch (err) {
    answer = { failure: err instanceof Error ? err.message : String(err) };
  }
  process.send(answer, () => process.disconnect());
}
