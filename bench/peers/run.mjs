// Mainspring's peers under the same load as Mainspring (bench/run.mjs): the
// same data (bench/dataset.mjs), the same scenarios, the same load generator
// and measurements (bench/load.mjs), against
//   express: the hand-written stack, Express 5 + jsonwebtoken + bcrypt + pg (express-app.mjs)
//   parse:   Parse Server from npm on PostgreSQL (parse-app.mjs)
// See README.md here.
//
// Installed on its own (its package.json and lock file), never by the root `npm install`:
//   cd bench/peers && npm_config_nodedir=/usr npm ci
// (the root project must be installed too: this script uses bench/load.mjs and
// bench/lib.mjs, which need autocannon and pg from the root node_modules). Run:
//   node bench/peers/run.mjs [--target=express|parse] [--scenario=NAME] [--records=N] [--quick]
//                            [--duration=S] [--warmup=S] [--connections=N] [--postgres-url=URL]
//
// Each target gets a fresh PostgreSQL database, dropped at the end whatever
// happens. stdout carries only the results (JSON lines, then a markdown table
// per target); progress goes to stderr.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCH_USER, CATEGORIES, categoryName, LIST_WINDOW, PAGE, post, SLOW_CONNECTIONS, scenarioParams } from '../dataset.mjs';
import { cleanupStack, freePort, freshDatabase, positiveInt, rssBytes, startBare, startChild, waitForHealth } from '../lib.mjs';
import { cores, generator, measure, onServerCores, pinSelf, resultLine, resultsTable, stopLoad } from '../load.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const HOST = '127.0.0.1';
const ALL_TARGETS = ['express', 'parse'];
const ALL_SCENARIOS = ['bare', 'health', 'view', 'list', 'list_expand', 'search', 'create', 'update', 'login'];
const SEED_IN_FLIGHT = 4; // batches sent at once while seeding, as Mainspring's bench
const IDLE_SETTLE_MS = 3_000; // as Mainspring's bench: RSS a few seconds after a restart on the seeded data

const USAGE = `Usage: node bench/peers/run.mjs [options]

  --target=NAME       run only NAME (${ALL_TARGETS.join(', ')}); default both
  --scenario=NAME     run only NAME (${ALL_SCENARIOS.join(', ')}); bare always runs too
  --quick             10,000 records, 3 s per scenario, 1 s warm-up (default 100,000, 10 s, 2 s)
  --records=N         number of posts to seed
  --connections=N     concurrent connections (default 50; login and search always use ${SLOW_CONNECTIONS})
  --duration=S        measured seconds per scenario
  --warmup=S          unmeasured seconds before each scenario
  --postgres-url=URL  the PostgreSQL server to create each target's database on
                      (default MS_TEST_POSTGRES_URL, else postgres://postgres@127.0.0.1:5432/postgres)
`;

const log = (msg) => process.stderr.write(`[peers] ${msg}\n`);

function readOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      target: { type: 'string' },
      scenario: { type: 'string' },
      quick: { type: 'boolean', default: false },
      records: { type: 'string' },
      connections: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      'postgres-url': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (values.target !== undefined && !ALL_TARGETS.includes(values.target)) {
    throw new Error(`unknown --target "${values.target}"; expected one of ${ALL_TARGETS.join(', ')}`);
  }
  if (values.scenario !== undefined && !ALL_SCENARIOS.includes(values.scenario)) {
    throw new Error(`unknown --scenario "${values.scenario}"; expected one of ${ALL_SCENARIOS.join(', ')}`);
  }
  const quick = values.quick;
  const records = positiveInt('records', values.records, quick ? 10_000 : 100_000);
  if (records < LIST_WINDOW + PAGE) throw new Error(`--records must be at least ${LIST_WINDOW + PAGE}`);
  return {
    targets: values.target === undefined ? ALL_TARGETS : [values.target],
    // the ratio needs the ceiling from the same run, so bare always runs first
    scenarios: values.scenario === undefined ? ALL_SCENARIOS : [...new Set(['bare', values.scenario])],
    records,
    connections: positiveInt('connections', values.connections, 50),
    duration: positiveInt('duration', values.duration, quick ? 3 : 10),
    warmup: values.warmup === '0' ? 0 : positiveInt('warmup', values.warmup, quick ? 1 : 2),
    postgresUrl: values['postgres-url'] ?? process.env.MS_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  };
}

