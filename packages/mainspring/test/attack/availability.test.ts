import { EventSource } from 'eventsource';
import PocketBase from 'pocketbase';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Mailbox } from '../helpers/mailbox.js';
import { startServer, superuserToken, TEST_ENGINE, type TestServer } from '../helpers/server.js';

/*
 * No request may stall the others (OWASP API4, unrestricted resource
 * consumption), on the engine the suite runs on, with the README's example
 * collection and rules and the server's default protections on:
 *
 * - the filters that walk back-relations twice are refused before they run
 *   (query limits); with those limits raised, they run away from the event
 *   loop and are stopped at the statement timeout, alone or 25 at once,
 *   while /api/health and a view by id from another client stay fast;
 * - the same filter in a realtime subscription is refused when set; raised,
 *   its slow check drops that subscriber's event and delays nobody else;
 * - sign-up floods, create floods through /api/batch and mail floods meet
 *   their rate limits; ten concurrent correct sign-ins of one account are all
 *   answered.
 *
 * Expected latencies are generous bounds (a test is no benchmark: `npm run
 * bench -- --scenario=view_during_slow_filter` measures); the statement
 * timeout is 1.5 s here, so "within 10%" is 1.65 s.
 */

(globalThis as { EventSource?: unknown }).EventSource = EventSource;

const TIMEOUT_MS = 1500;
/** A slow request ends within 10% of the limit; the margin is the HTTP round trip and the answer's own work on a loaded CI machine. */
const ENDS_WITHIN = TIMEOUT_MS * 1.1 + 250;
/** The health and cheap-read p99 bound the issue sets: 100 ms. */
const CHEAP_P99_MS = 100;
const POSTS = 2000;

const TWO_HOPS = 'author.posts_via_author.author.posts_via_author.title ~ "q" || title = "x"';
const USERS_VARIANT = 'posts_via_author.title ~ "zzz" || posts_via_author.author.posts_via_author.title ~ "zzz"';
/** The users variant a walk deeper: over this suite's 2,000 posts (the attack had 10,000) it still runs past the limit. */
const USERS_DEEPER = 'posts_via_author.author.posts_via_author.author.posts_via_author.title ~ "zzz" || email = "x"';

let s: TestServer;
let su: string;
let eve: { id: string; token: string };
let publicPost = '';

async function call(method: string, path: string, token?: string, body?: unknown, headers: Record<string, string> = {}) {
  const started = performance.now();
  const res = await s.request(method, path, { token, body, headers });
  return { ...res, ms: performance.now() - started };
}

/** Asserts an error answer in PocketBase's shape. */
function expectApiError(res: { status: number; body: any }, status: number): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toMatchObject({ status, message: expect.any(String), data: expect.any(Object) });
}

const list = (collection: string, filter: string, token?: string, headers?: Record<string, string>) =>
  call('GET', `/api/collections/${collection}/records?${new URLSearchParams({ filter, perPage: '5' })}`, token, undefined, headers);

/** Sets settings as a superuser. */
async function settings(patch: Record<string, unknown>): Promise<void> {
  const res = await call('PATCH', '/api/settings', su, patch);
  if (res.status !== 200) throw new Error(`settings: ${JSON.stringify(res.body)}`);
}

/** The query limits raised for posts and users, so the slow shapes run (and meet the time limit). */
const RAISED = {
  queryLimits: {
    collections: [
      { collection: 'posts', maxRelationDepth: 6, maxBackRelations: 6, maxUnindexedOrTerms: 1000 },
      { collection: 'users', maxRelationDepth: 6, maxBackRelations: 6, maxUnindexedOrTerms: 1000 },
    ],
  },
};

/**
 * Runs `attack` while another client polls /api/health and reads a record by
 * id every 10 ms; returns the attack's result and both p99s in ms.
 */
async function whileCheapReads<T>(attack: () => Promise<T>): Promise<{ result: T; health: number; view: number; samples: number }> {
  const health: number[] = [];
  const view: number[] = [];
  let done = false;
  const poll = async (path: string, into: number[]) => {
    while (!done) {
      const r = await call('GET', path);
      expect(r.status, path).toBe(200);
      into.push(r.ms);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const polling = Promise.all([poll('/api/health', health), poll(`/api/collections/posts/records/${publicPost}`, view)]);
  const result = await attack();
  done = true;
  await polling;
  const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))] ?? 0;
  return { result, health: p99(health), view: p99(view), samples: health.length + view.length };
}

