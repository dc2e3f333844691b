import { Agent, get } from 'node:http';
import { connect } from 'node:net';
import { EventSource } from 'eventsource';
import PocketBase from 'pocketbase';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, superuserToken, type TestServer } from './helpers/server.js';

/**
 * Realtime through the official SDK (`pb.collection(x).subscribe`), with the
 * `eventsource` package as Node's EventSource: events arrive only where the
 * rules admit them, for the subscriber's token as it is at that moment.
 */

(globalThis as { EventSource?: unknown }).EventSource = EventSource;

let s: TestServer;
let admin: PocketBase;
const PASSWORD = 'password-123';
let seq = 0;

interface Got {
  action: string;
  record: Record<string, any>;
}

function client(token?: string): PocketBase {
  const pb = new PocketBase(s.url);
  pb.autoCancellation(false);
  if (token) pb.authStore.save(token, null);
  return pb;
}

async function user(name: string): Promise<{ pb: PocketBase; id: string; email: string }> {
  const email = `${name}-${++seq}@example.com`;
  const rec = await admin
    .collection('users')
    .create({ email, password: PASSWORD, passwordConfirm: PASSWORD, name, emailVisibility: false });
  const pb = client();
  await pb.collection('users').authWithPassword(email, PASSWORD);
  return { pb, id: rec.id, email };
}

/** Waits until `check` passes (or fails after `ms`). */
async function eventually(check: () => void, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Lets events in flight arrive before asserting that something did not. */
const settle = () => new Promise((r) => setTimeout(r, 300));

beforeAll(async () => {
  s = await startServer({ realtime: { idleTimeoutMs: 60_000 } });
  admin = client(await superuserToken(s));
  await admin.collections.update('users', { listRule: 'id = @request.auth.id', viewRule: '' });
  await admin.collections.create({
    name: 'posts',
    type: 'base',
    listRule: 'author = @request.auth.id || public = true',
    viewRule: 'author = @request.auth.id || public = true',
    createRule: '@request.auth.id != ""',
    updateRule: 'author = @request.auth.id',
    deleteRule: 'author = @request.auth.id',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'public', type: 'bool' },
      { name: 'secret', type: 'text', hidden: true },
      { name: 'author', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
    ],
  });
});

afterAll(async () => {
  await s?.close();
});

