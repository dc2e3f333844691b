import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { S3Bucket } from '../src/core/files/s3-bucket.js';
import { twoTone } from './helpers/files.js';
import { startS3, type TestS3 } from './helpers/s3.js';
import { freshDatabase, TEST_POSTGRES_URL } from './helpers/server.js';

/**
 * Several `mainspring serve` processes against one PostgreSQL database, as
 * behind a load balancer (DESIGN §1.3): what one instance changes, the others
 * see — records at once (they read the same database), schema, settings and
 * revoked tokens within a second (LISTEN/NOTIFY). Each has a data directory
 * of its own and no shared disk: files go to one S3 bucket (a real
 * S3-protocol server on 127.0.0.1), configured by the environment as a
 * container would be, and each instance serves the others' files.
 */

const BIN = new URL('../bin/mainspring.js', import.meta.url).pathname;
const SU = { identity: 'root@example.com', password: 'root-password-1' };

interface Instance {
  url: string;
  child: ChildProcess;
  output: string[];
}

let dir: string;
let db: Awaited<ReturnType<typeof freshDatabase>>;
let nodes: Instance[] = [];
let su = '';
let s3: TestS3;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** The `MS_S3_*` variables that put an instance's files in the test bucket. */
function s3Environment(): Record<string, string> {
  const at = s3.location();
  return {
    MS_S3_BUCKET: at.bucket,
    MS_S3_REGION: at.region,
    MS_S3_ENDPOINT: at.endpoint,
    MS_S3_ACCESS_KEY: at.accessKey,
    MS_S3_SECRET: at.secret,
    MS_S3_FORCE_PATH_STYLE: 'true',
  };
}

