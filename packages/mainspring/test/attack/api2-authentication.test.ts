/**
 * OWASP API2:2023 Broken Authentication — a short complement to
 * test/auth-hostile.test.ts (forged tokens, revocation, lockout, enumeration
 * live there). Here: whoever a token names, it never makes its bearer a
 * superuser; impersonation is the superuser's alone, and its tokens carry
 * exactly the impersonated user's powers.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectApiError, jwtClaims } from '../helpers/hostile.js';
import { buildWorld, expectNone, HIDDEN, q, secretsOf, type World } from './world.js';

let w: World;
beforeAll(async () => {
  w = await buildWorld();
}, 60_000);
afterAll(() => w?.close());

/** What only a superuser may do, each as a request that must not succeed. */
const superuserOnly = (): [string, string, unknown][] => [
  ['GET', '/api/collections', undefined],
  ['GET', '/api/settings', undefined],
  ['GET', '/api/collections/_superusers/records', undefined],
  ['GET', '/api/collections/vault/records', undefined],
  ['GET', `/api/collections/posts/records${q({ filter: `secret ~ "${HIDDEN}%"` })}`, undefined],
  ['POST', `/api/collections/users/impersonate/${w.bob.id}`, {}],
];

describe('no token makes its bearer a superuser', () => {
  test("the users collection's manager (manageRule) is no superuser", async () => {
    await w.unchanged(async () => {
      for (const [method, path, body] of superuserOnly()) {
        const res = await w.call(method, path, { token: w.dave.token, body });
        expect(res.status, `${method} ${path}: ${res.text.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
      }
      // hidden fields stay hidden from the manager, on the records it manages too
      const users = await w.list('users', {}, w.dave.token);
      expect(JSON.stringify(users)).not.toContain(HIDDEN);
    });
  });

  test('a superuser token sent anywhere but the Authorization header is no token', async () => {
    for (const [label, opts] of [
      ['query token', { path: `/api/collections${q({ token: w.su })}` }],
      ['query auth', { path: `/api/collections${q({ authorization: w.su })}` }],
      ['cookie', { path: '/api/collections', headers: { cookie: `pb_auth=${encodeURIComponent(JSON.stringify({ token: w.su }))}` } }],
      ['X-Authorization', { path: '/api/collections', headers: { 'x-authorization': w.su } }],
      ['Proxy-Authorization', { path: '/api/collections', headers: { 'proxy-authorization': w.su } }],
    ] as const) {
      expectApiError(await w.call('GET', opts.path, { headers: 'headers' in opts ? opts.headers : {} }), 401, label);
    }
    await w.ok(w.call('GET', '/api/collections', { token: `Bearer ${w.su}` }), 'the header works');
  });

  test('a batch runs every item as the caller: a user cannot reach superuser-only data through it', async () => {
    await w.unchanged(async () => {
      const res = await w.call('POST', '/api/batch', {
        token: w.alice.token,
        body: {
          requests: [
            {
              method: 'POST',
              url: '/api/collections/_superusers/records',
              headers: { authorization: w.su },
              body: { email: 'evil@attack.test', password: 'evil-password-1', passwordConfirm: 'evil-password-1' },
            },
          ],
        },
      });
      expectApiError(res, 400);
      expect(res.body.data.requests[0].response.status).toBe(403);
    });
  });
});

describe('impersonation', () => {
  test('requires a superuser: guests 401; users, managers and the user itself 403; nothing is issued', async () => {
    const target = () => `/api/collections/users/impersonate/${w.bob.id}`;
    expectApiError(await w.call('POST', target(), { body: {} }), 401, 'guest');
    for (const [label, token] of [
      ['alice', w.alice.token],
      ['dave (manager)', w.dave.token],
      ['bob himself', w.bob.token],
    ]) {
      const res = await w.call('POST', target(), { token, body: { duration: 3600 } });
      expectApiError(res, 403, label as string);
      expect(res.text).not.toContain('token');
    }
    expectApiError(
      await w.call('POST', `/api/collections/_superusers/impersonate/${w.suId}`, { token: w.alice.token, body: {} }),
      403,
      'a user impersonating a superuser',
    );
  });

  test('an impersonation token has exactly the impersonated user’s powers, and no more', async () => {
    const res = await w.ok(w.call('POST', `/api/collections/users/impersonate/${w.alice.id}`, { token: w.su, body: {} }), 'impersonate');
    expectNone(JSON.stringify(res), await secretsOf(w), 'impersonate response');
    const token = res.token as string;
    expect(jwtClaims(token)).toMatchObject({ id: w.alice.id, collectionId: w.cols.users, refreshable: false });

    // alice's own things
    await w.ok(w.call('GET', `/api/collections/posts/records/${w.ids.pA2}`, { token }), 'her draft');
    // not bob's, not the superuser's
    expectApiError(await w.call('GET', `/api/collections/posts/records/${w.ids.pB2}`, { token }), 404, "bob's draft");
    await w.unchanged(async () => {
      for (const [method, path, body] of superuserOnly()) {
        const r = await w.call(method, path, { token, body });
        expect([400, 403], `${method} ${path}: ${r.text.slice(0, 200)}`).toContain(r.status);
      }
      // it cannot be turned into a lasting session
      expectApiError(await w.call('POST', '/api/ms/sessions', { token, body: {} }), 403, 'session from impersonation');
    });
    // auth-refresh answers the same, non-refreshable token (PocketBase)
    const refreshed = await w.ok(w.call('POST', '/api/collections/users/auth-refresh', { token }), 'refresh');
    expect(refreshed.token).toBe(token);
  });

  test('impersonating an unknown record is a 404; a bad duration a 400', async () => {
    expectApiError(await w.call('POST', '/api/collections/users/impersonate/zzzzzzzzzzzzzzz', { token: w.su, body: {} }), 404);
    expectApiError(
      await w.call('POST', `/api/collections/users/impersonate/${w.bob.id}`, { token: w.su, body: { duration: -1 } }),
      400,
      'negative duration',
    );
  });
});
