// `npm run bench`: seeds a fresh Mainspring data dir, drives the server over
// loopback with autocannon and prints one JSON line per scenario, each with the
// ratio to a bare node:http endpoint measured in the same run. See README.md.
//
// stdout carries only the results (JSON lines, then a markdown table); progress
// and diagnostics go to stderr so the output can be piped.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import autocannon from 'autocannon';
import { openAccount, setupBank } from '../examples/bank/setup.mjs';
import { api, cleanupStack, freePort, pgAdmin, positiveInt, waitForHealth } from './lib.mjs';
import { runRealtime } from './realtime.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'packages/mainspring/dist/cli/main.js');
const BARE = path.join(ROOT, 'bench/bare-server.mjs');
const BANK_HOOKS = path.join(ROOT, 'examples/bank/ms_hooks');
const HOST = '127.0.0.1'; // all traffic stays on loopback
const ALL_SCENARIOS = ['bare', 'health', 'view', 'list', 'login', 'view_during_login', 'realtime', 'transfers'];
const BATCH_SIZE = 50; // the server's default batch.maxRequests
const SU_EMAIL = 'bench-admin@example.com';
const USER_EMAIL = 'bench-user@example.com';
const PASSWORD = 'bench-password-123';

const USAGE = `Usage: npm run bench -- [options]

  --quick             1,000 records, 3 s per scenario (default 10,000 and 10 s)
  --records=N         number of posts to seed
  --accounts=N        bank accounts the transfers scenario moves money between (default 100, 5 per owner)
  --scenario=NAME     run only NAME (${ALL_SCENARIOS.join(', ')}); bare always runs too
  --scenario=files    file streaming: bench/files.mjs, a script with flags of its own (--help there)
  --connections=N     concurrent connections (default 50)
  --duration=S        measured seconds per scenario
  --warmup=S          unmeasured seconds before each scenario (default 2, --quick 1)
  --postgres          run the server on PostgreSQL: a fresh database on the server named by
                      --postgres-url (default MS_TEST_POSTGRES_URL, else postgres://postgres@127.0.0.1:5432/postgres),
                      dropped at the end
`;

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

function readOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      subscribers: { type: 'string' },
      accounts: { type: 'string' },
      records: { type: 'string' },
      scenario: { type: 'string' },
      connections: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      postgres: { type: 'boolean', default: false },
      'postgres-url': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const quick = values.quick;
  if (values.scenario !== undefined && !ALL_SCENARIOS.includes(values.scenario)) {
    throw new Error(`unknown --scenario "${values.scenario}"; expected one of ${ALL_SCENARIOS.join(', ')}`);
  }
  // The ratio needs the ceiling from the same run, so bare always runs first.
  const scenarios = values.scenario === undefined ? ALL_SCENARIOS : [...new Set(['bare', values.scenario])];
  return {
    records: positiveInt('records', values.records, quick ? 1_000 : 10_000),
    connections: positiveInt('connections', values.connections, 50),
    subscribers: positiveInt('subscribers', values.subscribers, quick ? 1_000 : 5_000),
    accounts: positiveInt('accounts', values.accounts, 100),
    duration: positiveInt('duration', values.duration, quick ? 3 : 10),
    warmup: values.warmup === '0' ? 0 : positiveInt('warmup', values.warmup, quick ? 1 : 2),
    scenarios,
    postgres: values.postgres || values['postgres-url'] !== undefined,
    postgresUrl: values['postgres-url'] ?? process.env.MS_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  };
}