describe('subscribe through the SDK', () => {
  test('a collection subscription gets creates, updates and deletes the list rule admits, and nothing else', async () => {
    const ann = await user('ann');
    const bob = await user('bob');
    const got: Got[] = [];
    const unsubscribe = await ann.pb.collection('posts').subscribe('*', (e) => got.push(e as Got));

    const own = await ann.pb.collection('posts').create({ title: 'mine', author: ann.id, secret: 'HIDDEN' });
    const foreign = await bob.pb.collection('posts').create({ title: 'bob private', author: bob.id });
    const shared = await bob.pb.collection('posts').create({ title: 'bob public', author: bob.id, public: true });
    await ann.pb.collection('posts').update(own.id, { title: 'mine, edited' });
    await ann.pb.collection('posts').delete(own.id);

    await eventually(() =>
      expect(got.map((e) => `${e.action}:${e.record.title}`)).toEqual([
        'create:mine',
        'create:bob public',
        'update:mine, edited',
        'delete:mine, edited',
      ]),
    );
    await settle();
    expect(got.some((e) => e.record.id === foreign.id)).toBe(false);
    // the same shape as the REST API: collection names, no hidden fields
    expect(got[0]?.record).toMatchObject({ collectionName: 'posts', id: own.id, author: ann.id });
    expect(JSON.stringify(got)).not.toContain('HIDDEN');
    expect(got[1]?.record.id).toBe(shared.id);

    await unsubscribe();
    await ann.pb.collection('posts').create({ title: 'after unsubscribe', author: ann.id });
    await settle();
    expect(got).toHaveLength(4);
    ann.pb.realtime.unsubscribe();
  });

  test('a record subscription follows one record through the view rule; expand and fields apply', async () => {
    const cy = await user('cy');
    const post = await cy.pb.collection('posts').create({ title: 'watched', author: cy.id, public: true });
    const other = await cy.pb.collection('posts').create({ title: 'not watched', author: cy.id, public: true });
    const watcher = await user('watcher');
    const got: Got[] = [];
    await watcher.pb
      .collection('posts')
      .subscribe(post.id, (e) => got.push(e as Got), { expand: 'author', fields: 'id,title,expand.author.name' });
    await cy.pb.collection('posts').update(other.id, { title: 'still not watched' });
    await cy.pb.collection('posts').update(post.id, { title: 'watched, edited' });
    await eventually(() => expect(got).toHaveLength(1));
    expect(got[0]).toEqual({ action: 'update', record: { id: post.id, title: 'watched, edited', expand: { author: { name: 'cy' } } } });

    // made private: the watcher's view rule no longer admits it
    await cy.pb.collection('posts').update(post.id, { public: false, title: 'private now' });
    await settle();
    expect(got).toHaveLength(1);
    watcher.pb.realtime.unsubscribe();
  });

  test('a filter in the options narrows the events; expanded relations obey their own rules', async () => {
    const dee = await user('dee');
    const got: Got[] = [];
    // users' list rule lets dee list only herself, but the view rule ('') lets anyone view: expand uses the view rule
    await dee.pb.collection('posts').subscribe('*', (e) => got.push(e as Got), { filter: 'title ~ "urgent"', expand: 'author' });
    await dee.pb.collection('posts').create({ title: 'routine', author: dee.id });
    await dee.pb.collection('posts').create({ title: 'urgent: call back', author: dee.id });
    await eventually(() => expect(got).toHaveLength(1));
    expect(got[0]?.record.title).toBe('urgent: call back');
    expect(got[0]?.record.expand?.author?.id).toBe(dee.id);
    // her own email shows to her, as in the REST API
    expect(got[0]?.record.expand?.author?.email).toBe(dee.email);

    await admin.collections.update('users', { viewRule: 'id = @request.auth.id' });
    try {
      const eve = await user('eve');
      const seen: Got[] = [];
      await eve.pb.collection('posts').subscribe('*', (e) => seen.push(e as Got), { expand: 'author' });
      await dee.pb.collection('posts').create({ title: 'public, by dee', author: dee.id, public: true });
      await eventually(() => expect(seen).toHaveLength(1));
      // eve sees the post but may not view dee: the expand is silently left out
      expect(seen[0]?.record.expand).toBeUndefined();
      eve.pb.realtime.unsubscribe();
    } finally {
      await admin.collections.update('users', { viewRule: '' });
    }
    dee.pb.realtime.unsubscribe();
  });

  test('a superuser sees every record and hidden fields; a guest sees only public ones', async () => {
    const fay = await user('fay');
    const su: Got[] = [];
    const guest: Got[] = [];
    await admin.collection('posts').subscribe('*', (e) => su.push(e as Got));
    const anon = client();
    await anon.collection('posts').subscribe('*', (e) => guest.push(e as Got));
    // (hidden fields are set by superusers)
    await admin.collection('posts').create({ title: 'private', author: fay.id, secret: 's3' });
    await admin.collection('posts').create({ title: 'public', author: fay.id, public: true, secret: 's4' });
    await eventually(() => expect(su).toHaveLength(2));
    await eventually(() => expect(guest).toHaveLength(1));
    expect(su.map((e) => e.record.secret)).toEqual(['s3', 's4']);
    expect(guest[0]?.record.title).toBe('public');
    expect(guest[0]?.record.secret).toBeUndefined();
    admin.realtime.unsubscribe();
    anon.realtime.unsubscribe();
  });
});

