// `npm run bench`: seeds a fresh Mainspring data dir with 100,000 posts,
// drives the server over loopback (wrk where installed, autocannon
// otherwise) and prints one JSON line per scenario, each with the ratio to a
// bare node:http endpoint measured in the same run. See README.md.
//
// stdout carries only the results (JSON lines, then a markdown table); progress
// and diagnostics go to stderr so the output can be piped.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { openAccount, setupBank } from '../examples/bank/setup.mjs';
import { BENCH_USER, CATEGORIES, categoryName, LIST_WINDOW, PAGE, post, SLOW_CONNECTIONS, scenarioParams } from './dataset.mjs';
import {
  api,
  batchCreate,
  cleanupStack,
  freePort,
  freshDatabase,
  positiveInt,
  rssBytes,
  startBare,
  startChild,
  waitForHealth,
} from './lib.mjs';
import { cores, generator, measure, onServerCores, pinSelf, resultLine, resultsTable, stopLoad } from './load.mjs';
import { runRealtime } from './realtime.mjs';
import { clusterCpuSeconds, startReplicaCluster, waitForStandbys } from './replicas.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'packages/mainspring/dist/cli/main.js');
const BANK_HOOKS = path.join(ROOT, 'examples/bank/ms_hooks');
const HOST = '127.0.0.1'; // all traffic stays on loopback
const ALL_SCENARIOS = [
  'bare',
  'health',
  'view',
  'list',
  'list_expand',
  'list_skip_total',
  'search_scan',
  'search',
  'search_ranked',
  'create',
  'update',
  'login',
  'view_during_login',
  'view_during_slow_filter',
  'realtime',
  'transfers',
  'aggregate',
];
const SU_EMAIL = 'bench-admin@example.com';
const PASSWORD = BENCH_USER.password;

const USAGE = `Usage: npm run bench -- [options]

  --quick             10,000 records, 3 s per scenario (default 100,000 and 10 s)
  --records=N         number of posts to seed
  --accounts=N        bank accounts the transfers scenario moves money between (default 100, 5 per owner)
  --scenario=NAME     run only NAME (${ALL_SCENARIOS.join(', ')}), or several: NAME,NAME; bare always runs too
  --scenario=files    file streaming: bench/files.mjs, a script with flags of its own (--help there)
  --pocketbase-shapes PocketBase's published scenarios beside its figures: bench/pocketbase-shapes.mjs (--help there)
  --subscribers=N     SSE subscribers of the realtime scenario (default 5,000, --quick 1,000)
  --subscribers-per-process=N
                      at most N streams per client process of the realtime scenario (default 5,000;
                      a process has its open-file limit, ulimit -n)
  --instances=N       the realtime scenario on N servers on one PostgreSQL database (needs --postgres),
                      subscribers spread over them, writes to the first
  --connections=N     concurrent connections (default 50)
  --duration=S        measured seconds per scenario
  --warmup=S          unmeasured seconds before each scenario (default 2, --quick 1)
  --postgres          run the server on PostgreSQL: a fresh database on the server named by
                      --postgres-url (default MS_TEST_POSTGRES_URL, else postgres://postgres@127.0.0.1:5432/postgres),
                      dropped at the end
  --replicas=N        PostgreSQL on a primary and N hot standbys made for the run (deploy/replicas/cluster.sh):
                      view and list (unless --scenario) on the primary alone, then again with the standbys
                      taking the reads, each with the primary's CPU per request
`;

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

function readOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      subscribers: { type: 'string' },
      'subscribers-per-process': { type: 'string' },
      instances: { type: 'string' },
      accounts: { type: 'string' },
      records: { type: 'string' },
      scenario: { type: 'string' },
      connections: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      postgres: { type: 'boolean', default: false },
      'postgres-url': { type: 'string' },
      replicas: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const quick = values.quick;
  const asked = values.scenario?.split(',').map((s) => s.trim());
  for (const name of asked ?? []) {
    if (!ALL_SCENARIOS.includes(name)) throw new Error(`unknown --scenario "${name}"; expected one of ${ALL_SCENARIOS.join(', ')}`);
  }
  // The ratio needs the ceiling from the same run, so bare always runs first; the others in their usual order.
  const replicas = values.replicas === undefined ? 0 : positiveInt('replicas', values.replicas, 2);
  const instances = positiveInt('instances', values.instances, 1);
  const postgres = values.postgres || values['postgres-url'] !== undefined || replicas > 0;
  if (instances > 1 && !postgres) throw new Error('--instances needs --postgres: instances share one PostgreSQL database');
  // with standbys, the reads they take (view, list) are what is compared
  const wanted = asked ?? (replicas > 0 ? ['view', 'list'] : ALL_SCENARIOS);
  const scenarios = ALL_SCENARIOS.filter((name) => name === 'bare' || wanted.includes(name));
  const records = positiveInt('records', values.records, quick ? 10_000 : 100_000);
  if (records < LIST_WINDOW + PAGE) throw new Error(`--records must be at least ${LIST_WINDOW + PAGE}`);
  return {
    records,
    connections: positiveInt('connections', values.connections, 50),
    subscribers: positiveInt('subscribers', values.subscribers, quick ? 1_000 : 5_000),
    subscribersPerProcess: positiveInt('subscribers-per-process', values['subscribers-per-process'], 5_000),
    instances,
    accounts: positiveInt('accounts', values.accounts, 100),
    duration: positiveInt('duration', values.duration, quick ? 3 : 10),
    warmup: values.warmup === '0' ? 0 : positiveInt('warmup', values.warmup, quick ? 1 : 2),
    scenarios,
    postgres,
    replicas,
    postgresUrl: values['postgres-url'] ?? process.env.MS_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  };
}

// ---------------------------------------------------------------------------
// Clean-up: everything started registers how to undo itself; it runs once, in
// reverse order, on success, failure, Ctrl-C and the time limit alike.

const stack = cleanupStack(log, stopLoad);
const { cleanups, exit, abort } = stack;

/** A fresh database for the run (dropped on clean-up); '' for SQLite. */
async function benchDatabase(opts) {
  if (!opts.postgres) return '';
  const name = `ms_bench_${Date.now().toString(36)}_${process.pid}`;
  if (opts.replicas > 0) {
    // a cluster of the run's own: the database goes with it
    opts.cluster = await startReplicaCluster(stack, opts.replicas, name, log);
    return opts.cluster.primaryUrl;
  }
  const url = await freshDatabase(opts.postgresUrl, name, (drop) => cleanups.push(drop));
  log(`PostgreSQL database ${name} on ${new URL(url).host}`);
  return url;
}

// ---------------------------------------------------------------------------
// Setup

