import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { App } from '../src/core/app.js';
import { HooksLoadError } from '../src/core/hooks/loader.js';
import { freshDatabase, startServer } from './helpers/server.js';

/**
 * Hooks as users write them: TypeScript files in `ms_hooks/`, with
 * async/await, their own helper modules and npm packages, and a clear
 * message (file, line, what went wrong) when one is broken.
 */

// inside the repository, so that npm packages resolve from the hooks folder as in a user's project
const root = new URL('../../../node_modules/.cache/', import.meta.url).pathname;
let project: string;

beforeAll(() => {
  mkdirSync(root, { recursive: true });
  project = mkdtempSync(join(root, 'ms-hooks-'));
});
afterAll(() => rmSync(project, { recursive: true, force: true }));

/** A fresh project folder with these hook files; returns its ms_hooks path. */
function hooksDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(project, 'p-'));
  const hooks = join(dir, 'ms_hooks');
  mkdirSync(join(hooks, 'lib'), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(hooks, name), text);
  return hooks;
}

/** Opens an app over the hooks and returns the load error's message, or '' when it loaded. */
async function loadError(hooks: string): Promise<string> {
  const db = await freshDatabase();
  const dataDir = join(hooks, '..', 'ms_data');
  try {
    const app = await App.open({ dataDir, databaseUrl: db.url, hooksDir: hooks });
    await app.close();
    return '';
  } catch (err) {
    if (!(err instanceof HooksLoadError)) throw err;
    return err.message;
  } finally {
    await db.drop();
  }
}

describe('loading ms_hooks/', () => {
  test('TypeScript with types, async/await, a helper module and an npm package', async () => {
    const hooks = hooksDir({
      'lib/price.ts': 'export function cents(n: number): string { return (n / 100).toFixed(2); }\n',
      'shop.ts': `import type { Mainspring } from 'mainspring';
import { cents } from './lib/price';
import pino from 'pino';

interface Quote { total: number; shown: string }

export default async (ms: Mainspring): Promise<void> => {
  await new Promise((r) => setTimeout(r, 1));
  const log: { level: string } = pino({ level: 'silent' });
  ms.routerAdd('GET', '/api/quote/:amount', async (e) => {
    const total: number = Number(e.params.amount);
    const quote: Quote = { total, shown: cents(total) };
    return { ...quote, logLevel: log.level };
  });
};
`,
      '_ignored.ts': 'throw new Error("helpers starting with _ are not entries");\n',
    });
    const s = await startServer({ hooksDir: hooks, dir: join(hooks, '..', 'ms_data') });
    try {
      const res = await s.request('GET', '/api/quote/1234');
      expect(res.body).toEqual({ total: 1234, shown: '12.34', logLevel: 'silent' });
    } finally {
      await s.close();
    }
  });

  test('files load in name order, so their handlers chain in that order', async () => {
    const route = (tag: string) =>
      `export default (ms: any) => { ms.onBootstrap(async (e: any) => { (globalThis as any).__msOrder = [...((globalThis as any).__msOrder ?? []), '${tag}']; await e.next(); }); };\n`;
    const hooks = hooksDir({
      'b.ts': route('b'),
      'a.ts': route('a'),
      'c.mjs': route('c')
        .replace(/: any| as any/g, '')
        .replace(/\(globalThis\)/g, 'globalThis'),
    });
    (globalThis as { __msOrder?: string[] }).__msOrder = [];
    expect(await loadError(hooks)).toBe('');
    expect((globalThis as { __msOrder?: string[] }).__msOrder).toEqual(['a', 'b', 'c']);
  });

  test('a syntax error names the file, the line and the column', async () => {
    const hooks = hooksDir({ 'broken.ts': 'export default (ms) => {\n  const x = ;\n};\n' });
    const message = await loadError(hooks);
    expect(message).toContain('do not build');
    expect(message).toMatch(/broken\.ts:2:12/);
    expect(message).toContain('const x = ;');
  });

  test('a missing npm package or helper is named', async () => {
    const message = await loadError(hooksDir({ 'a.ts': "import 'no-such-package-here';\nexport default () => {};\n" }));
    expect(message).toContain('no-such-package-here');
    expect(message).toMatch(/a\.ts:1:/);
  });

  test('a type error names the file, the line and what is wrong, before anything runs', async () => {
    const hooks = hooksDir({
      'typed.ts': `import type { Mainspring } from 'mainspring';
export default (ms: Mainspring) => {
  (globalThis as any).__msRan = true;
  ms.onRecordCreate(async (e) => {
    const total: number = e.record.id;
    await e.nxt();
  }, 'orders');
};
`,
    });
    (globalThis as { __msRan?: boolean }).__msRan = false;
    const message = await loadError(hooks);
    expect(message).toContain('have type errors');
    expect(message).toMatch(/typed\.ts:5:11 - error TS2322: Type 'string' is not assignable to type 'number'/);
    expect(message).toMatch(/typed\.ts:6:13 - error TS2551: Property 'nxt' does not exist on type 'RecordEvent'/);
    expect((globalThis as { __msRan?: boolean }).__msRan).toBe(false);
  });

  test('untyped quick hooks start (no strict mode without a tsconfig), and MS_HOOKS_TYPECHECK=off skips the check', async () => {
    expect(await loadError(hooksDir({ 'loose.ts': 'export default (ms) => { ms.onBootstrap((e) => e.next()); };\n' }))).toBe('');
    const wrong = hooksDir({ 'wrong.ts': 'export default (ms: { x: number }) => { const s: string = ms.x; };\n' });
    expect(await loadError(wrong)).toContain('TS2322');
    process.env.MS_HOOKS_TYPECHECK = 'off';
    try {
      expect(await loadError(wrong)).toBe('');
    } finally {
      delete process.env.MS_HOOKS_TYPECHECK;
    }
  });

  test('an error while a file runs names the file and the line in it', async () => {
    const hooks = hooksDir({
      'boom.ts': 'export default (ms: unknown) => {\n  const cfg: any = undefined;\n  console.log(cfg.missing.value);\n};\n',
    });
    const message = await loadError(hooks);
    expect(message).toContain('boom.ts failed while registering its hooks');
    expect(message).toContain('TypeError');
    expect(message).toMatch(/boom\.ts:3/);
  });

  test('a file without a default function says what it must export', async () => {
    const message = await loadError(hooksDir({ 'nothing.ts': 'export const x = 1;\n' }));
    expect(message).toContain('must export a function');
  });

  test('a bad route is refused when it is added', async () => {
    const message = await loadError(hooksDir({ 'r.ts': "export default (ms: any) => { ms.routerAdd('FETCH', '/x', () => 1); };\n" }));
    expect(message).toContain('unknown method "FETCH"');
  });

  test('no folder, no hooks', async () => {
    expect(await loadError(join(project, 'does-not-exist'))).toBe('');
  });
});
