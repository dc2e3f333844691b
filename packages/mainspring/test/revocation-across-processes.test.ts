import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { SU, serveProcess, superuserOf, withSuperuser } from './helpers/crash.js';
import { run, stopPrograms, userEnv } from './helpers/processes.js';
import { freshDatabase, TEST_ENGINE } from './helpers/server.js';

/**
 * A credential changed by another process (here the CLI's `superuser
 * update`, run beside the server) ends the old tokens within a second, though
 * the server had them cached (DESIGN §7, Token revocation).
 */

const BIN = new URL('../bin/mainspring.js', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'ms-revoke-'));

afterAll(async () => {
  await stopPrograms();
  rmSync(root, { recursive: true, force: true });
});

describe(`token revocation from another process (${TEST_ENGINE})`, () => {
  test('superuser update from the CLI: the old token is refused within a second', async () => {
    const db = await freshDatabase();
    try {
      const dir = join(root, 'ms_data');
      await withSuperuser(dir, db.url);
      const s = await serveProcess({ dir, databaseUrl: db.url });
      const token = await superuserOf(s);
      // cached by the server now
      for (let i = 0; i < 3; i++) expect((await s.request('GET', '/api/collections', { token })).status).toBe(200);

      await run(process.execPath, [BIN, 'superuser', 'update', SU.email, 'another-password-2', `--dir=${dir}`], {
        cwd: root,
        env: userEnv({ DATABASE_URL: db.url }),
      });
      const changed = Date.now();
      let refusedAfter = -1;
      while (Date.now() - changed < 3000) {
        if ((await s.request('GET', '/api/collections', { token })).status === 401) {
          refusedAfter = Date.now() - changed;
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(refusedAfter).toBeGreaterThanOrEqual(0);
      expect(refusedAfter).toBeLessThan(1000);
      await s.program.stop();
    } finally {
      await db.drop();
    }
  });
});
