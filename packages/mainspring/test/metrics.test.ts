import { readFileSync } from 'node:fs';
import { EventSource } from 'eventsource';
import PocketBase from 'pocketbase';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { signedUpUser, startServer, superuserToken, TEST_ENGINE, type TestServer } from './helpers/server.js';
import { eventually } from './helpers/uploads.js';

/**
 * `GET /api/ms/metrics`: who may read it, and that each series counts what
 * was done to the server in this file (the expected numbers are the
 * requests this test sends, counted by hand), in Prometheus's text format.
 */

(globalThis as { EventSource?: unknown }).EventSource = EventSource;

const SCRAPE_TOKEN = 'scrape-secret-4f1c9a';
let s: TestServer;
let su = '';

/** The value of one sample: the line `name{labels} value`, labels in the order prom-client writes them. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const head = labels === '' ? `${name} ` : `${name}{${labels}} `;
  const line = text.split('\n').find((l) => l.startsWith(head));
  return line === undefined ? undefined : Number(line.slice(head.length));
}

async function scrape(token = su): Promise<string> {
  const res = await fetch(`${s.url}/api/ms/metrics`, { headers: { authorization: token } });
  expect(res.status).toBe(200);
  return res.text();
}

beforeAll(async () => {
  s = await startServer({ metricsToken: SCRAPE_TOKEN });
  su = await superuserToken(s);
  const made = await s.request('POST', '/api/collections', {
    token: su,
    body: {
      name: 'notes',
      type: 'base',
      listRule: '',
      viewRule: '',
      createRule: '',
      fields: [{ name: 'title', type: 'text' }],
    },
  });
  expect(made.status, JSON.stringify(made.body)).toBe(200);
});

afterAll(async () => {
  await s?.close();
});

describe('who may read it', () => {
  test('a guest gets 401, a user 403, a superuser and the scrape token the text format', async () => {
    const guest = await s.request('GET', '/api/ms/metrics');
    expect(guest.status).toBe(401);
    expect(guest.body).toMatchObject({ status: 401, data: {} });
    const user = await signedUpUser(s, 'metrics-user@example.com');
    const refused = await s.request('GET', '/api/ms/metrics', { token: user.token });
    expect(refused.status).toBe(403);
    for (const token of [su, `Bearer ${SCRAPE_TOKEN}`, SCRAPE_TOKEN]) {
      const res = await fetch(`${s.url}/api/ms/metrics`, { headers: { authorization: token } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.text()).toContain('# TYPE mainspring_http_requests_total counter');
    }
  });

  test('a wrong, empty or huge token is a 401, never the metrics', async () => {
    for (const token of [`${SCRAPE_TOKEN}x`, 'Bearer ', 'x'.repeat(6000), SCRAPE_TOKEN.slice(0, -1)]) {
      const res = await s.request('GET', '/api/ms/metrics', { token });
      expect(res.status, token.slice(0, 20)).toBe(401);
    }
    expect((await s.request('POST', '/api/ms/metrics', { token: su })).status).toBe(404);
  });
});

describe('what it counts', () => {
  test('requests by method, route pattern and status, and their latency', async () => {
    const route = '/api/collections/:collection/records';
    const created = `method="POST",route="${route}",status="200"`;
    const timed = `method="POST",route="${route}"`;
    const before = await scrape();
    const was = (name: string, labels: string) => sample(before, name, labels) ?? 0;
    for (let i = 0; i < 7; i++) {
      const r = await s.request('POST', '/api/collections/notes/records', { body: { title: `n${i}` } });
      expect(r.status).toBe(200);
    }
    for (let i = 0; i < 3; i++) expect((await s.request('GET', `/api/collections/notes/records/missing${i}`)).status).toBe(404);
    const text = await scrape();
    // the users signed up above were POSTs to the same route
    expect(sample(text, 'mainspring_http_requests_total', created)).toBe(was('mainspring_http_requests_total', created) + 7);
    expect(sample(text, 'mainspring_http_requests_total', `method="GET",route="${route}/:id",status="404"`)).toBe(3);
    const count = 'mainspring_http_request_duration_seconds_count';
    expect(sample(text, count, timed)).toBe(was(count, timed) + 7);
    const all = 'mainspring_http_request_duration_seconds_bucket';
    expect(sample(text, all, `le="+Inf",${timed}`)).toBe(was(all, `le="+Inf",${timed}`) + 7);
  });

  test('a thousand different URLs make one series each of route pattern, not one per URL', async () => {
    await Promise.all(Array.from({ length: 200 }, (_, i) => s.request('GET', `/api/no-such-route-${i}`)));
    await Promise.all(Array.from({ length: 200 }, (_, i) => s.request('GET', `/api/collections/notes/records/id${i}x`)));
    const text = await scrape();
    expect(sample(text, 'mainspring_http_requests_total', 'method="GET",route="unmatched",status="404"')).toBe(200);
    const series = text.split('\n').filter((l) => l.startsWith('mainspring_http_requests_total{'));
    expect(series.length).toBeLessThan(20);
    expect(text).not.toContain('no-such-route-1');
  });

  test('realtime clients, subscriptions and the delivery of an event', async () => {
    const pb = new PocketBase(s.url);
    pb.autoCancellation(false);
    const got: string[] = [];
    const unsubscribe = await pb.collection('notes').subscribe('*', (e) => void got.push(e.record.title));
    try {
      let text = await scrape();
      expect(sample(text, 'mainspring_realtime_clients')).toBe(1);
      expect(sample(text, 'mainspring_realtime_subscriptions')).toBe(1);
      const before = sample(text, 'mainspring_realtime_delivery_lag_seconds_count') ?? 0;
      await s.request('POST', '/api/collections/notes/records', { body: { title: 'live' } });
      await eventually(() => expect(got).toEqual(['live']));
      text = await scrape();
      expect(sample(text, 'mainspring_realtime_delivery_lag_seconds_count')).toBe(before + 1);
    } finally {
      await unsubscribe();
      pb.realtime.unsubscribe();
    }
    await eventually(async () => expect(sample(await scrape(), 'mainspring_realtime_subscriptions')).toBe(0));
  });

  test('rate-limit refusals by rule', async () => {
    const before = s.app.settings.get().rateLimits;
    await s.app.settings.update({
      rateLimits: { enabled: true, rules: [{ label: 'notes:create', maxRequests: 2, duration: 60, audience: '' }] },
    });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++)
        statuses.push((await s.request('POST', '/api/collections/notes/records', { body: { title: 'r' } })).status);
      expect(statuses).toEqual([200, 200, 429, 429, 429]);
      expect(sample(await scrape(), 'mainspring_rate_limit_refusals_total', 'rule="notes:create"')).toBe(3);
    } finally {
      await s.app.settings.update({ rateLimits: before });
    }
  });

  test('cron runs by job and result', async () => {
    s.app.crons.add('metrics.ok', '@yearly', () => {});
    s.app.crons.add('metrics.broken', '@yearly', () => {
      throw new Error('broken on purpose');
    });
    await s.app.crons.run('metrics.ok');
    await s.app.crons.run('metrics.ok');
    await s.app.crons.run('metrics.broken');
    const text = await scrape();
    expect(sample(text, 'mainspring_cron_runs_total', 'job="metrics.ok",result="ok"')).toBe(2);
    expect(sample(text, 'mainspring_cron_runs_total', 'job="metrics.broken",result="failed"')).toBe(1);
  });

  test('mail handed on (SMTP off: saved as a file)', async () => {
    await signedUpUser(s, 'metrics-mail@example.com');
    const before = sample(await scrape(), 'mainspring_mail_total', 'result="sent"') ?? 0;
    const r = await s.request('POST', '/api/collections/users/request-verification', { body: { email: 'metrics-mail@example.com' } });
    expect(r.status).toBe(204);
    await eventually(async () => expect(sample(await scrape(), 'mainspring_mail_total', 'result="sent"')).toBe(before + 1));
  });

  test.skipIf(TEST_ENGINE !== 'sqlite')('group commits: writes sent together are committed together (SQLite)', async () => {
    const before = await scrape();
    const writes = sample(before, 'mainspring_db_group_commit_writes_sum') ?? 0;
    const commits = sample(before, 'mainspring_db_group_commit_writes_count') ?? 0;
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => s.request('POST', '/api/collections/notes/records', { body: { title: `g${i}` } })),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    const after = await scrape();
    const added = (sample(after, 'mainspring_db_group_commit_writes_sum') ?? 0) - writes;
    const groups = (sample(after, 'mainspring_db_group_commit_writes_count') ?? 0) - commits;
    // the 40 creates, and what else wrote meanwhile (rate-limit and log rows live elsewhere)
    expect(added).toBeGreaterThanOrEqual(40);
    expect(groups).toBeGreaterThan(0);
    expect(groups).toBeLessThanOrEqual(added);
  });

  test('the database, the pool and the process', async () => {
    const text = await scrape();
    for (const name of [
      'mainspring_db_writes_waiting',
      'mainspring_db_pool_connections',
      'mainspring_db_pool_idle',
      'mainspring_db_pool_waiting',
      'mainspring_db_reads_apart_running',
      'mainspring_db_reads_stopped_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_active_handles_total',
    ]) {
      const value = sample(text, name);
      expect(value, name).toBeTypeOf('number');
      expect(value, name).toBeGreaterThanOrEqual(0);
    }
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(10 << 20);
    expect(sample(text, 'mainspring_db_writes_waiting')).toBe(0);
  });
});

test('every series docs/metrics.md and its example alerts name is served', async () => {
  const doc = readFileSync(new URL('../../../docs/metrics.md', import.meta.url), 'utf8');
  const named = new Set([...doc.matchAll(/\b((?:mainspring|nodejs|process)_[a-z0-9_]*[a-z0-9])\b/g)].map((m) => m[1] as string));
  expect(named.size).toBeGreaterThan(15);
  const text = await scrape();
  const served = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
  for (const name of named) {
    // a histogram's series carry suffixes
    if (served.has(name.replace(/_(bucket|sum|count)$/, ''))) continue;
    throw new Error(`docs/metrics.md names ${name}, which the server does not serve`);
  }
});