// ---------------------------------------------------------------------------
// Clean-up: everything started registers how to undo itself on the stack (run
// on success, failure, Ctrl-C and the time limit alike); a target's own steps
// also run as soon as the target is done, so the next one has the machine.

const stack = cleanupStack(log, stopLoad);

/** Steps undone when the target ends (and by the stack, if the run ends first); each runs once. */
function targetScope() {
  const steps = [];
  return {
    add(fn) {
      let done;
      const once = () => {
        done ??= Promise.resolve().then(fn);
        return done;
      };
      steps.push(once);
      stack.cleanups.push(once);
    },
    async close() {
      for (const step of steps.reverse()) {
        try {
          await step();
        } catch (err) {
          log(`clean-up step failed: ${err.message}`);
        }
      }
    },
  };
}

/** A fresh database for the target, dropped when it ends. */
async function targetDatabase(scope, opts, target) {
  const name = `ms_peers_${target}_${Date.now().toString(36)}_${process.pid}`;
  const url = await freshDatabase(opts.postgresUrl, name, (drop) => scope.add(drop));
  log(`${target}: PostgreSQL database ${name} on ${new URL(url).host}`);
  return url;
}

// ---------------------------------------------------------------------------
// HTTP for setup and checks (not on the measured path)

/** A JSON request; anything but a 2xx throws. Resolves with the status, the parsed body and the text. */
async function call(base, method, urlPath, { headers = {}, body } = {}) {
  const res = await fetch(base + urlPath, {
    method,
    headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${urlPath} -> ${res.status}: ${text.slice(0, 500)}`);
  return { status: res.status, json: text ? JSON.parse(text) : undefined, text };
}

/** The status of a request that must fail (for the access checks). */
async function statusOf(base, method, urlPath, { headers = {}, body } = {}) {
  const res = await fetch(base + urlPath, {
    method,
    headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  await res.text();
  return res.status;
}

/** Waits until `healthPath` answers 2xx; `exited()` says why the server stopped, if it did. */
/**
 * Runs `count` jobs, `send(first, end)` for each slice of `size`, SEED_IN_FLIGHT
 * at a time, and logs the progress about ten times (unless `label` is empty).
 */
async function inBatches(count, size, label, send) {
  const started = Date.now();
  let next = 0;
  let done = 0;
  let nextReport = Math.ceil(count / 10);
  async function worker() {
    while (next < count) {
      const first = next;
      const end = Math.min(first + size, count);
      next = end;
      await send(first, end);
      done += end - first;
      if (label && (done >= nextReport || done === count)) {
        log(`seeded ${done}/${count} ${label} (${Math.round(done / ((Date.now() - started) / 1000))} records/s)`);
        nextReport += Math.ceil(count / 10);
      }
    }
  }
  await Promise.all(Array.from({ length: SEED_IN_FLIGHT }, worker));
}

/** How many seeded posts have `word` in their title (the answer of the search scenario). */
function countWithWord(records, word) {
  let found = 0;
  for (let i = 0; i < records; i++) if (post(i).title.toLowerCase().includes(word.toLowerCase())) found++;
  return found;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

// ---------------------------------------------------------------------------
// The targets. Each has: a label, its server script and environment, its
// health path, `setUp` (schema, user, categories, posts), `signIn`,
// `scenarios` (the load's requests), and what checkScenarios needs to read its
// answers (`page`, `viewed`, `loggedIn`, `otherUser`). Both hold the same data
// and answer the same questions.

const express = {
  name: 'express',
  label: 'Express 5 + jsonwebtoken + bcrypt + pg (hand-written) on PostgreSQL',
  script: path.join(HERE, 'express-app.mjs'),
  healthPath: '/health',
  env: () => ({ JWT_SECRET: crypto.randomBytes(32).toString('hex') }),
  batchSize: 500, // one multi-row INSERT each (its /posts/batch), well inside express.json()'s 100 kB

  async signIn(base, email = BENCH_USER.email) {
    const { json } = await call(base, 'POST', '/auth/login', { body: { email, password: BENCH_USER.password } });
    return { token: json.token, userId: json.user.id, headers: { authorization: `Bearer ${json.token}` } };
  },

  async setUp(base, records) {
    await call(base, 'POST', '/users', { body: { email: BENCH_USER.email, password: BENCH_USER.password } });
    const { headers } = await this.signIn(base);
    const categories = new Array(CATEGORIES);
    await inBatches(CATEGORIES, 1, '', async (c) => {
      categories[c] = (await call(base, 'POST', '/categories', { headers, body: { name: categoryName(c) } })).json.id;
    });
    const ids = new Array(records);
    const started = Date.now();
    await inBatches(records, this.batchSize, 'posts', async (first, end) => {
      const posts = [];
      for (let i = first; i < end; i++) {
        const p = post(i);
        posts.push({ title: p.title, n: p.n, score: p.score, category: categories[p.category] });
      }
      const { json } = await call(base, 'POST', '/posts/batch', { headers, body: { posts } });
      for (const row of json) ids[row.n] = row.id;
    });
    return { ids, categories, seedSeconds: (Date.now() - started) / 1000 };
  },

  scenarios(ctx, records) {
    const params = scenarioParams(records);
    const auth = { ...ctx.auth.headers, accept: 'application/json' };
    const get = (p) => ({ method: 'GET', path: p, headers: auth });
    const list = (query) => get(`/posts?${new URLSearchParams({ sort: '-n', perPage: String(PAGE), ...query })}`);
    return {
      health: { requests: [get('/health')] },
      view: { requests: params.view.map((i) => get(`/posts/${ctx.ids[i]}`)) },
      list: { requests: params.list.map(({ from }) => list({ minN: from, maxN: from + LIST_WINDOW })) },
      list_expand: { requests: params.list.map(({ from }) => list({ minN: from, maxN: from + LIST_WINDOW, expand: 'author,category' })) },
      search: { requests: params.search.map((word) => list({ q: word })), connections: SLOW_CONNECTIONS },
      create: {
        requests: params.create.map((p) => ({
          method: 'POST',
          path: '/posts',
          headers: { ...auth, ...JSON_HEADERS },
          body: JSON.stringify({ title: `${p.title} {n}`, n: p.n, score: p.score, category: ctx.categories[p.category] }),
        })),
      },
      update: {
        requests: params.update.map((p) => ({
          method: 'PATCH',
          path: `/posts/${ctx.ids[p.post]}`,
          headers: { ...auth, ...JSON_HEADERS },
          body: JSON.stringify({ score: p.score }),
        })),
      },
      login: {
        requests: [
          {
            method: 'POST',
            path: '/auth/login',
            headers: JSON_HEADERS,
            body: JSON.stringify({ email: BENCH_USER.email, password: BENCH_USER.password }),
          },
        ],
        connections: SLOW_CONNECTIONS,
      },
    };
  },

  /** A list answer as {total, items: [{id, n, title, author?, category?}]} (author and category when expanded). */
  page(json) {
    return {
      total: json.totalItems,
      items: json.items.map((it) => ({
        id: it.id,
        n: it.n,
        title: it.title,
        author: it.expand?.author,
        category: it.expand?.category,
      })),
    };
  },
  viewed: (json) => json.id,
  loggedIn: (json) => Boolean(json.token && json.user?.id),

  /** A second user, for the access checks. */
  async otherUser(base) {
    const email = 'bench-other@example.com';
    await call(base, 'POST', '/users', { body: { email, password: BENCH_USER.password } });
    return (await this.signIn(base, email)).headers;
  },
};

const APP_ID = 'mainspring-bench';

const parse = {
  name: 'parse',
  label: 'Parse Server 9.10 (npm) on PostgreSQL',
  script: path.join(HERE, 'parse-app.mjs'),
  healthPath: '/parse/health',
  masterKey: crypto.randomBytes(24).toString('hex'),
  env() {
    return { PARSE_APP_ID: APP_ID, PARSE_MASTER_KEY: this.masterKey };
  },
  batchSize: 200, // sub-requests per /parse/batch (Parse runs them concurrently, each its own INSERT)

  async signIn(base, email = BENCH_USER.email) {
    const { json } = await call(base, 'POST', '/parse/login', {
      headers: { 'x-parse-application-id': APP_ID },
      body: { username: email, password: BENCH_USER.password },
    });
    return {
      token: json.sessionToken,
      userId: json.objectId,
      headers: { 'x-parse-application-id': APP_ID, 'x-parse-session-token': json.sessionToken },
    };
  },

  async setUp(base, records) {
    const master = { 'x-parse-application-id': APP_ID, 'x-parse-master-key': this.masterKey };
    await call(base, 'POST', '/parse/schemas/Category', {
      headers: master,
      body: { className: 'Category', fields: { name: { type: 'String' } } },
    });
    await call(base, 'POST', '/parse/schemas/Post', {
      headers: master,
      body: {
        className: 'Post',
        fields: {
          title: { type: 'String' },
          n: { type: 'Number' },
          score: { type: 'Number' },
          author: { type: 'Pointer', targetClass: '_User' },
          category: { type: 'Pointer', targetClass: 'Category' },
        },
        indexes: { n_1: { n: 1 } },
      },
    });
    // signed up as any client would (username = the e-mail, so it signs in with it)
    await call(base, 'POST', '/parse/users', {
      headers: { 'x-parse-application-id': APP_ID },
      body: { username: BENCH_USER.email, email: BENCH_USER.email, password: BENCH_USER.password },
    });
    const { userId } = await this.signIn(base);
    const batch = async (className, bodies) => {
      const { json } = await call(base, 'POST', '/parse/batch', {
        headers: master,
        body: { requests: bodies.map((body) => ({ method: 'POST', path: `/parse/classes/${className}`, body })) },
      });
      return json.map((item) => {
        if (!item.success) throw new Error(`batch item failed: ${JSON.stringify(item).slice(0, 300)}`);
        return item.success.objectId;
      });
    };
    const categories = await batch(
      'Category',
      Array.from({ length: CATEGORIES }, (_, c) => ({ name: categoryName(c) })),
    );
    const ids = new Array(records);
    const acl = { [userId]: { read: true, write: true } };
    const started = Date.now();
    await inBatches(records, this.batchSize, 'posts', async (first, end) => {
      const bodies = [];
      for (let i = first; i < end; i++) {
        const p = post(i);
        bodies.push({
          title: p.title,
          n: p.n,
          score: p.score,
          author: { __type: 'Pointer', className: '_User', objectId: userId },
          category: { __type: 'Pointer', className: 'Category', objectId: categories[p.category] },
          ACL: acl,
        });
      }
      const created = await batch('Post', bodies);
      created.forEach((id, k) => {
        ids[first + k] = id;
      });
    });
    return { ids, categories, seedSeconds: (Date.now() - started) / 1000 };
  },

  scenarios(ctx, records) {
    const params = scenarioParams(records);
    const auth = { ...ctx.auth.headers, accept: 'application/json' };
    const get = (p) => ({ method: 'GET', path: p, headers: auth });
    const query = (where, extra = {}) =>
      get(
        `/parse/classes/Post?${new URLSearchParams({ where: JSON.stringify(where), order: '-n', limit: String(PAGE), count: '1', ...extra })}`,
      );
    const userPointer = { __type: 'Pointer', className: '_User', objectId: ctx.auth.userId };
    return {
      health: { requests: [get('/parse/health')] },
      view: { requests: params.view.map((i) => get(`/parse/classes/Post/${ctx.ids[i]}`)) },
      list: { requests: params.list.map(({ from }) => query({ n: { $gte: from, $lt: from + LIST_WINDOW } })) },
      list_expand: {
        requests: params.list.map(({ from }) => query({ n: { $gte: from, $lt: from + LIST_WINDOW } }, { include: 'author,category' })),
      },
      search: { requests: params.search.map((word) => query({ title: { $regex: word, $options: 'i' } })), connections: SLOW_CONNECTIONS },
      create: {
        requests: params.create.map((p) => ({
          method: 'POST',
          path: '/parse/classes/Post',
          headers: { ...auth, ...JSON_HEADERS },
          body: JSON.stringify({
            title: `${p.title} {n}`,
            n: p.n,
            score: p.score,
            author: userPointer,
            category: { __type: 'Pointer', className: 'Category', objectId: ctx.categories[p.category] },
            ACL: { [ctx.auth.userId]: { read: true, write: true } },
          }),
        })),
      },
      update: {
        requests: params.update.map((p) => ({
          method: 'PUT',
          path: `/parse/classes/Post/${ctx.ids[p.post]}`,
          headers: { ...auth, ...JSON_HEADERS },
          body: JSON.stringify({ score: p.score }),
        })),
      },
      login: {
        requests: [
          {
            method: 'POST',
            path: '/parse/login',
            headers: { 'x-parse-application-id': APP_ID, ...JSON_HEADERS },
            body: JSON.stringify({ username: BENCH_USER.email, password: BENCH_USER.password }),
          },
        ],
        connections: SLOW_CONNECTIONS,
      },
    };
  },

  page(json) {
    return {
      total: json.count,
      items: json.results.map((it) => ({
        id: it.objectId,
        n: it.n,
        title: it.title,
        author: it.author?.__type === 'Object' ? it.author : undefined,
        category: it.category?.__type === 'Object' ? it.category : undefined,
      })),
    };
  },
  viewed: (json) => json.objectId,
  loggedIn: (json) => Boolean(json.sessionToken && json.objectId),

  async otherUser(base) {
    const email = 'bench-other@example.com';
    await call(base, 'POST', '/parse/users', {
      headers: { 'x-parse-application-id': APP_ID },
      body: { username: email, email, password: BENCH_USER.password },
    });
    return (await this.signIn(base, email)).headers;
  },
};

const TARGETS = { express, parse };

// ---------------------------------------------------------------------------
// Checks: each scenario's first request once, its answer checked, so that no
// scenario measures error responses or wrong answers.

const fill = (s) => s?.replaceAll('{n}', `check-${Date.now().toString(36)}`);

async function send(ctx, r) {
  return call(ctx.base, r.method, fill(r.path), {
    headers: Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k, fill(v)])),
    body: r.body === undefined ? undefined : JSON.parse(fill(r.body)),
  });
}

async function checkScenarios(t, ctx, defs, records) {
  const params = scenarioParams(records);
  const fail = (name, what, json) => {
    throw new Error(`${t.name} ${name}: ${what}: ${JSON.stringify(json).slice(0, 300)}`);
  };

  await send(ctx, defs.health.requests[0]);

  const view = await send(ctx, defs.view.requests[0]);
  if (t.viewed(view.json) !== ctx.ids[params.view[0]]) fail('view', 'the wrong post', view.json);
  if (view.json.n !== params.view[0] || view.json.title !== post(params.view[0]).title) fail('view', 'the wrong fields', view.json);

  // Only the author may read or change a post: another user gets a 404, no one signed in a 401/404.
  const viewPath = defs.view.requests[0].path;
  const updateReq = defs.update.requests[0];
  const other = await t.otherUser(ctx.base);
  const otherView = await statusOf(ctx.base, 'GET', viewPath, { headers: other });
  const otherUpdate = await statusOf(ctx.base, updateReq.method, updateReq.path, { headers: other, body: JSON.parse(updateReq.body) });
  const anonymousView = await statusOf(ctx.base, 'GET', viewPath, {
    headers: t.name === 'parse' ? { 'x-parse-application-id': APP_ID } : {},
  });
  if (otherView !== 404 || otherUpdate !== 404 || ![401, 404].includes(anonymousView)) {
    throw new Error(
      `${t.name}: a post is not private to its author (other user: view ${otherView}, update ${otherUpdate}; anonymous view ${anonymousView})`,
    );
  }

  const word = params.search[0];
  const from = params.list[0].from;
  const expected = {
    list: { total: LIST_WINDOW, top: from + LIST_WINDOW - 1 },
    list_expand: { total: LIST_WINDOW, top: from + LIST_WINDOW - 1 },
    search: { total: countWithWord(records, word) },
  };
  for (const name of ['list', 'list_expand', 'search']) {
    const { json } = await send(ctx, defs[name].requests[0]);
    const page = t.page(json);
    if (page.total !== expected[name].total) fail(name, `counted ${page.total}, not ${expected[name].total}`, json);
    if (page.items.length !== Math.min(PAGE, expected[name].total)) fail(name, `${page.items.length} items`, json);
    if (page.items.some((it, k) => k > 0 && it.n >= page.items[k - 1].n)) fail(name, 'not sorted by n descending', json);
    if (expected[name].top !== undefined && page.items[0].n !== expected[name].top) fail(name, `first n ${page.items[0].n}`, json);
    if (name === 'search' && page.items.some((it) => !it.title.toLowerCase().includes(word))) fail(name, `a title without "${word}"`, json);
    if (name === 'list_expand') {
      for (const it of page.items) {
        if (it.author?.email !== BENCH_USER.email) fail(name, 'the author is not expanded', it);
        if (JSON.stringify(it.author).match(/password|hashed/i)) fail(name, 'the author carries a password hash', it);
        if (it.category?.name !== categoryName(post(it.n).category)) fail(name, 'the wrong category', it);
      }
    }
  }

  const created = await send(ctx, defs.create.requests[0]);
  if (t.name === 'express' && (created.json.author !== ctx.auth.userId || created.json.n !== params.create[0].n)) {
    fail('create', 'not the post sent', created.json);
  }
  if (t.name === 'parse' && !created.json.objectId) fail('create', 'no objectId', created.json);

  const updated = await send(ctx, defs.update.requests[0]);
  if (t.name === 'express' && updated.json.score !== params.update[0].score) fail('update', 'the score did not change', updated.json);
  if (t.name === 'parse') {
    // Parse answers {updatedAt}: read the post back
    const back = await call(ctx.base, 'GET', updateReq.path, { headers: ctx.auth.headers });
    if (back.json.score !== params.update[0].score) fail('update', 'the score did not change', back.json);
  }

  const login = await send(ctx, defs.login.requests[0]);
  if (!t.loggedIn(login.json)) fail('login', 'no token', login.json);

  return view.text;
}

// ---------------------------------------------------------------------------
// One target: database, server, seed, restart (idle RSS), checks, bare, scenarios.

async function startServer(t, databaseUrl, port, extraEnv) {
  // MS_BENCH_NODE_ARGS passes node flags to the server only, as in bench/run.mjs (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")
  const nodeArgs = (process.env.MS_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = startChild(stack, t.name, onServerCores([...nodeArgs, t.script]), {
    cwd: HERE,
    env: { ...extraEnv, PORT: String(port), HOST, DATABASE_URL: databaseUrl, NODE_ENV: 'production', EXIT_WITH_PARENT: '1' },
  });
  await waitForHealth(`http://${HOST}:${port}`, () => (child.exit ? child.describeExit() : undefined), {
    path: t.healthPath,
    timeoutMs: 60_000,
  });
  return child;
}