describe('tokens', () => {
  test('an expired token stops private events; public ones still come', async () => {
    const gus = await user('gus');
    const short = await admin.collection('users').impersonate(gus.id, 2);
    short.autoCancellation(false);
    const got: Got[] = [];
    await short.collection('posts').subscribe('*', (e) => got.push(e as Got));
    await gus.pb.collection('posts').create({ title: 'private 1', author: gus.id });
    await eventually(() => expect(got).toHaveLength(1));
    await new Promise((r) => setTimeout(r, 2300));
    await gus.pb.collection('posts').create({ title: 'private 2', author: gus.id });
    await gus.pb.collection('posts').create({ title: 'public 3', author: gus.id, public: true });
    await eventually(() => expect(got.map((e) => e.record.title)).toEqual(['private 1', 'public 3']));
    short.realtime.unsubscribe();
  });

  test("log out everywhere revokes the subscription's token at once", async () => {
    const hal = await user('hal');
    const got: Got[] = [];
    await hal.pb.collection('posts').subscribe('*', (e) => got.push(e as Got));
    await hal.pb.collection('posts').create({ title: 'before', author: hal.id });
    await eventually(() => expect(got).toHaveLength(1));
    const out = await fetch(`${s.url}/api/ms/logout-all`, { method: 'POST', headers: { authorization: hal.pb.authStore.token } });
    expect(out.status).toBe(204);
    await admin.collection('posts').create({ title: 'after', author: hal.id });
    await settle();
    expect(got).toHaveLength(1);
    hal.pb.realtime.unsubscribe();
  });
});