beforeAll(async () => {
  process.env.MS_STATEMENT_TIMEOUT_MS = String(TIMEOUT_MS);
  s = await startServer({ protections: true, realtime: { idleTimeoutMs: 60_000 } });
  delete process.env.MS_STATEMENT_TIMEOUT_MS;
  su = await superuserToken(s);
  // the README's First steps
  const created = await call('POST', '/api/collections', su, {
    name: 'posts',
    type: 'base',
    listRule: '',
    viewRule: '',
    createRule: '@request.auth.id != ""',
    updateRule: 'author = @request.auth.id',
    deleteRule: 'author = @request.auth.id',
    fields: [
      { name: 'title', type: 'text', required: true, max: 200 },
      { name: 'author', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
    ],
  });
  expect(created.status).toBe(200);
  await call('PATCH', '/api/collections/users', su, { listRule: '' });
  // different clients behind the test's one address: the proxy header is trusted here
  await settings({ trustedProxy: { headers: ['X-Forwarded-For'], useLeftmostIP: false } });
  const signUp = await call('POST', '/api/collections/users/records', undefined, {
    email: 'eve@example.com',
    password: 'password123',
    passwordConfirm: 'password123',
  });
  expect(signUp.status).toBe(200);
  const auth = await call('POST', '/api/collections/users/auth-with-password', undefined, {
    identity: 'eve@example.com',
    password: 'password123',
  });
  eve = { id: auth.body.record.id, token: auth.body.token };
  // eve's posts: seeded by a superuser (whom rate limits do not count), as her own batches would be
  for (let start = 0; start < POSTS; start += 50) {
    const requests = Array.from({ length: 50 }, (_, i) => ({
      method: 'POST',
      url: '/api/collections/posts/records',
      body: { title: `post ${start + i}`, author: eve.id },
    }));
    const batch = await call('POST', '/api/batch', su, { requests });
    if (batch.status !== 200) throw new Error(`seed: ${JSON.stringify(batch.body)}`);
  }
  publicPost = (await list('posts', 'title = "post 7"')).body.items[0].id;
}, 180_000);

afterAll(async () => {
  await s?.close();
});

describe('slow filters', () => {
  test('the two-hop back-relation filters are refused before they run, with the limit named', async () => {
    for (const [collection, filter] of [
      ['posts', TWO_HOPS],
      ['users', USERS_VARIANT],
    ] as const) {
      const res = await list(collection, filter, eve.token);
      expectApiError(res, 400);
      expect(res.body.message).toMatch(/queryLimits\.(maxRelationDepth|maxBackRelations)/);
      expect(res.ms).toBeLessThan(500);
    }
    // guests too, where the list rule lets them list
    expectApiError(await list('posts', TWO_HOPS), 400);
  });

  test('raised, each runs away from the event loop and ends at the time limit while cheap reads stay fast', async () => {
    await settings(RAISED);
    try {
      for (const [collection, filter] of [
        ['posts', TWO_HOPS],
        ['users', USERS_DEEPER],
      ] as const) {
        const { result, health, view } = await whileCheapReads(() => list(collection, filter, eve.token));
        expectApiError(result, 400);
        expect(result.body.message).toMatch(/took too long/);
        expect(result.ms, `${collection}: ended after ${Math.round(result.ms)} ms`).toBeLessThan(ENDS_WITHIN);
        expect(health, `health p99 during the ${collection} filter`).toBeLessThan(CHEAP_P99_MS);
        expect(view, `view p99 during the ${collection} filter`).toBeLessThan(CHEAP_P99_MS);
      }
    } finally {
      await settings({ queryLimits: { collections: [] } });
    }
  });

  test('25 clients sending the slow filter at once do not take health, cheap reads or writes from others', async () => {
    await settings(RAISED);
    try {
      const { result, health, view } = await whileCheapReads(async () => {
        const attackers = Array.from({ length: 25 }, (_, i) =>
          list('posts', TWO_HOPS, undefined, { 'X-Forwarded-For': `203.0.113.${i + 1}` }),
        );
        // an honest write in the middle of it
        const write = await call('POST', '/api/collections/posts/records', eve.token, {
          title: 'written during the attack',
          author: eve.id,
        });
        return { answers: await Promise.all(attackers), write };
      });
      expect(result.write.status).toBe(200);
      expect(result.write.ms).toBeLessThan(1000);
      // each stopped at the limit, or told to come back when the readers are all taken: never a 500
      for (const a of result.answers) expect([400, 429, 503]).toContain(a.status);
      expect(result.answers.filter((a) => a.status === 400).length).toBeGreaterThan(0);
      expect(health, 'health p99 during 25 slow filters').toBeLessThan(CHEAP_P99_MS);
      expect(view, 'view p99 during 25 slow filters').toBeLessThan(CHEAP_P99_MS);
    } finally {
      await settings({ queryLimits: { collections: [] } });
    }
  });
});

describe('realtime', () => {
  function client(token?: string): PocketBase {
    const pb = new PocketBase(s.url);
    pb.autoCancellation(false);
    if (token) pb.authStore.save(token, null);
    return pb;
  }

  test('a subscription with the slow filter is refused when it is set', async () => {
    const pb = client(eve.token);
    await expect(pb.collection('posts').subscribe('*', () => {}, { filter: TWO_HOPS })).rejects.toMatchObject({ status: 400 });
    await pb.realtime.unsubscribe().catch(() => {});
  });

  test('raised, its slow check drops the event for that subscriber only; the writer and the others are not held', async () => {
    await settings(RAISED);
    const slow = client(eve.token);
    const fast = client(eve.token);
    try {
      const gotSlow: string[] = [];
      const gotFast: { id: string; at: number }[] = [];
      await slow.collection('posts').subscribe('*', (e) => gotSlow.push(e.record.id), { filter: TWO_HOPS });
      await fast.collection('posts').subscribe('*', (e) => gotFast.push({ id: e.record.id, at: performance.now() }));
      const { result, health } = await whileCheapReads(async () => {
        const written: { id: string; ms: number; at: number }[] = [];
        for (let i = 0; i < 3; i++) {
          const w = await call('POST', '/api/collections/posts/records', eve.token, { title: `x live ${i}`, author: eve.id });
          expect(w.status).toBe(200);
          written.push({ id: w.body.id, ms: w.ms, at: performance.now() });
        }
        for (const until = Date.now() + 3000; gotFast.length < 3 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20));
        // the slow checks run out (1 s each)
        await new Promise((r) => setTimeout(r, 1500));
        return written;
      });
      for (const w of result) expect(w.ms, 'a write answered while a subscriber check is slow').toBeLessThan(500);
      expect(gotFast.map((g) => g.id)).toEqual(result.map((w) => w.id));
      for (const [i, g] of gotFast.entries()) expect(g.at - (result[i]?.at ?? 0), 'delivery to the fast subscriber').toBeLessThan(500);
      expect(gotSlow).toEqual([]);
      expect(health).toBeLessThan(CHEAP_P99_MS);
    } finally {
      await slow.realtime.unsubscribe().catch(() => {});
      await fast.realtime.unsubscribe().catch(() => {});
      await settings({ queryLimits: { collections: [] } });
    }
  });
});

