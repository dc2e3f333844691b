import { mkdirSync } from 'node:fs';
import pino from 'pino';
import { App } from '../../src/core/app.js';
import { SUPERUSERS, SYSTEM_REQUEST } from '../../src/core/rules/request-info.js';
import { freePort, type Program, startProgram, userEnv } from './processes.js';
import { requester, type TestServer } from './server.js';

/**
 * `mainspring serve` in a process of its own, to be killed with SIGKILL
 * mid-request and started again on the same data (the fault tests).
 */

const BIN = new URL('../../bin/mainspring.js', import.meta.url).pathname;

export const SU = { email: 'root@example.com', password: 'root-password-1' };

/** A served process: its URL, a requester, and SIGKILL. */
export interface Served {
  url: string;
  program: Program;
  request: TestServer['request'];
  /** SIGKILL to the process, then waits for it to be gone. */
  kill(): Promise<void>;
}

/** Creates the superuser {@link SU} in a data folder / database before any server runs (the CLI's way). */
export async function withSuperuser(dir: string, databaseUrl: string): Promise<void> {
  const app = await App.open({ dataDir: dir, databaseUrl, logger: pino({ level: 'silent' }) });
  try {
    const c = app.records.collection(SUPERUSERS);
    const data = { email: SU.email, password: SU.password, passwordConfirm: SU.password };
    await app.records.create(c, { data, source: 'json' }, {}, SYSTEM_REQUEST);
    // no rate limits in the way of a test that sends many requests from one address
    await app.settings.update({ rateLimits: { enabled: false } });
  } finally {
    await app.close();
  }
}

/** Starts `serve` on `dir` (and `databaseUrl`) and waits until it answers. */
export async function serveProcess(options: {
  dir: string;
  databaseUrl: string;
  hooksDir?: string;
  env?: Record<string, string>;
}): Promise<Served> {
  const port = await freePort();
  mkdirSync(options.dir, { recursive: true });
  const args = [BIN, 'serve', `--http=127.0.0.1:${port}`, `--dir=${options.dir}`];
  if (options.hooksDir) args.push(`--hooksDir=${options.hooksDir}`);
  const program = startProgram(process.execPath, args, {
    cwd: options.dir,
    env: userEnv({ DATABASE_URL: options.databaseUrl, MS_LOG_LEVEL: 'warn', ...options.env }),
  });
  await program.waitFor('Mainspring is serving', 30_000);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    program,
    request: requester(url),
    async kill() {
      if (program.child.exitCode !== null || program.child.signalCode !== null) return;
      const gone = new Promise((done) => program.child.once('exit', done));
      process.kill(program.child.pid as number, 'SIGKILL');
      await gone;
      await program.stop();
    },
  };
}

/** The superuser's token on a served process. */
export async function superuserOf(s: Served): Promise<string> {
  const res = await s.request('POST', '/api/collections/_superusers/auth-with-password', {
    body: { identity: SU.email, password: SU.password },
  });
  if (res.status !== 200) throw new Error(`superuser sign-in: ${JSON.stringify(res.body)}`);
  return res.body.token as string;
}
