// `npm run bench -- --pocketbase-shapes`: the scenarios PocketBase publishes
// for itself (github.com/pocketbase/benchmarks, results/hetzner_cax11.md),
// replayed against Mainspring with the same data shapes, request counts and
// concurrency, and printed beside PocketBase's published figures. Those were
// measured on another machine (a Hetzner CAX11: 2 shared ARM64 vCPUs, 4 GB),
// so the comparison is of shapes, not of machines. See README.md.
//
// Like run.mjs: a fresh temp data dir (or PostgreSQL database), a superuser
// from the CLI, `mainspring serve` on a free 127.0.0.1 port, everything
// stopped and deleted at the end, on failure and on Ctrl-C, within a time
// limit. stdout gets one JSON line per scenario, then a markdown table.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { PB_PASSWORD, PB_POSTS, PB_TYPES, PB_USERS, pbPosts, pbUserEmail } from './dataset.mjs';
import { api, batchCreate, cleanupStack, freePort, freshDatabase, positiveInt, SEED_IN_FLIGHT, startChild, waitForHealth } from './lib.mjs';
import { cores, onServerCores, pinSelf } from './load.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'packages/mainspring/dist/cli/main.js');
const HOST = '127.0.0.1';
const SU = { email: 'bench-admin@example.com', password: 'bench-admin-password-1' };

/** Where PocketBase's figures come from. */
export const SOURCE = {
  repository: 'github.com/pocketbase/benchmarks',
  file: 'results/hetzner_cax11.md',
  commit: 'e9cd79031ec3f04ca8d0554e876efacee191f519',
  version: 'PocketBase v0.36.0 (Go 1.25.6), pure-Go SQLite driver',
  machine: 'Hetzner CAX11: 2 shared ARM64 vCPUs, 4 GB RAM; its client on the same box',
};

/**
 * The scenarios, each with PocketBase's heading in that file and its
 * published Best / Worst / Completed (ms). `rule` is the posts' list rule
 * for the scenario, `indexes` the posts' indexes.
 */
const SCENARIOS = [
  {
    name: 'get_one',
    what: 'getOne by id (a user reads their own record)',
    published: 'users - getOne for auth refresh comparison (medium concurrency) [reqs:1000, conc:100]',
    requests: 1000,
    concurrency: 100,
    pocketbase: { best: 3.272985, worst: 89.34626, completed: 378.518834 },
    request: (ctx) => ({ method: 'GET', path: `/api/collections/users/records/${ctx.user.id}`, token: ctx.user.token }),
  },
  {
    name: 'list_no_rule',
    what: 'list 20 of 10k, no rule, one client',
    published: 'posts10k - simpleA (many requests, no rules, no concurrency) [reqs:1000, conc:1, query:?perPage=20]',
    requests: 1000,
    concurrency: 1,
    rule: '',
    pocketbase: { best: 2.16071, worst: 7.907735, completed: 3144.518791 },
    request: (ctx) => ({ method: 'GET', path: '/api/collections/posts10k/records?perPage=20', token: ctx.user.token }),
    expect: () => ({ totalItems: PB_POSTS, items: 20 }),
  },
  {
    name: 'list_author_rule',
    what: 'list with an indexed `author = @request.auth.id` rule',
    published: 'posts10k - author check (with index) [reqs:100, conc:10, rule:"author = @request.auth.id", query:?perPage=20]',
    requests: 100,
    concurrency: 10,
    rule: 'author = @request.auth.id',
    indexes: ['CREATE INDEX idx_author_posts10k ON posts10k (author)'],
    pocketbase: { best: 1.538331, worst: 71.773292, completed: 134.125072 },
    request: (ctx) => ({ method: 'GET', path: '/api/collections/posts10k/records?perPage=20', token: ctx.user.token }),
    expect: (ctx) => ({ totalItems: ctx.counts.mine, items: Math.min(20, ctx.counts.mine) }),
  },
  {
    name: 'auth_with_password',
    what: 'auth-with-password (bcrypt)',
    published: 'users auth with email/pass - small concurrency [reqs:250, conc:10]',
    requests: 250,
    concurrency: 10,
    pocketbase: { best: 211.672635, worst: 529.708726, completed: 8378.625873 },
    request: () => ({
      method: 'POST',
      path: '/api/collections/users/auth-with-password',
      body: JSON.stringify({ identity: pbUserEmail(0), password: PB_PASSWORD }),
    }),
  },
  {
    name: 'each_match_all',
    what: '`type:each != "c"` on a multi-select over 10k, with the total',
    published: `posts10k - multiple select :each (no index, match-all) [reqs:100, conc:10, rule:"type:each != 'c'", query:?perPage=20]`,
    requests: 100,
    concurrency: 10,
    rule: "type:each != 'c'",
    pocketbase: { best: 195.629611, worst: 647.435375, completed: 3724.479409 },
    request: (ctx) => ({ method: 'GET', path: '/api/collections/posts10k/records?perPage=20', token: ctx.user.token }),
    expect: (ctx) => ({ totalItems: ctx.counts.withoutC, items: 20 }),
  },
  {
    name: 'each_at_least_one',
    what: '`type:each ?!= "c"` (any of) on a multi-select over 10k, with the total',
    published: `posts10k - multiple select :each (no index, at-least-one) [reqs:100, conc:10, rule:"type:each ?!= 'c'", query:?perPage=20]`,
    requests: 100,
    concurrency: 10,
    rule: "type:each ?!= 'c'",
    pocketbase: { best: 67.92301, worst: 349.158277, completed: 1587.177872 },
    request: (ctx) => ({ method: 'GET', path: '/api/collections/posts10k/records?perPage=20', token: ctx.user.token }),
    expect: (ctx) => ({ totalItems: ctx.counts.notOnlyC, items: 20 }),
  },
];

