import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type Program, run, startProgram, userEnv } from './processes.js';
import { freshDatabase } from './server.js';

/** The built `mainspring` command (`npm test` builds first). */
export const BIN = new URL('../../bin/mainspring.js', import.meta.url).pathname;

/**
 * `mainspring serve` in a child process of its own, as an operator runs it,
 * over a fresh data folder and database: for what an in-process server
 * cannot show (a client and a server racing on one socket from two
 * processes, signals, exits, restarts).
 */
export interface ServeChild {
  url: string;
  dir: string;
  /** The database URL ('' on SQLite). */
  db: string;
  program: Program;
  /** Starts `serve` again on the same folder, database and port (after a stop). */
  restart(): Promise<void>;
  /** A superuser's token (the superuser is made with the CLI before the server starts). */
  superuserToken(): Promise<string>;
  /** Stops the server and removes its folder and database. */
  close(): Promise<void>;
}

/** Waits until `url`/api/health answers `status`, or fails after `timeoutMs`. */
export async function waitForHealth(url: string, status = 200, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(1000) });
      if (res.status === status) return;
      last = String(res.status);
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url}/api/health did not answer ${status} within ${timeoutMs} ms (last: ${last})`);
}

/** Starts `serve` with `args` beside the address and folder, and waits for it to be ready. */
export async function startServe(args: string[] = [], env: Record<string, string> = {}): Promise<ServeChild> {
  const dir = mkdtempSync(join(tmpdir(), 'ms-serve-'));
  const database = await freshDatabase();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const fullEnv = userEnv({ MS_LOG_LEVEL: 'warn', DATABASE_URL: database.url, ...env });
  const start = async () => {
    const program = startProgram(process.execPath, [BIN, 'serve', `--http=127.0.0.1:${port}`, `--dir=${dir}`, ...args], {
      cwd: dir,
      env: fullEnv,
    });
    try {
      await waitForHealth(url);
    } catch (err) {
      await program.stop();
      throw new Error(`${(err as Error).message}\n${program.output()}`);
    }
    return program;
  };
  const email = 'root@example.com';
  const password = 'root-password-1';
  // before the server starts: a second process on a SQLite folder in use may be refused
  await run(process.execPath, [BIN, 'superuser', 'upsert', email, password, `--dir=${dir}`], { cwd: dir, env: fullEnv });
  let token: string | null = null;
  const child: ServeChild = {
    url,
    dir,
    db: database.url,
    program: await start(),
    async restart() {
      await child.program.stop();
      child.program = await start();
    },
    async superuserToken() {
      if (token) return token;
      const res = await fetch(`${url}/api/collections/_superusers/auth-with-password`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ identity: email, password }),
      });
      if (res.status !== 200) throw new Error(`superuser sign-in: ${res.status} ${await res.text()}`);
      token = ((await res.json()) as { token: string }).token;
      return token;
    },
    async close() {
      await child.program.stop();
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return child;
}
