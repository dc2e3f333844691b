import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { signedUpUser, startServer, superuserToken, TEST_POSTGRES_URL, type TestServer } from './helpers/server.js';

/**
 * How many times a record write waits for PostgreSQL (docs/DESIGN.md,
 * "PostgreSQL writes"): statements sent while another of the same
 * connection is still unanswered ride in its round trip. A create through
 * a rule and two relation checks is one; an update of plain values through
 * a rule is one too (the UPDATE is guarded by the rule and returns the row);
 * one that needs the stored record (a modifier such as `score+`, a relation)
 * is two (the row is read, then written with the COMMIT).
 */

type Query = (this: pg.Client, ...args: unknown[]) => unknown;
const original = pg.Client.prototype.query as unknown as Query;

/** Round trips per connection while recording: a query sent with none of its connection's unanswered starts one. */
const unanswered = new WeakMap<pg.Client, number>();
let log: { client: pg.Client; text: string; trip: boolean }[] | null = null;

function recording(this: pg.Client, ...args: unknown[]): unknown {
  const config = args[0] as string | { text?: string };
  const text = typeof config === 'string' ? config : String(config?.text ?? '');
  const waiting = unanswered.get(this) ?? 0;
  log?.push({ client: this, text, trip: waiting === 0 });
  unanswered.set(this, waiting + 1);
  const done = () => unanswered.set(this, (unanswered.get(this) ?? 1) - 1);
  const result = original.apply(this, args);
  if (result instanceof Promise) result.then(done, done);
  else done();
  return result;
}

/** The round trips of `fn`'s write on the connection whose statements name `table`, and their statements. */
async function tripsOf(table: string, fn: () => Promise<void>): Promise<{ trips: number; statements: string[] }> {
  const seen: NonNullable<typeof log> = [];
  log = seen;
  try {
    await fn();
  } finally {
    log = null;
  }
  const writer = seen.find((q) => q.text.includes(`"${table}"`) && /^(WITH|INSERT|UPDATE)/.test(q.text))?.client;
  const mine = seen.filter((q) => q.client === writer);
  // its transaction, BEGIN to COMMIT (the pooled connection may serve other statements before and after)
  const begin = Math.max(
    0,
    mine.findIndex((q) => q.text.startsWith('BEGIN')),
  );
  const commit = mine.findIndex((q, i) => i > begin && q.text.startsWith('COMMIT'));
  const tx = mine.slice(begin, commit < 0 ? undefined : commit + 1);
  return { trips: tx.filter((q) => q.trip).length, statements: tx.map((q) => q.text.slice(0, 40)) };
}

describe.runIf(TEST_POSTGRES_URL)('round trips of a record write on PostgreSQL', () => {
  let s: TestServer;
  let user: { id: string; token: string };
  let categoryId = '';
  let postId = '';

  beforeAll(async () => {
    s = await startServer();
    const su = await superuserToken(s);
    const categories = await s.request('POST', '/api/collections', {
      token: su,
      body: { name: 'categories', type: 'base', fields: [{ name: 'name', type: 'text' }] },
    });
    const users = await s.request('GET', '/api/collections/users', { token: su });
    const owner = 'author = @request.auth.id';
    const posts = await s.request('POST', '/api/collections', {
      token: su,
      body: {
        name: 'posts',
        type: 'base',
        // the bench's posts (bench/run.mjs)
        createRule: `@request.auth.id != "" && ${owner}`,
        updateRule: `${owner} && (@request.body.author:isset = false || @request.body.author = @request.auth.id)`,
        viewRule: owner,
        fields: [
          { name: 'title', type: 'text' },
          { name: 'score', type: 'number' },
          { name: 'author', type: 'relation', collectionId: users.body.id, maxSelect: 1 },
          { name: 'category', type: 'relation', collectionId: categories.body.id, maxSelect: 1 },
        ],
      },
    });
    expect(posts.status, JSON.stringify(posts.body)).toBe(200);
    user = await signedUpUser(s, 'trips@example.com');
    categoryId = (await s.request('POST', '/api/collections/categories/records', { token: su, body: { name: 'c' } })).body.id;
    pg.Client.prototype.query = recording as unknown as typeof pg.Client.prototype.query;
  }, 60_000);

  afterAll(async () => {
    pg.Client.prototype.query = original as unknown as typeof pg.Client.prototype.query;
    await s?.close();
  });

  const create = async (title: string) => {
    const res = await s.request('POST', '/api/collections/posts/records', {
      token: user.token,
      body: { title, score: 1, author: user.id, category: categoryId },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    postId = res.body.id;
  };

  test('a create through the rule, with two relations: one round trip', async () => {
    await create('warm');
    const { trips, statements } = await tripsOf('posts', () => create('counted'));
    expect(trips, statements.join(' | ')).toBe(1);
  });

  test('an update of plain values through the rule: one round trip', async () => {
    const update = async () => {
      const res = await s.request('PATCH', `/api/collections/posts/records/${postId}`, { token: user.token, body: { score: 2 } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toMatchObject({ id: postId, score: 2, author: user.id, category: categoryId });
    };
    await update();
    const { trips, statements } = await tripsOf('posts', update);
    expect(trips, statements.join(' | ')).toBe(1);
  });

  test('an update that needs the stored record (a modifier, a relation): two round trips', async () => {
    for (const body of [{ 'score+': 1 }, { category: categoryId }]) {
      const update = async () => {
        const res = await s.request('PATCH', `/api/collections/posts/records/${postId}`, { token: user.token, body });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
      };
      const { trips, statements } = await tripsOf('posts', update);
      expect(trips, `${JSON.stringify(body)}: ${statements.join(' | ')}`).toBe(2);
    }
  });

  test('a create the rule refuses commits nothing', async () => {
    const other = await signedUpUser(s, 'trips-other@example.com');
    const res = await s.request('POST', '/api/collections/posts/records', {
      token: other.token,
      body: { title: 'not mine', score: 1, author: user.id, category: categoryId },
    });
    expect(res.status).toBe(400);
    const su = await superuserToken(s);
    const found = await s.request('GET', `/api/collections/posts/records?filter=${encodeURIComponent('title = "not mine"')}`, {
      token: su,
    });
    expect(found.body.totalItems).toBe(0);
  });
});
