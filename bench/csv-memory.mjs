#!/usr/bin/env node
// CSV in and out of a server at scale: --rows records (default 100000)
// imported as JSON lines through POST /api/ms/collections/{c}/import
// (mode=batch), then exported through GET …/export.csv, twice: the first
// tenth of the rows (a filter) and all of them. The server's RSS is sampled
// every 50 ms; a streamed export holds one batch, so its peak should not
// grow with the number of rows, nor from one export to the next. `--pg=URL` runs on PostgreSQL (a fresh
// database on that server). Prints one JSON line.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { api, cleanupStack, freePort, freshDatabase, positiveInt, rssBytes, startChild, waitForHealth } from './lib.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'packages/mainspring/dist/cli/main.js');
const log = (msg) => process.stderr.write(`[csv-memory] ${msg}\n`);
const stack = cleanupStack(log);
const { values } = parseArgs({ options: { rows: { type: 'string' }, pg: { type: 'string' } } });
const ROWS = positiveInt('rows', values.rows, 100_000);
const mib = (b) => Math.round((b / 2 ** 20) * 10) / 10;

/** Runs `work` while sampling the server's RSS; resolves with its result, the peak and the seconds it took. */
async function sampled(pid, work) {
  const before = rssBytes(pid) ?? 0;
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid) ?? 0);
  }, 50);
  const started = performance.now();
  try {
    const result = await work();
    return { result, seconds: Math.round((performance.now() - started) / 10) / 100, rss_before_mib: mib(before), rss_peak_mib: mib(peak) };
  } finally {
    clearInterval(timer);
  }
}

/** Reads an export as it streams, keeping only counts. */
async function drainCsv(res) {
  if (res.status !== 200) throw new Error(`export: ${res.status} ${await res.text()}`);
  let bytes = 0;
  let lines = 0;
  for await (const chunk of res.body) {
    bytes += chunk.length;
    for (const b of chunk) if (b === 10) lines++;
  }
  return { bytes, lines };
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-csv-memory-'));
  stack.cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const env = { MS_LOG_LEVEL: 'warn', MS_AUTOMIGRATE: 'off' };
  if (values.pg)
    env.DATABASE_URL = await freshDatabase(values.pg, `ms_csv_${Date.now().toString(36)}`, (drop) => stack.cleanups.push(drop));
  await promisify(execFile)(process.execPath, [CLI, 'superuser', 'upsert', 'su@example.com', 'password-123', `--dir=${dir}`], {
    env: { ...process.env, ...env },
  });
  const port = await freePort('127.0.0.1');
  const base = `http://127.0.0.1:${port}`;
  const server = startChild(stack, 'mainspring', [process.execPath, [CLI, 'serve', `--http=127.0.0.1:${port}`, `--dir=${dir}`]], { env });
  await waitForHealth(base, () => (server.exit ? server.describeExit() : undefined));
  const su = (
    await api(base, 'POST', '/api/collections/_superusers/auth-with-password', {
      body: { identity: 'su@example.com', password: 'password-123' },
    })
  ).json.token;
  const created = await api(base, 'POST', '/api/collections', {
    token: su,
    body: {
      name: 'rows',
      type: 'base',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'n', type: 'number' },
        { name: 'tags', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
        { name: 'data', type: 'json' },
        { name: 'flag', type: 'bool' },
      ],
      indexes: ['CREATE INDEX `idx_rows_n` ON `rows` (`n`)'],
    },
  });
  if (created.status !== 200) throw new Error(`collection: ${JSON.stringify(created.json)}`);

  async function* lines() {
    for (let i = 0; i < ROWS; i++) {
      const row = {
        title: `row ${i} ${'lorem ipsum '.repeat(i % 5)}`,
        n: i,
        tags: i % 2 ? ['a', 'c'] : ['b'],
        data: { i, even: i % 2 === 0 },
        flag: i % 3 === 0,
      };
      yield `${JSON.stringify(row)}\n`;
    }
  }
  const pid = server.proc.pid;
  const imported = await sampled(pid, async () => {
    const res = await fetch(`${base}/api/ms/collections/rows/import?mode=batch&batchSize=1000`, {
      method: 'POST',
      headers: { authorization: su, 'content-type': 'application/x-ndjson' },
      body: Readable.from(lines()),
      duplex: 'half',
    });
    const report = await res.json();
    if (res.status !== 200) throw new Error(`import: ${res.status} ${JSON.stringify(report).slice(0, 500)}`);
    return report;
  });
  await new Promise((r) => setTimeout(r, 1000));
  const tenth = Math.floor(ROWS / 10);
  const small = await sampled(pid, async () =>
    drainCsv(
      await fetch(`${base}/api/ms/collections/rows/export.csv?filter=${encodeURIComponent(`n < ${tenth}`)}`, {
        headers: { authorization: su },
      }),
    ),
  );
  const whole = await sampled(pid, async () =>
    drainCsv(await fetch(`${base}/api/ms/collections/rows/export.csv`, { headers: { authorization: su } })),
  );
  if (whole.result.lines !== ROWS + 1) throw new Error(`export: ${whole.result.lines} lines for ${ROWS} rows`);
  // once more: a peak that grew again would be memory kept from the first
  const again = await sampled(pid, async () =>
    drainCsv(await fetch(`${base}/api/ms/collections/rows/export.csv`, { headers: { authorization: su } })),
  );
  console.log(
    JSON.stringify({
      engine: values.pg ? 'postgres' : 'sqlite',
      rows: ROWS,
      import: {
        seconds: imported.seconds,
        rows_per_s: Math.round(ROWS / imported.seconds),
        created: imported.result.created,
        rss_before_mib: imported.rss_before_mib,
        rss_peak_mib: imported.rss_peak_mib,
      },
      export_tenth: {
        rows: small.result.lines - 1,
        mib: mib(small.result.bytes),
        seconds: small.seconds,
        rss_before_mib: small.rss_before_mib,
        rss_peak_mib: small.rss_peak_mib,
      },
      export_all: {
        rows: whole.result.lines - 1,
        mib: mib(whole.result.bytes),
        seconds: whole.seconds,
        rows_per_s: Math.round(ROWS / whole.seconds),
        rss_before_mib: whole.rss_before_mib,
        rss_peak_mib: whole.rss_peak_mib,
      },
      export_all_again: { seconds: again.seconds, rss_before_mib: again.rss_before_mib, rss_peak_mib: again.rss_peak_mib },
    }),
  );
}

main().then(
  () => stack.exit(0),
  (err) => {
    log(err.stack ?? String(err));
    stack.exit(1);
  },
);
