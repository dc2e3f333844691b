// `npm run bench -- --scenario=files` (or `node bench/files.mjs`): the
// memory and latency of streaming one large file to many clients that seek.
//
// It starts `mainspring serve` on a fresh temp data dir (as run.mjs does),
// uploads a 1 GiB file through the records API as one multipart stream,
// then has 50 clients read it in Range requests at random offsets for 20 s,
// as video players do (each at a player's pace, 4 MiB/s, and seeking
// often), while it samples the server's resident memory and
// open file descriptors from /proc. It prints one JSON line and a table:
// peak RSS against the idle baseline, time to first byte of the Range
// requests, bytes served, errors. Traffic stays on 127.0.0.1; the run has a
// time limit and removes its data dir (and database) at the end, on
// failure and on Ctrl-C. See README.md.
//
// With --s3 the file lives in an S3 bucket: an S3-protocol server (s3rver, a
// devDependency) runs in a process of its own on 127.0.0.1, and the server
// is pointed at it by MS_S3_* as a container would be; the RSS measured is
// Mainspring's alone, which then streams every range from S3.
//
// The file's content is a function of the offset (each 8 bytes hold their
// own offset, little-endian), so every response is checked where it starts
// without keeping the file anywhere on the client.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { api, cleanupStack, cpuSeconds, freePort, freshDatabase, percentile, positiveInt, rssBytes, waitForHealth } from './lib.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'packages/mainspring/dist/cli/main.js');
const HOST = '127.0.0.1'; // all traffic stays on loopback
const SU_EMAIL = 'bench-admin@example.com';
const USER_EMAIL = 'bench-user@example.com';
const PASSWORD = 'bench-password-123';
const MiB = 1024 * 1024;
const CHUNK = MiB; // the upload is generated a chunk at a time

const USAGE = `Usage: npm run bench -- --scenario=files [options]
       node bench/files.mjs [options]

  --size-mb=N         size of the file, in MiB (default 1024)
  --clients=N         concurrent clients (default 50)
  --rate=N            MiB/s each client reads at most, as a player does (default 4, 32 Mbit/s;
                      0: as fast as it can, which measures throughput rather than a player's wait)
  --duration=S        seconds of load (default 20)
  --quick             256 MiB and 5 s
  --s3                keep the file in S3: an s3rver process on 127.0.0.1 (its RSS is not counted)
  --postgres          run the server on PostgreSQL: a fresh database on the server named by
                      --postgres-url (default MS_TEST_POSTGRES_URL, else postgres://postgres@127.0.0.1:5432/postgres),
                      dropped at the end
`;