const USAGE = `Usage: npm run bench -- --pocketbase-shapes [options]

  --scenario=NAME     run only NAME (${SCENARIOS.map((s) => s.name).join(', ')})
  --users=N           users to create (default ${PB_USERS}, as PocketBase's benchmark; each costs a bcrypt hash)
  --postgres          run the server on a fresh PostgreSQL database (dropped at the end), on the server
                      named by --postgres-url (default MS_TEST_POSTGRES_URL, else postgres://postgres@127.0.0.1:5432/postgres)
`;

const log = (msg) => process.stderr.write(`[pocketbase-shapes] ${msg}\n`);
const stack = cleanupStack(log);
const { cleanups, exit, abort } = stack;

function readOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      'pocketbase-shapes': { type: 'boolean', default: true },
      scenario: { type: 'string' },
      users: { type: 'string' },
      postgres: { type: 'boolean', default: false },
      'postgres-url': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (values.scenario !== undefined && !SCENARIOS.some((s) => s.name === values.scenario)) {
    throw new Error(`unknown --scenario "${values.scenario}"; expected one of ${SCENARIOS.map((s) => s.name).join(', ')}`);
  }
  return {
    scenarios: SCENARIOS.filter((s) => values.scenario === undefined || s.name === values.scenario),
    users: positiveInt('users', values.users, PB_USERS),
    postgres: values.postgres || values['postgres-url'] !== undefined,
    postgresUrl: values['postgres-url'] ?? process.env.MS_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  };
}

// ---------------------------------------------------------------------------
// Setup: PocketBase's collections (users as its schema has them, posts10k)
// and its data.

