import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';

/** The README's Express example runs as written: the page, the API and a route added in code, on one port. */

const dir = mkdtempSync(join(tmpdir(), 'ms-example-express-'));
let child: ChildProcess | undefined;

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((done) => child?.once('exit', done));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
  const port = (probe.address() as { port: number }).port;
  await new Promise((done) => probe.close(done));
  return port;
}

test('examples/express/server.mjs serves the page and the API under /backend', async () => {
  const port = await freePort();
  child = spawn(process.execPath, [join(import.meta.dirname, 'server.mjs')], {
    env: { ...process.env, PORT: String(port), MS_DATA_DIR: join(dir, 'ms_data'), MS_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((done, fail) => {
    child?.stdout?.on('data', (chunk: Buffer) => chunk.toString().includes('listening on') && done());
    child?.once('exit', (code) => fail(new Error(`the example exited with ${code}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  expect(await (await fetch(`${base}/`)).text()).toContain('/backend/api/');
  expect(await (await fetch(`${base}/backend/api/health`)).json()).toEqual({ message: 'API is healthy.', code: 200, data: {} });
  expect(await (await fetch(`${base}/backend/api/hello`)).json()).toEqual({ hello: 'from a route added in code' });
});
