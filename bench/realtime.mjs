// The realtime scenario of `npm run bench`: many SSE subscribers on one
// instance, a series of writes, and for each write the time until the last
// subscriber has its event; plus the server's memory per idle subscriber.
//
// Subscribers are raw HTTP streams (one socket each, as browsers hold them)
// that subscribe to `posts/*` with the bench user's token, so every event
// passes the list rule `author = @request.auth.id`. Writes are timed from the
// moment the create request is sent (an upper bound on the time from commit).
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { percentile, rssBytes } from './lib.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Opens one SSE stream; resolves with its clientId once PB_CONNECT arrives. */
function openStream(base, onEvent) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}/api/realtime`, { agent: false }, (res) => {
      res.setEncoding('utf8');
      let buffer = '';
      let clientId;
      res.on('data', (chunk) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (clientId === undefined) {
            const m = /event:PB_CONNECT\ndata:\{"clientId":"(\w+)"\}/.exec(message);
            if (m) {
              clientId = m[1];
              resolve({ clientId, close: () => req.destroy() });
            }
          } else if (message.startsWith('id:')) onEvent(message);
        }
      });
      res.on('error', () => {});
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => reject(new Error('SSE connect timed out')));
  });
}

async function subscribe(base, token, clientId) {
  const res = await fetch(`${base}/api/realtime`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: token },
    body: JSON.stringify({ clientId, subscriptions: ['posts/*'] }),
  });
  if (res.status !== 204) throw new Error(`subscribe -> ${res.status}: ${(await res.text()).slice(0, 200)}`);
}

/**
 * Runs the scenario; `ctx` has `base`, `su` (a superuser's token), `userToken`, `userId` and `server.proc.pid`.
 * Returns one result line.
 */
export async function runRealtime(ctx, { subscribers, writes, log }) {
  const pid = ctx.server.proc.pid;
  await sleep(500);
  const rssBefore = rssBytes(pid);

  // receipts[w] counts subscribers that have write w; last[w] is when the last one did
  const sentAt = new Array(writes).fill(0);
  const received = new Array(writes).fill(0);
  const lastAt = new Array(writes).fill(0);
  const latencies = [];
  const onEvent = (message) => {
    const m = /"title":"rt-(\d+)"/.exec(message);
    if (!m) return;
    const w = Number(m[1]);
    const now = performance.now();
    latencies.push(now - sentAt[w]);
    received[w]++;
    lastAt[w] = now;
  };

  log(`realtime: opening ${subscribers} SSE subscribers`);
  const streams = [];
  try {
    for (let i = 0; i < subscribers; i += 200) {
      const batch = await Promise.all(Array.from({ length: Math.min(200, subscribers - i) }, () => openStream(ctx.base, onEvent)));
      await Promise.all(batch.map((s) => subscribe(ctx.base, ctx.userToken, s.clientId)));
      streams.push(...batch);
    }
    await sleep(1000);
    const rssIdle = rssBytes(pid);

    log(`realtime: ${writes} writes, each to all ${subscribers} subscribers`);
    for (let w = 0; w < writes; w++) {
      sentAt[w] = performance.now();
      const res = await fetch(`${ctx.base}/api/collections/posts/records`, {
        method: 'POST',
        // the bench's posts take writes from superusers only; the user's subscription still sees them (author)
        headers: { 'content-type': 'application/json', authorization: ctx.su },
        body: JSON.stringify({ title: `rt-${w}`, n: -1 - w, author: ctx.userId }),
      });
      if (!res.ok) throw new Error(`write -> ${res.status}`);
      const until = performance.now() + 10_000;
      while (received[w] < subscribers && performance.now() < until) await sleep(5);
      await sleep(100);
    }
    const missing = received.reduce((sum, n) => sum + (subscribers - n), 0);
    const lasts = lastAt.map((t, w) => t - sentAt[w]).sort((a, b) => a - b);
    latencies.sort((a, b) => a - b);
    const round = (v) => (Number.isNaN(v) ? null : Math.round(v * 10) / 10);
    return {
      scenario: 'realtime',
      subscribers,
      writes,
      delivery_p50_ms: round(percentile(latencies, 50)),
      delivery_p99_ms: round(percentile(latencies, 99)),
      last_subscriber_p50_ms: round(percentile(lasts, 50)),
      last_subscriber_p99_ms: round(percentile(lasts, 99)),
      missed_events: missing,
      rss_per_subscriber_kb: rssBefore && rssIdle ? Math.round((rssIdle - rssBefore) / subscribers / 102.4) / 10 : null,
    };
  } finally {
    for (const s of streams) s.close();
  }
}