/** A fresh database for the run (dropped on clean-up); '' for SQLite. */
async function benchDatabase(opts) {
  if (!opts.postgres) return '';
  const name = `ms_bench_${Date.now().toString(36)}_${process.pid}`;
  await pgAdmin(opts.postgresUrl, `CREATE DATABASE ${name}`);
  cleanups.push(() => pgAdmin(opts.postgresUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const url = new URL(opts.postgresUrl);
  url.pathname = `/${name}`;
  log(`PostgreSQL database ${name} on ${url.host}`);
  return url.toString();
}

// ---------------------------------------------------------------------------
// Clean-up: everything started registers how to undo itself; it runs once, in
// reverse order, on success, failure, Ctrl-C and the time limit alike.

let currentLoad; // the running autocannon instance, stopped on abort
const stack = cleanupStack(log, () => currentLoad?.stop());
const { cleanups, exit, abort } = stack;

// ---------------------------------------------------------------------------
// Child processes

/** Spawns a child, keeps the tail of its output for error reports, and stops it on clean-up. */
function startChild(name, args, env) {
  const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const child = { name, proc, tail: [], lines: 0, exit: undefined, onUnexpectedExit: undefined };
  const keep = (chunk) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line) continue;
      child.lines++;
      child.tail.push(line);
      if (child.tail.length > 40) child.tail.shift();
    }
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  proc.stdin.on('error', () => {}); // EPIPE if it died first
  child.exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      child.exit = { code, signal };
      if (!stack.shuttingDown && !child.stopping) child.onUnexpectedExit?.(child.exit);
      resolve(child.exit);
    });
  });
  cleanups.push(() => stopChild(child));
  return child;
}

/** SIGTERM (the server drains in-flight requests), then SIGKILL after 5 s. */
async function stopChild(child) {
  if (child.exit) return;
  child.stopping = true;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), 5_000);
  await child.exited;
  clearTimeout(timer);
}

function describeExit(child) {
  const { code, signal } = child.exit ?? {};
  const how = signal ? `signal ${signal}` : `exit code ${code}`;
  return `${child.name} exited unexpectedly (${how}); last output:\n  ${child.tail.join('\n  ') || '(none)'}`;
}

// ---------------------------------------------------------------------------
// HTTP helpers for setup (not on the measured path)

// ---------------------------------------------------------------------------
// Setup

async function setUp(opts) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mainspring-bench-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true })); // runs after the server stopped
  log(`data dir ${dir}`);
  const databaseUrl = await benchDatabase(opts);

  // The superuser is written straight to the data dir, so the server must not be running yet.
  await promisify(execFile)(process.execPath, [CLI, 'superuser', 'upsert', SU_EMAIL, PASSWORD, `--dir=${dir}`], {
    cwd: ROOT,
    env: { ...process.env, MS_LOG_LEVEL: 'warn', DATABASE_URL: databaseUrl },
    timeout: 60_000,
  });

  const port = await freePort(HOST);
  const base = `http://${HOST}:${port}`;
  // MS_BENCH_NODE_ARGS passes node flags to the server only (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")
  const nodeArgs = (process.env.MS_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  // the bank's routes only when they are measured; otherwise a folder that does not exist, so no stray
  // ms_hooks/ beside the temp dir is ever loaded
  const hooksDir = opts.scenarios.includes('transfers') ? BANK_HOOKS : path.join(dir, 'no-hooks');
  const server = startChild('mainspring', [...nodeArgs, CLI, 'serve', `--http=${HOST}:${port}`, `--dir=${dir}`, `--hooksDir=${hooksDir}`], {
    MS_LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
  });
  await waitForHealth(base, () => (server.exit ? describeExit(server) : undefined));
  log(`mainspring serving ${base} (pid ${server.proc.pid})`);

  const su = (
    await api(base, 'POST', '/api/collections/_superusers/auth-with-password', { body: { identity: SU_EMAIL, password: PASSWORD } })
  ).json.token;
  await api(base, 'POST', '/api/collections', {
    token: su,
    body: {
      name: 'posts',
      type: 'base',
      listRule: 'author = @request.auth.id',
      viewRule: 'author = @request.auth.id',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'n', type: 'number' },
        { name: 'author', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
      ],
      indexes: ['CREATE INDEX idx_posts_n ON posts (n)'],
    },
  });
  await api(base, 'POST', '/api/collections/users/records', {
    body: { email: USER_EMAIL, password: PASSWORD, passwordConfirm: PASSWORD },
  });
  const auth = (
    await api(base, 'POST', '/api/collections/users/auth-with-password', { body: { identity: USER_EMAIL, password: PASSWORD } })
  ).json;
  const userToken = auth.token;
  const userId = auth.record.id;

  // The bench signs in from one address as fast as it can: the default
  // per-IP limits and lockouts would rightly refuse it.
  await api(base, 'PATCH', '/api/settings', {
    token: su,
    body: {
      rateLimits: { enabled: false },
      loginProtection: { maxFailures: 1000, maxFailuresPerIdentity: 1000000, lockSeconds: 1, maxLockSeconds: 1 },
    },
  });

  const ids = await seed(base, su, userId, opts.records);
  const bank = opts.scenarios.includes('transfers') ? await seedBank(base, su, opts.accounts) : undefined;
  return { base, server, su, userToken, userId, ids, bank };
}

