#!/usr/bin/env node
// The soak: one server under mixed traffic (lists, views, creates, updates,
// deletes, sign-ins, uploads and downloads, realtime subscribers that stay
// and ones that come and go) at a steady rate for a set time. Every interval
// it prints what the server says of itself at /api/ms/metrics (resident
// memory, heap, open handles, event-loop lag) beside the client's count of
// requests and errors; at the end it fails if memory or handles grew
// without bound, or if any request failed. Traffic stays on 127.0.0.1.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { EventSource } from 'eventsource';
import { api, cleanupStack, freePort, freshDatabase, percentile, positiveInt, startChild, waitForHealth } from './lib.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'packages/mainspring/dist/cli/main.js');
const HOST = '127.0.0.1';
const PASSWORD = 'soak-password-123';
const SU_EMAIL = 'soak-admin@example.com';
const METRICS_TOKEN = `soak-${Math.random().toString(36).slice(2)}`;
const USERS = 10;
/** Posts kept about this many: creates add, deletes take the oldest beyond it, so the data stays the same size. */
const KEEP_POSTS = 2_000;
/** More requests than this in flight and the next are skipped (and counted): the server is not keeping up. */
const MAX_IN_FLIGHT = 64;
const FILE = Buffer.alloc(64 << 10, 7);

const USAGE = `Usage: node bench/soak.mjs [options]

  --minutes=N        how long to run (default 10)
  --interval=S       seconds between two reports (default 60)
  --rate=N           operations per second, all kinds together (default 150; an upload is three requests)
  --subscribers=N    realtime clients that stay connected (default 20)
  --postgres         run on PostgreSQL: a fresh database on --postgres-url (default MS_TEST_POSTGRES_URL,
                     else postgres://postgres@127.0.0.1:5432/postgres), dropped at the end

It fails (exit 1) when a request fails, when resident memory at the end is
more than max(64 MiB, 25%) above what it was a quarter into the run, or when
open handles grew by more than 50 over the same span.`;

const log = (msg) => process.stderr.write(`[soak] ${msg}\n`);
const stack = cleanupStack(log);

