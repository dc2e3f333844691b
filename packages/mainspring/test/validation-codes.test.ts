import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, superuserToken, type TestServer } from './helpers/server.js';

/**
 * Validation error codes as PocketBase gives them (its core/field_*.go
 * validators, core/collection_validate.go, core/event_request_batch.go and
 * the apis tests that pin them): what a client branching on `code` sees.
 */

let s: TestServer;
let su: string;

const call = (method: string, path: string, body?: unknown, token: string | undefined = su) => s.request(method, path, { body, token });

/** The `{code, message}` at a path of an error's `data`. */
function errorAt(body: any, ...path: string[]): { code: string; message: string } {
  let v = body?.data;
  for (const key of path) v = v?.[key];
  return v;
}

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  const target = await call('POST', '/api/collections', { name: 'targets', listRule: '', createRule: '' });
  expect(target.status, JSON.stringify(target.body)).toBe(200);
  const made = await call('POST', '/api/collections', {
    name: 'strict',
    listRule: '',
    viewRule: '',
    createRule: '',
    updateRule: '',
    fields: [
      { name: 'text', type: 'text', required: true },
      { name: 'editor', type: 'editor', required: true },
      { name: 'number', type: 'number', required: true },
      { name: 'bool', type: 'bool', required: true },
      { name: 'email', type: 'email', required: true },
      { name: 'url', type: 'url', required: true },
      { name: 'date', type: 'date', required: true },
      { name: 'select', type: 'select', values: ['a', 'b'], required: true },
      { name: 'selects', type: 'select', values: ['a', 'b'], maxSelect: 2, required: true },
      { name: 'json', type: 'json', required: true },
      { name: 'file', type: 'file', required: true },
      { name: 'relation', type: 'relation', collectionId: target.body.id, required: true },
      { name: 'point', type: 'geoPoint', required: true },
    ],
  });
  expect(made.status, JSON.stringify(made.body)).toBe(200);
});

afterAll(async () => {
  await s?.close();
});

describe('a missing required value is validation_required, whatever the field type', () => {
  const REQUIRED = ['text', 'editor', 'number', 'bool', 'email', 'url', 'date', 'select', 'selects', 'json', 'file', 'relation', 'point'];

  test('nothing sent: every required field answers validation_required', async () => {
    const res = await call('POST', '/api/collections/strict/records', {}, undefined);
    expect(res.status).toBe(400);
    expect(Object.keys(res.body.data).sort()).toEqual([...REQUIRED].sort());
    for (const name of REQUIRED)
      expect(errorAt(res.body, name), name).toEqual({ code: 'validation_required', message: 'Cannot be blank.' });
  });

  test("each type's zero value is missing: '', 0, false, [], null, {lon: 0, lat: 0}", async () => {
    const res = await call(
      'POST',
      '/api/collections/strict/records',
      {
        text: '',
        editor: '',
        number: 0,
        bool: false,
        email: '',
        url: '',
        date: '',
        select: '',
        selects: [],
        json: null,
        file: [],
        relation: [],
        point: { lon: 0, lat: 0 },
      },
      undefined,
    );
    expect(res.status).toBe(400);
    for (const name of REQUIRED) expect(errorAt(res.body, name)?.code, name).toBe('validation_required');
  });

  test('a required json field: null, "", [] and {} are missing; false and 0 are values (PocketBase compares the raw JSON)', async () => {
    for (const empty of [null, '', [], {}]) {
      const res = await call('POST', '/api/collections/strict/records', { json: empty }, undefined);
      expect(errorAt(res.body, 'json')?.code, JSON.stringify(empty)).toBe('validation_required');
    }
    for (const value of [false, 0, 'x', [0], { a: null }]) {
      const res = await call('POST', '/api/collections/strict/records', { json: value }, undefined);
      expect(res.status).toBe(400);
      expect(errorAt(res.body, 'json'), JSON.stringify(value)).toBeUndefined();
    }
  });

  test('an auth record: email, password and passwordConfirm are each validation_required', async () => {
    const res = await call('POST', '/api/collections/users/records', {}, undefined);
    expect(res.status).toBe(400);
    for (const name of ['email', 'password', 'passwordConfirm']) {
      expect(errorAt(res.body, name), name).toEqual({ code: 'validation_required', message: 'Cannot be blank.' });
    }
    // a confirmation without a password: the password is missing, the confirmation does not match it
    const confirmOnly = await call(
      'POST',
      '/api/collections/users/records',
      { email: 'c@example.com', passwordConfirm: 'secret-123' },
      undefined,
    );
    expect(errorAt(confirmOnly.body, 'password')?.code).toBe('validation_required');
    expect(errorAt(confirmOnly.body, 'passwordConfirm')?.code).toBe('validation_values_mismatch');
  });
});