/** Money for the transfers scenario: far more than it can move, so every transfer succeeds. */
const OPENING_BALANCE = 1_000_000_000;

/**
 * The bank example's collections (its own setup) and `count` accounts, five
 * per owner, each opened with {@link OPENING_BALANCE} through the example's route.
 */
async function seedBank(base, suToken, count) {
  await setupBank(base, suToken);
  const owners = [];
  for (let i = 0; i < Math.ceil(count / 5); i++) {
    const email = `bench-owner-${i}@example.com`;
    await api(base, 'POST', '/api/collections/users/records', { body: { email, password: PASSWORD, passwordConfirm: PASSWORD } });
    const auth = (await api(base, 'POST', '/api/collections/users/auth-with-password', { body: { identity: email, password: PASSWORD } }))
      .json;
    owners.push({ id: auth.record.id, token: auth.token });
  }
  const accounts = [];
  for (let i = 0; i < count; i++) {
    const owner = owners[Math.floor(i / 5)];
    const account = await openAccount(base, suToken, { owner: owner.id, name: `bench ${i}`, opening: OPENING_BALANCE });
    accounts.push({ id: account.id, owner });
  }
  log(`bank: ${count} accounts of ${owners.length} owners`);
  return { accounts };
}

/** Creates `count` posts owned by the user, 50 per /api/batch transaction. */
async function seed(base, suToken, userId, count) {
  const ids = [];
  const started = Date.now();
  const step = Math.max(BATCH_SIZE, Math.ceil(count / 10 / BATCH_SIZE) * BATCH_SIZE); // about ten progress lines
  let nextReport = step;
  for (let first = 0; first < count; first += BATCH_SIZE) {
    const requests = [];
    for (let n = first; n < Math.min(first + BATCH_SIZE, count); n++) {
      requests.push({ method: 'POST', url: '/api/collections/posts/records', body: { title: `Post number ${n}`, n, author: userId } });
    }
    const { json } = await api(base, 'POST', '/api/batch', { token: suToken, body: { requests } });
    for (const item of json) {
      if (item.status !== 200) throw new Error(`batch item failed: ${JSON.stringify(item).slice(0, 300)}`);
      ids.push(item.body.id);
    }
    if (ids.length >= nextReport || ids.length === count) {
      const secs = (Date.now() - started) / 1000;
      log(`seeded ${ids.length}/${count} posts (${Math.round(ids.length / secs)} records/s)`);
      nextReport += step;
    }
  }
  return ids;
}

/** Starts the ceiling endpoint, answering with a real record so the payload sizes match. */
async function startBare(sampleBody) {
  const child = startChild('bare node:http', [BARE], { BARE_BODY: sampleBody });
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bare server did not start within 10 s')), 10_000);
    let buf = '';
    child.proc.stdout.on('data', (chunk) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(buf.slice(0, nl)).port);
      }
    });
    child.exited.then(() => reject(new Error(describeExit(child))));
  });
  return { child, url: `http://${HOST}:${port}` };
}

// ---------------------------------------------------------------------------
// Load

/**
 * One request template whose path walks through `paths` (shared by all
 * connections). The bare scenario uses the same paths and headers as `view`,
 * so the load generator does identical work per request for both and the
 * ratio reflects the servers, not autocannon.
 */
function cycling(paths) {
  let i = 0;
  return [
    {
      method: 'GET',
      setupRequest(req) {
        req.path = paths[i++ % paths.length];
        return req;
      },
    },
  ];
}