async function setUp(opts) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mainspring-pbshapes-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  let databaseUrl = '';
  if (opts.postgres) {
    databaseUrl = await freshDatabase(opts.postgresUrl, `ms_pbshapes_${Date.now().toString(36)}_${process.pid}`, (drop) =>
      cleanups.push(drop),
    );
  }
  const env = { MS_LOG_LEVEL: 'warn', MS_AUTOMIGRATE: 'off', DATABASE_URL: databaseUrl };
  await promisify(execFile)(process.execPath, [CLI, 'superuser', 'upsert', SU.email, SU.password, `--dir=${dir}`], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  const port = await freePort(HOST);
  const base = `http://${HOST}:${port}`;
  const args = [CLI, 'serve', `--http=${HOST}:${port}`, `--dir=${dir}`, `--hooksDir=${path.join(dir, 'no-hooks')}`];
  const server = startChild(stack, 'mainspring', onServerCores(args), { cwd: ROOT, env });
  await waitForHealth(base, () => (server.exit ? server.describeExit() : undefined));
  server.onUnexpectedExit = () => abort(server.describeExit(), 1);
  log(`mainspring serving ${base} on ${opts.postgres ? 'PostgreSQL' : 'SQLite'} (pid ${server.proc.pid})`);

  const su = (
    await api(base, 'POST', '/api/collections/_superusers/auth-with-password', { body: { identity: SU.email, password: SU.password } })
  ).json.token;
  // as in PocketBase's benchmark schema: users are listed by the signed-in, viewed by anyone
  await api(base, 'PATCH', '/api/collections/users', { token: su, body: { listRule: "@request.auth.id != ''", viewRule: '' } });
  await api(base, 'POST', '/api/collections', {
    token: su,
    body: {
      name: 'posts10k',
      type: 'base',
      listRule: '',
      viewRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'description', type: 'editor' },
        { name: 'public', type: 'bool' },
        { name: 'type', type: 'select', maxSelect: 3, values: PB_TYPES },
        { name: 'author', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1, cascadeDelete: true },
        { name: 'created', type: 'autodate', onCreate: true },
        { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
      ],
    },
  });
  // every request from one address, as fast as it can go: the default limits would rightly refuse it
  await api(base, 'PATCH', '/api/settings', {
    token: su,
    body: { rateLimits: { enabled: false }, loginProtection: { maxFailures: 1000, maxFailuresPerIdentity: 1000000 } },
  });

  const userIds = await createUsers(base, su, opts.users);
  const posts = pbPosts(PB_POSTS, opts.users);
  await batchCreate(
    base,
    su,
    'posts10k',
    posts.map((p) => ({ ...p, author: userIds[p.author] })),
    log,
  );
  const signedIn = (
    await api(base, 'POST', '/api/collections/users/auth-with-password', { body: { identity: pbUserEmail(0), password: PB_PASSWORD } })
  ).json;
  const counts = {
    mine: posts.filter((p) => p.author === 0).length,
    withoutC: posts.filter((p) => !p.type.includes('c')).length,
    notOnlyC: posts.filter((p) => p.type.some((t) => t !== 'c')).length,
  };
  return { base, su, server, user: { id: signedIn.record.id, token: signedIn.token }, counts };
}