async function runScenario(name, def, opts, ctx) {
  const { url = ctx.base, pid = ctx.server.proc.pid, ...rest } = def;
  const load = { url, connections: opts.connections, ...rest };
  if (opts.warmup > 0) {
    log(`${ctx.target}/${name}: warming up ${opts.warmup} s`);
    await measure({ ...load, duration: opts.warmup });
  }
  // let work left over from the warm-up finish before measuring
  await new Promise((r) => setTimeout(r, 500));
  log(`${ctx.target}/${name}: measuring ${opts.duration} s with ${load.connections} connections`);
  const r = await measure({ ...load, duration: opts.duration, pid });
  if (ctx.server.exit) throw new Error(ctx.server.describeExit());
  if (ctx.bare.child.exit) throw new Error(ctx.bare.child.describeExit());
  return r;
}

async function runTarget(t, opts) {
  const scope = targetScope();
  try {
    const databaseUrl = await targetDatabase(scope, opts, t.name);
    const port = await freePort(HOST);
    const base = `http://${HOST}:${port}`;
    const env = t.env();
    let server = await startServer(t, databaseUrl, port, env);
    scope.add(() => server.stop());
    log(`${t.name}: serving ${base} (pid ${server.proc.pid})`);

    const { ids, categories, seedSeconds } = await t.setUp(base, opts.records);
    log(`${t.name}: seeded ${opts.records} posts in ${seedSeconds.toFixed(1)} s`);

    // Memory at rest with the data set: a fresh process on the seeded data, a few seconds after start.
    await server.stop();
    server = await startServer(t, databaseUrl, port, env);
    await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
    const idleRssMib = Math.round((rssBytes(server.proc.pid) ?? 0) / 1048576) || null;
    log(`${t.name}: restarted on the seeded data (pid ${server.proc.pid}); idle RSS ${idleRssMib} MiB`);

    // signed in after the restart, as any client would be
    const ctx = { target: t.name, base, server, ids, categories, auth: await t.signIn(base) };
    const defs = t.scenarios(ctx, opts.records);
    const sample = await checkScenarios(t, ctx, defs, opts.records);
    const checkedAt = server.lines; // what the checks made it log (Parse logs each 404 as an error) is not news
    ctx.bare = await startBare(stack, sample, onServerCores);
    scope.add(() => ctx.bare.child.stop());
    // the bare endpoint gets the view's requests, so the load generator does the same work for both
    defs.bare = { url: ctx.bare.url, requests: defs.view.requests, pid: ctx.bare.child.proc.pid };
    log(`${t.name}: bare node:http ceiling at ${ctx.bare.url} (view body ${Buffer.byteLength(sample)} bytes)`);

    // If a server dies mid-run, stop the load at once and report it.
    server.onUnexpectedExit = stopLoad;
    ctx.bare.child.onUnexpectedExit = stopLoad;

    const idle = {
      target: t.name,
      scenario: 'idle',
      idle_rss_mib: idleRssMib,
      records: opts.records,
      seed_seconds: Math.round(seedSeconds * 10) / 10,
    };
    process.stdout.write(`${JSON.stringify(idle)}\n`);

    const rows = [];
    let bareRps;
    for (const name of opts.scenarios) {
      const r = await runScenario(name, defs[name], opts, ctx);
      if (name === 'bare') bareRps = r.requests_per_sec;
      const line = resultLine({ target: t.name, scenario: name }, r, bareRps);
      process.stdout.write(`${JSON.stringify(line)}\n`);
      rows.push(line);
    }

    // Anything the server logged during the scenarios.
    const logged = server.tail.slice(Math.max(0, server.tail.length - (server.lines - checkedAt)));
    if (logged.length > 0) log(`${t.name} logged ${logged.length} line(s) during the run; last ones:\n  ${logged.slice(-10).join('\n  ')}`);
    return { target: t, rows, idleRssMib, seedSeconds };
  } finally {
    await scope.close();
  }
}