function defineScenarios(ctx, records) {
  const auth = { authorization: ctx.userToken, accept: 'application/json' };
  const viewPaths = ctx.ids.map((id) => `/api/collections/posts/records/${id}`);
  // 1,000 list queries with thresholds spread over the data set; each returns
  // the 50 highest `n` above the threshold, plus the total count (the SDK's
  // getList default), through the same owner rule.
  const listPaths = Array.from({ length: 1_000 }, (_, i) => {
    const x = Math.floor((i / 1_000) * Math.max(1, records - 50));
    return `/api/collections/posts/records?perPage=50&sort=-n&filter=${encodeURIComponent(`n > ${x}`)}`;
  });
  return {
    bare: { url: ctx.bare.url, headers: auth, requests: cycling(viewPaths) },
    health: { url: ctx.base, requests: [{ method: 'GET', path: '/api/health' }] },
    view: { url: ctx.base, headers: auth, requests: cycling(viewPaths) },
    list: { url: ctx.base, headers: auth, requests: cycling(listPaths) },
    // few connections: each sign-in costs ~50 ms of bcrypt, and a deep queue
    // would only measure waiting
    login: { url: ctx.base, requests: [loginRequest], connections: 8 },
    // view again, while other connections sign in beside it: bcrypt runs off
    // the event loop, so reads should barely notice
    view_during_login: { url: ctx.base, headers: auth, requests: cycling(viewPaths), beside: { url: ctx.base, requests: [loginRequest] } },
    ...(ctx.bank && { transfers: { url: ctx.base, requests: transferRequests(ctx.bank.accounts) } }),
  };
}

/**
 * POST /api/bank/transfer, each request from a random account (as its owner)
 * to another random one, with an Idempotency-Key never used before: every
 * request is a new transfer, through both idempotency layers.
 */
function transferRequests(accounts) {
  const run = Date.now().toString(36);
  let n = 0;
  return [
    {
      method: 'POST',
      path: '/api/bank/transfer',
      setupRequest(req) {
        const from = accounts[Math.floor(Math.random() * accounts.length)];
        let to = accounts[Math.floor(Math.random() * accounts.length)];
        if (to === from) to = accounts[(accounts.indexOf(from) + 1) % accounts.length];
        req.headers = {
          ...req.headers,
          'content-type': 'application/json',
          authorization: from.owner.token,
          'idempotency-key': `bench-${run}-${n++}`,
        };
        req.body = JSON.stringify({ from: from.id, to: to.id, amount: 1 + Math.floor(Math.random() * 100) });
        return req;
      },
    },
  ];
}

const loginRequest = {
  method: 'POST',
  path: '/api/collections/users/auth-with-password',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ identity: USER_EMAIL, password: PASSWORD }),
};

