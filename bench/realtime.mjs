// The realtime scenario of `npm run bench`: many SSE subscribers on one
// instance (or spread over several, on PostgreSQL), a series of writes, and
// for each write the time until each subscriber, and the last, has its
// event; plus the servers' memory per idle subscriber.
//
// Subscribers are raw HTTP streams (one socket each, as browsers hold them)
// that subscribe to `posts/*` with the bench user's token, so every event
// passes the list rule `author = @request.auth.id`. They are opened by
// several client processes (this file, forked with --realtime-clients), each
// with at most --subscribers-per-process sockets: a process has a limit of
// open files (`ulimit -n`), and one process parsing every event for 20,000
// streams would measure itself, not the server. Receipt times are wall-clock
// (performance.timeOrigin + now()), comparable across the processes.
// Writes are timed from the moment the create request is sent (an upper
// bound on the time from commit).
import { fork } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { percentile, rssBytes } from './lib.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const wallNow = () => performance.timeOrigin + performance.now();
/** Errors that say a process ran out of file descriptors. */
const FILE_LIMIT = new Set(['EMFILE', 'ENFILE']);

/** What every event of the scenario carries, followed by its write's number. */
const MARK = Buffer.from('"title":"rt-');

/**
 * Opens one SSE stream on a raw socket (no HTTP client machinery: the
 * client processes must cost less than the server they measure); resolves
 * with its clientId once PB_CONNECT arrives. Events are found by their mark
 * in the bytes as they come (a mark split across two reads is joined);
 * `onEvent(w)` is told each write's number.
 */
function openStream(base, onEvent) {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname);
    let head = '';
    let clientId;
    let carry = null;
    socket.on('data', (chunk) => {
      if (clientId === undefined) {
        head += chunk.toString('latin1');
        const m = /event:PB_CONNECT\ndata:\{"clientId":"(\w+)"\}/.exec(head);
        if (m) {
          clientId = m[1];
          head = '';
          socket.setTimeout(0);
          resolve({ clientId, close: () => socket.destroy() });
        }
        return;
      }
      const data = carry ? Buffer.concat([carry, chunk]) : chunk;
      let at = 0;
      for (let i = data.indexOf(MARK, at); i >= 0; i = data.indexOf(MARK, at)) {
        let end = i + MARK.length;
        let w = 0;
        while (end < data.length && data[end] >= 48 && data[end] <= 57) w = w * 10 + data[end++] - 48;
        if (end === data.length) break; // the number goes on in the next read
        onEvent(w);
        at = end;
      }
      const keep = Math.max(at, data.length - MARK.length - 10);
      carry = keep < data.length ? data.subarray(keep) : null;
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('stream closed before PB_CONNECT')));
    socket.setTimeout(30_000, () => socket.destroy(Object.assign(new Error('SSE connect timed out'), { code: 'ETIMEDOUT' })));
    socket.write(`GET /api/realtime HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\n\r\n`);
  });
}

/** One subscription request, on a keep-alive agent of few sockets (the streams take the file descriptors). */
const postAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
function subscribe(base, token, clientId) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ clientId, subscriptions: ['posts/*'] });
    const req = http.request(
      `${base}/api/realtime`,
      { method: 'POST', agent: postAgent, headers: { 'content-type': 'application/json', authorization: token } },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`subscribe -> ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// ---------------------------------------------------------------------------
// A client process: opens its streams, records when each event arrives.

async function clientProcess() {
  const streams = [];
  let times = [];
  let opened = 0;
  const got = [];
  const onEvent = (w) => {
    if (times[w] === undefined) times[w] = [];
    times[w].push(wallNow());
    got[w] = (got[w] ?? 0) + 1;
    if (got[w] === opened) process.send({ got: w });
  };
  process.on('message', async (msg) => {
    if (msg.open) {
      const { bases, token, count, first } = msg.open;
      const failures = {};
      let firstError;
      for (let i = 0; i < count; i += 200) {
        const batch = await Promise.allSettled(
          Array.from({ length: Math.min(200, count - i) }, (_, k) => {
            const base = bases[(first + i + k) % bases.length];
            return openStream(base, onEvent).then(async (s) => {
              streams.push(s);
              await subscribe(base, token, s.clientId);
              return s;
            });
          }),
        );
        for (const r of batch) {
          if (r.status === 'fulfilled') continue;
          const code = r.reason?.code ?? r.reason?.message ?? 'error';
          failures[code] = (failures[code] ?? 0) + 1;
          firstError ??= `${code}: ${r.reason?.message}`;
        }
        // out of file descriptors: more attempts only fail the same way
        if (Object.keys(failures).some((c) => FILE_LIMIT.has(c))) break;
      }
      opened = streams.length;
      process.send({ opened, failures, firstError });
    } else if (msg.report) {
      process.send({ times });
      times = [];
    } else if (msg.close) {
      for (const s of streams) s.close();
      process.exit(0);
    }
  });
}

// ---------------------------------------------------------------------------
// The scenario, in the bench's process.

/** Open files of a process, and its limit (from /proc; undefined elsewhere). */
function openFiles(pid) {
  try {
    const open = fs.readdirSync(`/proc/${pid}/fd`).length;
    const limit = Number(/Max open files\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/limits`, 'utf8'))?.[1]);
    return { open, limit };
  } catch {
    return undefined;
  }
}

