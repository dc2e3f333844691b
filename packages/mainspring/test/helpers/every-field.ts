import { expect } from 'vitest';
import type { TestServer } from './server.js';

/**
 * Collections with every field type, for the generators' tests (OpenAPI,
 * Postman, typegen): `tags` (base), `posts` (base: every type but password, relations to
 * `tags` and `users`, a hidden field), `members` (auth: password and fields of its
 * own) and `secrets` (superusers only).
 */
export async function createEveryFieldCollections(s: TestServer, token: string): Promise<void> {
  const create = async (body: Record<string, unknown>) => {
    const res = await s.request('POST', '/api/collections', { token, body });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as { id: string };
  };
  const tags = await create({
    name: 'tags',
    listRule: '',
    viewRule: '',
    createRule: '@request.auth.id != ""',
    fields: [{ name: 'label', type: 'text', required: true, max: 40 }],
  });
  await create({
    name: 'posts',
    listRule: '',
    viewRule: '',
    createRule: '@request.auth.id != ""',
    updateRule: 'author = @request.auth.id',
    deleteRule: 'author = @request.auth.id',
    fields: [
      { name: 'title', type: 'text', required: true, min: 1, max: 100 },
      { name: 'slug', type: 'text', pattern: '^[a-z0-9-]*$' },
      { name: 'body', type: 'editor' },
      { name: 'score', type: 'number', onlyInt: true, min: 0, max: 1000 },
      { name: 'ratio', type: 'number' },
      { name: 'public', type: 'bool' },
      { name: 'contact', type: 'email' },
      { name: 'link', type: 'url' },
      { name: 'published', type: 'date' },
      { name: 'status', type: 'select', values: ['draft', 'live'], maxSelect: 1, required: true },
      { name: 'flags', type: 'select', values: ['hot', 'new', 'old'], maxSelect: 3 },
      { name: 'meta', type: 'json' },
      { name: 'place', type: 'geoPoint' },
      { name: 'author', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
      { name: 'tags', type: 'relation', collectionId: tags.id, maxSelect: 5 },
      { name: 'cover', type: 'file', maxSelect: 1, maxSize: 1 << 20 },
      { name: 'attachments', type: 'file', maxSelect: 4 },
      { name: 'internal', type: 'text', hidden: true },
      { name: 'created', type: 'autodate', onCreate: true },
      { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
    ],
  });
  await create({
    name: 'members',
    type: 'auth',
    listRule: 'id = @request.auth.id',
    viewRule: 'id = @request.auth.id',
    createRule: '',
    updateRule: 'id = @request.auth.id',
    fields: [
      { name: 'nickname', type: 'text', max: 30 },
      { name: 'level', type: 'select', values: ['bronze', 'silver', 'gold'], maxSelect: 1 },
    ],
  });
  await create({ name: 'secrets', fields: [{ name: 'value', type: 'text' }] });
}