/** Starts `mainspring serve` on the servers' cores and waits until it answers. */
async function startServer({ dir, port, databaseUrl, hooksDir, replicaUrls = [] }) {
  // MS_BENCH_NODE_ARGS passes node flags to the server only (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")
  const nodeArgs = (process.env.MS_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const args = [...nodeArgs, CLI, 'serve', `--http=${HOST}:${port}`, `--dir=${dir}`, `--hooksDir=${hooksDir}`];
  const server = startChild(stack, 'mainspring', onServerCores(args), {
    cwd: ROOT,
    env: { MS_LOG_LEVEL: 'warn', MS_AUTOMIGRATE: 'off', DATABASE_URL: databaseUrl, DATABASE_REPLICA_URLS: replicaUrls.join(',') },
  });
  await waitForHealth(`http://${HOST}:${port}`, () => (server.exit ? server.describeExit() : undefined));
  return server;
}

async function setUp(opts) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mainspring-bench-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true })); // runs after the server stopped
  log(`data dir ${dir}`);
  const databaseUrl = await benchDatabase(opts);

  // The superuser is written straight to the data dir, so the server must not be running yet.
  await promisify(execFile)(process.execPath, [CLI, 'superuser', 'upsert', SU_EMAIL, PASSWORD, `--dir=${dir}`], {
    cwd: ROOT,
    env: { ...process.env, MS_LOG_LEVEL: 'warn', MS_AUTOMIGRATE: 'off', DATABASE_URL: databaseUrl },
    timeout: 60_000,
  });

  const port = await freePort(HOST);
  const base = `http://${HOST}:${port}`;
  // the bank's routes only when they are measured; otherwise a folder that does not exist, so no stray
  // ms_hooks/ beside the temp dir is ever loaded
  const hooksDir = opts.scenarios.includes('transfers') ? BANK_HOOKS : path.join(dir, 'no-hooks');
  const serverOptions = { dir, port, databaseUrl, hooksDir };
  let server = await startServer(serverOptions);
  log(`mainspring serving ${base} (pid ${server.proc.pid})`);

  const su = (
    await api(base, 'POST', '/api/collections/_superusers/auth-with-password', { body: { identity: SU_EMAIL, password: PASSWORD } })
  ).json.token;
  const categoriesCollection = await api(base, 'POST', '/api/collections', {
    token: su,
    body: { name: 'categories', type: 'base', listRule: '', viewRule: '', fields: [{ name: 'name', type: 'text', required: true }] },
  });
  const owner = 'author = @request.auth.id';
  await api(base, 'POST', '/api/collections', {
    token: su,
    body: {
      name: 'posts',
      type: 'base',
      listRule: owner,
      viewRule: owner,
      createRule: `@request.auth.id != "" && ${owner}`,
      updateRule: `${owner} && (@request.body.author:isset = false || @request.body.author = @request.auth.id)`,
      fields: [
        { name: 'title', type: 'text', max: 200 },
        { name: 'n', type: 'number', onlyInt: true },
        { name: 'score', type: 'number', onlyInt: true },
        { name: 'author', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1, required: true },
        { name: 'category', type: 'relation', collectionId: categoriesCollection.json.id, maxSelect: 1 },
        { name: 'created', type: 'autodate', onCreate: true },
        { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
      ],
      indexes: ['CREATE INDEX idx_posts_n ON posts (n)'],
    },
  });
  await api(base, 'POST', '/api/collections/users/records', {
    body: { email: BENCH_USER.email, password: PASSWORD, passwordConfirm: PASSWORD },
  });
  const userId = (await signIn(base, BENCH_USER.email)).record.id;

  // The bench signs in from one address as fast as it can: the default
  // per-IP limits and lockouts would rightly refuse it.
  await api(base, 'PATCH', '/api/settings', {
    token: su,
    body: {
      rateLimits: { enabled: false },
      loginProtection: { maxFailures: 1000, maxFailuresPerIdentity: 1000000, lockSeconds: 1, maxLockSeconds: 1 },
    },
  });

  const categories = await seedCategories(base, su);
  const ids = await seedPosts(base, su, userId, categories, opts.records);
  const bank = opts.scenarios.includes('transfers') ? await seedBank(base, su, opts.accounts) : undefined;

  // Memory at rest with the data set: a fresh process on the seeded data, a few seconds after start.
  await server.stop();
  server = await startServer(serverOptions);
  await new Promise((r) => setTimeout(r, 3_000));
  const idleRssMib = Math.round((rssBytes(server.proc.pid) ?? 0) / 1048576) || null;
  log(`restarted on the seeded data (pid ${server.proc.pid}); idle RSS ${idleRssMib} MiB`);
  // signed in after the restart, so that the user's token is as any client's would be
  const userToken = (await signIn(base, BENCH_USER.email)).token;
  return { base, server, serverOptions, su, userToken, userId, ids, categories, bank, idleRssMib };
}

/** `count` more servers on the run's database, each with a data dir of its own (instances share nothing else). */
async function startInstances(ctx, count) {
  const others = [];
  for (let k = 1; k <= count; k++) {
    const dir = path.join(ctx.serverOptions.dir, `instance-${k}`);
    fs.mkdirSync(dir, { recursive: true });
    const port = await freePort(HOST);
    const server = await startServer({ ...ctx.serverOptions, dir, port });
    others.push({ base: `http://${HOST}:${port}`, server });
    log(`instance ${k + 1} serving http://${HOST}:${port} (pid ${server.proc.pid})`);
  }
  return others;
}

async function signIn(base, email) {
  return (await api(base, 'POST', '/api/collections/users/auth-with-password', { body: { identity: email, password: PASSWORD } })).json;
}

function seedCategories(base, suToken) {
  return batchCreate(
    base,
    suToken,
    'categories',
    Array.from({ length: CATEGORIES }, (_, c) => ({ name: categoryName(c) })),
    log,
  );
}