describe('field names reserved on auth collections only', () => {
  test('passwordConfirm and oldPassword on an auth collection: validation_reserved_field_name at fields.N.name', async () => {
    const res = await call('POST', '/api/collections', {
      name: 'accounts',
      type: 'auth',
      fields: [
        { name: 'nickname', type: 'text' },
        { name: 'passwordConfirm', type: 'text' },
        { name: 'oldPassword', type: 'text' },
      ],
    });
    expect(res.status).toBe(400);
    expect(errorAt(res.body, 'fields', '1', 'name')?.code).toBe('validation_reserved_field_name');
    expect(errorAt(res.body, 'fields', '2', 'name')?.code).toBe('validation_reserved_field_name');
    expect(errorAt(res.body, 'fields', '0')).toBeUndefined();
    expect((await call('GET', '/api/collections/accounts')).status).toBe(404);

    // adding one to an existing auth collection is refused the same way
    const users = (await call('GET', '/api/collections/users')).body;
    const added = await call('PATCH', '/api/collections/users', { fields: [...users.fields, { name: 'oldPassword', type: 'text' }] });
    expect(added.status).toBe(400);
    expect(errorAt(added.body, 'fields', String(users.fields.length), 'name')?.code).toBe('validation_reserved_field_name');
  });

  test('on a base collection they are ordinary fields: stored, read back and filtered', async () => {
    const made = await call('POST', '/api/collections', {
      name: 'forms',
      listRule: '',
      viewRule: '',
      createRule: '',
      fields: [
        { name: 'passwordConfirm', type: 'text' },
        { name: 'oldPassword', type: 'text' },
      ],
    });
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    const rec = await call('POST', '/api/collections/forms/records', { passwordConfirm: 'one', oldPassword: 'two' }, undefined);
    expect(rec.status, JSON.stringify(rec.body)).toBe(200);
    expect(rec.body).toMatchObject({ passwordConfirm: 'one', oldPassword: 'two' });
    const found = await call(
      'GET',
      `/api/collections/forms/records?filter=${encodeURIComponent('oldPassword = "two"')}`,
      undefined,
      undefined,
    );
    expect(found.body.items.map((r: { id: string }) => r.id)).toEqual([rec.body.id]);
    // but not as auth collection fields once it would be one: a base collection cannot become auth
  });

  test('names reserved everywhere stay refused on both kinds (validation_not_in_invalid)', async () => {
    for (const type of ['base', 'auth']) {
      for (const name of ['expand', 'collectionId', 'collectionName', 'null', 'true', 'false', '_rowid_']) {
        const res = await call('POST', '/api/collections', { name: `r_${type}`, type, fields: [{ name, type: 'text' }] });
        expect(res.status, `${type} ${name}`).toBe(400);
        expect(errorAt(res.body, 'fields', '0', 'name')?.code, `${type} ${name}`).toBe('validation_not_in_invalid');
      }
    }
  });
});