/** Forks one client process and gives it a promise-based conversation. */
function startClients() {
  const child = fork(fileURLToPath(import.meta.url), ['--realtime-clients'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = [];
  const onGot = new Set();
  child.on('message', (msg) => {
    if (msg.got !== undefined) for (const f of onGot) f(msg.got);
    else waiting.shift()?.(msg);
  });
  const ask = (msg) =>
    new Promise((resolve) => {
      waiting.push(resolve);
      child.send(msg);
    });
  return { child, ask, onGot };
}

/**
 * Runs the scenario; `ctx` has `bases` (the instances' URLs; writes go to the first), `pids`
 * (their server processes), `su` (a superuser's token), `userToken`, `userId`.
 * Returns one result line.
 */
export async function runRealtime(ctx, { subscribers, writes, perProcess, log }) {
  const { bases, pids } = ctx;
  await sleep(500);
  const rssOf = () => pids.reduce((sum, pid) => sum + (rssBytes(pid) ?? Number.NaN), 0);
  const rssBefore = rssOf();

  const processes = Math.ceil(subscribers / perProcess);
  log(
    `realtime: opening ${subscribers} SSE subscribers on ${bases.length} instance(s) from ${processes} client process(es) of at most ${perProcess}`,
  );
  const clients = Array.from({ length: processes }, startClients);
  try {
    const opened = await Promise.all(
      clients.map((c, i) =>
        c.ask({
          open: { bases, token: ctx.userToken, count: Math.min(perProcess, subscribers - i * perProcess), first: i * perProcess },
        }),
      ),
    );
    const total = opened.reduce((n, o) => n + o.opened, 0);
    const failures = {};
    for (const o of opened) for (const [code, n] of Object.entries(o.failures)) failures[code] = (failures[code] ?? 0) + n;
    let stoppedBy = null;
    if (total < subscribers) {
      const servers = pids.map(openFiles);
      const full = servers.filter((f) => f && f.open >= f.limit - 64);
      if (Object.keys(failures).some((c) => FILE_LIMIT.has(c))) {
        stoppedBy = `the client processes' file limit (ulimit -n ${openFiles(clients[0].child.pid)?.limit}); pass a smaller --subscribers-per-process`;
      } else if (full.length > 0) {
        stoppedBy = `the server's file limit: ${full.map((f) => `${f.open} open of ${f.limit}`).join(', ')} (ulimit -n), not the server's work`;
      } else stoppedBy = `the server: ${opened.find((o) => o.firstError)?.firstError}`;
      log(`realtime: only ${total} of ${subscribers} subscribers opened (${JSON.stringify(failures)}); stopped by ${stoppedBy}`);
    }
    await sleep(1000);
    const rssIdle = rssOf();

    log(`realtime: ${writes} writes, each to all ${total} subscribers`);
    const sentAt = new Array(writes).fill(0);
    const answered = new Array(writes).fill(0);
    const done = new Array(writes).fill(0);
    for (const c of clients) c.onGot.add((w) => done[w]++);
    for (let w = 0; w < writes; w++) {
      sentAt[w] = wallNow();
      const res = await fetch(`${bases[0]}/api/collections/posts/records`, {
        method: 'POST',
        // the bench's posts take writes from superusers only; the user's subscription still sees them (author)
        headers: { 'content-type': 'application/json', authorization: ctx.su },
        body: JSON.stringify({ title: `rt-${w}`, n: -1 - w, author: ctx.userId }),
      });
      if (!res.ok) throw new Error(`write -> ${res.status}`);
      answered[w] = wallNow() - sentAt[w];
      const until = performance.now() + 10_000;
      while (done[w] < clients.length && performance.now() < until) await sleep(5);
      await sleep(100);
    }
    const reports = await Promise.all(clients.map((c) => c.ask({ report: true })));
    const latencies = [];
    const lasts = [];
    let missing = 0;
    for (let w = 0; w < writes; w++) {
      let last = Number.NaN;
      let received = 0;
      for (const r of reports) {
        for (const t of r.times[w] ?? []) {
          latencies.push(t - sentAt[w]);
          received++;
          if (!(t - sentAt[w] <= last)) last = t - sentAt[w];
        }
      }
      missing += total - received;
      lasts.push(last);
    }
    log(
      `realtime: per write, ms to its answer / to its last subscriber: ${lasts.map((l, w) => `${Math.round(answered[w])}/${Math.round(l)}`).join(' ')}`,
    );
    lasts.sort((a, b) => a - b);
    answered.sort((a, b) => a - b);
    latencies.sort((a, b) => a - b);
    const round = (v) => (Number.isNaN(v) ? null : Math.round(v * 10) / 10);
    return {
      scenario: 'realtime',
      instances: bases.length,
      subscribers: total,
      ...(total < subscribers && { subscribers_asked: subscribers, stopped_by: stoppedBy }),
      client_processes: processes,
      writes,
      delivery_p50_ms: round(percentile(latencies, 50)),
      delivery_p99_ms: round(percentile(latencies, 99)),
      last_subscriber_p50_ms: round(percentile(lasts, 50)),
      last_subscriber_p99_ms: round(percentile(lasts, 99)),
      write_answer_p50_ms: round(percentile(answered, 50)),
      write_answer_max_ms: round(answered[answered.length - 1]),
      missed_events: missing,
      rss_per_subscriber_kb:
        Number.isFinite(rssIdle - rssBefore) && total > 0 ? Math.round((rssIdle - rssBefore) / total / 102.4) / 10 : null,
    };
  } finally {
    for (const c of clients) {
      c.child.send({ close: true }, () => {});
      c.child.once('exit', () => {});
    }
    await sleep(200);
    for (const c of clients) if (c.child.exitCode === null) c.child.kill();
  }
}

if (process.argv.includes('--realtime-clients')) clientProcess();