const log = (msg) => process.stderr.write(`[bench files] ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function readOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      'size-mb': { type: 'string' },
      clients: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      quick: { type: 'boolean', default: false },
      postgres: { type: 'boolean', default: false },
      s3: { type: 'boolean', default: false },
      'postgres-url': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  return {
    sizeBytes: positiveInt('size-mb', values['size-mb'], values.quick ? 256 : 1024) * MiB,
    clients: positiveInt('clients', values.clients, 50),
    rate: values.rate === '0' ? 0 : positiveInt('rate', values.rate, 4) * MiB,
    duration: positiveInt('duration', values.duration, values.quick ? 5 : 20),
    postgres: values.postgres || values['postgres-url'] !== undefined,
    s3: values.s3,
    postgresUrl: values['postgres-url'] ?? process.env.MS_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  };
}

// ---------------------------------------------------------------------------
// Clean-up: everything started registers how to undo itself; it runs once, in
// reverse order, on success, failure, Ctrl-C and the time limit alike.

let loadOver = false; // requests cut at the end of the load are no errors
const openRequests = new Set(); // destroyed when the load ends and on abort
const stack = cleanupStack(log, () => {
  for (const req of openRequests) req.destroy();
});
const { cleanups, exit, abort } = stack;

// ---------------------------------------------------------------------------
// The server

/** A fresh database for the run (dropped on clean-up); '' for SQLite. */
async function benchDatabase(opts) {
  if (!opts.postgres) return '';
  const name = `ms_bench_files_${Date.now().toString(36)}_${process.pid}`;
  const url = await freshDatabase(opts.postgresUrl, name, (drop) => cleanups.push(drop));
  log(`PostgreSQL database ${name} on ${new URL(url).host}`);
  return url;
}

/**
 * With --s3: an s3rver process serving a `files` bucket from `dir` on a free
 * port (stopped on clean-up), and the environment that points Mainspring at it.
 */
async function startS3(dir) {
  const port = await freePort(HOST);
  const code = `
    const S3rver = require('s3rver');
    new S3rver({ address: '${HOST}', port: ${port}, directory: process.argv[1], silent: true, configureBuckets: [{ name: 'files' }] })
      .run().then(() => console.log('listening'));`;
  fs.mkdirSync(dir, { recursive: true });
  const proc = spawn(process.execPath, ['-e', code, dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(async () => {
    proc.kill('SIGTERM');
    await new Promise((resolve) => (proc.exitCode !== null ? resolve() : proc.once('exit', resolve)));
  });
  await new Promise((resolve, reject) => {
    proc.stdout.on('data', (d) => d.toString().includes('listening') && resolve());
    proc.once('exit', (code) => reject(new Error(`s3rver exited (${code})`)));
  });
  log(`s3rver on ${HOST}:${port} (pid ${proc.pid})`);
  return {
    MS_S3_BUCKET: 'files',
    MS_S3_REGION: 'us-east-1',
    MS_S3_ENDPOINT: `http://${HOST}:${port}`,
    MS_S3_ACCESS_KEY: 'S3RVER',
    MS_S3_SECRET: 'S3RVER',
    MS_S3_FORCE_PATH_STYLE: 'true',
  };
}

/** Starts `mainspring serve`, keeping the tail of its output; stopped (SIGTERM, then SIGKILL) on clean-up. */
function startServer(dir, port, databaseUrl, s3Env = {}) {
  // MS_BENCH_NODE_ARGS passes node flags to the server only (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")
  const nodeArgs = (process.env.MS_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const proc = spawn(
    process.execPath,
    [...nodeArgs, CLI, 'serve', `--http=${HOST}:${port}`, `--dir=${dir}`, `--hooksDir=${path.join(dir, 'no-hooks')}`],
    {
      cwd: ROOT,
      env: { ...process.env, MS_LOG_LEVEL: 'warn', MS_AUTOMIGRATE: 'off', DATABASE_URL: databaseUrl, ...s3Env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const server = { proc, tail: [], exit: undefined };
  const keep = (chunk) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line) continue;
      server.tail.push(line);
      if (server.tail.length > 40) server.tail.shift();
    }
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  server.exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      server.exit = { code, signal };
      if (!stack.shuttingDown && !server.stopping)
        abort(`the server exited (${signal ?? code}); last output:\n  ${server.tail.join('\n  ')}`, 1);
      resolve();
    });
  });
  cleanups.push(async () => {
    if (server.exit) return;
    server.stopping = true;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await server.exited;
    clearTimeout(timer);
  });
  return server;
}

// ---------------------------------------------------------------------------
// What the server uses, from /proc (Linux)

/** How many of a process's descriptors are open on files under `dir` (a read stream left open would show here). */
function openFilesUnder(pid, dir) {
  try {
    let n = 0;
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(dir)) n++;
      } catch {
        // closed meanwhile
      }
    }
    return n;
  } catch {
    return undefined;
  }
}

/** Samples a process's RSS every `everyMs` into phases; `phase(name)` starts a new one. */
function rssSampler(pid, everyMs = 50) {
  const phases = new Map();
  let current = [];
  const take = () => {
    const v = rssBytes(pid);
    if (v !== undefined) current.push(v);
  };
  const timer = setInterval(take, everyMs);
  timer.unref();
  return {
    phase(name) {
      current = [];
      phases.set(name, current);
      take();
    },
    peak: (name) => Math.max(...(phases.get(name) ?? [Number.NaN])),
    median: (name) =>
      percentile(
        [...(phases.get(name) ?? [])].sort((a, b) => a - b),
        50,
      ),
    stop: () => clearInterval(timer),
  };
}

