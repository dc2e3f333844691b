// What the benchmark scripts share: option parsing, a free port, a
// PostgreSQL admin statement, the server's memory and CPU, percentiles,
// child processes, the bare ceiling, and the clean-up stack that undoes
// everything a run started.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

/** A `--name` option that must be a positive integer; `fallback` when absent. */
export function positiveInt(name, raw, fallback) {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got "${raw}"`);
  return n;
}

/** A port nobody listens on right now on `host` (serve takes an explicit port). */
export function freePort(host) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Runs one statement (CREATE/DROP DATABASE) on its own connection. */
export async function pgAdmin(url, sql) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Creates the database `name` on the server of `adminUrl` and hands
 * `register` how to drop it (for the clean-up stack); resolves with its URL.
 */
export async function freshDatabase(adminUrl, name, register) {
  await pgAdmin(adminUrl, `CREATE DATABASE ${name}`);
  register(() => pgAdmin(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Resident memory of a process in bytes, from /proc (Linux); undefined elsewhere. */
export function rssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The p-th percentile of sorted numbers; NaN for none. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * Clean-up: everything a run starts registers how to undo itself in
 * `cleanups`; `cleanup()` runs them once, in reverse order, on success,
 * failure, Ctrl-C and the time limit alike (after `first`, which stops the
 * load). `shuttingDown` is true from then on: children exiting are expected.
 */
export function cleanupStack(log, first = () => {}) {
  const stack = {
    cleanups: [],
    shuttingDown: false,
    cleaning: undefined,
    cleanup() {
      stack.shuttingDown = true;
      stack.cleaning ??= (async () => {
        first();
        for (const undo of stack.cleanups.reverse()) {
          try {
            await undo();
          } catch (err) {
            log(`clean-up step failed: ${err.message}`);
          }
        }
      })();
      return stack.cleaning;
    },
    async exit(code) {
      await stack.cleanup();
      process.exit(code);
    },
    abort(reason, code) {
      if (stack.shuttingDown) return;
      log(`${reason}: stopping`);
      stack.exit(code);
    },
  };
  return stack;
}

/** A JSON request to the server; any answer but a 2xx throws. Resolves with the status, the parsed body and the text. */
export async function api(base, method, urlPath, { token, body } = {}) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = token;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + urlPath, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${urlPath} -> ${res.status}: ${text.slice(0, 500)}`);
  return { status: res.status, json: text ? JSON.parse(text) : undefined, text };
}

/** Waits until the server answers `path` (default /api/health) with a 2xx; `exited()` says why it stopped, if it did. */
export async function waitForHealth(base, exited, { path: healthPath = '/api/health', timeoutMs = 30_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const why = exited();
    if (why) throw new Error(why);
    try {
      const res = await fetch(base + healthPath, { signal: AbortSignal.timeout(1_000) });
      await res.text();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${base}${healthPath} did not answer within ${timeoutMs / 1000} s`);
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); undefined elsewhere. */
export function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ (100)
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds of a process and every process under it (SQLite's reader
 * processes, which do a list's SQL), the live ones from /proc and the ended
 * ones as their parent counted them; undefined where /proc is not.
 */
export function treeCpuSeconds(pid) {
  const own = cpuSeconds(pid);
  if (own === undefined) return undefined;
  let total = own;
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    total += (Number(fields[13]) + Number(fields[14])) / 100; // cutime + cstime: children that ended
    for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
      const children = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      for (const child of children ? children.split(' ') : []) total += treeCpuSeconds(Number(child)) ?? 0;
    }
  } catch {
    // a process that ended meanwhile
  }
  return total;
}

/**
 * Spawns `command args` (see `onServerCores` in load.mjs), keeps the tail of
 * its output for error reports, and stops it when `stack` cleans up.
 * `child.onUnexpectedExit` is called if it exits before it is stopped.
 */
export function startChild(stack, name, [command, args], { env, cwd } = {}) {
  const proc = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  // `lines`: how many it has printed so far, to tell what it logged during a part of the run
  const child = { name, proc, tail: [], lines: 0, exit: undefined, stopping: false, onUnexpectedExit: undefined };
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
  child.stop = async () => {
    // SIGTERM (servers drain in-flight requests), then SIGKILL after 5 s
    if (child.exit) return;
    child.stopping = true;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await child.exited;
    clearTimeout(timer);
  };
  child.describeExit = () => {
    const { code, signal } = child.exit ?? {};
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    return `${name} exited unexpectedly (${how}); last output:\n  ${child.tail.join('\n  ') || '(none)'}`;
  };
  stack.cleanups.push(child.stop);
  return child;
}

/**
 * Starts the ceiling: bench/bare-server.mjs, a bare node:http endpoint
 * answering `body` (a real record, so the payload sizes match), on the
 * servers' cores. Resolves with the child and its URL.
 */
export async function startBare(stack, body, onServerCores) {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bare-server.mjs');
  const child = startChild(stack, 'bare node:http', onServerCores([script]), { env: { BARE_BODY: body } });
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
    child.exited.then(() => reject(new Error(child.describeExit())));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

/** Seeding through /api/batch: the server's default batch.maxRequests a transaction, this many batches at once. */
export const BATCH_SIZE = 50;
export const SEED_IN_FLIGHT = 4;

/**
 * Sends `creates` (record bodies) to `collection` as /api/batch transactions
 * of BATCH_SIZE, SEED_IN_FLIGHT at a time, telling `log` every tenth;
 * resolves with the ids in order.
 */
export async function batchCreate(base, suToken, collection, creates, log, label = collection) {
  const ids = new Array(creates.length);
  const started = Date.now();
  let next = 0;
  let done = 0;
  let nextReport = Math.ceil(creates.length / 10);
  async function worker() {
    while (next < creates.length) {
      const first = next;
      next = Math.min(next + BATCH_SIZE, creates.length);
      const requests = creates.slice(first, next).map((body) => ({ method: 'POST', url: `/api/collections/${collection}/records`, body }));
      const { json } = await api(base, 'POST', '/api/batch', { token: suToken, body: { requests } });
      json.forEach((item, k) => {
        if (item.status !== 200) throw new Error(`batch item failed: ${JSON.stringify(item).slice(0, 300)}`);
        ids[first + k] = item.body.id;
      });
      done += json.length;
      if (done >= nextReport || done === creates.length) {
        log(`seeded ${done}/${creates.length} ${label} (${Math.round(done / ((Date.now() - started) / 1000))} records/s)`);
        nextReport += Math.ceil(creates.length / 10);
      }
    }
  }
  await Promise.all(Array.from({ length: SEED_IN_FLIGHT }, worker));
  return ids;
}