/** `count` posts (dataset.mjs's `post(i)`), all by the bench user. */
function seedPosts(base, suToken, userId, categories, count) {
  const creates = Array.from({ length: count }, (_, i) => {
    const p = post(i);
    return { title: p.title, n: p.n, score: p.score, author: userId, category: categories[p.category] };
  });
  return batchCreate(base, suToken, 'posts', creates, log);
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
    const auth = await signIn(base, email);
    owners.push({ email, id: auth.record.id, token: auth.token });
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

// ---------------------------------------------------------------------------
// Scenarios: each a list of requests the load cycles through (load.mjs), with
// the parameters from dataset.mjs that the peers use too.

const json = { 'content-type': 'application/json' };
const AGGREGATE_PATH = `/api/ms/collections/posts/aggregate?${new URLSearchParams({
  groupBy: "strftime('%Y-%m', created) as month",
  fields: 'count(),sum(score) as total,avg(score) as mean,max(n) as last',
})}`;
const recordsPath = (query) => `/api/collections/posts/records?${new URLSearchParams(query)}`;

function defineScenarios(ctx, records) {
  const params = scenarioParams(records);
  const auth = { authorization: ctx.userToken, accept: 'application/json' };
  const get = (path) => ({ method: 'GET', path, headers: auth });
  const view = params.view.map((i) => get(`/api/collections/posts/records/${ctx.ids[i]}`));
  const window = ({ from }) => `(n >= ${from} && n < ${from + LIST_WINDOW})`;
  const search = params.search.map((word) => get(recordsPath({ perPage: PAGE, sort: '-n', filter: `title ~ '${word}'` })));
  const login = {
    method: 'POST',
    path: '/api/collections/users/auth-with-password',
    headers: json,
    body: JSON.stringify({ identity: BENCH_USER.email, password: PASSWORD }),
  };
  return {
    health: { requests: [{ method: 'GET', path: '/api/health' }] },
    view: { requests: view },
    list: { requests: params.list.map((p) => get(recordsPath({ perPage: PAGE, sort: '-n', filter: window(p) }))) },
    list_expand: {
      requests: params.list.map((p) => get(recordsPath({ perPage: PAGE, sort: '-n', filter: window(p), expand: 'author,category' }))),
    },
    // the same page without the total (skipTotal=1, as the SDK's getFullList pages): what the count costs
    list_skip_total: { requests: params.list.map((p) => get(recordsPath({ perPage: PAGE, sort: '-n', filter: window(p), skipTotal: 1 }))) },
    // `title ~ word` with no index: a LIKE over every title
    search_scan: { requests: search, connections: SLOW_CONNECTIONS },
    // the same requests once `title` is declared searchable (a trigram index), as a user would declare it
    search: { requests: search, searchIndex: true },
    // ranked full-text search: the posts with the word, best first (bm25 / ts_rank), with the total
    search_ranked: {
      requests: params.search.map((word) => get(recordsPath({ perPage: PAGE, sort: '-@rank', filter: `search(title, '${word}')` }))),
      searchIndex: true,
    },
    create: {
      requests: params.create.map((p) => ({
        method: 'POST',
        path: '/api/collections/posts/records',
        headers: { ...auth, ...json },
        body: JSON.stringify({ title: `${p.title} {n}`, n: p.n, score: p.score, author: ctx.userId, category: ctx.categories[p.category] }),
      })),
    },
    update: {
      requests: params.update.map((p) => ({
        method: 'PATCH',
        path: `/api/collections/posts/records/${ctx.ids[p.post]}`,
        headers: { ...auth, ...json },
        body: JSON.stringify({ score: p.score }),
      })),
    },
    // few connections: each sign-in costs ~50 ms of bcrypt, and a deep queue would only measure waiting
    login: { requests: [login], connections: SLOW_CONNECTIONS },
    // view again, while other connections sign in beside it: bcrypt runs off
    // the event loop, so reads should barely notice
    view_during_login: { requests: view, beside: { requests: [login], connections: SLOW_CONNECTIONS, what: 'sign-ins' } },
    // view again, while 4 connections send the slowest filter the default query limits allow: one walk
    // of a back-relation (every post's author's posts: all 100k are the bench user's, so the work is
    // quadratic) ORed with a scan. Each runs until the statement timeout and answers its 400, away from
    // the event loop, or, while every reader is taken, waits for one and is told to come back (503):
    // views should barely notice. The warm-up's slow filters run on after their clients have gone (a
    // read that has started is not stopped), so the measurement starts once they have ended.
    view_during_slow_filter: {
      requests: view,
      beside: {
        requests: [get(recordsPath({ perPage: PAGE, filter: 'author.posts_via_author.title ~ "zzz" || title ~ "zzz"' }))],
        connections: 4,
        what: 'slow filters',
        expectStatus: [400, 503],
        // the longest answer: a wait for a reader (5 s, then a 503) that ends in one, then the statement timeout
        timeoutS: 15,
      },
      settleMs: 6000,
    },
    ...(ctx.bank && { transfers: { requests: transferRequests(ctx.bank.accounts) } }),
    // a dashboard's question: every post (all the bench user's, admitted by the owner rule) grouped by
    // month of creation, with totals; each request scans the whole table, away from the event loop
    aggregate: { requests: [get(AGGREGATE_PATH)], connections: SLOW_CONNECTIONS },
  };
}

/**
 * POST /api/bank/transfer, each request from a random account (as its owner)
 * to another random one, with an Idempotency-Key never used before: every
 * request is a new transfer, through both idempotency layers.
 */
function transferRequests(accounts) {
  const pick = () => accounts[Math.floor(Math.random() * accounts.length)];
  return Array.from({ length: 5_000 }, () => {
    const from = pick();
    let to = pick();
    if (to === from) to = accounts[(accounts.indexOf(from) + 1) % accounts.length];
    return {
      method: 'POST',
      path: '/api/bank/transfer',
      headers: { ...json, authorization: from.owner.token, 'idempotency-key': 'bench-{n}' },
      body: JSON.stringify({ from: from.id, to: to.id, amount: 1 + Math.floor(Math.random() * 100) }),
    };
  });
}

/** Sends each scenario's first request once and fails fast if the answer is not what the scenario means to measure. */
async function checkScenarios(ctx, defs, records, scenarios) {
  const send = async (r) => {
    const res = await fetch(ctx.base + r.path.replaceAll('{n}', `check-${Date.now()}`), {
      method: r.method,
      headers: Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k, v.replaceAll('{n}', `check-${Date.now()}`)])),
      body: r.body?.replaceAll('{n}', 'check'),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${r.method} ${r.path} -> ${res.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text);
  };
  const view = await send(defs.view.requests[0]);
  if (!ctx.ids.includes(view.id)) throw new Error(`view returned the wrong record: ${JSON.stringify(view).slice(0, 200)}`);
  const anonymous = await fetch(`${ctx.base}/api/collections/posts/records/${view.id}`);
  if (anonymous.ok) throw new Error(`the view rule let an anonymous caller through (${anonymous.status})`);
  const word = scenarioParams(records).search[0];
  let found = 0;
  for (let i = 0; i < records; i++) if (post(i).title.includes(word)) found++;
  const expected = { list: LIST_WINDOW, list_expand: LIST_WINDOW, search_scan: found };
  for (const name of ['list', 'list_expand', 'search_scan']) {
    const page = await send(defs[name].requests[0]);
    if (page.totalItems !== expected[name]) throw new Error(`${name} counted ${page.totalItems}, not ${expected[name]}`);
    if (page.items.length !== Math.min(PAGE, expected[name])) throw new Error(`${name} returned ${page.items.length} items`);
    if (name === 'list_expand' && !(page.items[0].expand?.author?.id && page.items[0].expand?.category?.name)) {
      throw new Error(`list_expand did not expand: ${JSON.stringify(page.items[0]).slice(0, 300)}`);
    }
  }
  // before the create below adds one; only when it runs (a build from before aggregates, in an A/B, has none)
  if (scenarios.includes('aggregate')) {
    const grouped = await send(defs.aggregate.requests[0]);
    const counted = grouped.items.reduce((n, g) => n + g.count, 0);
    if (counted !== records)
      throw new Error(`aggregate counted ${counted} posts, not ${records}: ${JSON.stringify(grouped).slice(0, 300)}`);
  }
  await send(defs.create.requests[0]);
  await send(defs.update.requests[0]);
  if (defs.transfers) await send(defs.transfers.requests[0]);
  return JSON.stringify(view);
}