/** A raw client that subscribes to `topic` and then never reads its socket again. */
async function stuckSubscriber(base: string, topic: string): Promise<ReturnType<typeof connect>> {
  const url = new URL(base);
  const socket = connect(Number(url.port), url.hostname);
  let head = '';
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk) => {
      head += chunk.toString();
      if (head.includes('PB_CONNECT')) resolve();
    });
    socket.write(`GET /api/realtime HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
  });
  const clientId = /"clientId":"(\w+)"/.exec(head)?.[1] as string;
  socket.removeAllListeners('data');
  socket.pause();
  const sub = await fetch(`${base}/api/realtime`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ clientId, subscriptions: [topic] }),
  });
  expect(sub.status).toBe(204);
  return socket;
}

/** The value of an unlabelled series in the metrics text. */
async function metric(name: string): Promise<number> {
  const res = await fetch(`${s.url}/api/ms/metrics`, { headers: { authorization: admin.authStore.token } });
  const line = (await res.text()).split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1]);
}

describe('cohorts', () => {
  test("subscribers share one check per caller, and each still gets only what its caller's rule admits", async () => {
    await admin.collections.create({
      name: 'memos',
      type: 'base',
      listRule: 'author = @request.auth.id || public = true',
      viewRule: 'author = @request.auth.id || public = true',
      createRule: '@request.auth.id != ""',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'public', type: 'bool' },
        { name: 'author', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
      ],
    });
    const ann = await user('ann');
    const bob = await user('bob');
    // ann from five streams, with two tokens; bob from two; two guests
    const annAgain = await admin.collection('users').impersonate(ann.id, 3600);
    annAgain.autoCancellation(false);
    expect(annAgain.authStore.token).not.toBe(ann.pb.authStore.token);
    const streams = {
      ann: [ann.pb, annAgain, client(ann.pb.authStore.token), client(ann.pb.authStore.token), client(annAgain.authStore.token)],
      bob: [bob.pb, client(bob.pb.authStore.token)],
      guest: [client(), client()],
    };
    const got = new Map<PocketBase, string[]>();
    for (const pb of Object.values(streams).flat()) {
      got.set(pb, []);
      await pb.collection('memos').subscribe('*', (e) => got.get(pb)?.push((e as Got).record.title));
    }
    const checksBefore = await metric('mainspring_realtime_checks_total');

    await ann.pb.collection('memos').create({ title: 'ann private', author: ann.id });
    await bob.pb.collection('memos').create({ title: 'bob private', author: bob.id });
    await ann.pb.collection('memos').create({ title: 'ann public', author: ann.id, public: true });

    const expected = { ann: ['ann private', 'ann public'], bob: ['bob private', 'ann public'], guest: ['ann public'] };
    for (const [who, pbs] of Object.entries(streams)) {
      for (const pb of pbs) await eventually(() => expect(got.get(pb)).toEqual(expected[who as keyof typeof expected]));
    }
    await settle();
    for (const [who, pbs] of Object.entries(streams))
      for (const pb of pbs) expect(got.get(pb)).toEqual(expected[who as keyof typeof expected]);
    // three events, three callers (ann, bob, a guest): nine checks for the nine streams, not one per stream or token
    expect((await metric('mainspring_realtime_checks_total')) - checksBefore).toBe(9);
    for (const pb of Object.values(streams).flat()) pb.realtime.unsubscribe();
  });
});

describe('the protocol', () => {
  /** Opens a raw SSE stream and returns its clientId and the text received so far. */
  async function rawStream(): Promise<{ clientId: string; text: () => string; close: () => void }> {
    const controller = new AbortController();
    const res = await fetch(`${s.url}/api/realtime`, { signal: controller.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const decoder = new TextDecoder();
    void (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          text += decoder.decode(value);
        }
      } catch {
        // aborted
      }
    })();
    await eventually(() => expect(text).toContain('PB_CONNECT'));
    const clientId = /^id:(\w+)\nevent:PB_CONNECT\ndata:\{"clientId":"(\w+)"\}/.exec(text);
    expect(clientId?.[1]).toBe(clientId?.[2]);
    return { clientId: clientId?.[1] as string, text: () => text, close: () => controller.abort() };
  }

  const post = (body: unknown, token?: string) =>
    fetch(`${s.url}/api/realtime`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: token } : {}) },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: (r.status === 204 ? null : await r.json()) as any }));

  test('subscription requests are checked as PocketBase checks them', async () => {
    const stream = await rawStream();
    try {
      expect((await post({ clientId: 'no-such-client', subscriptions: [] })).status).toBe(404);
      const missing = await post({ subscriptions: ['posts/*'] });
      expect(missing.status).toBe(400);
      expect(missing.body.data.clientId.code).toBe('validation_required');
      expect((await post({ clientId: stream.clientId, subscriptions: 'posts/*' })).status).toBe(400);
      expect((await post({ clientId: stream.clientId, subscriptions: Array.from({ length: 1001 }, (_, i) => `posts/${i}`) })).status).toBe(
        400,
      );
      expect((await post({ clientId: stream.clientId, subscriptions: ['x'.repeat(2501)] })).status).toBe(400);

      // a guest may sign in; a signed-in client may not become someone else
      const ivy = await user('ivy');
      const jon = await user('jon');
      expect((await post({ clientId: stream.clientId, subscriptions: ['posts/*'] })).status).toBe(204);
      expect((await post({ clientId: stream.clientId, subscriptions: ['posts/*'] }, ivy.pb.authStore.token)).status).toBe(204);
      const swap = await post({ clientId: stream.clientId, subscriptions: ['posts/*'] }, jon.pb.authStore.token);
      expect(swap.status).toBe(403);
      expect((await post({ clientId: stream.clientId, subscriptions: ['posts/*'] })).status).toBe(403);

      // events carry the subscription as sent, and the clientId as their id
      await ivy.pb.collection('posts').create({ title: 'raw', author: ivy.id });
      await eventually(() => expect(stream.text()).toContain('event:posts/*\ndata:{"action":"create"'));
      expect(stream.text()).toContain(`id:${stream.clientId}\nevent:posts/*`);
    } finally {
      stream.close();
    }
  });

  test('an idle stream is closed and the SDK reconnects and subscribes again', async () => {
    const quick = await startServer({ realtime: { idleTimeoutMs: 400 } });
    try {
      const su = client(await superuserToken(quick));
      su.baseURL = quick.url;
      await su.collections.create({
        name: 'notes',
        type: 'base',
        listRule: '',
        viewRule: '',
        createRule: '',
        fields: [{ name: 'text', type: 'text' }],
      });
      const listener = new PocketBase(quick.url);
      listener.autoCancellation(false);
      const got: Got[] = [];
      await listener.collection('notes').subscribe('*', (e) => got.push(e as Got));
      const firstId = listener.realtime.clientId;
      // longer than the idle timeout: the server closes the stream, the SDK opens another
      await new Promise((r) => setTimeout(r, 1500));
      await eventually(() => expect(listener.realtime.isConnected && listener.realtime.clientId !== firstId).toBe(true), 5000);
      await new PocketBase(quick.url).collection('notes').create({ text: 'after reconnect' });
      await eventually(() => expect(got.map((e) => e.record.text)).toContain('after reconnect'), 5000);
      listener.realtime.unsubscribe();
    } finally {
      await quick.close();
    }
  });

  test('a stream the server ends is not reused: the next request a keep-alive client queued gets its answer', async () => {
    const quick = await startServer({ realtime: { idleTimeoutMs: 300 } });
    // one connection, kept alive: the queued request goes on the stream's connection if its answer allows that
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const streamed = whole(`${quick.url}/api/realtime`, agent);
      const next = whole(`${quick.url}/api/health`, agent);
      const stream = await streamed;
      expect(stream.body).toContain('event:PB_CONNECT');
      expect(stream.connection).toBe('close');
      const answer = await next;
      expect(answer.status, answer.body).toBe(200);
    } finally {
      agent.destroy();
      await quick.close();
    }
  });

  test('a subscriber that stops reading delays no one else', async () => {
    // a limit far above what the test sends: the stuck client stays connected throughout
    const roomy = await startServer({ realtime: { maxBufferedBytes: 256 << 20 } });
    try {
      await createFeed(roomy);
      const stuck = await stuckSubscriber(roomy.url, 'feed/*');
      let stuckClosed = false;
      stuck.on('close', () => {
        stuckClosed = true;
      });
      const listener = new PocketBase(roomy.url);
      listener.autoCancellation(false);
      const got: number[] = [];
      const arrived = new Map<number, number>();
      await listener.collection('feed').subscribe('*', (e) => {
        const n = Number.parseInt((e as Got).record.text, 10);
        got.push(n);
        arrived.set(n, performance.now());
      });
      // 24 MB to each subscriber: more than loopback's socket buffers hold, so the stuck one's backs up in the server
      const big = 'x'.repeat(59_000);
      const writer = new PocketBase(roomy.url);
      writer.autoCancellation(false);
      const written = new Map<number, number>();
      for (let i = 0; i < 400; i++) {
        await writer.collection('feed').create({ text: `${i} ${big}` });
        written.set(i, performance.now());
      }
      await eventually(() => expect(got).toHaveLength(400), 10_000);
      expect(got).toEqual(Array.from({ length: 400 }, (_, i) => i));
      // the last events came as fast as the first, whatever the stuck client did not read
      const lag = (i: number) => (arrived.get(i) as number) - (written.get(i) as number);
      expect(Math.max(...[399, 398, 397, 396, 395].map(lag))).toBeLessThan(2000);
      expect(stuckClosed).toBe(false);
      listener.realtime.unsubscribe();
      stuck.destroy();
    } finally {
      await roomy.close();
    }
  });

  test('a consumer that stops reading is cut off instead of growing memory', async () => {
    const tight = await startServer({ realtime: { maxBufferedBytes: 64 * 1024 } });
    try {
      await createFeed(tight);
      const socket = await stuckSubscriber(tight.url, 'feed/*');
      let closed = false;
      socket.on('close', () => {
        closed = true;
      });
      const big = 'x'.repeat(40_000);
      const writer = new PocketBase(tight.url);
      writer.autoCancellation(false);
      for (let i = 0; i < 400 && !closed; i++) {
        await writer.collection('feed').create({ text: `${i} ${big}` });
        if (i % 20 === 19) await new Promise((r) => setTimeout(r, 20));
      }
      // the server gave up on it (its socket was destroyed), and it still serves everyone else
      socket.resume();
      await eventually(() => expect(closed).toBe(true), 5000);
      expect((await fetch(`${tight.url}/api/health`)).status).toBe(200);
    } finally {
      await tight.close();
    }
  });
});

/** GET `url` through `agent`, read to its end: its status, its Connection header and its body (or the error, as the body). */
function whole(url: string, agent: Agent): Promise<{ status?: number; connection?: string; body: string }> {
  return new Promise((done) => {
    get(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => done({ status: res.statusCode, connection: res.headers.connection, body }));
    }).on('error', (err) => done({ body: String(err) }));
  });
}

/** A `feed` collection anyone may list, view and write to, with texts up to 60,000 characters (the slow-consumer tests' big events). */
async function createFeed(server: TestServer): Promise<void> {
  const su = client(await superuserToken(server));
  su.baseURL = server.url;
  await su.collections.create({
    name: 'feed',
    type: 'base',
    listRule: '',
    viewRule: '',
    createRule: '',
    fields: [{ name: 'text', type: 'text', max: 60_000 }],
  });
}
