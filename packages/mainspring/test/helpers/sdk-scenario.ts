import PocketBase, { ClientResponseError } from 'pocketbase';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { superuserToken, type TestServer } from './server.js';

/** The status an SDK call ends with (200 when it succeeds). */
export async function sdkStatus(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    if (err instanceof ClientResponseError) return err.status;
    throw err;
  }
}

/**
 * The official `pocketbase` JS SDK, unchanged, through a whole app: a
 * superuser defines collections, users sign up and sign in, and work with
 * records through filters, sorting, paging, expand, field selection, rules
 * and batches. Run against a server `start` gives: Mainspring's own
 * (sdk.test.ts), or mounted in Express (express.test.ts).
 */
export function sdkScenario(title: string, start: () => Promise<TestServer>): void {
  let s: TestServer;
  let admin: PocketBase;

  async function signUp(email: string, name: string): Promise<PocketBase> {
    const pb = new PocketBase(s.url);
    await pb.collection('users').create({ email, password: 'password123', passwordConfirm: 'password123', name });
    await pb.collection('users').authWithPassword(email, 'password123');
    return pb;
  }

  beforeAll(async () => {
    s = await start();
    admin = new PocketBase(s.url);
    const token = await superuserToken(s, 'root@example.com', 'root-password-1');
    // the SDK's own superuser sign-in works as well as a saved token
    await admin.collection('_superusers').authWithPassword('root@example.com', 'root-password-1');
    expect(admin.authStore.isSuperuser).toBe(true);
    expect(token).toBeTypeOf('string');

    await admin.collections.create({
      name: 'tags',
      type: 'base',
      listRule: '',
      viewRule: '',
      fields: [
        { name: 'label', type: 'text', required: true },
        { name: 'color', type: 'select', values: ['red', 'green', 'blue'], maxSelect: 1 },
      ],
      indexes: ['CREATE UNIQUE INDEX idx_tags_label ON tags (label)'],
    });
    const tags = await admin.collections.getOne('tags');
    await admin.collections.create({
      name: 'posts',
      type: 'base',
      listRule: 'public = true || author = @request.auth.id',
      viewRule: 'public = true || author = @request.auth.id',
      createRule: '@request.auth.id != "" && author = @request.auth.id',
      updateRule: 'author = @request.auth.id && @request.body.author:changed = false',
      deleteRule: 'author = @request.auth.id',
      fields: [
        { name: 'title', type: 'text', required: true, max: 100 },
        { name: 'body', type: 'editor' },
        { name: 'public', type: 'bool' },
        { name: 'score', type: 'number', onlyInt: true, min: 0 },
        { name: 'author', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1, required: true },
        { name: 'tags', type: 'relation', collectionId: tags.id, maxSelect: 5 },
        { name: 'meta', type: 'json' },
        { name: 'published', type: 'date' },
      ],
      indexes: ['CREATE INDEX idx_posts_score ON posts (score)'],
    });
    const posts = await admin.collections.getOne('posts');
    await admin.collections.create({
      name: 'comments',
      type: 'base',
      listRule: '',
      viewRule: '',
      createRule: '@request.auth.id != ""',
      fields: [
        { name: 'post', type: 'relation', collectionId: posts.id, maxSelect: 1, required: true, cascadeDelete: true },
        { name: 'user', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
        { name: 'text', type: 'text' },
      ],
    });
  });

  afterAll(async () => s.close());

  describe(title, () => {
    test('a superuser lists and changes collections', async () => {
      const all = await admin.collections.getFullList();
      expect(all.map((c) => c.name)).toEqual(expect.arrayContaining(['_superusers', 'users', 'tags', 'posts', 'comments']));
      const updated = await admin.collections.update('comments', { listRule: '@request.auth.id != ""' });
      expect(updated.listRule).toBe('@request.auth.id != ""');
      await admin.collections.update('comments', { listRule: '' });
    });

    test('users sign up, sign in, refresh, and see only themselves', async () => {
      const ann = await signUp('ann@example.com', 'Ann');
      expect(ann.authStore.isValid).toBe(true);
      expect(ann.authStore.record?.email).toBe('ann@example.com');
      const refreshed = await ann.collection('users').authRefresh();
      expect(refreshed.record.id).toBe(ann.authStore.record?.id);
      const users = await ann.collection('users').getFullList();
      expect(users.map((u) => u.id)).toEqual([ann.authStore.record?.id]);
      expect(await sdkStatus(new PocketBase(s.url).collection('users').authWithPassword('ann@example.com', 'wrong-password'))).toBe(400);
    });

    test('full record CRUD, filter, sort, paging, expand and fields', async () => {
      const bob = await signUp('bob@example.com', 'Bob');
      const bobId = bob.authStore.record?.id as string;
      const red = await admin.collection('tags').create({ label: 'red-tag', color: 'red' });
      const blue = await admin.collection('tags').create({ label: 'blue-tag', color: 'blue' });

      const created = [];
      for (let i = 0; i < 12; i++) {
        created.push(
          await bob.collection('posts').create({
            title: `Post ${String(i).padStart(2, '0')}`,
            public: i % 2 === 0,
            score: i,
            author: bobId,
            tags: i % 3 === 0 ? [red.id, blue.id] : [blue.id],
            meta: { n: i, kind: i < 6 ? 'early' : 'late' },
            published: `2024-01-${String(i + 1).padStart(2, '0')} 10:00:00.000Z`,
          }),
        );
      }
      expect(created[0]?.collectionName).toBe('posts');
      expect(created[0]?.id).toMatch(/^[a-z0-9]{15}$/);

      // paging and sorting
      const page = await bob.collection('posts').getList(2, 5, { sort: '-score' });
      expect(page).toMatchObject({ page: 2, perPage: 5, totalItems: 12, totalPages: 3 });
      expect(page.items.map((p) => p.score)).toEqual([6, 5, 4, 3, 2]);

      // filters: text, numbers, dates, json paths, relations and any-of
      const filtered = await bob.collection('posts').getFullList({
        filter: 'title ~ "post 1" && score >= 10 && published > "2024-01-05" && meta.kind = "late"',
        sort: 'score',
      });
      expect(filtered.map((p) => p.score)).toEqual([10, 11]);
      const byTag = await bob.collection('posts').getFullList({ filter: 'tags.color ?= "red"', sort: 'score' });
      expect(byTag.map((p) => p.score)).toEqual([0, 3, 6, 9]);
      const allBlue = await bob.collection('posts').getFullList({ filter: 'tags.color = "blue"', sort: 'score' });
      expect(allBlue.map((p) => p.score)).toEqual([1, 2, 4, 5, 7, 8, 10, 11]);
      const viaParam = await bob.collection('posts').getFirstListItem(bob.filter('title = {:t}', { t: 'Post 07' }));
      expect(viaParam.score).toBe(7);

      // expand and fields
      const one = await bob.collection('posts').getOne(created[3]?.id as string, { expand: 'author,tags' });
      expect(one.expand?.author.id).toBe(bobId);
      expect(one.expand?.tags.map((t: { label: string }) => t.label)).toEqual(['red-tag', 'blue-tag']);
      const picked = await bob.collection('posts').getOne(created[3]?.id as string, {
        fields: 'id,title,expand.author.name',
        expand: 'author',
      });
      expect(picked).toEqual({ id: created[3]?.id, title: 'Post 03', expand: { author: { name: 'Bob' } } });

      // update with an atomic increment, then delete
      const updated = await bob.collection('posts').update(created[1]?.id as string, { 'score+': 5, title: 'Renamed' });
      expect(updated).toMatchObject({ score: 6, title: 'Renamed' });
      await bob.collection('posts').delete(created[1]?.id as string);
      expect(await sdkStatus(bob.collection('posts').getOne(created[1]?.id as string))).toBe(404);

      // validation errors carry per-field codes
      try {
        await bob.collection('posts').create({ title: '', author: bobId, score: 1.5 });
        expect.unreachable();
      } catch (err) {
        const e = err as ClientResponseError;
        expect(e.status).toBe(400);
        expect(e.response.data.title.code).toBe('validation_required');
        expect(e.response.data.score.code).toBe('validation_only_int_constraint');
      }
    });

    test('rules decide what each user may see and do', async () => {
      const cat = await signUp('cat@example.com', 'Cat');
      const dan = await signUp('dan@example.com', 'Dan');
      const catId = cat.authStore.record?.id as string;
      const secret = await cat.collection('posts').create({ title: 'Secret', public: false, author: catId });
      const open = await cat.collection('posts').create({ title: 'Open', public: true, author: catId });

      // dan sees the public post only; the private one is a 404, not a 403
      expect((await dan.collection('posts').getOne(open.id)).title).toBe('Open');
      expect(await sdkStatus(dan.collection('posts').getOne(secret.id))).toBe(404);
      const dansView = await dan.collection('posts').getFullList({ filter: `author = "${catId}"` });
      expect(dansView.map((p) => p.id)).toEqual([open.id]);

      // dan cannot write cat's posts, nor post as cat
      expect(await sdkStatus(dan.collection('posts').update(open.id, { title: 'Hijacked' }))).toBe(404);
      expect(await sdkStatus(dan.collection('posts').delete(open.id))).toBe(404);
      expect(await sdkStatus(dan.collection('posts').create({ title: 'Forged', author: catId }))).toBe(400);
      // cat cannot hand the post to dan (author:changed = false)
      expect(await sdkStatus(cat.collection('posts').update(open.id, { author: dan.authStore.record?.id }))).toBe(404);
      expect((await cat.collection('posts').getOne(open.id)).title).toBe('Open');

      // guests see public posts; superuser-only collections are a 403
      const guest = new PocketBase(s.url);
      const guestView = await guest.collection('posts').getFullList({ filter: `author = "${catId}"` });
      expect(guestView.map((p) => p.id)).toEqual([open.id]);
      expect(await sdkStatus(guest.collection('_superusers').getFullList())).toBe(403);
    });

    test('back-relations and cascading deletes', async () => {
      const eve = await signUp('eve@example.com', 'Eve');
      const eveId = eve.authStore.record?.id as string;
      const post = await eve.collection('posts').create({ title: 'Discuss', public: true, author: eveId });
      for (const text of ['first', 'second']) await eve.collection('comments').create({ post: post.id, user: eveId, text });
      const withComments = await eve.collection('posts').getOne(post.id, { expand: 'comments_via_post.user' });
      const comments = withComments.expand?.comments_via_post as { text: string; expand: { user: { id: string } } }[];
      expect(comments.map((c) => c.text).sort()).toEqual(['first', 'second']);
      expect(comments[0]?.expand.user.id).toBe(eveId);
      const commented = await eve.collection('posts').getFullList({ filter: 'comments_via_post.text ?= "second"' });
      expect(commented.map((p) => p.id)).toEqual([post.id]);

      await eve.collection('posts').delete(post.id);
      const left = await eve.collection('comments').getFullList({ filter: `post = "${post.id}"` });
      expect(left).toEqual([]);
    });

    test('batches are atomic', async () => {
      const fay = await signUp('fay@example.com', 'Fay');
      const fayId = fay.authStore.record?.id as string;
      const batch = fay.createBatch();
      batch.collection('posts').create({ title: 'B1', author: fayId });
      batch.collection('posts').create({ title: 'B2', author: fayId });
      const results = await batch.send();
      expect(results.map((r) => r.status)).toEqual([200, 200]);
      const ids = results.map((r) => (r.body as { id: string }).id);

      const failing = fay.createBatch();
      failing.collection('posts').update(ids[0] as string, { title: 'changed in a failed batch' });
      failing.collection('posts').create({ title: '', author: fayId });
      const err = await failing.send().catch((e: ClientResponseError) => e);
      expect(err).toBeInstanceOf(ClientResponseError);
      expect((err as ClientResponseError).status).toBe(400);
      expect((err as ClientResponseError).response.data.requests['1'].code).toBe('batch_request_failed');
      expect((await fay.collection('posts').getOne(ids[0] as string)).title).toBe('B1');

      const cleanup = fay.createBatch();
      for (const id of ids) cleanup.collection('posts').delete(id);
      expect((await cleanup.send()).map((r) => r.status)).toEqual([204, 204]);
    });
  });
}