/** `count` users, one request each (a bcrypt hash each: batches of them pass a batch's time limit), SEED_IN_FLIGHT at once. */
async function createUsers(base, su, count) {
  const ids = new Array(count);
  const started = Date.now();
  let next = 0;
  async function worker() {
    while (next < count) {
      const i = next++;
      const body = { email: pbUserEmail(i), password: PB_PASSWORD, passwordConfirm: PB_PASSWORD };
      ids[i] = (await api(base, 'POST', '/api/collections/users/records', { token: su, body })).json.id;
    }
  }
  await Promise.all(Array.from({ length: SEED_IN_FLIGHT }, worker));
  log(`created ${count} users in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return ids;
}

// ---------------------------------------------------------------------------
// The client: PocketBase's `bench()` (benchmarks/bench.go): `requests`
// requests, at most `concurrency` at once, each timed; Best, Worst and the
// time until the last completed. Its client opens a new connection for every
// request (a new http.Transport each time, benchmarks/request.go): so does
// this one.

function send(base, { method, path: urlPath, token, body }) {
  return new Promise((resolve) => {
    const headers = { 'content-type': 'application/json', accept: 'application/json' };
    if (token) headers.authorization = token;
    if (body) headers['content-length'] = Buffer.byteLength(body);
    const req = http.request(`${base}${urlPath}`, { method, headers, agent: false, timeout: 60_000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
      res.on('error', (err) => resolve({ status: 0, text: String(err) }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => resolve({ status: 0, text: String(err) }));
    req.end(body);
  });
}

async function drive(base, request, requests, concurrency) {
  const times = [];
  const statuses = {};
  let errors = 0;
  let next = 0;
  const started = performance.now();
  async function worker() {
    while (next < requests) {
      next++;
      const t = performance.now();
      const res = await send(base, request);
      times.push(performance.now() - t);
      if (res.status !== 200) {
        errors++;
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const completed = performance.now() - started;
  times.sort((a, b) => a - b);
  return { best: times[0], worst: times[times.length - 1], completed, median: times[Math.floor(times.length / 2)], errors, statuses };
}

/** Sends a scenario's request once and fails fast when the answer is not what it means to measure. */
async function check(ctx, scenario) {
  const res = await send(ctx.base, scenario.request(ctx));
  if (res.status !== 200) throw new Error(`${scenario.name}: ${res.status} ${res.text.slice(0, 300)}`);
  if (!scenario.expect) return;
  const want = scenario.expect(ctx);
  const got = JSON.parse(res.text);
  if (got.totalItems !== want.totalItems || got.items.length !== want.items) {
    throw new Error(
      `${scenario.name}: ${got.totalItems} in all and ${got.items.length} items, expected ${want.totalItems} and ${want.items}`,
    );
  }
}

const round = (ms) => Math.round(ms * 100) / 100;
const perSecond = (requests, ms) => Math.round((requests / ms) * 1000);
const seconds = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${round(ms)} ms`);

async function main() {
  const opts = readOptions(process.argv.slice(2).filter((a) => a !== '--pocketbase-shapes'));
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing; run "npm run build" (npm run bench does it)`);
  pinSelf();
  setTimeout(() => abort('time limit of 15 min reached', 1), 15 * 60_000).unref();
  const machine = `node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
  log(`${machine}${cores ? `; client on core ${cores.load}, server on ${cores.servers}` : ''}`);
  const ctx = await setUp(opts);
  const engine = opts.postgres ? 'PostgreSQL' : 'SQLite';
  const rows = [];
  for (const scenario of opts.scenarios) {
    if (scenario.rule !== undefined) {
      await api(ctx.base, 'PATCH', '/api/collections/posts10k', {
        token: ctx.su,
        body: { listRule: scenario.rule, indexes: scenario.indexes ?? [] },
      });
    }
    await check(ctx, scenario);
    // PocketBase's cooldown between scenarios
    await new Promise((r) => setTimeout(r, 2_000));
    log(`${scenario.name}: ${scenario.requests} requests, ${scenario.concurrency} at once`);
    const r = await drive(ctx.base, scenario.request(ctx), scenario.requests, scenario.concurrency);
    const pb = scenario.pocketbase;
    const line = {
      target: 'mainspring',
      engine,
      scenario: scenario.name,
      requests: scenario.requests,
      concurrency: scenario.concurrency,
      best_ms: round(r.best),
      median_ms: round(r.median),
      worst_ms: round(r.worst),
      completed_ms: round(r.completed),
      requests_per_sec: perSecond(scenario.requests, r.completed),
      errors: r.errors,
      ...(r.errors > 0 && { statuses: r.statuses }),
      pocketbase_best_ms: pb.best,
      pocketbase_worst_ms: pb.worst,
      pocketbase_completed_ms: pb.completed,
      pocketbase_requests_per_sec: perSecond(scenario.requests, pb.completed),
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
    rows.push({ scenario, line });
  }
  process.stdout.write(
    [
      '',
      `Mainspring on ${engine} (${machine}) beside PocketBase's published figures: ${SOURCE.repository}, ${SOURCE.file} at ${SOURCE.commit.slice(0, 7)}`,
      `(${SOURCE.version}; ${SOURCE.machine}). Different machines: compare the shapes, not the absolute times.`,
      '',
      '| scenario | reqs | conc | Mainspring best / worst / completed | req/s | PocketBase best / worst / completed | req/s |',
      '| --- | ---: | ---: | --- | ---: | --- | ---: |',
      ...rows.map(
        ({ scenario: s, line: l }) =>
          `| ${s.what} | ${s.requests} | ${s.concurrency} | ${seconds(l.best_ms)} / ${seconds(l.worst_ms)} / ${seconds(l.completed_ms)} | ${l.requests_per_sec} | ${seconds(l.pocketbase_best_ms)} / ${seconds(l.pocketbase_worst_ms)} / ${seconds(l.pocketbase_completed_ms)} | ${l.pocketbase_requests_per_sec} |`,
      ),
      '',
      ...rows.map(({ scenario: s }) => `- ${s.name}: PocketBase's "${s.published}"`),
      '',
    ].join('\n'),
  );
  return rows.some((r) => r.line.errors > 0) ? 1 : 0;
}

process.on('SIGINT', () => abort('SIGINT', 130));
process.on('SIGTERM', () => abort('SIGTERM', 143));
process.stdout.on('error', (err) => abort(`stdout closed (${err.code})`, 1));
main().then(
  (code) => exit(code),
  (err) => {
    log(`failed: ${err instanceof Error ? err.message : err}`);
    exit(1);
  },
);