function readOptions() {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string' },
      interval: { type: 'string' },
      rate: { type: 'string' },
      subscribers: { type: 'string' },
      postgres: { type: 'boolean', default: false },
      'postgres-url': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  return {
    minutes: positiveInt('minutes', values.minutes, 10),
    interval: positiveInt('interval', values.interval, 60),
    rate: positiveInt('rate', values.rate, 150),
    subscribers: values.subscribers === '0' ? 0 : positiveInt('subscribers', values.subscribers, 20),
    postgresUrl: values.postgres
      ? (values['postgres-url'] ?? process.env.MS_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres')
      : undefined,
  };
}

/** A fresh data folder, a superuser, the server, the posts collection and its users. */
async function setUp(opts) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mainspring-soak-'));
  stack.cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const databaseUrl = opts.postgresUrl
    ? await freshDatabase(opts.postgresUrl, `ms_soak_${Date.now().toString(36)}`, (undo) => stack.cleanups.push(undo))
    : '';
  const env = { MS_LOG_LEVEL: 'warn', MS_AUTOMIGRATE: 'off', DATABASE_URL: databaseUrl, MS_METRICS_TOKEN: METRICS_TOKEN };
  await promisify(execFile)(process.execPath, [CLI, 'superuser', 'upsert', SU_EMAIL, PASSWORD, `--dir=${dir}`], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  const port = await freePort(HOST);
  const base = `http://${HOST}:${port}`;
  const server = startChild(
    stack,
    'mainspring',
    [process.execPath, [CLI, 'serve', `--http=${HOST}:${port}`, `--dir=${dir}`, `--hooksDir=${path.join(dir, 'none')}`]],
    {
      cwd: ROOT,
      env,
    },
  );
  server.onUnexpectedExit = () => stack.abort(server.describeExit(), 1);
  await waitForHealth(base, () => (server.exit ? server.describeExit() : undefined));
  log(`mainspring serving ${base} (pid ${server.proc.pid}), data in ${dir}${databaseUrl ? ' and PostgreSQL' : ''}`);

  const su = (
    await api(base, 'POST', '/api/collections/_superusers/auth-with-password', { body: { identity: SU_EMAIL, password: PASSWORD } })
  ).json.token;
  await api(base, 'PATCH', '/api/settings', {
    token: su,
    body: {
      rateLimits: { enabled: false },
      loginProtection: { maxFailures: 1000, maxFailuresPerIdentity: 1000000, lockSeconds: 1, maxLockSeconds: 1 },
    },
  });
  const owner = 'author = @request.auth.id';
  await api(base, 'POST', '/api/collections', {
    token: su,
    body: {
      name: 'posts',
      type: 'base',
      listRule: '@request.auth.id != ""',
      viewRule: '@request.auth.id != ""',
      createRule: `@request.auth.id != "" && ${owner}`,
      updateRule: owner,
      deleteRule: owner,
      fields: [
        { name: 'title', type: 'text', max: 200 },
        { name: 'n', type: 'number' },
        { name: 'author', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1, required: true },
        { name: 'attachment', type: 'file', maxSelect: 1, maxSize: 1 << 20 },
      ],
      indexes: ['CREATE INDEX idx_posts_author ON posts (author)'],
    },
  });
  const users = [];
  for (let i = 0; i < USERS; i++) {
    const email = `soak-${i}@example.com`;
    await api(base, 'POST', '/api/collections/users/records', { body: { email, password: PASSWORD, passwordConfirm: PASSWORD } });
    const signed = (await api(base, 'POST', '/api/collections/users/auth-with-password', { body: { identity: email, password: PASSWORD } }))
      .json;
    users.push({ email, token: signed.token, id: signed.record.id, posts: [] });
  }
  for (let i = 0; i < KEEP_POSTS; i++) {
    const u = users[i % USERS];
    const made = await api(base, 'POST', '/api/collections/posts/records', {
      token: u.token,
      body: { title: `seed ${i}`, n: i, author: u.id },
    });
    u.posts.push(made.json.id);
  }
  return { base, users, server };
}

/** Counts of what the client saw, for the current interval and the whole run. */
class Tally {
  requests = 0;
  errors = 0;
  skipped = 0;
  events = 0;
  latencies = [];
  firstErrors = [];

  error(what) {
    this.errors++;
    if (this.firstErrors.length < 5) this.firstErrors.push(what);
  }
}

const pick = (list) => list[Math.floor(Math.random() * list.length)];

/** One request of the mix; resolves when its answer has been read whole. */
function operations(base) {
  const call = async (tally, method, urlPath, { token, body, form, expect = [200] } = {}) => {
    const started = performance.now();
    const headers = {};
    if (token) headers.authorization = token;
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      const res = await fetch(base + urlPath, {
        method,
        headers,
        body: form ?? (body === undefined ? undefined : JSON.stringify(body)),
        signal: AbortSignal.timeout(30_000),
      });
      const buf = Buffer.from(await res.arrayBuffer());
      tally.requests++;
      tally.latencies.push(performance.now() - started);
      if (!expect.includes(res.status)) {
        tally.error(`${method} ${urlPath.split('?')[0]} -> ${res.status} ${buf.toString('utf8', 0, 200)}`);
        return undefined;
      }
      return res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(buf.toString()) : buf;
    } catch (err) {
      tally.requests++;
      tally.error(`${method} ${urlPath.split('?')[0]}: ${err.message}`);
      return undefined;
    }
  };
  const create = async (tally, u, extra = {}) => {
    const made = await call(tally, 'POST', '/api/collections/posts/records', {
      token: u.token,
      body: { title: `post ${Date.now()}`, n: Math.floor(Math.random() * 1e6), author: u.id, ...extra },
    });
    if (made) u.posts.push(made.id);
    // the data set stays the same size: the oldest go
    if (u.posts.length > KEEP_POSTS / USERS)
      await call(tally, 'DELETE', `/api/collections/posts/records/${u.posts.shift()}`, { token: u.token, expect: [204] });
  };
  return [
    // [weight, operation]
    [
      30,
      (t, u) =>
        call(
          t,
          'GET',
          `/api/collections/posts/records?page=${1 + Math.floor(Math.random() * 20)}&perPage=20&filter=${encodeURIComponent(`author = "${u.id}"`)}`,
          { token: u.token },
        ),
    ],
    [
      10,
      (t, u) =>
        call(t, 'GET', `/api/collections/posts/records?perPage=10&sort=-n&filter=${encodeURIComponent('title ~ "post 1"')}`, {
          token: u.token,
        }),
    ],
    [25, (t, u) => (u.posts.length ? call(t, 'GET', `/api/collections/posts/records/${pick(u.posts)}`, { token: u.token }) : undefined)],
    [12, (t, u) => create(t, u)],
    [
      12,
      (t, u) =>
        u.posts.length
          ? call(t, 'PATCH', `/api/collections/posts/records/${pick(u.posts)}`, { token: u.token, body: { n: Math.random() } })
          : undefined,
    ],
    [
      3,
      async (t, u) => {
        const signed = await call(t, 'POST', '/api/collections/users/auth-with-password', {
          body: { identity: u.email, password: PASSWORD },
        });
        if (signed) u.token = signed.token;
      },
    ],
    [
      5,
      async (t, u) => {
        // an upload, its download (streamed whole), and its delete
        const form = new FormData();
        form.set('title', 'with a file');
        form.set('author', u.id);
        form.set('attachment', new Blob([FILE], { type: 'application/octet-stream' }), 'data.bin');
        const made = await call(t, 'POST', '/api/collections/posts/records', { token: u.token, form });
        if (!made) return;
        const file = await call(t, 'GET', `/api/files/posts/${made.id}/${made.attachment}`);
        if (file && file.length !== FILE.length) t.error(`download of ${made.attachment}: ${file.length} bytes, not ${FILE.length}`);
        await call(t, 'DELETE', `/api/collections/posts/records/${made.id}`, { token: u.token, expect: [204] });
      },
    ],
    [3, (t, u) => subscribeBriefly(base, u, t)],
  ];
}

