import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { startProgram, stopPrograms } from '../../packages/mainspring/test/helpers/processes.js';
import { TEST_ENGINE } from '../../packages/mainspring/test/helpers/server.js';
import { printedAsShown, Shell, transcriptSteps } from './transcript.js';

/**
 * Every example's README, run as written (see transcript.ts for how it is
 * read): its servers started with the README's own commands, ports and
 * folders, its commands run in one shell from the example's folder, what
 * they print held to what the README shows, its complete SDK programs run
 * with node. Each runs in a fresh copy of the example (and of examples/lib,
 * which the setup scripts import) under the repository's .vitest-tmp/, so
 * `npx mainspring` and `pocketbase` resolve from the repository as they do
 * for a reader after `npm install`, and a reader's own ./ms_data is never
 * touched. The README's ports must be free.
 *
 * Skipped without bash, curl or jq (the READMEs use them), and on the
 * PostgreSQL leg: as written, the examples run on SQLite.
 */

const REPO = resolve(import.meta.dirname, '../..');
const EXAMPLES = ['bank', 'shop', 'chat', 'streaming', 'express'];

const has = (tool: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const missing = ['bash', 'curl', 'jq'].filter((t) => !has(t));

afterEach(() => stopPrograms());

describe.skipIf(missing.length > 0 || TEST_ENGINE === 'postgres')("the examples' READMEs, run as written", () => {
  test.each(EXAMPLES)(
    'examples/%s/README.md',
    async (name) => {
      const readme = readFileSync(join(REPO, 'examples', name, 'README.md'), 'utf8');
      const steps = transcriptSteps(readme);
      expect(steps.filter((s) => s.kind === 'background').length, 'a README starts its own server').toBeGreaterThan(0);
      mkdirSync(join(REPO, '.vitest-tmp'), { recursive: true });
      const root = mkdtempSync(join(REPO, '.vitest-tmp', `readme-${name}-`));
      const skip = (p: string) => !/[/\\](ms_data|node_modules)$/.test(p);
      cpSync(join(REPO, 'examples', name), join(root, 'examples', name), { recursive: true, filter: skip });
      cpSync(join(REPO, 'examples/lib'), join(root, 'examples/lib'), { recursive: true, filter: skip });
      const cwd = join(root, 'examples', name);
      const shell = new Shell(cwd);
      try {
        for (const step of steps) {
          const where = `examples/${name}/README.md:${step.line}`;
          if (step.kind === 'background') {
            const server = startProgram('bash', ['-c', step.command], { cwd });
            // ready once it has printed its address (the whole of it: output arrives in pieces)
            const address = /http:\/\/127\.0\.0\.1:\d+\/\S*(?=\s)/;
            await server.waitFor(address, 60_000);
            const url = (address.exec(server.output()) as RegExpExecArray)[0];
            expect((await fetch(url)).status, `${where}: ${url} answers`).toBeLessThan(500);
          } else if (step.kind === 'node') {
            const file = `readme-${step.line}.mjs`;
            writeFileSync(join(cwd, file), step.source);
            await shell.run(`node ${file} >/dev/null`);
          } else if (step.kind === 'shell') {
            await shell.run(step.script);
          } else {
            const printed = await shell.run(step.script);
            expect(
              printedAsShown(printed, step.expected),
              `${where}: printed\n${printed}\nwhere the README shows\n${step.expected.join('\n')}`,
            ).toBe(true);
          }
        }
      } finally {
        await shell.close();
        await stopPrograms();
        rmSync(root, { recursive: true, force: true });
      }
    },
    180_000,
  );
});