describe('passwordAuth.identityFields', () => {
  test('an unknown name: passwordAuth.identityFields validation_missing_field (PocketBase apis/collection_test.go)', async () => {
    const res = await call('PATCH', '/api/collections/users', { passwordAuth: { identityFields: ['missing'] } });
    expect(res.status).toBe(400);
    expect(errorAt(res.body, 'passwordAuth', 'identityFields')?.code).toBe('validation_missing_field');
    expect((await call('GET', '/api/collections/users')).body.passwordAuth.identityFields).toEqual(['email']);
  });

  test('a field without a unique index: validation_missing_unique_constraint', async () => {
    const users = (await call('GET', '/api/collections/users')).body;
    const res = await call('PATCH', '/api/collections/users', {
      fields: [...users.fields, { name: 'handle', type: 'text' }],
      passwordAuth: { identityFields: ['email', 'handle'] },
    });
    expect(res.status).toBe(400);
    expect(errorAt(res.body, 'passwordAuth', 'identityFields')?.code).toBe('validation_missing_unique_constraint');
  });

  test('with a unique index it is taken', async () => {
    const users = (await call('GET', '/api/collections/users')).body;
    const res = await call('PATCH', '/api/collections/users', {
      fields: [...users.fields, { name: 'handle', type: 'text' }],
      indexes: [...users.indexes, 'CREATE UNIQUE INDEX idx_users_handle ON users (handle)'],
      passwordAuth: { identityFields: ['email', 'handle'] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.passwordAuth.identityFields).toEqual(['email', 'handle']);
  });
});

describe('POST /api/batch: each request is checked first, in PocketBase shape', () => {
  test('method and url errors at requests.N.method / requests.N.url (apis/batch_test.go)', async () => {
    const res = await call('POST', '/api/batch', {
      requests: [
        {},
        { method: 'POST', url: '/api/collections/targets/records' },
        { method: 'invalid', url: '/valid' },
        { method: 'POST', url: 'a'.repeat(2001) },
        { method: 'post', url: '' },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body.message).toBe('Invalid batch request data.');
    expect(errorAt(res.body, 'requests', '0', 'method')?.code).toBe('validation_required');
    expect(errorAt(res.body, 'requests', '0', 'url')?.code).toBe('validation_required');
    expect(errorAt(res.body, 'requests', '1')).toBeUndefined();
    expect(errorAt(res.body, 'requests', '2', 'method')?.code).toBe('validation_in_invalid');
    expect(errorAt(res.body, 'requests', '3', 'url')?.code).toBe('validation_length_too_long');
    expect(errorAt(res.body, 'requests', '3', 'method')).toBeUndefined();
    // PocketBase's list of methods is exact: a lower-case one is not in it
    expect(errorAt(res.body, 'requests', '4', 'method')?.code).toBe('validation_in_invalid');
    expect(errorAt(res.body, 'requests', '4', 'url')?.code).toBe('validation_required');
    // nothing ran
    expect((await call('GET', '/api/collections/targets/records')).body.totalItems).toBe(0);
  });

  test('wrong JSON types are field errors too, never a 500', async () => {
    const res = await call('POST', '/api/batch', {
      requests: [
        { method: 1, url: ['x'] },
        { method: 'POST', url: '/api/collections/targets/records', body: 'text' },
        { method: 'POST', url: '/api/collections/targets/records', headers: [1] },
        'not an object',
      ],
    });
    expect(res.status).toBe(400);
    expect(errorAt(res.body, 'requests', '0', 'method')?.code).toBe('validation_invalid_value');
    expect(errorAt(res.body, 'requests', '0', 'url')?.code).toBe('validation_invalid_value');
    expect(errorAt(res.body, 'requests', '1', 'body')?.code).toBe('validation_invalid_value');
    expect(errorAt(res.body, 'requests', '2', 'headers')?.code).toBe('validation_invalid_value');
    expect(errorAt(res.body, 'requests', '3')?.code).toBe('validation_invalid_value');
  });

  test('a valid GET is accepted by the check and fails as an unknown action, as in PocketBase', async () => {
    const res = await call('POST', '/api/batch', { requests: [{ method: 'GET', url: '/api/health' }] });
    expect(res.status).toBe(400);
    expect(errorAt(res.body, 'requests', '0')).toMatchObject({ code: 'batch_request_failed' });
  });
});