/** Fails fast if a scenario would be measuring error responses. */
async function checkScenarios(ctx) {
  const auth = { token: ctx.userToken };
  const view = await api(ctx.base, 'GET', `/api/collections/posts/records/${ctx.ids[0]}`, auth);
  if (view.json.id !== ctx.ids[0]) throw new Error(`view returned the wrong record: ${view.text.slice(0, 200)}`);
  const anonymous = await fetch(`${ctx.base}/api/collections/posts/records/${ctx.ids[0]}`);
  if (anonymous.ok) throw new Error(`the view rule let an anonymous caller through (${anonymous.status})`);
  const list = await api(ctx.base, 'GET', `/api/collections/posts/records?perPage=50&sort=-n&filter=${encodeURIComponent('n > 0')}`, auth);
  if (list.json.items.length !== Math.min(50, ctx.ids.length - 1)) throw new Error(`list returned ${list.json.items.length} items`);
  if (ctx.bank) {
    const [a, b] = ctx.bank.accounts;
    const res = await fetch(`${ctx.base}/api/bank/transfer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: a.owner.token, 'idempotency-key': 'bench-check' },
      body: JSON.stringify({ from: a.id, to: b.id, amount: 1 }),
    });
    if (res.status !== 200) throw new Error(`a transfer failed: ${res.status} ${(await res.text()).slice(0, 300)}`);
  }
  return view.text;
}

/** A second load running beside the measured one (not tracked for Ctrl-C: it ends with its duration). */
function loadBeside(options) {
  return new Promise((resolve, reject) => {
    autocannon(options, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

function load(options) {
  return new Promise((resolve, reject) => {
    if (stack.shuttingDown) return reject(new Error('stopped'));
    currentLoad = autocannon(options, (err, result) => {
      currentLoad = undefined;
      if (err) reject(err);
      else resolve(result);
    });
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); undefined elsewhere. */
function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ (100)
  } catch {
    return undefined;
  }
}

async function runScenario(name, def, opts, server, target) {
  const { beside, ...main } = def;
  const base = { connections: opts.connections, ...main, timeout: 10 };
  if (opts.warmup > 0) {
    log(`${name}: warming up ${opts.warmup} s`);
    await load({ ...base, duration: opts.warmup });
  }
  // let work left over from the warm-up finish before measuring
  await new Promise((r) => setTimeout(r, 500));
  log(`${name}: measuring ${opts.duration} s with ${base.connections} connections${beside ? ', with sign-ins beside it on 8 more' : ''}`);
  const cpuBefore = cpuSeconds(target.proc.pid);
  const [r, besideResult] = await Promise.all([
    load({ ...base, duration: opts.duration }),
    beside ? loadBeside({ ...beside, connections: 8, timeout: 10, duration: opts.duration }) : undefined,
  ]);
  if (server.exit) throw new Error(describeExit(server));
  const cpuAfter = cpuSeconds(target.proc.pid);
  const served = r.requests.total + (besideResult?.requests.total ?? 0);
  return {
    // the answering process's CPU time per request: steadier than req/s on a shared machine
    cpu_us_per_request:
      cpuBefore === undefined || cpuAfter === undefined || served === 0 ? null : Math.round(((cpuAfter - cpuBefore) * 1e6) / served),
    beside: besideResult && {
      requests_per_sec: Math.round(besideResult.requests.average),
      p99_ms: besideResult.latency.p99,
      non2xx: besideResult.non2xx,
    },
    scenario: name,
    requests_per_sec: Math.round(r.requests.average),
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    errors: r.errors, // connection errors, including timeouts
    non2xx: r.non2xx,
    timeouts: r.timeouts,
    status_codes: Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([code, s]) => [code, s.count])),
  };
}

// ---------------------------------------------------------------------------

async function main() {
  const opts = readOptions(process.argv.slice(2));
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing; run "npm run build" (npm run bench does it)`);

  // Bounded in time whatever happens: setup, seeding (generously 20 ms a
  // record) and every scenario, plus a minute of slack.
  const limitMs =
    60_000 +
    opts.records * 20 +
    (opts.scenarios.includes('transfers') ? opts.accounts * 200 : 0) +
    opts.scenarios.length * (opts.duration + opts.warmup + 15) * 1000;
  setTimeout(() => abort(`time limit of ${Math.round(limitMs / 1000)} s reached`, 1), limitMs).unref();

  log(
    `node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(2)}; ` +
      `${opts.records} records, ${opts.connections} connections, ${opts.duration} s per scenario (+${opts.warmup} s warm-up), ` +
      `on ${opts.postgres ? 'PostgreSQL' : 'SQLite'}`,
  );
  const ctx = await setUp(opts);
  const sample = await checkScenarios(ctx);
  ctx.bare = await startBare(sample);
  log(`bare node:http ceiling at ${ctx.bare.url} (record body ${Buffer.byteLength(sample)} bytes)`);

  // If the server dies mid-run, stop the load at once and report it.
  ctx.server.onUnexpectedExit = () => currentLoad?.stop();
  ctx.bare.child.onUnexpectedExit = () => currentLoad?.stop();

  const defs = defineScenarios(ctx, opts.records);
  const rows = [];
  let bareRps;
  let realtimeLine;
  for (const name of opts.scenarios) {
    if (name === 'realtime') {
      const line = await runRealtime(ctx, { subscribers: opts.subscribers, writes: 20, log });
      process.stdout.write(`${JSON.stringify(line)}\n`);
      realtimeLine = line;
      if (line.missed_events > 0) log(`realtime: ${line.missed_events} events never arrived`);
      continue;
    }
    const row = await runScenario(name, defs[name], opts, ctx.server, name === 'bare' ? ctx.bare.child : ctx.server);
    if (ctx.bare.child.exit) throw new Error(describeExit(ctx.bare.child));
    if (name === 'bare') bareRps = row.requests_per_sec;
    const line = {
      scenario: row.scenario,
      requests_per_sec: row.requests_per_sec,
      p50_ms: row.p50_ms,
      p99_ms: row.p99_ms,
      errors: row.errors,
      non2xx: row.non2xx,
      bare_requests_per_sec: bareRps,
      ratio: Number((row.requests_per_sec / bareRps).toFixed(3)),
      cpu_us_per_request: row.cpu_us_per_request,
    };
    if (name === 'transfers') line.transfers_per_sec = row.requests_per_sec;
    if (row.beside) {
      line.logins_beside_per_sec = row.beside.requests_per_sec;
      const alone = rows.find((r) => r.scenario === 'view');
      if (alone) line.view_alone_p99_ms = alone.p99_ms;
      if (row.beside.non2xx > 0) line.non2xx += row.beside.non2xx;
    }
    if (row.errors > 0 || row.non2xx > 0) line.detail = { timeouts: row.timeouts, status_codes: row.status_codes };
    process.stdout.write(`${JSON.stringify(line)}\n`);
    rows.push(line);
  }

  // Anything the server logged at warn level or above during the run.
  const logged = ctx.server.tail.filter((l) => !l.startsWith('Mainspring is serving'));
  if (logged.length > 0) log(`the server logged ${logged.length} line(s) during the run; last ones:\n  ${logged.slice(-10).join('\n  ')}`);

  process.stdout.write(
    [
      '',
      `${opts.postgres ? 'PostgreSQL' : 'SQLite'}, ${opts.records} records, ${opts.connections} connections, ${opts.duration} s per scenario, node ${process.version}, ${os.cpus().length} CPUs`,
      '',
      '| scenario | req/s | p50 ms | p99 ms | errors | non-2xx | ratio to bare | server CPU µs/req |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows.map(
        (r) =>
          `| ${r.scenario} | ${r.requests_per_sec} | ${r.p50_ms} | ${r.p99_ms} | ${r.errors} | ${r.non2xx} | ${r.ratio.toFixed(2)} | ${r.cpu_us_per_request ?? '-'} |`,
      ),
      '',
      ...(realtimeLine
        ? [
            '| realtime subscribers | writes | delivery p50 ms | delivery p99 ms | last subscriber p50 ms | last subscriber p99 ms | missed | server RSS KB per idle subscriber |',
            '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
            `| ${realtimeLine.subscribers} | ${realtimeLine.writes} | ${realtimeLine.delivery_p50_ms} | ${realtimeLine.delivery_p99_ms} | ${realtimeLine.last_subscriber_p50_ms} | ${realtimeLine.last_subscriber_p99_ms} | ${realtimeLine.missed_events} | ${realtimeLine.rss_per_subscriber_kb ?? '-'} |`,
            '',
          ]
        : []),
    ].join('\n'),
  );
  if (realtimeLine && realtimeLine.missed_events > 0) return 1;

  const failed = rows.filter((r) => r.errors > 0 || r.non2xx > 0).map((r) => r.scenario);
  if (failed.length > 0) {
    log(`errors in: ${failed.join(', ')}`);
    return 1;
  }
  return 0;
}

/** The other arguments when the run asks for the files scenario (`--scenario=files` or `--scenario files`), else null. */
function filesScenarioArgs(argv) {
  const at = argv.findIndex((a, i) => a === '--scenario=files' || (a === '--scenario' && argv[i + 1] === 'files'));
  if (at < 0) return null;
  return argv.filter((_, i) => i !== at && !(argv[at] === '--scenario' && i === at + 1));
}

const filesArgs = filesScenarioArgs(process.argv.slice(2));
if (filesArgs) {
  // bench/files.mjs starts its own server on a 1 GiB file and cleans up after itself: hand it the run
  const child = spawn(process.execPath, [path.join(ROOT, 'bench/files.mjs'), ...filesArgs], { cwd: ROOT, stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  process.on('SIGINT', () => abort('SIGINT', 130));
  process.on('SIGTERM', () => abort('SIGTERM', 143));

  main().then(
    (code) => exit(code),
    (err) => {
      log(`failed: ${err instanceof Error ? err.message : err}`);
      exit(1);
    },
  );
}