/**
 * A realtime client: connects, subscribes to posts with the user's token,
 * and counts the events it gets; `close()` ends it.
 */
async function subscriber(base, u, tally) {
  const es = new EventSource(`${base}/api/realtime`);
  const clientId = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no PB_CONNECT within 10 s')), 10_000);
    es.addEventListener('PB_CONNECT', (e) => {
      clearTimeout(timer);
      resolve(JSON.parse(e.data).clientId);
    });
  });
  es.addEventListener('posts', () => received++);
  const res = await fetch(`${base}/api/realtime`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: u.token },
    body: JSON.stringify({ clientId, subscriptions: ['posts'] }),
  });
  await res.arrayBuffer();
  tally.requests++;
  if (res.status !== 204) tally.error(`POST /api/realtime -> ${res.status}`);
  return { close: () => es.close() };
}

/** A realtime client that comes, stays a few seconds and goes: handles must not pile up in the server. */
async function subscribeBriefly(base, u, tally) {
  try {
    const s = await subscriber(base, u, tally);
    setTimeout(s.close, 2_000 + Math.random() * 3_000);
  } catch (err) {
    tally.error(`realtime: ${err.message}`);
  }
}

/** The samples of /api/ms/metrics this script reports. */
async function serverSample(base) {
  const text = await (await fetch(`${base}/api/ms/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
  const value = (name) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? Number.NaN : Number(line.slice(name.length + 1));
  };
  return {
    rss: value('process_resident_memory_bytes'),
    heap: value('nodejs_heap_size_used_bytes'),
    handles: value('nodejs_active_handles_total'),
    lagP99: value('nodejs_eventloop_lag_p99_seconds'),
    realtime: value('mainspring_realtime_clients'),
  };
}

const mib = (b) => Math.round(b / (1 << 20));
/** Realtime messages every subscriber got so far. */
let received = 0;

async function main() {
  const opts = readOptions();
  process.on('SIGINT', () => stack.abort('SIGINT', 130));
  const { base, users } = await setUp(opts);
  const ops = operations(base);
  const weights = ops.reduce((sum, [w]) => sum + w, 0);
  const choose = () => {
    let r = Math.random() * weights;
    for (const [w, op] of ops) {
      r -= w;
      if (r < 0) return op;
    }
    return ops[0][1];
  };

  const total = new Tally();
  let interval = new Tally();
  const stays = [];
  for (let i = 0; i < opts.subscribers; i++) stays.push(await subscriber(base, users[i % USERS], interval));
  stack.cleanups.push(() => {
    for (const s of stays) s.close();
  });

  let inFlight = 0;
  const launch = () => {
    if (inFlight >= MAX_IN_FLIGHT) {
      interval.skipped++;
      return;
    }
    inFlight++;
    Promise.resolve(choose()(interval, pick(users))).finally(() => inFlight--);
  };
  // requests spread evenly over each second, 10 ticks of it
  let owed = 0;
  const pacer = setInterval(() => {
    owed += opts.rate / 10;
    for (; owed >= 1; owed--) launch();
  }, 100);
  stack.cleanups.unshift(() => clearInterval(pacer));

  const samples = [];
  const started = Date.now();
  const end = started + opts.minutes * 60_000;
  log(
    `${opts.minutes} min of mixed traffic at ${opts.rate} requests/s, ${opts.subscribers} realtime clients staying, a report every ${opts.interval} s`,
  );
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, Math.min(opts.interval * 1000, end - Date.now())));
    const s = await serverSample(base);
    const t = interval;
    interval = new Tally();
    t.events = received - total.events;
    const lat = t.latencies.sort((a, b) => a - b);
    for (const k of ['requests', 'errors', 'skipped', 'events']) total[k] += t[k];
    for (const e of t.firstErrors) if (total.firstErrors.length < 5) total.firstErrors.push(e);
    const at = ((Date.now() - started) / 60_000).toFixed(1);
    samples.push({ at: Number(at), ...s, errors: t.errors });
    console.log(
      JSON.stringify({
        minute: Number(at),
        requests: t.requests,
        per_sec: Math.round(t.requests / opts.interval),
        errors: t.errors,
        skipped: t.skipped,
        p50_ms: Math.round(percentile(lat, 50)),
        p99_ms: Math.round(percentile(lat, 99)),
        realtime_events: t.events,
        realtime_clients: s.realtime,
        rss_mib: mib(s.rss),
        heap_mib: mib(s.heap),
        handles: s.handles,
        event_loop_lag_p99_ms: Math.round(s.lagP99 * 1000),
      }),
    );
    for (const e of t.firstErrors) log(`error: ${e}`);
  }
  clearInterval(pacer);
  return verdict(samples, total);
}

/** Growth from a quarter into the run to its end (the lower of the last two samples, so one spike is not growth). */
function verdict(samples, total) {
  const problems = [];
  if (total.errors > 0) problems.push(`${total.errors} requests failed (first: ${total.firstErrors.join(' | ')})`);
  if (samples.length >= 3) {
    const base = samples[Math.max(1, Math.floor(samples.length / 4))];
    const last = samples.slice(-2);
    const rss = Math.min(...last.map((s) => s.rss));
    const handles = Math.min(...last.map((s) => s.handles));
    const allowed = Math.max(64 << 20, base.rss * 0.25);
    if (rss - base.rss > allowed) problems.push(`resident memory grew ${mib(base.rss)} → ${mib(rss)} MiB (allowed +${mib(allowed)})`);
    if (handles - base.handles > 50) problems.push(`open handles grew ${base.handles} → ${handles}`);
  } else {
    problems.push('too few reports to judge growth: run longer or report more often (--interval)');
  }
  const summary = {
    requests: total.requests,
    errors: total.errors,
    skipped: total.skipped,
    realtime_events: total.events,
    rss_mib: samples.map((s) => mib(s.rss)),
    handles: samples.map((s) => s.handles),
    ok: problems.length === 0,
  };
  console.log(JSON.stringify(summary));
  for (const p of problems) log(`FAIL: ${p}`);
  return problems.length === 0 ? 0 : 1;
}

main().then(
  (code) => stack.exit(code),
  (err) => {
    log(err.stack ?? String(err));
    stack.exit(1);
  },
);