// ---------------------------------------------------------------------------
// The file: each 8 bytes hold their own offset (u64 little-endian)

/** The file's bytes from `offset` (a multiple of 8), `length` of them (a multiple of 8). */
function contentAt(offset, length) {
  const buf = Buffer.allocUnsafe(length);
  const words = new Uint32Array(buf.buffer, buf.byteOffset, length / 4);
  for (let i = 0, at = offset; i < words.length; i += 2, at += 8) {
    words[i] = at % 0x100000000;
    words[i + 1] = Math.floor(at / 0x100000000);
  }
  return buf;
}

/** Whether `chunk`, the first bytes of a response starting at `offset`, are the file's. */
function startsRight(chunk, offset) {
  const skip = (8 - (offset % 8)) % 8; // to the first whole word
  if (chunk.length < skip + 8) return true; // too short to judge; later chunks are not checked
  const at = offset + skip;
  return chunk.readUInt32LE(skip) === at % 0x100000000 && chunk.readUInt32LE(skip + 4) === Math.floor(at / 0x100000000);
}

/**
 * Creates the record with the file in one multipart POST, generated and
 * written a MiB at a time with backpressure: neither side holds the file.
 */
function upload(base, token, userId, size) {
  const boundary = `----mainspring-bench-${Date.now().toString(36)}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nbench file\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="owner"\r\n\r\n${userId}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="blob"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/api/collections/media/records`, {
      method: 'POST',
      headers: {
        authorization: token,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': head.length + size + tail.length,
      },
    });
    openRequests.add(req);
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        text += d;
      });
      res.on('end', () => {
        openRequests.delete(req);
        if (res.statusCode !== 200) reject(new Error(`upload -> ${res.statusCode}: ${text.slice(0, 500)}`));
        else resolve(JSON.parse(text));
      });
    });
    (async () => {
      const wrote = (buf) => (req.write(buf) ? undefined : new Promise((r) => req.once('drain', r)));
      await wrote(head);
      for (let at = 0; at < size; at += CHUNK) await wrote(contentAt(at, Math.min(CHUNK, size - at)));
      req.end(tail);
    })().catch(reject);
  });
}

// ---------------------------------------------------------------------------
// The clients

const randomInt = (min, max) => min + Math.floor(Math.random() * (max - min + 1));

/**
 * One Range request as a player makes it. Most are open-ended
 * (`bytes=X-`): read some (256 KiB to 8 MiB) and drop the rest, as a player
 * does when the viewer seeks; the others ask for a closed range (4 KiB to
 * 2 MiB) and read it all, on a kept-alive connection. With `rate`, it reads
 * no faster than that many bytes a second, and the server must hold back.
 */
function rangeRequest(base, filePath, size, agent, rate, stats) {
  const start = randomInt(0, size - 1);
  const open = Math.random() < 0.7;
  const want = open ? randomInt(256 * 1024, 8 * MiB) : randomInt(4 * 1024, 2 * MiB);
  const end = Math.min(size - 1, start + want - 1);
  const range = open ? `bytes=${start}-` : `bytes=${start}-${end}`;
  return new Promise((resolve) => {
    const began = performance.now();
    let got = 0;
    let first = true;
    let finished = false;
    const req = http.get(`${base}${filePath}`, { agent, headers: { range } });
    openRequests.add(req);
    const done = (error) => {
      if (finished) return;
      finished = true;
      openRequests.delete(req);
      stats.bytes += got;
      if (error && !stack.shuttingDown && !loadOver) {
        stats.errors++;
        stats.errorKinds[error] = (stats.errorKinds[error] ?? 0) + 1;
      } else if (!error || loadOver) stats.requests++;
      resolve();
    };
    req.on('error', (err) => done(got >= Math.min(want, end - start + 1) ? undefined : `socket: ${err.code ?? err.message}`));
    req.on('response', (res) => {
      if (res.statusCode !== 206) {
        res.resume();
        return done(`status ${res.statusCode}`);
      }
      const expected = `bytes ${start}-${open ? size - 1 : end}/${size}`;
      if (res.headers['content-range'] !== expected) {
        req.destroy();
        return done('wrong Content-Range');
      }
      const stopAt = open ? Math.min(want, size - start) : end - start + 1;
      const windowStart = performance.now();
      res.on('data', (chunk) => {
        if (first) {
          first = false;
          stats.ttfb.push(performance.now() - began);
          if (!startsRight(chunk, start)) {
            req.destroy();
            return done('wrong bytes');
          }
        }
        got += chunk.length;
        if (got >= stopAt) {
          if (open) req.destroy(); // the player seeks elsewhere: drop the connection, as browsers do
          return done();
        }
        if (rate) {
          // read no faster than `rate`: pause until the bytes so far are due
          const due = windowStart + (got / rate) * 1000;
          const wait = due - performance.now();
          if (wait > 1) {
            res.pause();
            setTimeout(() => res.resume(), wait);
          }
        }
      });
      res.on('end', () => done(got >= stopAt ? undefined : 'short body'));
      res.on('error', () => done(got >= stopAt ? undefined : 'aborted body'));
    });
  });
}