async function startInstance(n: number): Promise<Instance> {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'serve', `--http=127.0.0.1:${port}`, `--dir=${join(dir, `node${n}`)}`], {
    env: { ...process.env, DATABASE_URL: db.url, MS_LOG_LEVEL: 'warn', ...s3Environment() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (d) => output.push(String(d)));
  child.stderr?.on('data', (d) => output.push(String(d)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`instance ${n} exited: ${output.join('')}`);
    try {
      if ((await fetch(`${url}/api/health`)).ok) return { url, child, output };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`instance ${n} did not come up: ${output.join('')}`);
}

async function call(node: Instance, method: string, path: string, body?: unknown, token?: string) {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = token;
  const res = await fetch(node.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Polls `check` until it holds; returns how long that took in ms, or throws after `limitMs`. */
async function within(limitMs: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > limitMs) throw new Error(`not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - started;
}

describe.runIf(TEST_POSTGRES_URL)('three instances on one PostgreSQL database', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ms-multi-'));
    db = await freshDatabase();
    s3 = await startS3();
    // all three start at once on an empty database: one migrates, the others wait for it
    nodes = await Promise.all([1, 2, 3].map(startInstance));
    const made = await new Promise<number | null>((resolve) => {
      const c = spawn(process.execPath, [BIN, 'superuser', 'upsert', SU.identity, SU.password, `--dir=${join(dir, 'cli')}`], {
        env: { ...process.env, DATABASE_URL: db.url, MS_LOG_LEVEL: 'warn' },
      });
      c.on('exit', resolve);
    });
    expect(made).toBe(0);
    const auth = await call(nodes[0] as Instance, 'POST', '/api/collections/_superusers/auth-with-password', SU);
    expect(auth.status).toBe(200);
    su = auth.body.token;
  }, 60_000);

  afterAll(async () => {
    await Promise.all(
      nodes.map(
        (n) =>
          new Promise<void>((resolve) => {
            if (n.child.exitCode !== null) return resolve();
            n.child.on('exit', () => resolve());
            n.child.kill('SIGTERM');
          }),
      ),
    );
    await db?.drop();
    await s3?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("with no shared disk, each instance serves the others' files from the bucket: originals, thumbs, deletes", async () => {
    const [a, b, c] = nodes as [Instance, Instance, Instance];
    const made = await call(
      a,
      'POST',
      '/api/collections',
      {
        name: 'photos',
        listRule: '',
        viewRule: '',
        createRule: '',
        deleteRule: '',
        fields: [{ name: 'image', type: 'file', maxSelect: 1, thumbs: ['20x20'] }],
      },
      su,
    );
    expect(made.status).toBe(200);
    await within(1000, async () => (await call(b, 'GET', '/api/collections/photos/records')).status === 200);
    await within(1000, async () => (await call(c, 'GET', '/api/collections/photos/records')).status === 200);
    const png = await twoTone(40, 40);
    const form = new FormData();
    form.set('image', new File([png], 'tile.png', { type: 'image/png' }));
    const created = await fetch(`${a.url}/api/collections/photos/records`, { method: 'POST', body: form });
    expect(created.status).toBe(200);
    const photo = (await created.json()) as { id: string; image: string };
    const path = `/api/files/photos/${photo.id}/${photo.image}`;
    for (const node of [b, c]) expect(Buffer.from(await (await fetch(node.url + path)).arrayBuffer()).equals(png)).toBe(true);
    const ranged = await fetch(c.url + path, { headers: { range: 'bytes=0-7' } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(png.subarray(0, 8))).toBe(true);
    // b makes the thumb; a and c serve the one b kept in the bucket
    const thumb = Buffer.from(await (await fetch(`${b.url}${path}?thumb=20x20`)).arrayBuffer());
    expect(thumb.equals(png)).toBe(false);
    for (const node of [a, c])
      expect(Buffer.from(await (await fetch(`${node.url}${path}?thumb=20x20`)).arrayBuffer()).equals(thumb)).toBe(true);
    const bucket = new S3Bucket(s3.location());
    const names = async () => {
      const out: string[] = [];
      for await (const name of bucket.list(`${made.body.id}/`)) out.push(name);
      return out.sort();
    };
    expect(await names()).toEqual(
      [`${made.body.id}/${photo.id}/${photo.image}`, `${made.body.id}/${photo.id}/thumbs_${photo.image}/20x20_${photo.image}`].sort(),
    );
    // nothing of it on any instance's disk
    for (const n of [1, 2, 3]) expect(existsSync(join(dir, `node${n}`, 'storage', made.body.id))).toBe(false);
    // deleted on c: gone from the bucket once the delete commits, and a 404 everywhere
    expect((await call(c, 'DELETE', `/api/collections/photos/records/${photo.id}`)).status).toBe(204);
    await within(2000, async () => (await names()).length === 0);
    for (const node of [a, b]) expect((await fetch(node.url + path)).status).toBe(404);
    bucket.destroy();
  });

  test('a collection created on the first is usable on the second within a second; records are seen everywhere at once', async () => {
    const [a, b, c] = nodes as [Instance, Instance, Instance];
    const created = await call(
      a,
      'POST',
      '/api/collections',
      { name: 'notes', listRule: '', viewRule: '', createRule: '', fields: [{ name: 'title', type: 'text' }] },
      su,
    );
    expect(created.status).toBe(200);
    const took = await within(1000, async () => (await call(b, 'GET', '/api/collections/notes/records')).status === 200);
    expect(took).toBeLessThan(1000);
    await within(1000, async () => (await call(c, 'GET', '/api/collections/notes/records')).status === 200);

    const note = await call(b, 'POST', '/api/collections/notes/records', { title: 'written on b' });
    expect(note.status).toBe(200);
    for (const other of [a, c]) {
      const seen = await call(other, 'GET', `/api/collections/notes/records/${note.body.id}`);
      expect(seen.status).toBe(200);
      expect(seen.body.title).toBe('written on b');
    }
  });

  test('a schema change on one instance (a new field) is in force on the others within a second', async () => {
    const [a, b, c] = nodes as [Instance, Instance, Instance];
    const coll = await call(a, 'GET', '/api/collections/notes', undefined, su);
    const fields = [...coll.body.fields, { name: 'stars', type: 'number' }];
    expect((await call(a, 'PATCH', '/api/collections/notes', { fields }, su)).status).toBe(200);
    await within(1000, async () => {
      const r = await call(c, 'POST', '/api/collections/notes/records', { title: 'rated', stars: 5 });
      return r.status === 200 && r.body.stars === 5;
    });
    const list = await call(b, 'GET', `/api/collections/notes/records?filter=${encodeURIComponent('stars = 5')}`);
    expect(list.status).toBe(200);
    expect(list.body.totalItems).toBeGreaterThanOrEqual(1);
  });

  test('settings changed on one instance are in force on the others within a second', async () => {
    const [a, b, c] = nodes as [Instance, Instance, Instance];
    expect((await call(b, 'PATCH', '/api/settings', { meta: { appName: 'Shared name' } }, su)).status).toBe(200);
    for (const other of [a, c]) {
      await within(1000, async () => (await call(other, 'GET', '/api/settings', undefined, su)).body?.meta?.appName === 'Shared name');
    }
  });

  test('a password change on one instance revokes tokens another instance has cached, also for events over 8 KB', async () => {
    const [a, b, c] = nodes as [Instance, Instance, Instance];
    const made = await call(
      a,
      'POST',
      '/api/collections',
      {
        name: 'members',
        type: 'auth',
        listRule: 'id = @request.auth.id',
        viewRule: 'id = @request.auth.id',
        createRule: '',
        updateRule: 'id = @request.auth.id',
        fields: [{ name: 'profile', type: 'json', maxSize: 100_000 }],
      },
      su,
    );
    expect(made.status).toBe(200);
    await within(1000, async () => (await call(b, 'GET', '/api/collections/members/auth-methods')).status === 200);
    const password = 'member-password-1';
    const member = await call(b, 'POST', '/api/collections/members/records', {
      email: 'm@example.com',
      password,
      passwordConfirm: password,
    });
    expect(member.status).toBe(200);
    const login = await call(c, 'POST', '/api/collections/members/auth-with-password', { identity: 'm@example.com', password });
    expect(login.status).toBe(200);
    const token = login.body.token as string;
    // b verifies the token and caches it
    expect((await call(b, 'GET', `/api/collections/members/records/${member.body.id}`, undefined, token)).status).toBe(200);

    // the change is published with the whole record: a 20 KB profile goes through the payload table
    const big = { notes: 'x'.repeat(20_000) };
    const changed = await call(
      a,
      'PATCH',
      `/api/collections/members/records/${member.body.id}`,
      { profile: big, oldPassword: password, password: 'member-password-2', passwordConfirm: 'member-password-2' },
      token,
    );
    expect(changed.status).toBe(200);
    await within(
      1000,
      async () => (await call(b, 'GET', `/api/collections/members/records/${member.body.id}`, undefined, token)).status === 404,
    );
    expect((await call(c, 'GET', `/api/collections/members/records/${member.body.id}`, undefined, token)).status).toBe(404);
  });

  test('a realtime subscriber on one instance gets, once and in order, what the others write, also over 8 KB', async () => {
    const [a, b, c] = nodes as [Instance, Instance, Instance];
    const controller = new AbortController();
    const stream = await fetch(`${a.url}/api/realtime`, { signal: controller.signal });
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    void (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          text += decoder.decode(value);
        }
      } catch {
        // closed at the end of the test
      }
    })();
    try {
      // a JSON field takes a payload over PostgreSQL's 8 KB NOTIFY limit
      const coll = await call(a, 'GET', '/api/collections/notes', undefined, su);
      const fields = [...coll.body.fields, { name: 'extra', type: 'json', maxSize: 100_000 }];
      expect((await call(a, 'PATCH', '/api/collections/notes', { fields }, su)).status).toBe(200);
      await within(1000, async () => (await call(c, 'POST', '/api/collections/notes/records', { extra: { probe: true } })).status === 200);
      await within(2000, async () => text.includes('PB_CONNECT'));
      const clientId = /"clientId":"(\w+)"/.exec(text)?.[1];
      expect((await call(a, 'POST', '/api/realtime', { clientId, subscriptions: ['notes/*'] })).status).toBe(204);
      const first = await call(b, 'POST', '/api/collections/notes/records', { title: 'from b' });
      const second = await call(c, 'POST', '/api/collections/notes/records', { title: 'from c', stars: 1 });
      const big = await call(c, 'PATCH', `/api/collections/notes/records/${second.body.id}`, { extra: { text: 'y'.repeat(10_000) } }, su);
      expect(big.status).toBe(200);
      await within(1000, async () => (text.match(new RegExp(`"id":"(${first.body.id}|${second.body.id})"`, 'g')) ?? []).length >= 3);
      await new Promise((r) => setTimeout(r, 200));
      // (the probe written above may still be on its way when the subscription starts: only these records count)
      const ours = new Set([first.body.id, second.body.id]);
      const events = [...text.matchAll(/event:notes\/\*\ndata:(.*)\n/g)]
        .map((m) => JSON.parse(m[1] as string))
        .filter((e) => ours.has(e.record.id));
      expect(events.map((e) => `${e.action}:${e.record.id}`)).toEqual([
        `create:${first.body.id}`,
        `create:${second.body.id}`,
        `update:${second.body.id}`,
      ]);
      expect(events[2].record.extra.text).toHaveLength(10_000);
    } finally {
      controller.abort();
    }
  });

  test('schema changes made at the same moment on two instances both take effect', async () => {
    const [a, b, c] = nodes as [Instance, Instance, Instance];
    const made = await call(a, 'POST', '/api/collections', { name: 'races', fields: [{ name: 'title', type: 'text' }] }, su);
    expect(made.status).toBe(200);
    await within(1000, async () => (await call(b, 'GET', '/api/collections/races', undefined, su)).status === 200);
    // each instance changes one rule, building on the collection as it stands: neither change may undo the other
    for (let round = 0; round < 5; round++) {
      const results = await Promise.all([
        call(a, 'PATCH', '/api/collections/races', { listRule: `title = "a${round}"` }, su),
        call(b, 'PATCH', '/api/collections/races', { viewRule: `title = "b${round}"` }, su),
      ]);
      expect(results.map((r) => r.status)).toEqual([200, 200]);
      // the third instance hears of both changes through NOTIFY, a moment after they committed; a change
      // lost to the other would never show up there
      const want = [`title = "a${round}"`, `title = "b${round}"`];
      let seen: unknown[] = [];
      await within(2000, async () => {
        const now = (await call(c, 'GET', '/api/collections/races', undefined, su)).body;
        seen = [now.listRule, now.viewRule];
        return seen[0] === want[0] && seen[1] === want[1];
      }).catch(() => expect(seen).toEqual(want));
    }
  });

  test('rate limits count across instances: spreading requests over them does not evade a limit', async () => {
    // the default *:request rule: 5 a minute per client IP, whichever instance answers
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const node = nodes[i % 3] as Instance;
      statuses.push(
        (await call(node, 'POST', '/api/collections/users/request-password-reset', { email: `nobody${i}@example.com` })).status,
      );
    }
    expect(statuses).toEqual([204, 204, 204, 204, 204, 429, 429]);
  });

  test('wrong passwords spread over the instances lock the identity on all of them', async () => {
    const [a, b, c] = nodes as [Instance, Instance, Instance];
    const password = 'spread-password-1';
    const made = await call(a, 'POST', '/api/collections/users/records', {
      email: 'spread@example.com',
      password,
      passwordConfirm: password,
    });
    expect(made.status).toBe(200);
    const attempt = (node: Instance, pw: string) =>
      call(node, 'POST', '/api/collections/users/auth-with-password', { identity: 'spread@example.com', password: pw });
    // the default lockout: 5 failures from one client; here each instance sees fewer than 5
    const statuses = [];
    for (const node of [a, b, c, a, b]) statuses.push((await attempt(node, 'wrong-guess')).status);
    expect(statuses).toEqual([400, 400, 400, 400, 429]);
    expect((await attempt(c, password)).status).toBe(429);
  });

  test('every instance still answers and none logged an error', async () => {
    for (const n of nodes) {
      expect((await call(n, 'GET', '/api/health')).status).toBe(200);
      expect(n.output.join('')).not.toMatch(/"level":(50|60)/);
    }
  });
});