describe('write floods meet their limits', () => {
  test('sign-ups from one address: 20 a minute, then a 429 with Retry-After', async () => {
    const answers = [];
    for (let i = 0; i < 30; i++) {
      answers.push(
        await call(
          'POST',
          '/api/collections/users/records',
          undefined,
          { email: `flood${i}@example.com`, password: 'password123', passwordConfirm: 'password123' },
          { 'X-Forwarded-For': '198.51.100.200' },
        ),
      );
    }
    expect(answers.slice(0, 20).map((a) => a.status)).toEqual(Array(20).fill(200));
    for (const a of answers.slice(20)) {
      expectApiError(a, 429);
      expect(Number(a.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    // another address signs up meanwhile
    const other = await call(
      'POST',
      '/api/collections/users/records',
      undefined,
      { email: 'elsewhere@example.com', password: 'password123', passwordConfirm: 'password123' },
      { 'X-Forwarded-For': '198.51.100.201' },
    );
    expect(other.status).toBe(200);
  });

  test("creates through /api/batch count one each: a user's flood stops at the limit and writes nothing past it", async () => {
    const before = (await list('posts', `author = "${eve.id}"`, su)).body.totalItems as number;
    const batch = (n: number, tag: string) =>
      call('POST', '/api/batch', eve.token, {
        requests: Array.from({ length: n }, (_, i) => ({
          method: 'POST',
          url: '/api/collections/posts/records',
          body: { title: `${tag} ${i}`, author: eve.id },
        })),
      });
    const first = await batch(50, 'flood a');
    expect(first.status).toBe(200);
    const second = await batch(50, 'flood b');
    expectApiError(second, 429);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
    const after = (await list('posts', `author = "${eve.id}"`, su)).body.totalItems as number;
    expect(after - before).toBe(50);
  });

  test('batches: three a second per caller', async () => {
    const empty = () => call('POST', '/api/batch', eve.token, { requests: [] });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await empty()).status);
    expect(statuses.filter((x) => x === 429).length).toBeGreaterThanOrEqual(1);
  });

  test('mails to one address: five an hour, however many ask (the answers stay the same)', async () => {
    const mailbox = new Mailbox(s.app.dataDir);
    const mails = () => mailbox.count();
    const before = mails();
    for (let i = 0; i < 8; i++) {
      const res = await call(
        'POST',
        '/api/collections/users/request-password-reset',
        undefined,
        { email: 'eve@example.com' },
        {
          'X-Forwarded-For': `192.0.2.${i + 1}`,
        },
      );
      expect(res.status).toBe(204);
    }
    for (const until = Date.now() + 3000; mails() - before < 5 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    expect(mails() - before).toBe(5);
  });
});

describe('sign-in limits that never lock out the honest', () => {
  test('ten concurrent correct sign-ins of one account from one address are all answered', async () => {
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        call('POST', '/api/collections/users/auth-with-password', undefined, { identity: 'eve@example.com', password: 'password123' }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
  });
});

test.runIf(TEST_ENGINE === 'sqlite')('SQLite: the slow filters ran in reader processes, some of them stopped by ending the process', () => {
  const readers = (s.app.engine as { readers?: { stats(): { killed: number; readers: number } } | null }).readers;
  expect(readers?.stats().readers ?? 0).toBeGreaterThan(0);
});