async function client(ctx, rate, until, stats) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  while (performance.now() < until && !stack.shuttingDown && !loadOver) {
    await rangeRequest(ctx.base, ctx.filePath, ctx.size, agent, rate, stats);
  }
  agent.destroy();
}

// ---------------------------------------------------------------------------

async function main() {
  const opts = readOptions(process.argv.slice(2));
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing; run "npm run build" (npm run bench does it)`);
  // setup and upload (generously 20 s a GiB), the load, and a minute of slack
  const limitMs = 60_000 + (opts.sizeBytes / (1024 * MiB)) * 120_000 + opts.duration * 1000;
  setTimeout(() => abort(`time limit of ${Math.round(limitMs / 1000)} s reached`, 1), limitMs).unref();
  log(
    `node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(2)}; ${opts.sizeBytes / MiB} MiB file, ` +
      `${opts.clients} clients reading ${opts.rate ? `at ${opts.rate / MiB} MiB/s each` : 'as fast as they can'}, ${opts.duration} s, ` +
      `on ${opts.postgres ? 'PostgreSQL' : 'SQLite'}, files ${opts.s3 ? 'in S3 (s3rver)' : 'on disk'}`,
  );

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mainspring-bench-files-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true })); // runs after the server stopped
  log(`data dir ${dir}`);
  const free = fs.statfsSync(dir);
  // s3rver keeps the parts of a multipart upload, then the object: one copy more
  const need = opts.sizeBytes * (opts.s3 ? 3.2 : 2.2);
  if (free.bavail * free.bsize < need) {
    throw new Error(`${dir} has ${Math.round((free.bavail * free.bsize) / MiB)} MiB free; the upload needs ${Math.round(need / MiB)} MiB`);
  }
  const s3Env = opts.s3 ? await startS3(path.join(dir, 's3')) : {};
  const databaseUrl = await benchDatabase(opts);
  await promisify(execFile)(process.execPath, [CLI, 'superuser', 'upsert', SU_EMAIL, PASSWORD, `--dir=${dir}`], {
    cwd: ROOT,
    env: { ...process.env, MS_LOG_LEVEL: 'warn', MS_AUTOMIGRATE: 'off', DATABASE_URL: databaseUrl },
    timeout: 60_000,
  });
  const port = await freePort(HOST);
  const base = `http://${HOST}:${port}`;
  const server = startServer(dir, port, databaseUrl, s3Env);
  await waitForHealth(base, () => (server.exit ? 'the server exited during start-up' : undefined));
  const pid = server.proc.pid;
  log(`mainspring serving ${base} (pid ${pid})`);

  const su = (
    await api(base, 'POST', '/api/collections/_superusers/auth-with-password', { body: { identity: SU_EMAIL, password: PASSWORD } })
  ).json.token;
  // one address asks for everything: the per-IP limits would rightly refuse it
  await api(base, 'PATCH', '/api/settings', { token: su, body: { rateLimits: { enabled: false } } });
  // the streaming example's rules (examples/streaming/setup.mjs) on a field that takes any type and the whole file
  await api(base, 'POST', '/api/collections', {
    token: su,
    body: {
      name: 'media',
      type: 'base',
      listRule: '@request.auth.id != ""',
      viewRule: '@request.auth.id != ""',
      createRule: '@request.auth.id != "" && owner = @request.auth.id',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'blob', type: 'file', maxSelect: 1, maxSize: opts.sizeBytes, protected: true },
        { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1, required: true },
      ],
    },
  });
  await api(base, 'POST', '/api/collections/users/records', { body: { email: USER_EMAIL, password: PASSWORD, passwordConfirm: PASSWORD } });
  const user = (
    await api(base, 'POST', '/api/collections/users/auth-with-password', { body: { identity: USER_EMAIL, password: PASSWORD } })
  ).json;

  const rss = rssSampler(pid);
  rss.phase('idle');
  await sleep(1_000);

  log(`uploading ${opts.sizeBytes / MiB} MiB`);
  rss.phase('upload');
  const uploadStart = performance.now();
  const record = await upload(base, user.token, user.record.id, opts.sizeBytes);
  const uploadSeconds = (performance.now() - uploadStart) / 1000;
  log(`uploaded in ${uploadSeconds.toFixed(1)} s (${Math.round(opts.sizeBytes / MiB / uploadSeconds)} MiB/s) as ${record.blob}`);

  // each token is valid 180 s, longer than any run
  const fileToken = (await api(base, 'POST', '/api/files/token', { token: user.token })).json.token;
  const ctx = {
    base,
    size: opts.sizeBytes,
    filePath: `/api/files/media/${record.id}/${encodeURIComponent(record.blob)}?token=${encodeURIComponent(fileToken)}`,
  };
  const check = await fetch(base + ctx.filePath, { headers: { range: 'bytes=800-815' } });
  const head = Buffer.from(await check.arrayBuffer());
  if (check.status !== 206 || !head.equals(contentAt(800, 16))) throw new Error(`the file does not read back: ${check.status}`);

  // the same requests one at a time, before the load: what a seek costs when nothing else runs
  const alone = { requests: 0, errors: 0, errorKinds: {}, bytes: 0, ttfb: [] };
  const oneAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < 200; i++) await rangeRequest(base, ctx.filePath, ctx.size, oneAgent, 0, alone);
  oneAgent.destroy();
  if (alone.errors > 0) throw new Error(`requests one at a time failed: ${JSON.stringify(alone.errorKinds)}`);
  const aloneTtfb = alone.ttfb.sort((a, b) => a - b);

  await sleep(2_000); // let the upload's garbage go
  rss.phase('before');
  await sleep(1_000);
  const storage = path.join(dir, 'storage');
  const fdsBefore = openFilesUnder(pid, storage);
  const cpuBefore = cpuSeconds(pid);
  const clientCpuBefore = process.cpuUsage();

  log(`${opts.clients} clients seeking for ${opts.duration} s`);
  rss.phase('load');
  let filesPeak = 0;
  const filesTimer = setInterval(() => {
    filesPeak = Math.max(filesPeak, openFilesUnder(pid, storage) ?? 0);
  }, 250);
  const stats = { requests: 0, errors: 0, errorKinds: {}, bytes: 0, ttfb: [] };
  const until = performance.now() + opts.duration * 1000;
  const started = performance.now();
  // at the end, requests in flight are cut (and counted with what they had read)
  const end = setTimeout(() => {
    loadOver = true;
    for (const req of openRequests) req.destroy();
  }, opts.duration * 1000);
  await Promise.all(Array.from({ length: opts.clients }, () => client(ctx, opts.rate, until, stats)));
  clearTimeout(end);
  clearInterval(filesTimer);
  const seconds = (performance.now() - started) / 1000;
  const cpuAfter = cpuSeconds(pid);
  const clientCpu = process.cpuUsage(clientCpuBefore);

  rss.phase('after');
  await sleep(2_000); // closed connections and read streams are released
  const fdsAfter = openFilesUnder(pid, storage);
  rss.stop();
  if (server.exit) throw new Error('the server exited during the run');

  const ttfb = stats.ttfb.sort((a, b) => a - b);
  const mb = (n) => Math.round(n / MiB);
  const line = {
    scenario: 'files',
    engine: opts.postgres ? 'postgres' : 'sqlite',
    storage: opts.s3 ? 's3' : 'local',
    file_mib: opts.sizeBytes / MiB,
    upload_seconds: Number(uploadSeconds.toFixed(1)),
    upload_mib_per_sec: Math.round(opts.sizeBytes / MiB / uploadSeconds),
    rss_idle_mib: mb(rss.median('idle')),
    rss_upload_peak_mib: mb(rss.peak('upload')),
    rss_baseline_mib: mb(rss.median('before')),
    rss_peak_mib: mb(rss.peak('load')),
    rss_growth_mib: mb(rss.peak('load') - rss.median('before')),
    clients: opts.clients,
    client_rate_mib_per_sec: opts.rate / MiB || null,
    seconds: Number(seconds.toFixed(1)),
    requests: stats.requests,
    requests_per_sec: Math.round(stats.requests / seconds),
    ttfb_alone_p50_ms: Number(percentile(aloneTtfb, 50).toFixed(1)),
    ttfb_alone_p99_ms: Number(percentile(aloneTtfb, 99).toFixed(1)),
    ttfb_p50_ms: Number(percentile(ttfb, 50).toFixed(1)),
    ttfb_p99_ms: Number(percentile(ttfb, 99).toFixed(1)),
    ttfb_max_ms: Number((ttfb.at(-1) ?? Number.NaN).toFixed(1)),
    served_mib: mb(stats.bytes),
    served_mib_per_sec: Math.round(stats.bytes / MiB / seconds),
    server_cpu_seconds: cpuBefore === undefined || cpuAfter === undefined ? null : Number((cpuAfter - cpuBefore).toFixed(1)),
    // the load generator shares the machine: on few cores its CPU is the server's wait
    client_cpu_seconds: Number(((clientCpu.user + clientCpu.system) / 1e6).toFixed(1)),
    open_files_before: fdsBefore,
    open_files_peak: filesPeak,
    open_files_after: fdsAfter,
    errors: stats.errors,
  };
  if (stats.errors > 0) line.detail = stats.errorKinds;
  process.stdout.write(`${JSON.stringify(line)}\n`);
  process.stdout.write(
    [
      '',
      `${line.engine}, files ${line.storage === 's3' ? 'in S3' : 'on disk'}, ${line.file_mib} MiB file, ${line.clients} clients at ${opts.rate ? `${opts.rate / MiB} MiB/s` : 'full speed'}, ${line.seconds} s, node ${process.version}, ${os.cpus().length} CPUs`,
      '',
      '| RSS idle | RSS peak during upload | RSS before load | RSS peak during load | growth | Range requests | TTFB p50 / p99 ms | alone p50 / p99 ms | served MiB/s | errors | open files before / peak / after |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      `| ${line.rss_idle_mib} MiB | ${line.rss_upload_peak_mib} MiB | ${line.rss_baseline_mib} MiB | ${line.rss_peak_mib} MiB | ${line.rss_growth_mib} MiB | ${line.requests} | ${line.ttfb_p50_ms} / ${line.ttfb_p99_ms} | ${line.ttfb_alone_p50_ms} / ${line.ttfb_alone_p99_ms} | ${line.served_mib_per_sec} | ${line.errors} | ${fdsBefore} / ${filesPeak} / ${fdsAfter} |`,
      '',
    ].join('\n'),
  );
  const logged = server.tail.filter((l) => !l.includes('Mainspring is serving'));
  if (logged.length > 0) log(`the server logged ${logged.length} line(s); last ones:\n  ${logged.slice(-10).join('\n  ')}`);
  return stats.errors > 0 ? 1 : 0;
}

process.on('SIGINT', () => abort('SIGINT', 130));
process.on('SIGTERM', () => abort('SIGTERM', 143));

main().then(
  (code) => exit(code),
  (err) => {
    log(`failed: ${err instanceof Error ? err.message : err}`);
    exit(1);
  },
);