/** The search index the search scenarios declare on `posts.title`, as a user would (docs: "Searchable fields"). */
const SEARCH_INDEX = 'CREATE INDEX idx_posts_title_search ON posts USING search (title)';

/**
 * Declares `posts.title` searchable, or takes the declaration back, through
 * the collections API (the migration builds the index from the rows there:
 * its time is logged); then checks that the search scenarios' first
 * requests count what a scan counts.
 */
async function setSearchIndex(ctx, defs, records, wanted) {
  if ((ctx.searchIndex ?? false) === wanted) return;
  const started = Date.now();
  const indexes = ['CREATE INDEX idx_posts_n ON posts (n)', ...(wanted ? [SEARCH_INDEX] : [])];
  await api(ctx.base, 'PATCH', '/api/collections/posts', { token: ctx.su, body: { indexes } });
  ctx.searchIndex = wanted;
  log(`${wanted ? 'declared posts.title searchable: the index was built' : 'took the search index back'} in ${Date.now() - started} ms`);
  if (!wanted) return;
  const word = scenarioParams(records).search[0];
  let found = 0;
  for (let i = 0; i < records; i++) if (post(i).title.includes(word)) found++;
  for (const name of ['search', 'search_ranked']) {
    const r = defs[name].requests[0];
    const page = await api(ctx.base, 'GET', r.path, { token: r.headers.authorization });
    if (page.json.totalItems !== found) throw new Error(`${name} counted ${page.json.totalItems}, not ${found}`);
  }
}

