#!/usr/bin/env node
// Resident memory of a server while it makes a backup of a large data
// folder: --gib of stored files (default 1) written straight into its
// storage/ folder, then POST /api/backups, with the server's RSS sampled
// every 50 ms. Prints RSS before and at peak, and how long the backup took.
import { execFile } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { api, cleanupStack, freePort, rssBytes, startChild, waitForHealth } from './lib.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'packages/mainspring/dist/cli/main.js');
const log = (msg) => process.stderr.write(`[backup-memory] ${msg}\n`);
const stack = cleanupStack(log);
const { values } = parseArgs({ options: { gib: { type: 'string', default: '1' } } });
const bytes = Math.round(Number(values.gib) * 2 ** 30);

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-backup-memory-'));
  stack.cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  await promisify(execFile)(process.execPath, [CLI, 'superuser', 'upsert', 'su@example.com', 'password-123', `--dir=${dir}`], {
    env: { ...process.env, MS_LOG_LEVEL: 'warn', MS_AUTOMIGRATE: 'off' },
  });
  // 64 MiB files of random bytes (so the archive cannot compress them away)
  const chunk = Buffer.alloc(64 << 20);
  for (let written = 0, i = 0; written < bytes; written += chunk.length, i++) {
    const folder = path.join(dir, 'storage', 'pbc_bench', `record${String(i).padStart(9, '0')}`);
    fs.mkdirSync(folder, { recursive: true });
    randomFillSync(chunk);
    fs.writeFileSync(path.join(folder, `file_${i}.bin`), chunk);
  }
  const port = await freePort('127.0.0.1');
  const base = `http://127.0.0.1:${port}`;
  const server = startChild(stack, 'mainspring', [process.execPath, [CLI, 'serve', `--http=127.0.0.1:${port}`, `--dir=${dir}`]], {
    env: { MS_LOG_LEVEL: 'warn', MS_AUTOMIGRATE: 'off' },
  });
  await waitForHealth(base, () => (server.exit ? server.describeExit() : undefined));
  const su = (
    await api(base, 'POST', '/api/collections/_superusers/auth-with-password', {
      body: { identity: 'su@example.com', password: 'password-123' },
    })
  ).json.token;
  await new Promise((r) => setTimeout(r, 2000));
  const before = rssBytes(server.proc.pid);
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssBytes(server.proc.pid) ?? 0);
  }, 50);
  const started = Date.now();
  const res = await fetch(`${base}/api/backups`, {
    method: 'POST',
    headers: { authorization: su, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'big.zip' }),
  });
  if (res.status !== 204) throw new Error(`backup: ${res.status} ${await res.text()}`);
  const seconds = (Date.now() - started) / 1000;
  clearInterval(sampler);
  const size = fs.statSync(path.join(dir, 'backups', 'big.zip')).size;
  const mib = (b) => Math.round(b / 2 ** 20);
  console.log(
    JSON.stringify({ stored_mib: mib(bytes), archive_mib: mib(size), seconds, rss_before_mib: mib(before), rss_peak_mib: mib(peak) }),
  );
}

main().then(
  () => stack.exit(0),
  (err) => {
    log(err.stack ?? String(err));
    stack.exit(1);
  },
);
