/**
 * OWASP API3:2023 Broken Object Property Level Authorization.
 *
 * Mass assignment: users send the properties only the system or a superuser
 * may set (id, created, updated, collectionId, verified, tokenKey, password,
 * email, hidden fields such as a role) through every channel a write has —
 * JSON, urlencoded and multipart forms, batch items — on create and update.
 *
 * Excessive data exposure: passwords and token keys never leave; hidden
 * fields reach superusers only; the emails of others show only with
 * emailVisibility (or to the record itself, managers and superusers) —
 * in lists, views, expands, batch results and sign-in answers.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Answer, expectApiError } from '../helpers/hostile.js';
import { buildWorld, expectNone, HIDDEN, type Person, q, secretsOf, type World } from './world.js';

let w: World;
beforeAll(async () => {
  w = await buildWorld();
}, 60_000);
afterAll(() => w?.close());

type Channel = 'json' | 'form' | 'multipart' | 'batch';
const CHANNELS: Channel[] = ['json', 'form', 'multipart', 'batch'];

/** A write through one channel; forms carry JSON values (lists, objects) in `@jsonPayload` (multipart) or as text. */
async function write(
  channel: Channel,
  method: 'POST' | 'PATCH',
  path: string,
  body: Record<string, unknown>,
  token: string,
): Promise<Answer> {
  switch (channel) {
    case 'json':
      return w.call(method, path, { token, body });
    case 'form': {
      const form = new URLSearchParams();
      for (const [k, v] of Object.entries(body)) form.append(k, typeof v === 'string' ? v : JSON.stringify(v));
      return w.call(method, path, { token, raw: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    }
    case 'multipart': {
      const boundary = '----attack-boundary';
      const raw = `--${boundary}\r\nContent-Disposition: form-data; name="@jsonPayload"\r\n\r\n${JSON.stringify(body)}\r\n--${boundary}--\r\n`;
      return w.call(method, path, { token, raw, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
    }
    case 'batch': {
      const res = await w.call('POST', '/api/batch', { token, body: { requests: [{ method, url: path, body }] } });
      if (res.status !== 200) return res;
      const item = res.body[0] as { status: number; body: unknown };
      return { ...res, status: item.status, body: item.body, text: JSON.stringify(item.body) };
    }
  }
}

const postsPath = '/api/collections/posts/records';

describe('mass assignment', () => {
  test.each(CHANNELS)('creating a post (%s): system and hidden properties are ignored or refused, never stored', async (channel) => {
    const res = await write(
      channel,
      'POST',
      postsPath,
      {
        title: `mass ${channel}`,
        author: w.bob.id,
        secret: 'bob-chose-this',
        reviewer: w.bob.id,
        created: '2000-01-01 00:00:00.000Z',
        updated: '2000-01-01 00:00:00.000Z',
        collectionId: w.cols.vault,
        collectionName: 'vault',
        expand: { author: { id: w.suId } },
      },
      w.bob.token,
    );
    const body = await w.ok(res, channel);
    expect(body.collectionName).toBe('posts');
    expect(body.collectionId).toBe(w.cols.posts);
    expect(body.expand).toBeUndefined();
    const stored = await w.read('posts', body.id);
    expect(stored.secret).toBe('');
    expect(stored.reviewer).toBe('');
    expect(stored.created).not.toBe('2000-01-01 00:00:00.000Z');
    expect(stored.updated).not.toBe('2000-01-01 00:00:00.000Z');
    await w.ok(w.call('DELETE', `${postsPath}/${body.id}`, { token: w.bob.token }), 'cleanup', 204);
  });

  test.each(CHANNELS)('updating own post (%s): hidden fields, dates and modifiers on them change nothing', async (channel) => {
    const before = await w.read('posts', w.ids.pB1);
    const res = await write(
      channel,
      'PATCH',
      `${postsPath}/${w.ids.pB1}`,
      { secret: 'overwritten', 'secret+': 'x', reviewer: w.bob.id, created: '2000-01-01 00:00:00.000Z', collectionName: 'vault' },
      w.bob.token,
    );
    await w.ok(res, channel);
    const after = await w.read('posts', w.ids.pB1);
    expect(after.secret).toBe(before.secret);
    expect(after.reviewer).toBe(before.reviewer);
    expect(after.created).toBe(before.created);
  });

  test.each(CHANNELS)('a user giving itself the hidden admin role (%s) stays a member and manages nobody', async (channel) => {
    const secrets = await w.s.app.engine.get('SELECT password, "tokenKey" FROM "users" WHERE id = $1', [w.alice.id]);
    const res = await write(
      channel,
      'PATCH',
      `/api/collections/users/records/${w.alice.id}`,
      { role: 'admin', 'role+': 'admin', ssn: 'forged', tokenKey: 'k'.repeat(50), created: '2000-01-01 00:00:00.000Z' },
      w.alice.token,
    );
    expect([200, 400], res.text).toContain(res.status);
    const stored = await w.read('users', w.alice.id);
    expect(stored.role).toBe('member');
    expect(stored.ssn).toBe(w.alice.ssn);
    expect(stored.created).not.toBe('2000-01-01 00:00:00.000Z');
    expect(await w.s.app.engine.get('SELECT password, "tokenKey" FROM "users" WHERE id = $1', [w.alice.id])).toEqual(secrets);
    // and with it no power over others
    await w.unchanged(async () => {
      expectApiError(
        await w.call('PATCH', `/api/collections/users/records/${w.bob.id}`, { token: w.alice.token, body: { verified: true } }),
        404,
        'alice on bob',
      );
    });
  });

  test.each(CHANNELS)(
    'verified, email and password of its own account cannot be set directly (%s): 400, nothing stored',
    async (channel) => {
      await w.unchanged(async () => {
        for (const [body, field] of [
          [{ verified: true }, 'verified'],
          [{ email: 'alice2@attack.test' }, 'email'],
          [{ password: 'new-password-1', passwordConfirm: 'new-password-1' }, 'oldPassword'],
        ] as const) {
          const res = await write(channel, 'PATCH', `/api/collections/users/records/${w.alice.id}`, body, w.alice.token);
          expectApiError(res, 400, `${channel} ${field}`);
          expect(JSON.stringify(res.body.data)).toContain(field);
        }
      });
    },
  );

  test('sign-up: a chosen role, ssn and tokenKey are ignored; verified = true is refused; a custom id is taken (PocketBase)', async () => {
    const email = 'mallory@attack.test';
    const base = { email, password: 'mallory-pass-1', passwordConfirm: 'mallory-pass-1' };
    await w.unchanged(async () => {
      expectApiError(await w.call('POST', '/api/collections/users/records', { body: { ...base, verified: true } }), 400, 'verified');
    });
    const created = await w.ok(
      w.call('POST', '/api/collections/users/records', {
        body: { ...base, id: 'mallory00000001', role: 'admin', ssn: 'x', tokenKey: 't'.repeat(50), collectionId: 'pbc_3142635823' },
      }),
      'sign up',
    );
    expect(created.id).toBe('mallory00000001');
    expect(created.collectionName).toBe('users');
    const stored = await w.read('users', created.id);
    expect(stored.role).toBe('');
    expect(stored.ssn).toBe('');
    const key = await w.s.app.engine.get<{ tokenKey: string }>('SELECT "tokenKey" FROM "users" WHERE id = $1', [created.id]);
    expect(key?.tokenKey).not.toBe('t'.repeat(50));
    expect(await w.s.app.engine.get('SELECT id FROM "_superusers" WHERE id = $1', [created.id])).toBeUndefined();
    await w.ok(w.call('DELETE', `/api/collections/users/records/${created.id}`, { token: w.su }), 'cleanup', 204);
  });

  test("emailVisibility is the account owner's choice only", async () => {
    await w.unchanged(async () => {
      expectApiError(
        await w.call('PATCH', `/api/collections/users/records/${w.alice.id}`, { token: w.bob.token, body: { emailVisibility: true } }),
        404,
      );
    });
    await w.ok(
      w.call('PATCH', `/api/collections/users/records/${w.carol.id}`, { token: w.carol.token, body: { emailVisibility: true } }),
      'own',
    );
    const seen = await w.ok(w.call('GET', `/api/collections/users/records/${w.carol.id}`, { token: w.bob.token }), 'bob sees');
    expect(seen.email).toBe(w.carol.email);
    await w.ok(
      w.call('PATCH', `/api/collections/users/records/${w.carol.id}`, { token: w.carol.token, body: { emailVisibility: false } }),
      'undo',
    );
    const hidden = await w.ok(w.call('GET', `/api/collections/users/records/${w.carol.id}`, { token: w.bob.token }), 'bob again');
    expect(hidden.email).toBeUndefined();
  });
});

describe('excessive data exposure', () => {
  /** Every read a client can make, with expands that reach every related record. */
  const reads = (): string[] => [
    `/api/collections/users/records${q({ expand: 'org,org.admins,teams_via_members.members,memberships_via_user,posts_via_author' })}`,
    ...w.people.map(
      (p) => `/api/collections/users/records/${p.id}${q({ expand: 'org.admins,posts_via_author.author,comments_via_author' })}`,
    ),
    `/api/collections/posts/records${q({ expand: 'author.org.admins,comments_via_post.author', perPage: '1000' })}`,
    `/api/collections/posts/records/${w.ids.pA1}${q({ expand: 'author,comments_via_post.author.org' })}`,
    `/api/collections/posts/records${q({ fields: '*,expand.author.*', expand: 'author' })}`,
    `/api/collections/comments/records${q({ expand: 'post.author,author' })}`,
    `/api/collections/docs/records${q({ expand: 'team.members.org' })}`,
    `/api/collections/teams/records${q({ expand: 'members,docs_via_team,memberships_via_team.user' })}`,
    `/api/collections/memberships/records${q({ expand: 'user,team.members' })}`,
    `/api/collections/orgs/records${q({ expand: 'admins,users_via_org' })}`,
  ];

  /** The emails a caller may see: its own, visible ones, and all of them for managers. */
  const hiddenEmailsFor = (viewer: Person | null): string[] =>
    viewer === w.dave ? [] : w.people.filter((p) => !p.emailVisibility && p !== viewer).map((p) => p.email);

  test.each(['guest', 'alice', 'bob', 'carol', 'dave'])(
    'as %s: no password, tokenKey, hidden field or hidden email in any read',
    async (who) => {
      const viewer = who === 'guest' ? null : (w.people.find((p) => p.name === who) as Person);
      const token = viewer?.token ?? '';
      const words = [...(await secretsOf(w)), ...hiddenEmailsFor(viewer)];
      let seen = 0;
      for (const path of reads()) {
        const res = await w.call('GET', path, { token });
        expect(res.status, `${path}: ${res.text.slice(0, 200)}`).toBe(200);
        expectNone(res.text, words, `${who} GET ${path}`);
        seen += res.text.length;
      }
      expect(seen).toBeGreaterThan(1000);
    },
  );

  test('the superuser sees hidden fields and emails (so the checks above look at the right places)', async () => {
    const text = (await w.call('GET', reads()[0] as string, { token: w.su })).text;
    expect(text).toContain(w.alice.ssn);
    expect(text).toContain(w.alice.email);
    expect(text).not.toContain('"tokenKey"');
    expect(text).not.toContain('"password"');
    // and dave, the manager, sees the emails of the accounts he manages
    const dave = await w.list('users', {}, w.dave.token);
    expect(dave.items.map((u: { email?: string }) => u.email).sort()).toEqual(w.people.map((p) => p.email).sort());
  });

  test('write answers (create, update, batch, sign-up, sign-in, refresh) expose nothing either', async () => {
    const words = [...(await secretsOf(w)), ...hiddenEmailsFor(w.bob)];
    const answers: [string, Answer][] = [];
    const created = await w.call('POST', `${postsPath}${q({ expand: 'author,comments_via_post' })}`, {
      token: w.bob.token,
      body: { title: 'exposure', author: w.bob.id, secret: 'x' },
    });
    answers.push(['create', created]);
    const id = created.body.id as string;
    answers.push([
      'update',
      await w.call('PATCH', `${postsPath}/${id}${q({ expand: 'author.org.admins' })}`, {
        token: w.bob.token,
        body: { title: 'exposure 2' },
      }),
    ]);
    answers.push([
      'batch',
      await w.call('POST', '/api/batch', {
        token: w.bob.token,
        body: {
          requests: [
            { method: 'PATCH', url: `${postsPath}/${id}?expand=author.org.admins`, body: { title: 'exposure 3' } },
            {
              method: 'POST',
              url: '/api/collections/comments/records?expand=post.author,author',
              body: { post: w.ids.pA1, author: w.bob.id },
            },
            { method: 'PATCH', url: `/api/collections/users/records/${w.bob.id}?expand=org.admins,teams_via_members.members`, body: {} },
          ],
        },
      }),
    ]);
    answers.push([
      'sign-in',
      await w.call('POST', `/api/collections/users/auth-with-password${q({ expand: 'org.admins,teams_via_members.members' })}`, {
        body: { identity: w.bob.email, password: w.bob.password },
      }),
    ]);
    answers.push([
      'refresh',
      await w.call('POST', `/api/collections/users/auth-refresh${q({ expand: 'org.admins,posts_via_author.comments_via_post.author' })}`, {
        token: w.bob.token,
      }),
    ]);
    for (const [label, res] of answers) {
      expect(res.status, `${label}: ${res.text.slice(0, 300)}`).toBe(200);
      expectNone(res.text, words, label);
    }
    const batchResult = answers[2]?.[1].body as { body: { id: string } }[];
    await w.ok(w.call('DELETE', `/api/collections/comments/records/${batchResult[1]?.body.id}`, { token: w.bob.token }), 'cleanup', 204);
    await w.ok(w.call('DELETE', `${postsPath}/${id}`, { token: w.bob.token }), 'cleanup', 204);
    // sign-up answers too
    const signup = await w.call('POST', `/api/collections/users/records${q({ expand: 'org' })}`, {
      body: { email: 'exposed@attack.test', password: 'exposed-pass-1', passwordConfirm: 'exposed-pass-1' },
    });
    expect(signup.status).toBe(200);
    expectNone(signup.text, await secretsOf(w), 'sign-up');
    await w.ok(w.call('DELETE', `/api/collections/users/records/${signup.body.id}`, { token: w.su }), 'cleanup', 204);
  });

  test('fields=email on the users list picks nothing of hidden emails; a filter on them matches nothing', async () => {
    const list = await w.list('users', { fields: 'id,email' }, w.carol.token);
    const emails = Object.fromEntries(list.items.map((u: { id: string; email?: string }) => [u.id, u.email]));
    expect(emails[w.carol.id]).toBe(w.carol.email);
    expect(emails[w.bob.id]).toBe(w.bob.email);
    expect(emails[w.alice.id]).toBeUndefined();
    expect(emails[w.dave.id]).toBeUndefined();
    for (const filter of [`email = "${w.alice.email}"`, 'email ~ "alice"', `email ?= "${w.dave.email}"`, 'email:lower ~ "dave"']) {
      expect((await w.list('users', { filter }, w.carol.token)).totalItems, filter).toBe(0);
    }
  });

  test('sorting by email orders hidden emails as if they were empty (else the order is an oracle on them)', async () => {
    // Real order by address: alice, bob, carol, dave. alice and dave hide theirs from carol, so for her
    // they must sort as empty ones (first, then by name). An attacker who can sort by a hidden email can
    // find it one character at a time by signing up accounts with chosen, visible addresses beside it.
    // (PocketBase's sort resolver has the same gap: its emailVisibility guard wraps filters only.)
    expect(await w.listIds('users', { sort: 'email,name' }, w.carol.token)).toEqual([w.alice.id, w.dave.id, w.bob.id, w.carol.id]);
    // descending, for a guest: dave's hidden address must not sort before bob's visible one
    expect(await w.listIds('users', { sort: '-email,name', filter: `id = "${w.bob.id}" || id = "${w.dave.id}"` }, '')).toEqual([
      w.bob.id,
      w.dave.id,
    ]);
    // for the superuser, the real order
    expect(await w.listIds('users', { sort: 'email' }, w.su)).toEqual([w.alice.id, w.bob.id, w.carol.id, w.dave.id]);
  });

  test('error answers echo no stored data', async () => {
    const dup = await w.call('POST', '/api/collections/users/records', {
      body: { email: w.alice.email, password: 'x-password-1', passwordConfirm: 'x-password-1' },
    });
    expectApiError(dup, 400, 'duplicate email');
    expectNone(dup.text, [...(await secretsOf(w)), w.alice.id], 'duplicate email');
    const res = await w.call('PATCH', `${postsPath}/${w.ids.pB1}`, { token: w.bob.token, body: { views: 'many', title: 'x'.repeat(600) } });
    expectApiError(res, 400, 'invalid update');
    expectNone(res.text, [HIDDEN, 'bob public'], 'invalid update');
  });
});