async function runScenario(name, def, opts, ctx) {
  const { beside: besideDef, url = ctx.base, pid = ctx.server.proc.pid, searchIndex: _, settleMs = 500, ...rest } = def;
  const { what, expectStatus, ...beside } = besideDef ?? {};
  const load = { url, connections: opts.connections, ...rest };
  if (opts.warmup > 0) {
    log(`${name}: warming up ${opts.warmup} s`);
    await measure({ ...load, duration: opts.warmup });
  }
  // let work left over from the warm-up finish before measuring
  await new Promise((r) => setTimeout(r, settleMs));
  log(
    `${name}: measuring ${opts.duration} s with ${load.connections} connections${besideDef ? `, with ${what} beside it on ${beside.connections} more` : ''}`,
  );
  const primaryCpuBefore = opts.cluster ? clusterCpuSeconds(opts.cluster.primaryData) : undefined;
  const [r, besideResult] = await Promise.all([
    measure({ ...load, duration: opts.duration, pid }),
    besideDef ? measure({ url, ...beside, duration: opts.duration }) : undefined,
  ]);
  if (primaryCpuBefore !== undefined && r.total > 0) {
    // PostgreSQL's primary: every backend's CPU, whichever instance or standby the reads went to
    const cpu = clusterCpuSeconds(opts.cluster.primaryData) - primaryCpuBefore;
    r.primary_cpu_us_per_request = Math.round((cpu * 1e6) / r.total);
    r.primary_cpu_percent = Math.round((cpu / opts.duration) * 100);
  }
  if (ctx.server.exit) throw new Error(ctx.server.describeExit());
  if (ctx.bare.child.exit) throw new Error(ctx.bare.child.describeExit());
  if (besideResult) {
    // the server's CPU covered both loads
    r.server_cpu_us_per_request = Math.round((r.server_cpu_us_per_request * r.total) / (r.total + besideResult.total));
  }
  if (besideResult && expectStatus !== undefined) {
    // the answers the scenario expects beside (the slow filters' 400s and 503s) are no failures
    besideResult.expected = [expectStatus].flat().reduce((n, status) => n + (besideResult.status_codes?.[status] ?? 0), 0);
    besideResult.non2xx -= besideResult.expected;
  }
  return { ...r, beside: besideResult, besideWhat: what };
}

// ---------------------------------------------------------------------------

