/**
 * OWASP API5:2023 Broken Function Level Authorization.
 *
 * Every administrative function, called by each kind of non-superuser: a
 * guest, a plain user, the users collection's manager (manageRule), and a
 * superuser's impersonation of a user. PocketBase's statuses: 401 without a
 * token and 403 with a non-superuser token on the superuser-only routes
 * (collections, import, settings, test email, impersonate); 403 for everyone
 * on the records of a collection whose rule is null (`_superusers`, vault).
 * Afterwards collections, settings, records and the mail folder are as before.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectApiError } from '../helpers/hostile.js';
import { Mailbox } from '../helpers/mailbox.js';
import { buildWorld, q, type World } from './world.js';

let w: World;
let impersonated = '';
let mailbox: Mailbox;

beforeAll(async () => {
  w = await buildWorld();
  mailbox = new Mailbox(w.s.dir);
  impersonated = (await w.ok(w.call('POST', `/api/collections/users/impersonate/${w.alice.id}`, { token: w.su, body: {} }), 'imp')).token;
}, 60_000);
afterAll(() => w?.close());

type Caller = 'guest' | 'user' | 'manager' | 'impersonated';
const CALLERS: Caller[] = ['guest', 'user', 'manager', 'impersonated'];
const tokenOf = (c: Caller) => ({ guest: '', user: w.bob.token, manager: w.dave.token, impersonated })[c];

/** [label, method, path, body]: routes behind RequireSuperuserAuth in PocketBase. */
const ADMIN_ROUTES = (): [string, string, string, unknown][] => [
  ['list collections', 'GET', '/api/collections', undefined],
  ['view a collection', 'GET', '/api/collections/users', undefined],
  ['view a collection by id', 'GET', `/api/collections/${w.cols.posts}`, undefined],
  ['create a collection', 'POST', '/api/collections', { name: 'pwned', listRule: '' }],
  ['open up the users rules', 'PATCH', '/api/collections/users', { listRule: '', manageRule: '' }],
  ['open up the vault', 'PATCH', '/api/collections/vault', { listRule: '', viewRule: '', createRule: '' }],
  ['drop a collection', 'DELETE', '/api/collections/vault', undefined],
  ['import collections', 'PUT', '/api/collections/import', { collections: [{ name: 'pwned2' }], deleteMissing: true }],
  ['truncate a collection', 'DELETE', '/api/collections/posts/truncate', undefined],
  ['truncate the superusers', 'DELETE', '/api/collections/_superusers/truncate', undefined],
  ['read the scaffolds', 'GET', '/api/collections/meta/scaffolds', undefined],
  ['test S3', 'POST', '/api/settings/test/s3', { filesystem: 'storage' }],
  ['read settings', 'GET', '/api/settings', undefined],
  ['change settings', 'PATCH', '/api/settings', { meta: { appName: 'pwned' }, rateLimits: { enabled: false } }],
  ['send a test email', 'POST', '/api/settings/test/email', { email: 'victim@attack.test', template: 'verification' }],
  ['impersonate a user', 'POST', `/api/collections/users/impersonate/${w.carol.id}`, {}],
  ['impersonate a superuser', 'POST', `/api/collections/_superusers/impersonate/${w.suId}`, {}],
];

describe('superuser-only routes', () => {
  test.each(CALLERS)('as %s: 401 without a token, 403 with one; nothing changes and no mail is sent', async (caller) => {
    const mails = mailbox.count();
    await w.unchanged(async () => {
      for (const [label, method, path, body] of ADMIN_ROUTES()) {
        const res = await w.call(method, path, { token: tokenOf(caller), body });
        expectApiError(res, caller === 'guest' ? 401 : 403, `${caller}: ${label}`);
      }
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(mailbox.count()).toBe(mails);
  });

  test('the same routes work for the superuser (so the refusals are about the caller)', async () => {
    await w.ok(w.call('GET', '/api/collections', { token: w.su }), 'collections');
    await w.ok(w.call('GET', '/api/settings', { token: w.su }), 'settings');
    const mails = mailbox.count();
    await w.ok(
      w.call('POST', '/api/settings/test/email', { token: w.su, body: { email: 'admin-test@attack.test', template: 'verification' } }),
      'test email',
      204,
    );
    await mailbox.take('admin-test@attack.test', /(Subject)/);
    expect(mailbox.count()).toBe(mails + 1);
  });
});

describe('records of superuser-only collections', () => {
  test.each(CALLERS)('as %s: every record route of _superusers and vault is a 403 (PocketBase, guests included)', async (caller) => {
    const token = tokenOf(caller);
    await w.unchanged(async () => {
      for (const c of ['_superusers', 'vault']) {
        const id = c === 'vault' ? w.ids.v1 : w.suId;
        const body =
          c === 'vault' ? { note: 'pwned' } : { email: 'evil@attack.test', password: 'evil-pass-12', passwordConfirm: 'evil-pass-12' };
        for (const [method, path, b] of [
          ['GET', `/api/collections/${c}/records`, undefined],
          ['GET', `/api/collections/${c}/records${q({ filter: 'id != ""' })}`, undefined],
          ['GET', `/api/collections/${c}/records/${id}`, undefined],
          ['POST', `/api/collections/${c}/records`, body],
          ['PATCH', `/api/collections/${c}/records/${id}`, c === 'vault' ? body : { email: 'evil@attack.test' }],
          ['DELETE', `/api/collections/${c}/records/${id}`, undefined],
        ] as const) {
          expectApiError(await w.call(method, path, { token, body: b }), 403, `${caller} ${method} ${path}`);
        }
        // through a batch: the item is a 403, the batch a 400
        const batch = await w.call('POST', '/api/batch', {
          token,
          body: { requests: [{ method: 'POST', url: `/api/collections/${c}/records`, body }] },
        });
        expectApiError(batch, 400, `${caller} batch ${c}`);
        expect(batch.body.data.requests[0].response.status).toBe(403);
      }
    });
  });

  test('a user cannot sign in to _superusers with a user password, nor refresh a user token there', async () => {
    expectApiError(
      await w.call('POST', '/api/collections/_superusers/auth-with-password', {
        body: { identity: w.dave.email, password: w.dave.password },
      }),
      400,
    );
    expectApiError(await w.call('POST', '/api/collections/_superusers/auth-refresh', { token: w.dave.token }), 403);
  });
});

describe('Mainspring routes beside the dialect', () => {
  test('session routes need a signed-in caller (401 for guests); a guest cannot end anyone’s sessions', async () => {
    await w.unchanged(async () => {
      for (const [method, path] of [
        ['POST', '/api/ms/sessions'],
        ['GET', '/api/ms/sessions'],
        ['DELETE', '/api/ms/sessions/zzzzzzzzzzzzzzz'],
        ['POST', '/api/ms/logout-all'],
      ]) {
        expectApiError(
          await w.call(method as string, path as string, { body: method === 'POST' ? {} : undefined }),
          401,
          `${method} ${path}`,
        );
      }
    });
  });

  test("a user cannot end another user's session", async () => {
    const started = await w.ok(w.call('POST', '/api/ms/sessions', { token: w.carol.token, body: {} }), 'carol session');
    const sessionId = started.session?.id ?? started.session;
    expect(typeof sessionId).toBe('string');
    const res = await w.call('DELETE', `/api/ms/sessions/${sessionId}`, { token: w.bob.token });
    expectApiError(res, 404, 'bob ends carol session');
    await w.ok(w.call('POST', '/api/ms/sessions/refresh', { body: { refreshToken: started.refreshToken } }), "carol's session still works");
  });
});
