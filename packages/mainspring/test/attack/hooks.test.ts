/**
 * Server code's routes under attack: what reaches a hook (bodies, query
 * values, placeholders, names) cannot pollute prototypes, inject filter
 * syntax, fail open or leave a write behind a 4xx. Every answer is a 4xx
 * in PocketBase's shape or a plain 200; the state is unchanged afterwards.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Mainspring } from '../../src/core/hooks/api.js';
import { expectApiError, makeJwt } from '../helpers/hostile.js';
import { buildWorld, q, type World } from './world.js';

function hooks(ms: Mainspring): void {
  // a search route that puts a client's value into a filter through a placeholder
  ms.routerAdd('GET', '/api/x/count', async (e) => ({
    n: await ms.records.count('posts', 'title = {:t}', { t: e.query.t ?? '' }),
  }));
  // a route that takes the collection and sort from the client (bad practice, but it must not break anything)
  ms.routerAdd('GET', '/api/x/any', async (e) => ms.records.find(e.query.c ?? '', { sort: e.query.sort, limit: 1 }));
  // writes, then refuses: the write must be rolled back
  ms.routerAdd(
    'POST',
    '/api/x/refuse',
    (e) =>
      e.runInTransaction(async (tx) => {
        await tx.create('posts', { title: 'should vanish', author: e.auth?.record.id });
        throw new ms.ForbiddenError('No.');
      }),
    ms.requireAuth(),
  );
  ms.routerAdd('POST', '/api/x/echo', (e) => ({
    keys: Object.keys(e.body as object),
    polluted: ({} as Record<string, unknown>).polluted ?? null,
  }));
  ms.routerAdd('GET', '/api/x/mine', (e) => ({ id: e.auth?.record.id }), ms.requireAuth('users'));
}

let w: World;
let before: unknown;
beforeAll(async () => {
  w = await buildWorld({ hooks: [hooks] });
  before = await w.snapshot();
}, 60_000);
afterAll(() => w?.close());

const INJECTIONS = ['" || id != "', "' || id != '", '\\" || id != \\"', '{:t}', 'x" && 1=1 || title != "', '%', '\0', 'a'.repeat(5000)];

describe('hooks under attack', () => {
  test('a client value in a placeholder is a value, never filter syntax', async () => {
    for (const t of INJECTIONS) {
      const res = await w.call('GET', `/api/x/count${q({ t })}`);
      expect(res.status, JSON.stringify(t)).toBe(200);
      expect(res.body.n, JSON.stringify(t)).toBe(0);
    }
  });

  test('hostile collection names and sorts from a client are 4xx, never 5xx', async () => {
    for (const c of ['', 'posts"; DROP TABLE posts; --', '../users', '_superusers"', 'users.password', '\0']) {
      expectApiError(await w.call('GET', `/api/x/any${q({ c })}`), [400, 404], c);
    }
    for (const sort of ['password', 'tokenKey;--', '-(SELECT 1)', 'title"']) {
      expectApiError(await w.call('GET', `/api/x/any${q({ c: 'posts', sort })}`), 400, sort);
    }
  });

  test('prototype keys in a route body are refused before the handler', async () => {
    for (const raw of ['{"__proto__":{"polluted":1}}', '{"a":{"constructor":{"prototype":{"polluted":1}}}}', '[{"prototype":1}]']) {
      expectApiError(await w.call('POST', '/api/x/echo', { raw, headers: { 'content-type': 'application/json' } }), 400, raw);
    }
    const ok = await w.call('POST', '/api/x/echo', { body: { a: 1 } });
    expect(ok.body).toEqual({ keys: ['a'], polluted: null });
  });

  test('forged, expired and foreign tokens do not pass requireAuth', async () => {
    const forged = [
      makeJwt({ alg: 'none', typ: 'JWT' }, { id: w.alice.id, type: 'auth', collectionId: '_pb_users_auth_' }, null),
      makeJwt({ alg: 'HS256', typ: 'JWT' }, { id: w.alice.id, type: 'auth', collectionId: '_pb_users_auth_', exp: 9e9 }, 'guessed'),
      `${w.alice.token}x`,
      'Bearer ',
    ];
    for (const token of forged) expectApiError(await w.call('GET', '/api/x/mine', { token }), 401, token.slice(0, 30));
    // a superuser is not a user of the collection the route names
    expectApiError(await w.call('GET', '/api/x/mine', { token: w.su }), 403);
    expect((await w.call('GET', '/api/x/mine', { token: w.alice.token })).body).toEqual({ id: w.alice.id });
  });

  test('a route that writes and then refuses leaves nothing behind', async () => {
    expectApiError(await w.call('POST', '/api/x/refuse', { token: w.alice.token }), 403);
    expectApiError(await w.call('POST', '/api/x/refuse'), 401);
  });

  test('nothing changed', async () => {
    expect(await w.snapshot()).toEqual(before);
  });
});