async function main() {
  const opts = readOptions(process.argv.slice(2));
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing; run "npm run build" (npm run bench does it)`);
  pinSelf();

  // Bounded in time whatever happens: setup, seeding (generously 5 ms a
  // record) and every scenario, plus two minutes of slack.
  const limitMs =
    120_000 +
    opts.records * 5 +
    (opts.scenarios.includes('transfers') ? opts.accounts * 200 : 0) +
    opts.scenarios.length * (opts.replicas > 0 ? 2 : 1) * (opts.duration + opts.warmup + 15) * 1000 +
    (opts.replicas > 0 ? 240_000 : 0) +
    (opts.scenarios.includes('realtime') ? opts.subscribers * 5 + opts.instances * 30_000 : 0);
  setTimeout(() => abort(`time limit of ${Math.round(limitMs / 1000)} s reached`, 1), limitMs).unref();

  const machine = `node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
  const engine = opts.postgres ? 'PostgreSQL' : 'SQLite';
  log(
    `${machine}, load ${os.loadavg()[0].toFixed(2)}; ${opts.records} records, ${opts.connections} connections, ` +
      `${opts.duration} s per scenario (+${opts.warmup} s warm-up), on ${engine}; load by ${generator}` +
      (cores ? ` on core ${cores.load}, servers on ${cores.servers}` : ''),
  );
  const ctx = await setUp(opts);
  const defs = defineScenarios(ctx, opts.records);
  const sample = await checkScenarios(ctx, defs, opts.records, opts.scenarios);
  ctx.bare = await startBare(stack, sample, onServerCores);
  // the bare endpoint gets the view's requests, so the load generator does the same work for both
  defs.bare = { url: ctx.bare.url, requests: defs.view.requests, pid: ctx.bare.child.proc.pid };
  log(`bare node:http ceiling at ${ctx.bare.url} (record body ${Buffer.byteLength(sample)} bytes)`);

  // If a server dies mid-run, stop the load at once and report it.
  ctx.server.onUnexpectedExit = stopLoad;
  ctx.bare.child.onUnexpectedExit = stopLoad;

  const idle = { target: 'mainspring', engine, scenario: 'idle', records: opts.records, idle_rss_mib: ctx.idleRssMib };
  process.stdout.write(`${JSON.stringify(idle)}\n`);

  const rows = [];
  let bareRps;
  let realtimeLine;
  let realtimeBare;
  for (const name of opts.scenarios) {
    if (name === 'realtime') {
      const others = await startInstances(ctx, opts.instances - 1);
      const line = await runRealtime(
        { ...ctx, bases: [ctx.base, ...others.map((o) => o.base)], pids: [ctx.server.proc.pid, ...others.map((o) => o.server.proc.pid)] },
        { subscribers: opts.subscribers, perProcess: opts.subscribersPerProcess, writes: 20, log },
      );
      for (const o of others) await o.server.stop();
      process.stdout.write(`${JSON.stringify({ target: 'mainspring', engine, ...line })}\n`);
      realtimeLine = line;
      // the same subscribers on the bare node:http fan-out, one process as ours: the floor of the write per socket
      if (opts.instances === 1) {
        log('realtime: the same on the bare node:http fan-out (no rules, no database), the ceiling');
        const bare = await runRealtime(
          { ...ctx, bases: [ctx.bare.url], pids: [ctx.bare.child.proc.pid] },
          { subscribers: opts.subscribers, perProcess: opts.subscribersPerProcess, writes: 20, log },
        );
        process.stdout.write(`${JSON.stringify({ target: 'bare', engine: 'none', ...bare })}\n`);
        realtimeBare = bare;
      }
      if (line.missed_events > 0) log(`realtime: ${line.missed_events} events never arrived`);
      continue;
    }
    // the search scenarios declare their index; every other scenario runs on the table as it always was
    if (name !== 'bare') await setSearchIndex(ctx, defs, opts.records, defs[name].searchIndex === true);
    const r = await runScenario(name, defs[name], opts, ctx);
    if (name === 'bare') bareRps = r.requests_per_sec;
    const line = resultLine({ target: 'mainspring', engine, scenario: name }, r, bareRps);
    if (name === 'transfers') line.transfers_per_sec = r.requests_per_sec;
    if (r.beside) {
      if (r.besideWhat === 'sign-ins') line.logins_beside_per_sec = r.beside.requests_per_sec;
      else {
        line.slow_filters_answered = r.beside.total;
        line.slow_filter_p50_ms = r.beside.p50_ms;
        line.slow_filter_max_ms = r.beside.max_ms;
      }
      const alone = rows.find((row) => row.scenario === 'view');
      if (alone) line.view_alone_p99_ms = alone.p99_ms;
      line.non2xx += r.beside.non2xx;
      line.errors += r.beside.errors;
    }
    if (line.errors > 0 || line.non2xx > 0) {
      line.detail = {
        status_codes: r.status_codes,
        beside: r.beside?.status_codes,
        errors: r.error_kinds,
        beside_errors: r.beside?.error_kinds,
      };
    }
    withPrimaryCpu(line, r);
    process.stdout.write(`${JSON.stringify(line)}\n`);
    rows.push(line);
  }
  if (opts.replicas > 0) rows.push(...(await withStandbys(ctx, defs, opts, rows)));

  // Anything the server logged at warn level or above during the run.
  const logged = ctx.server.tail.filter((l) => !l.includes('Mainspring is serving'));
  if (logged.length > 0) log(`the server logged ${logged.length} line(s) during the run; last ones:\n  ${logged.slice(-10).join('\n  ')}`);

  process.stdout.write(
    [
      '',
      `Mainspring on ${engine}, ${opts.records} records (idle RSS ${ctx.idleRssMib} MiB), ${opts.connections} connections, ${opts.duration} s per scenario, load by ${generator}; ${machine}`,
      '',
      ...resultsTable(rows),
      '',
      ...(realtimeLine
        ? [
            '| server | instances | realtime subscribers | client processes | writes | delivery p50 ms | delivery p99 ms | last subscriber p50 ms | last subscriber p99 ms | missed | server RSS KB per idle subscriber |',
            '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
            realtimeRow(`Mainspring ${engine}`, realtimeLine),
            ...(realtimeBare ? [realtimeRow('bare node:http fan-out', realtimeBare)] : []),
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

/** One row of the realtime table. */
function realtimeRow(server, line) {
  const stopped = line.stopped_by ? ` of ${line.subscribers_asked} (stopped by ${line.stopped_by})` : '';
  return `| ${server} | ${line.instances} | ${line.subscribers}${stopped} | ${line.client_processes} | ${line.writes} | ${line.delivery_p50_ms} | ${line.delivery_p99_ms} | ${line.last_subscriber_p50_ms} | ${line.last_subscriber_p99_ms} | ${line.missed_events} | ${line.rss_per_subscriber_kb ?? '-'} |`;
}

function withPrimaryCpu(line, r) {
  if (r.primary_cpu_us_per_request === undefined) return;
  line.primary_cpu_us_per_request = r.primary_cpu_us_per_request;
  line.primary_cpu_percent = r.primary_cpu_percent;
}

/**
 * The reads again with the standbys taking them: the server restarted with
 * DATABASE_REPLICA_URLS, once every standby is in rotation. Each line has the
 * ratio of its requests/s and of the primary's CPU per request to the same
 * scenario on the primary alone.
 */
async function withStandbys(ctx, defs, opts, alone) {
  await ctx.server.stop();
  ctx.server = await startServer({ ...ctx.serverOptions, replicaUrls: opts.cluster.replicaUrls });
  ctx.server.onUnexpectedExit = stopLoad;
  await waitForStandbys(ctx.base, ctx.su, opts.replicas);
  log(`restarted with ${opts.replicas} standbys taking the reads (pid ${ctx.server.proc.pid})`);
  const engine = `PostgreSQL + ${opts.replicas} standbys`;
  const bareRps = alone.find((row) => row.scenario === 'bare')?.requests_per_sec;
  const rows = [];
  for (const name of opts.scenarios.filter((n) => n !== 'bare' && n !== 'realtime')) {
    const r = await runScenario(name, defs[name], opts, ctx);
    const line = resultLine({ target: 'mainspring', engine, scenario: name }, r, bareRps);
    withPrimaryCpu(line, r);
    const before = alone.find((row) => row.scenario === name);
    if (before) {
      line.rps_vs_primary_alone = Math.round((line.requests_per_sec / before.requests_per_sec) * 100) / 100;
      if (before.primary_cpu_us_per_request) {
        line.primary_cpu_vs_primary_alone = Math.round((line.primary_cpu_us_per_request / before.primary_cpu_us_per_request) * 100) / 100;
      }
    }
    process.stdout.write(`${JSON.stringify(line)}\n`);
    // the table's rows are told apart by their scenario's name
    rows.push({ ...line, scenario: `${name}, ${opts.replicas} standbys` });
  }
  return rows;
}

/** The other arguments when the run asks for the files scenario (`--scenario=files` or `--scenario files`), else null. */
function filesScenarioArgs(argv) {
  const at = argv.findIndex((a, i) => a === '--scenario=files' || (a === '--scenario' && argv[i + 1] === 'files'));
  if (at < 0) return null;
  return argv.filter((_, i) => i !== at && !(argv[at] === '--scenario' && i === at + 1));
}

const filesArgs = filesScenarioArgs(process.argv.slice(2));
// PocketBase's published scenarios: a data set and a client of their own (bench/pocketbase-shapes.mjs)
const handOff = process.argv.includes('--pocketbase-shapes')
  ? ['bench/pocketbase-shapes.mjs', process.argv.slice(2)]
  : filesArgs && ['bench/files.mjs', filesArgs];
if (handOff) {
  // the script starts its own server and cleans up after itself: hand it the run
  const child = spawn(process.execPath, [path.join(ROOT, handOff[0]), ...handOff[1]], { cwd: ROOT, stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  process.on('SIGINT', () => abort('SIGINT', 130));
  process.on('SIGTERM', () => abort('SIGTERM', 143));
  // a reader that goes away (`| head -1`) must not leave the server running
  process.stdout.on('error', (err) => abort(`stdout closed (${err.code})`, 1));

  main().then(
    (code) => exit(code),
    (err) => {
      log(`failed: ${err instanceof Error ? err.message : err}`);
      exit(1);
    },
  );
}
