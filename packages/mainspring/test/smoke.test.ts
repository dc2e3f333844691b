import PocketBase from 'pocketbase';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startServer, superuserToken, type TestServer } from './helpers/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startServer();
});
afterAll(async () => s.close());

test('smoke', async () => {
  const token = await superuserToken(s);
  const pb = new PocketBase(s.url);
  pb.authStore.save(token, null);
  const posts = await pb.collections.create({
    name: 'posts',
    type: 'base',
    listRule: '',
    viewRule: '',
    createRule: '@request.auth.id != ""',
    fields: [
      { name: 'title', type: 'text', required: true },
      { name: 'author', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
      { name: 'views', type: 'number' },
    ],
  });
  console.log(JSON.stringify(posts).slice(0, 300));
  const user = await pb
    .collection('users')
    .create({ email: 'a@example.com', password: 'password123', passwordConfirm: 'password123', name: 'Ann' });
  console.log(user);
  const u = new PocketBase(s.url);
  await u.collection('users').authWithPassword('a@example.com', 'password123');
  const p = await u.collection('posts').create({ title: 'Hello', author: u.authStore.record?.id, views: 3 });
  console.log(p);
  const list = await u.collection('posts').getList(1, 10, { filter: 'title ~ "ell" && views > 1', expand: 'author', sort: '-created' });
  console.log(JSON.stringify(list, null, 1));
  expect(list.totalItems).toBe(1);
});
