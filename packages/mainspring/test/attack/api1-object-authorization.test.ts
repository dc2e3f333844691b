/**
 * OWASP API1:2023 Broken Object Level Authorization.
 *
 * Bob (and guests) try to reach records that belong to others by every door
 * the API has: ids in URLs, expand, back-relation expand, batch, filters that
 * probe a value one character at a time, sort, `@collection` joins, and the
 * `fields` / `expand` parameters. PocketBase hides what a rule denies: a 404
 * for a single record, nothing in a list, a silently missing expand.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectApiError } from '../helpers/hostile.js';
import { buildWorld, HIDDEN, type IdKey, MISSING_ID, q, type World } from './world.js';

let w: World;
beforeAll(async () => {
  w = await buildWorld();
}, 60_000);
afterAll(() => w?.close());

const path = (collection: string, id = '') => `/api/collections/${collection}/records${id ? `/${id}` : ''}`;

describe('records of others by id', () => {
  test('reading: a record the view rule hides is a 404 exactly like a missing id', async () => {
    const cases: [string, IdKey, () => string][] = [
      ['posts', 'pA2', () => w.bob.token], // alice's draft
      ['posts', 'pA2', () => ''],
      ['docs', 'dA', () => w.bob.token], // team Alpha's doc
      ['docs', 'dB', () => w.alice.token], // team Bravo's doc
      ['teams', 'tB', () => w.alice.token],
      ['memberships', 'mB', () => w.carol.token], // bob's membership
      ['comments', 'cC', () => w.bob.token], // carol's comment on alice's post
      ['orgs', 'org', () => ''],
    ];
    for (const [collection, key, token] of cases) {
      const hidden = await w.call('GET', path(collection, w.ids[key]), { token: token() });
      const missing = await w.call('GET', path(collection, MISSING_ID), { token: token() });
      expectApiError(hidden, 404, `${collection}/${key}`);
      expect(hidden.body, `${collection}/${key}`).toEqual(missing.body);
    }
    // the owners do see them (the rules are not simply closed)
    await w.ok(w.call('GET', path('posts', w.ids.pA2), { token: w.alice.token }), 'alice reads her draft');
    await w.ok(w.call('GET', path('docs', w.ids.dB), { token: w.carol.token }), 'carol reads a Bravo doc');
    await w.ok(w.call('GET', path('comments', w.ids.cC), { token: w.alice.token }), 'the post author reads comments on it');
  });

  test('updating: 404 (or 403 where only superusers may write), whatever the body says, and nothing changes', async () => {
    await w.unchanged(async () => {
      const cases: [string, IdKey | 'alice', Record<string, unknown>, number, () => string][] = [
        ['posts', 'pA1', { title: 'bob was here' }, 404, () => w.bob.token], // visible to bob, not his
        ['posts', 'pA1', { title: 'bob was here', author: w.bob.id }, 404, () => w.bob.token], // the body cannot satisfy the rule
        ['posts', 'pA2', { public: true }, 404, () => w.bob.token],
        ['posts', 'pB1', { title: 'guest was here' }, 404, () => ''],
        ['docs', 'dA', { title: 'defaced' }, 404, () => w.bob.token],
        ['docs', 'dPub', { title: 'defaced' }, 404, () => w.alice.token], // public, but alice is no Bravo member
        ['comments', 'cC', { text: 'edited by bob' }, 404, () => w.bob.token],
        ['users', 'alice', { name: 'pwned' }, 404, () => w.bob.token],
        ['teams', 'tA', { members: [w.bob.id] }, 403, () => w.bob.token],
        ['memberships', 'mA', { user: w.bob.id }, 403, () => w.bob.token],
        ['orgs', 'org', { admins: [w.bob.id] }, 403, () => w.alice.token], // even its admin: only superusers write orgs
      ];
      for (const [collection, key, body, status, token] of cases) {
        const id = key === 'alice' ? w.alice.id : w.ids[key];
        expectApiError(await w.call('PATCH', path(collection, id), { token: token(), body }), status, `${collection}/${key}`);
      }
    });
  });

  test('deleting: 404 (or 403) and the record is still there', async () => {
    await w.unchanged(async () => {
      for (const [collection, key, status] of [
        ['posts', 'pA1', 404],
        ['posts', 'pA2', 404],
        ['comments', 'cC', 404],
        ['comments', 'cA', 404],
        ['docs', 'dA', 403],
        ['teams', 'tA', 403],
        ['vault', 'v1', 403],
      ] as const) {
        expectApiError(await w.call('DELETE', path(collection, w.ids[key]), { token: w.bob.token }), status, `${collection}/${key}`);
      }
      expectApiError(await w.call('DELETE', path('users', w.alice.id), { token: w.bob.token }), 404, 'alice account');
    });
  });

  test('a team member may update the team docs, an outsider may not (same @collection row for user and team)', async () => {
    // alice has a membership (Alpha) and a Bravo membership row exists (bob's): two rows must not combine
    await w.unchanged(async () => {
      expectApiError(await w.call('PATCH', path('docs', w.ids.dB), { token: w.alice.token, body: { title: 'x' } }), 404, 'alice on dB');
    });
    const res = await w.ok(w.call('PATCH', path('docs', w.ids.dB), { token: w.carol.token, body: { title: 'bravo plan v2' } }), 'carol');
    expect(res.title).toBe('bravo plan v2');
    await w.ok(w.call('PATCH', path('docs', w.ids.dB), { token: w.carol.token, body: { title: 'bravo plan' } }), 'restore');
  });
});

describe('through expand', () => {
  test('a related record the caller may not view is silently left out', async () => {
    // dPub is public; its team (Bravo) is visible to members only
    const asAlice = await w.ok(
      w.call('GET', `${path('docs', w.ids.dPub)}${q({ expand: 'team,team.members' })}`, { token: w.alice.token }),
      'a',
    );
    expect(asAlice.team).toBe(w.ids.tB);
    expect(asAlice.expand?.team).toBeUndefined();
    const asGuest = await w.ok(w.call('GET', `${path('docs', w.ids.dPub)}${q({ expand: 'team' })}`), 'guest');
    expect(asGuest.expand?.team).toBeUndefined();
    const asBob = await w.ok(w.call('GET', `${path('docs', w.ids.dPub)}${q({ expand: 'team.members' })}`, { token: w.bob.token }), 'b');
    expect(asBob.expand.team.id).toBe(w.ids.tB);
    expect(asBob.expand.team.expand.members.map((m: { id: string }) => m.id).sort()).toEqual([w.bob.id, w.carol.id].sort());
    expect(JSON.stringify(asBob)).not.toContain(HIDDEN);

    // orgs are for signed-in users: a guest listing users gets no org expanded
    const guestUsers = await w.list('users', { expand: 'org', filter: `id = "${w.alice.id}"` }, '');
    expect(guestUsers.items[0].org).toBe(w.ids.org);
    expect(guestUsers.items[0].expand).toBeUndefined();
    const bobUsers = await w.list('users', { expand: 'org', filter: `id = "${w.alice.id}"` }, w.bob.token);
    expect(bobUsers.items[0].expand.org.name).toBe('Acme');
  });

  test('the same hiding applies on every level of a nested expand and in lists', async () => {
    const list = await w.list('comments', { expand: 'post.author,author' }, w.bob.token);
    // his own comment, and alice's comment on his post; not carol's comment on alice's post
    expect(list.items.map((c: { id: string }) => c.id).sort()).toEqual([w.ids.cB, w.ids.cA].sort());
    expect(JSON.stringify(list)).not.toContain('carol private note');
    const drafts = await w.list('docs', { expand: 'team' }, w.alice.token);
    const byId = Object.fromEntries(drafts.items.map((d: { id: string }) => [d.id, d]));
    expect(Object.keys(byId).sort()).toEqual([w.ids.dA, w.ids.dPub].sort());
    expect(byId[w.ids.dA].expand.team.name).toBe('Alpha');
    expect(byId[w.ids.dPub].expand?.team).toBeUndefined();
  });
});

describe('through back-relation expand (x_via_y)', () => {
  test('comments_via_post shows each caller only the comments it may view', async () => {
    const view = (token: string) =>
      w.ok(w.call('GET', `${path('posts', w.ids.pA1)}${q({ expand: 'comments_via_post.author' })}`, { token }), 'view');
    const alice = await view(w.alice.token);
    expect(alice.expand.comments_via_post.map((c: { id: string }) => c.id).sort()).toEqual([w.ids.cB, w.ids.cC].sort());
    const bob = await view(w.bob.token);
    expect(bob.expand.comments_via_post.map((c: { id: string }) => c.id)).toEqual([w.ids.cB]);
    expect(JSON.stringify(bob)).not.toContain('carol private note');
    const guest = await view('');
    expect(guest.expand?.comments_via_post).toBeUndefined();
    expect(JSON.stringify(guest)).not.toContain('bob says hi');
  });

  test('teams_via_members and memberships_via_user from a user record show nothing the caller may not list', async () => {
    const expand = 'teams_via_members,memberships_via_user,posts_via_author';
    const own = await w.ok(w.call('GET', `${path('users', w.alice.id)}${q({ expand })}`, { token: w.alice.token }), 'own');
    expect(own.expand.teams_via_members.map((t: { name: string }) => t.name)).toEqual(['Alpha']);
    expect(own.expand.memberships_via_user.map((m: { id: string }) => m.id)).toEqual([w.ids.mA]);
    expect(own.expand.posts_via_author.map((p: { id: string }) => p.id).sort()).toEqual([w.ids.pA1, w.ids.pA2].sort());
    const other = await w.ok(w.call('GET', `${path('users', w.alice.id)}${q({ expand })}`, { token: w.bob.token }), 'bob');
    expect(other.expand?.teams_via_members).toBeUndefined();
    expect(other.expand?.memberships_via_user).toBeUndefined();
    expect(other.expand.posts_via_author.map((p: { id: string }) => p.id)).toEqual([w.ids.pA1]);
  });
});

describe('through batch', () => {
  const batch = (token: string, requests: unknown[]) => w.call('POST', '/api/batch', { token, body: { requests } });
  const failedAt = (res: { body: any }, i: number) => res.body?.data?.requests?.[i]?.response?.status;

  test("a batch touching another user's record fails whole: the caller's own writes before it are undone", async () => {
    await w.unchanged(async () => {
      const res = await batch(w.bob.token, [
        { method: 'POST', url: '/api/collections/posts/records', body: { title: 'bob smuggled', author: w.bob.id } },
        { method: 'PATCH', url: `/api/collections/posts/records/${w.ids.pB1}`, body: { title: 'bob edits his own' } },
        { method: 'PATCH', url: `/api/collections/posts/records/${w.ids.pA1}`, body: { title: 'bob edits alice' } },
      ]);
      expectApiError(res, 400, 'batch');
      expect(failedAt(res, 2)).toBe(404);
    });
  });

  test.each([
    ['delete a hidden draft', 404, (): unknown => ({ method: 'DELETE', url: `/api/collections/posts/records/${w.ids.pA2}` })],
    ['delete a visible post', 404, (): unknown => ({ method: 'DELETE', url: `/api/collections/posts/records/${w.ids.pA1}` })],
    [
      'upsert (PUT) with the id of a post of alice',
      404,
      (): unknown => ({ method: 'PUT', url: '/api/collections/posts/records', body: { id: w.ids.pA1, title: 'taken over' } }),
    ],
    [
      "a comment in alice's name",
      400,
      (): unknown => ({ method: 'POST', url: '/api/collections/comments/records', body: { post: w.ids.pA1, author: w.alice.id } }),
    ],
    [
      "a comment on alice's hidden draft",
      400,
      (): unknown => ({ method: 'POST', url: '/api/collections/comments/records', body: { post: w.ids.pA2, author: w.bob.id } }),
    ],
    [
      'a write to the vault',
      403,
      (): unknown => ({ method: 'PATCH', url: `/api/collections/vault/records/${w.ids.v1}`, body: { note: 'pwned' } }),
    ],
    [
      "a change of alice's account",
      404,
      (): unknown => ({ method: 'PATCH', url: `/api/collections/users/records/${w.alice.id}`, body: { name: 'x' } }),
    ],
  ] as [string, number, () => unknown][])('%s → 400 with the item status %s, nothing written', async (_label, status, item) => {
    await w.unchanged(async () => {
      const res = await batch(w.bob.token, [
        { method: 'PATCH', url: `/api/collections/posts/records/${w.ids.pB2}`, body: { title: 'first, then undone' } },
        item(),
      ]);
      expectApiError(res, 400);
      expect(failedAt(res, 1), res.text).toBe(status);
    });
  });

  test("a batch of the caller's own writes succeeds (the refusals above are about ownership)", async () => {
    const res = await w.ok(
      batch(w.bob.token, [
        { method: 'POST', url: '/api/collections/posts/records?expand=author', body: { title: 'batch own', author: w.bob.id } },
        { method: 'PATCH', url: `/api/collections/posts/records/${w.ids.pB2}?expand=author`, body: { title: 'bob draft' } },
      ]),
      'own batch',
    );
    expect(res.map((r: { status: number }) => r.status)).toEqual([200, 200]);
    expect(JSON.stringify(res)).not.toContain(HIDDEN);
    await w.ok(w.call('DELETE', path('posts', res[0].body.id), { token: w.bob.token }), 'cleanup', 204);
  });
});

describe('through filters', () => {
  const count = async (collection: string, filter: string, token: string) => (await w.list(collection, { filter }, token)).totalItems;

  test('probing a hidden field one character at a time is a 400 for every guess, alike', async () => {
    const guesses = ['H%', 'HI%', `${HIDDEN}%`, 'x%', 'a%', '%'];
    const probes: [string, (g: string) => string][] = [
      ['posts', (g) => `secret ~ '${g}'`],
      ['posts', (g) => `secret ~ '${g}' || title != ''`],
      ['posts', (g) => `author.ssn ~ '${g}'`],
      ['posts', (g) => `reviewer.name ~ '${g}'`], // a hidden relation cannot be walked either
      ['users', (g) => `ssn ~ '${g}'`],
      ['users', (g) => `role = '${g}'`],
      ['docs', (g) => `team.secretNote ~ '${g}'`],
      ['comments', (g) => `post.secret ~ '${g}'`],
    ];
    for (const [collection, probe] of probes) {
      const messages = new Set<string>();
      for (const guess of guesses) {
        for (const token of [w.bob.token, w.alice.token, '']) {
          const res = await w.call('GET', `${path(collection)}${q({ filter: probe(guess) })}`, { token });
          expectApiError(res, 400, `${collection} ${probe(guess)}`);
          messages.add(res.body.message);
        }
      }
      expect(messages.size, `${collection}: one answer for every guess`).toBe(1);
    }
    // the same filter works for a superuser, so the 400 is the rule, not a broken filter
    expect(await count('posts', `secret ~ '${HIDDEN}%'`, w.su)).toBe(4);
  });

  test('a relation path into a collection the caller may not list finds nothing, right guess or wrong', async () => {
    // alice sees dPub (public), not its team Bravo
    for (const filter of ['team.name = "Bravo"', 'team.name ~ "B%"', 'team.name ~ "rav"', `team.members.id ?= "${w.bob.id}"`]) {
      expect(await count('docs', filter, w.alice.token), `alice: ${filter}`).toBe(0);
      expect(await count('docs', filter, ''), `guest: ${filter}`).toBe(0);
      expect(await count('docs', filter, w.bob.token), `bob: ${filter}`).toBe(2);
    }
    expect(await count('docs', 'team.name = "Nope"', w.alice.token)).toBe(0);
    // negations cannot tell a hidden row from a missing one either
    expect(await count('docs', 'team.name != "Bravo"', w.alice.token)).toBe(await count('docs', 'team.name != "Nope"', w.alice.token));
  });

  test('a back-relation path sees only the related records the caller may list', async () => {
    // carol's comment on alice's post: bob sees the post, not the comment
    for (const filter of [
      'comments_via_post.text ?~ "carol"',
      'comments_via_post.text ?~ "c%"',
      `comments_via_post.author ?= "${w.carol.id}"`,
    ]) {
      expect(await count('posts', filter, w.bob.token), `bob: ${filter}`).toBe(0);
      expect(await count('posts', filter, w.alice.token), `alice: ${filter}`).toBe(1);
    }
    // a plain operator needs every related value to match: for bob, every comment he may see on
    // pA1 is his own, so carol's hidden comment must not spoil the match (which would reveal it)
    expect(await count('posts', 'comments_via_post.text ~ "bob says"', w.bob.token)).toBe(1);
    expect(await count('posts', 'comments_via_post.text ~ "bob says"', w.alice.token)).toBe(0);
    expect(await count('posts', 'comments_via_post.text ~ "bob says"', w.su)).toBe(0);
  });

  test('emails that are not shown cannot be matched one character at a time; shown ones can', async () => {
    const guess = (token: string, filter: string) => count('posts', filter, token);
    for (const token of [w.bob.token, w.carol.token, '']) {
      for (const prefix of ['a%', 'al%', 'alice@%', 'alice@attack.test', 'z%']) {
        expect(await guess(token, `author.email ~ "${prefix}"`), prefix).toBe(0);
      }
      expect(await guess(token, 'author.email = "alice@attack.test"')).toBe(0);
    }
    // bob shows his email: a guest finds his public post by it
    expect(await guess('', 'author.email ~ "bob@%"')).toBe(1);
    // on users themselves: alice's email is no oracle to bob
    expect(await count('users', 'email ~ "alice%"', w.bob.token)).toBe(0);
    expect(await count('users', 'email ~ "bob%"', w.carol.token)).toBe(1);
  });

  test('@collection and @request in a client filter or sort are for superusers only (403)', async () => {
    for (const params of [
      { filter: `@collection.memberships.user ?= "${w.alice.id}"` } as Record<string, string>,
      { filter: `title != "" && @collection.teams.secretNote ~ "${HIDDEN}%"` },
      { filter: `@collection.users.ssn ~ "H%"` },
      { filter: '@request.auth.role = "admin"' },
      { sort: '@collection.teams.name' },
    ]) {
      for (const token of [w.bob.token, w.dave.token, '']) {
        expectApiError(await w.call('GET', `${path('docs')}${q(params)}`, { token }), 403, JSON.stringify(params));
      }
    }
    expect(await count('docs', `@collection.memberships.user ?= "${w.alice.id}"`, w.su)).toBe(3);
  });
});

describe('through sort', () => {
  test('a hidden field cannot be sorted by, directly or through a relation', async () => {
    for (const [collection, sort] of [
      ['posts', 'secret'],
      ['posts', '-author.ssn'],
      ['posts', 'reviewer.name'],
      ['docs', 'team.secretNote'],
      ['users', 'role'],
    ]) {
      expectApiError(await w.call('GET', `${path(collection as string)}${q({ sort: sort as string })}`, { token: w.bob.token }), 400, sort);
    }
    await w.ok(w.call('GET', `${path('posts')}${q({ sort: '-author.ssn' })}`, { token: w.su }), 'superuser sorts by it');
  });

  test('sorting by a relation the caller may not list orders as if the related record were not there', async () => {
    // alice sees dA (team Alpha, hers) and dPub (team Bravo, hidden from her): Bravo's name must not order anything
    const asc = await w.listIds('docs', { sort: 'team.name' }, w.alice.token);
    const desc = await w.listIds('docs', { sort: '-team.name' }, w.alice.token);
    expect(asc).toEqual([w.ids.dPub, w.ids.dA]);
    expect(desc).toEqual([w.ids.dA, w.ids.dPub]);
    // bob sees the real order of the names he may see
    expect(await w.listIds('docs', { sort: 'team.name,title' }, w.bob.token)).toEqual([w.ids.dB, w.ids.dPub]);
  });
});

describe('through fields and expand picking hidden data', () => {
  test('fields naming a hidden field is a 400; nested picks through expand never reach one', async () => {
    for (const [url, fields] of [
      [path('users'), 'id,ssn'],
      [path('users'), 'role'],
      [path('posts'), 'secret'],
      [path('teams'), 'secretNote'],
    ]) {
      expectApiError(await w.call('GET', `${url}${q({ fields: fields as string })}`, { token: w.bob.token }), 400, fields);
    }
    const res = await w.ok(
      w.call(
        'GET',
        `${path('posts', w.ids.pA1)}${q({ expand: 'author,comments_via_post', fields: '*,expand.author.ssn,expand.author.email,expand.author.*' })}`,
        {
          token: w.bob.token,
        },
      ),
      'nested pick',
    );
    expect(res.expand.author.id).toBe(w.alice.id);
    expect(res.expand.author.ssn).toBeUndefined();
    expect(res.expand.author.email).toBeUndefined();
    expect(JSON.stringify(res)).not.toContain(HIDDEN);
    const docs = await w.list('docs', { expand: 'team', fields: 'id,expand.team.secretNote,expand.team.name' }, w.bob.token);
    expect(JSON.stringify(docs)).not.toContain(HIDDEN);
    expect(docs.items.find((d: { id: string }) => d.id === w.ids.dB).expand.team).toEqual({ name: 'Bravo' });
  });

  test('a hidden relation cannot be expanded by a non-superuser; a superuser can', async () => {
    const res = await w.call('GET', `${path('posts', w.ids.pA1)}${q({ expand: 'reviewer' })}`, { token: w.alice.token });
    if (res.status === 200) expect(res.body.expand?.reviewer).toBeUndefined();
    else expectApiError(res, 400, 'expand a hidden relation');
    expect(res.text).not.toContain(w.dave.id);
    const su = await w.ok(w.call('GET', `${path('posts', w.ids.pA1)}${q({ expand: 'reviewer' })}`, { token: w.su }), 'su');
    expect(su.expand.reviewer.id).toBe(w.dave.id);
  });
});
