import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, test } from 'vitest';
import { DataDirError } from '../src/core/app.js';
import { createApp } from '../src/create-app.js';
import { serveProcess } from './helpers/crash.js';
import { run, stopPrograms } from './helpers/processes.js';
import { TEST_ENGINE } from './helpers/server.js';

/**
 * One serving process per SQLite data folder (DESIGN §7, one writer per
 * folder): a second `serve` refuses to start and names the first; a folder
 * whose server was killed with SIGKILL starts again at once. PostgreSQL
 * instances share their database (and may share a files folder) by design.
 */

const BIN = new URL('../bin/mainspring.js', import.meta.url).pathname;
const roots: string[] = [];
const newDir = () => {
  const root = mkdtempSync(join(tmpdir(), 'ms-lock-'));
  roots.push(root);
  return join(root, 'ms_data');
};
const silent = pino({ level: 'silent' });

afterAll(async () => {
  await stopPrograms();
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

describe.skipIf(TEST_ENGINE !== 'sqlite')('one serve per SQLite data folder', () => {
  test('a second serve refuses, naming the first (pid and address); after kill -9 the folder starts again', async () => {
    const dir = newDir();
    const first = await serveProcess({ dir, databaseUrl: '' });
    const refused = await run(process.execPath, [BIN, 'serve', '--http=127.0.0.1:0', `--dir=${dir}`], {
      cwd: dir,
      env: { ...process.env, DATABASE_URL: '' },
      timeoutMs: 20_000,
    }).then(
      () => null,
      (err: Error) => err.message,
    );
    expect(refused).toContain(`error: the data folder ${dir} is in use by another Mainspring process (pid ${first.program.child.pid}`);
    expect(refused).toContain(`serving ${first.url}`);
    await first.kill();
    // the lock went with the process: no stale lock file blocks the restart
    const again = await serveProcess({ dir, databaseUrl: '' });
    expect((await again.request('GET', '/api/health')).status).toBe(200);
    await again.program.stop();
  });

  test('createApp().ready() twice on one folder: the second fails; once the first closes, the folder is free', async () => {
    const dir = newDir();
    const a = createApp({ dataDir: dir, databaseUrl: '', hooksDir: false, logger: silent });
    await a.ready();
    const b = createApp({ dataDir: dir, databaseUrl: '', hooksDir: false, logger: silent });
    const err = await b.ready().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataDirError);
    expect((err as Error).message).toMatch(new RegExp(`in use by another Mainspring process \\(pid ${process.pid} on `));
    await a.close();
    await b.ready();
    await b.close();
  });

  test('the CLI one-shot commands still run beside a server (superuser upsert)', async () => {
    const dir = newDir();
    const s = await serveProcess({ dir, databaseUrl: '' });
    const out = await run(process.execPath, [BIN, 'superuser', 'upsert', 'ops@example.com', 'ops-password-1', `--dir=${dir}`], {
      cwd: dir,
      env: { ...process.env, DATABASE_URL: '' },
    });
    expect(out.stdout + out.stderr).not.toContain('in use');
    const login = await s.request('POST', '/api/collections/_superusers/auth-with-password', {
      body: { identity: 'ops@example.com', password: 'ops-password-1' },
    });
    expect(login.status).toBe(200);
    await s.program.stop();
  });
});
