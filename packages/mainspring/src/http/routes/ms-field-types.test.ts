import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { signedUpUser, startServer, superuserToken, type TestServer } from '../../../test/helpers/server.js';

/**
 * `GET /api/ms/field-types` (superusers only): every field type a collection
 * can have, with the options a superuser sets on it, their kinds and defaults.
 */

let s: TestServer;
let su = '';
let user = '';

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  user = (await signedUpUser(s, 'user@example.com')).token;
});

afterAll(async () => {
  await s?.close();
});

describe('GET /api/ms/field-types', () => {
  test('lists each type with its options, their kinds and defaults', async () => {
    const r = await s.request('GET', '/api/ms/field-types', { token: su });
    expect(r.status).toBe(200);
    const types = (r.body as { type: string }[]).map((t) => t.type);
    // the types of PocketBase's collections API, and geoPoint
    expect([...types].sort()).toEqual(
      [
        'autodate',
        'bool',
        'date',
        'editor',
        'email',
        'file',
        'geoPoint',
        'json',
        'number',
        'password',
        'relation',
        'select',
        'text',
        'url',
      ].sort(),
    );
    const relation = r.body.find((t: { type: string }) => t.type === 'relation');
    expect(relation).toEqual({
      type: 'relation',
      label: 'Relation',
      options: [
        { name: 'required', kind: 'bool', default: false },
        { name: 'collectionId', kind: 'collection', default: '' },
        { name: 'minSelect', kind: 'number', default: 0 },
        { name: 'maxSelect', kind: 'number', default: 1 },
        { name: 'cascadeDelete', kind: 'bool', default: false },
      ],
    });
    const autodate = r.body.find((t: { type: string }) => t.type === 'autodate');
    expect(autodate.options).toEqual([
      { name: 'onCreate', kind: 'bool', default: true },
      { name: 'onUpdate', kind: 'bool', default: false },
    ]);
  });

  test("401 without a valid token, 403 for a user who is not a superuser, in PocketBase's shape", async () => {
    const anonymous = await s.request('GET', '/api/ms/field-types');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toMatchObject({ status: 401, message: expect.any(String), data: {} });
    expect((await s.request('GET', '/api/ms/field-types', { token: 'not-a-token' })).status).toBe(401);
    const regular = await s.request('GET', '/api/ms/field-types', { token: user });
    expect(regular.status).toBe(403);
    expect(regular.body).toMatchObject({ status: 403, message: expect.any(String), data: {} });
  });
});