function table(result, opts, machine) {
  const { target, rows, idleRssMib, seedSeconds } = result;
  return [
    '',
    `${target.label}: ${opts.records} records (seeded in ${seedSeconds.toFixed(1)} s; idle RSS ${idleRssMib} MiB), ${opts.connections} connections, ${opts.duration} s per scenario, load by ${generator}; ${machine}`,
    '',
    ...resultsTable(rows),
    '',
  ].join('\n');
}

async function main() {
  const opts = readOptions(process.argv.slice(2));
  for (const t of opts.targets) {
    for (const dep of ['express', t === 'parse' ? 'parse-server' : 'bcrypt']) {
      if (!fs.existsSync(path.join(HERE, 'node_modules', dep))) {
        throw new Error(`bench/peers/node_modules/${dep} is missing; install the peers first: cd bench/peers && npm install`);
      }
    }
  }
  pinSelf();

  // Bounded in time whatever happens: per target, start-ups, seeding (generously
  // 10 ms a record) and every scenario, plus two minutes of slack.
  const limitMs =
    120_000 + opts.targets.length * (90_000 + opts.records * 10 + opts.scenarios.length * (opts.duration + opts.warmup + 15) * 1000);
  setTimeout(() => stack.abort(`time limit of ${Math.round(limitMs / 1000)} s reached`, 1), limitMs).unref();

  const machine = `node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
  log(
    `${machine}, load ${os.loadavg()[0].toFixed(2)}; targets ${opts.targets.join(', ')}; ${opts.records} records, ` +
      `${opts.connections} connections, ${opts.duration} s per scenario (+${opts.warmup} s warm-up); load by ${generator}` +
      (cores ? ` on core ${cores.load}, servers on ${cores.servers}` : ''),
  );

  const results = [];
  for (const name of opts.targets) results.push(await runTarget(TARGETS[name], opts));

  process.stdout.write(results.map((r) => table(r, opts, machine)).join(''));

  const failed = results.flatMap((r) =>
    r.rows.filter((row) => row.errors > 0 || row.non2xx > 0).map((row) => `${row.target}/${row.scenario}`),
  );
  if (failed.length > 0) {
    log(`errors in: ${failed.join(', ')}`);
    return 1;
  }
  return 0;
}

process.on('SIGINT', () => stack.abort('SIGINT', 130));
process.on('SIGTERM', () => stack.abort('SIGTERM', 143));

main().then(
  (code) => stack.exit(code),
  (err) => {
    log(`failed: ${err instanceof Error ? err.message : err}`);
    stack.exit(1);
  },
);
