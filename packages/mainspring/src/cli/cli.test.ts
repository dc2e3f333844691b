import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freshDatabase, TEST_POSTGRES_URL } from '../../test/helpers/server.js';

/**
 * The `mainspring` command as a user runs it: the built binary in a child
 * process (`npm test` builds first).
 */

const BIN = new URL('../../bin/mainspring.js', import.meta.url).pathname;
let dir: string;

/** One fresh database per data directory (PostgreSQL with MS_TEST_POSTGRES_URL, else the directory's own SQLite file). */
const databases = new Map<string, Promise<Awaited<ReturnType<typeof freshDatabase>>>>();
async function envFor(args: string[]): Promise<NodeJS.ProcessEnv> {
  const dataDir = args.find((a) => a.startsWith('--dir='));
  let url = '';
  if (dataDir) {
    if (!databases.has(dataDir)) databases.set(dataDir, freshDatabase());
    url = (await databases.get(dataDir))?.url ?? '';
  }
  return { ...process.env, MS_LOG_LEVEL: 'warn', DATABASE_URL: url };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ms-cli-'));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  for (const db of databases.values()) await (await db).drop();
});

async function run(args: string[], timeoutMs = 15_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = await envFor(args);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out: mainspring ${args.join(' ')}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts `serve` and resolves once it answers /api/health. */
async function startServe(dataDir: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', `--http=127.0.0.1:${port}`, `--dir=${dataDir}`], {
    env: await envFor([`--dir=${dataDir}`]),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/health`);
      if (res.ok) return child;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error('serve did not come up');
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on('exit', (code) => resolve(code));
  });
}

describe('mainspring CLI', () => {
  test('help lists the commands', async () => {
    const r = await run(['help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('serve [options]');
    for (const flag of ['--http=', '--dir=', '--db=', '--origins=', '--hooksDir=', '--log-level=', '--shutdown-timeout=']) {
      expect(r.stdout).toContain(`  ${flag}`);
    }
    expect(r.stdout).toContain('superuser upsert EMAIL PASSWORD');
  });

  test('a bad flag, a bad address and an unknown command are one-line errors with a non-zero exit', async () => {
    for (const args of [['serve', '--bogus'], ['serve', '--http=nonsense'], ['frobnicate'], ['superuser', 'upsert']]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^error: /);
    }
  });

  test('every command has its --help (exit 0, its usage and its flags), also as "help COMMAND"', async () => {
    const flags: Record<string, string[]> = {
      serve: ['--http=', '--dir=', '--db=', '--origins=', '--hooksDir=', '--log-level=', '--shutdown-timeout='],
      superuser: ['--dir=', '--db='],
      migrate: ['--dir=', '--db='],
      'migrate-data': ['--from=', '--to='],
      typegen: ['--out=', '--for=', '--dir=', '--db='],
      'export-postman': ['--url=', '--environment=', '--identity=', '--authCollection=', '--dir=', '--db='],
    };
    for (const [command, expected] of Object.entries(flags)) {
      const forms =
        command === 'serve'
          ? [
              [command, '--help'],
              [command, '-h'],
              ['help', command],
            ]
          : [[command, '--help']];
      for (const args of forms) {
        const r = await run(args);
        expect(r.code, args.join(' ')).toBe(0);
        expect(r.stderr).toBe('');
        expect(r.stdout).toContain(`Usage: mainspring ${command}`);
        for (const flag of expected) expect(r.stdout, `${args.join(' ')} ${flag}`).toContain(`  ${flag}`);
      }
    }
    // even after a mistyped flag, --help helps
    expect((await run(['serve', '--htp=1', '--help'])).code).toBe(0);
  });

  test('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    for (const flag of ['--version', '-v', 'version']) {
      const r = await run([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });

  test('an unknown flag is named with the nearest known one', async () => {
    const cases: [string[], string][] = [
      [['serve', '--htp=127.0.0.1:1'], 'error: unknown flag --htp; did you mean --http?'],
      [['serve', '--log-levle=debug'], 'error: unknown flag --log-levle; did you mean --log-level?'],
      [['serve', '--shutdown-timout=5'], 'error: unknown flag --shutdown-timout; did you mean --shutdown-timeout?'],
      [['serve', '--hooksdir=x'], 'error: unknown flag --hooksdir; did you mean --hooksDir?'],
      [['typegen', '--ot=x.ts'], 'error: unknown flag --ot; did you mean --out?'],
      [['serve', '--frobnicate'], 'error: unknown flag --frobnicate; run "mainspring serve --help"'],
    ];
    for (const [args, message] of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim()).toBe(message);
    }
  });

  test('a bad --log-level or --shutdown-timeout is a usage error before anything starts', async () => {
    for (const args of [
      ['serve', '--log-level=loud'],
      ['serve', '--shutdown-timeout=soon'],
      ['serve', '--shutdown-timeout=0'],
    ]) {
      const r = await run([...args, `--dir=${join(dir, 'never')}`]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^error: invalid (log level|--shutdown-timeout)/);
    }
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });

  test.skipIf(!existsSync('/usr/bin/script'))(
    'on a terminal serve prints coloured lines, not JSON (through a pipe: test/shutdown.test.ts)',
    async () => {
      const port = await freePort();
      const data = join(dir, 'tty');
      const env = await envFor([`--dir=${data}`]);
      // script(1) gives the command a terminal of its own
      const command = `${process.execPath} ${BIN} serve --http=127.0.0.1:${port} --dir=${data} --log-level=info`;
      const child = spawn('script', ['-qfec', command, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      try {
        const deadline = Date.now() + 20_000;
        while (!out.includes('Mainspring is serving') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        await fetch(`http://127.0.0.1:${port}/api/health`);
        while (!out.includes('/api/health') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      } finally {
        child.kill('SIGTERM');
        await exited(child);
      }
      expect(out).toContain('Mainspring is serving');
      expect(out).toContain('/api/health');
      // ANSI colours, and no JSON line
      expect(out).toContain('\u001b[');
      expect(out).not.toContain('{"level"');
    },
    30_000,
  );

  test('a data dir that cannot be written is a clear error', async () => {
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    const r = await run(['serve', `--dir=${join(file, 'data')}`, '--http=127.0.0.1:0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot write the data directory .*ENOTDIR/);
  });

  test('a port in use is a clear error', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await run(['serve', `--http=127.0.0.1:${port}`, `--dir=${join(dir, 'busy')}`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`error: 127.0.0.1:${port} is already in use`);
    } finally {
      blocker.close();
    }
  });

  // eight processes, each opening the app: it can take a minute on a loaded machine
  test('migrate applies the schema; superuser upsert creates, updates and deletes', async () => {
    const data = join(dir, 'app');
    expect((await run(['migrate', `--dir=${data}`])).stdout).toContain('Migrations are up to date');
    expect((await run(['superuser', 'upsert', 'root@example.com', 'first-password', `--dir=${data}`])).stdout).toContain(
      'Created superuser',
    );
    expect((await run(['superuser', 'upsert', 'root@example.com', 'second-password', `--dir=${data}`])).stdout).toContain(
      'Updated superuser',
    );
    const short = await run(['superuser', 'create', 'other@example.com', 'short', `--dir=${data}`]);
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/^error: Failed to create record\. \(password: Must be at least 8/);

    const port = await freePort();
    const child = await startServe(data, port);
    try {
      const login = (password: string) =>
        fetch(`http://127.0.0.1:${port}/api/collections/_superusers/auth-with-password`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ identity: 'root@example.com', password }),
        });
      expect((await login('first-password')).status).toBe(400);
      expect((await login('second-password')).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await exited(child);
    }
    // as PocketBase, the only superuser cannot be deleted; once there is another, it can
    const only = await run(['superuser', 'delete', 'root@example.com', `--dir=${data}`]);
    expect(only.code).toBe(1);
    expect(only.stderr).toMatch(/^error: You can't delete the only existing superuser/);
    expect((await run(['superuser', 'create', 'other@example.com', 'other-password', `--dir=${data}`])).stdout).toContain(
      'Created superuser',
    );
    expect((await run(['superuser', 'delete', 'root@example.com', `--dir=${data}`])).stdout).toContain('Deleted superuser');
  }, 120_000);

  test('SIGTERM lets an in-flight request finish, then exits cleanly', async () => {
    const port = await freePort();
    const data = join(dir, 'drain');
    const child = await startServe(data, port);
    // a request whose body arrives slowly is in flight when the signal comes
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/api/collections/users/records',
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          let body = '';
          res.on('data', (d) => {
            body += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.write('{"email":"slow@example.com",');
      setTimeout(() => {
        child.kill('SIGTERM');
        setTimeout(() => req.end('"password":"password123","passwordConfirm":"password123"}'), 300);
      }, 100);
    });
    const res = await response;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).id).toMatch(/^[a-z0-9]{15}$/);
    expect(await exited(child)).toBe(0);

    // the write is durable: a new server sees it
    const again = await startServe(data, port);
    try {
      const list = await fetch(`http://127.0.0.1:${port}/api/collections/users/auth-with-password`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ identity: 'slow@example.com', password: 'password123' }),
      });
      expect(list.status).toBe(200);
    } finally {
      again.kill('SIGTERM');
      await exited(again);
    }
  });

  test('broken hooks: serve says where, waits for the fix, then serves the fixed hooks', async () => {
    const project = join(dir, 'hooked');
    const hooks = join(project, 'ms_hooks');
    mkdirSync(hooks, { recursive: true });
    writeFileSync(join(hooks, 'ping.ts'), 'export default (ms: unknown) => {\n  const x = ;\n};\n');
    const port = await freePort();
    const dataDir = join(project, 'ms_data');
    const child = spawn(process.execPath, [BIN, 'serve', `--http=127.0.0.1:${port}`, `--dir=${dataDir}`], {
      env: await envFor([`--dir=${dataDir}`]),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    let out = '';
    child.stderr?.on('data', (d) => {
      err += d;
    });
    child.stdout?.on('data', (d) => {
      out += d;
    });
    // the server's own words mark its progress; the test's timeout bounds the waits
    // (a reload type-checks the hooks afresh, which takes seconds on a loaded machine)
    const until = async (done: () => boolean) => {
      while (!done() && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    };
    try {
      // through the logger, on stdout (JSON lines when it is no terminal)
      await until(() => out.includes('it will try again'));
      expect(out).toContain('ping.ts:2:12');
      expect(out).toContain('const x = ;');
      expect(err).toBe('');
      // still running, not serving
      expect(child.exitCode).toBe(null);
      expect(out).not.toContain('is serving');
      writeFileSync(
        join(hooks, 'ping.ts'),
        "export default (ms: any) => {\n  ms.routerAdd('GET', '/api/ping', () => ({ pong: true }));\n};\n",
      );
      await until(() => out.includes('is serving'));
      expect(child.exitCode).toBe(null);
      const res = await fetch(`http://127.0.0.1:${port}/api/ping`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ pong: true });
    } finally {
      child.kill('SIGKILL');
      await exited(child);
    }
  }, 60_000);

  test('a PostgreSQL server that does not answer is a clear error; serve keeps trying and says why', async () => {
    const port = await freePort();
    const url = `postgres://postgres@127.0.0.1:${port}/nothing`;
    const r = await run(['migrate', `--db=${url}`, `--dir=${join(dir, 'pg-down')}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: PostgreSQL at 127\.0\.0\.1:\d+\/nothing is not accepting connections/);

    const child = spawn(process.execPath, [BIN, 'serve', `--db=${url}`, `--dir=${join(dir, 'pg-down')}`, '--http=127.0.0.1:0'], {
      env: { ...process.env, MS_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (d) => {
      out += d;
    });
    const deadline = Date.now() + 5000;
    while (!/trying again/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    await exited(child);
    expect(out).toMatch(/not accepting connections.*trying again in/);
  });

  test.runIf(TEST_POSTGRES_URL)('wrong PostgreSQL credentials and a missing database are clear errors', async () => {
    const missing = new URL(TEST_POSTGRES_URL);
    missing.pathname = `/ms_missing_${Date.now()}`;
    const r = await run(['migrate', `--db=${missing}`, `--dir=${join(dir, 'pg-missing')}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: the database of .* does not exist/);
    const wrong = new URL(TEST_POSTGRES_URL);
    wrong.username = `ms_nobody_${Date.now()}`;
    const w = await run(['migrate', `--db=${wrong}`, `--dir=${join(dir, 'pg-wrong')}`]);
    expect(w.code).toBe(1);
    expect(w.stderr).toMatch(/^error: PostgreSQL at .* refused the credentials|^error: the database of/);
  });
});
