/**
 * Access rules, feature by feature: each one shown to allow AND to deny, over
 * real HTTP. Create rules are checked against the record as written (defaults
 * and generated values included); update rules see the stored record (the
 * "before") together with `@request.body` (the "after"); a denied write
 * changes nothing.
 *
 * The `tasks` collection's rules are set per test and put back after it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { expectApiError } from '../helpers/hostile.js';
import { buildWorld, q, USERS_ID, type World } from './world.js';

let w: World;

const DEFAULT_RULES = {
  listRule: 'owner = @request.auth.id',
  viewRule: 'owner = @request.auth.id',
  createRule: '@request.auth.id != "" && owner = @request.auth.id',
  updateRule: 'owner = @request.auth.id',
  deleteRule: 'owner = @request.auth.id',
};

const day = 86_400_000;
const date = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString().replace('T', ' ');

beforeAll(async () => {
  w = await buildWorld();
  await w.createCollection({
    name: 'tasks',
    ...DEFAULT_RULES,
    fields: [
      { name: 'owner', type: 'relation', collectionId: USERS_ID, maxSelect: 1 },
      { name: 'title', type: 'text' },
      { name: 'name', type: 'text' },
      { name: 'status', type: 'select', values: ['open', 'done'], maxSelect: 1 },
      { name: 'locked', type: 'bool' },
      { name: 'tags', type: 'select', values: ['a', 'b', 'c', 'forbidden'], maxSelect: 4 },
      { name: 'due', type: 'date' },
      { name: 'team', type: 'relation', collectionId: w.cols.teams, maxSelect: 1 },
      { name: 'org', type: 'relation', collectionId: w.cols.orgs, maxSelect: 1 },
      { name: 'code', type: 'text', autogeneratePattern: '[a-z0-9]{8}' },
    ],
  });
  w.ids.tOpen = await w.create('tasks', { owner: w.alice.id, title: 'open task', status: 'open', team: w.ids.tA, org: w.ids.org });
  w.ids.tLocked = await w.create('tasks', { owner: w.alice.id, title: 'locked task', status: 'open', locked: true });
  w.ids.tBob = await w.create('tasks', { owner: w.bob.id, title: 'bob task', status: 'open', team: w.ids.tB, org: w.ids.org });
}, 60_000);
afterAll(() => w?.close());
afterEach(async () => {
  await w.ok(w.call('PATCH', '/api/collections/tasks', { token: w.su, body: DEFAULT_RULES }), 'restore rules');
});

const setRules = (rules: Record<string, string | null>) =>
  w.ok(w.call('PATCH', '/api/collections/tasks', { token: w.su, body: rules }), `set ${JSON.stringify(rules)}`);
const task = (id: string, suffix = '') => `/api/collections/tasks/records/${id}${suffix}`;
const tasks = '/api/collections/tasks/records';

/** Asserts a write is refused with `status` and changed nothing. */
async function denied(label: string, status: number, send: () => ReturnType<World['call']>): Promise<void> {
  await w.unchanged(async () => expectApiError(await send(), status, label));
}

describe('@request.auth', () => {
  test('through a relation: @request.auth.org.admins ?= (only an admin of your own org may delete its tasks)', async () => {
    await setRules({ deleteRule: 'org = @request.auth.org && @request.auth.org.admins.id ?= @request.auth.id' });
    // bob is in Acme but no admin; carol has no org
    await denied('bob', 404, () => w.call('DELETE', task(w.ids.tBob), { token: w.bob.token }));
    await denied('carol', 404, () => w.call('DELETE', task(w.ids.tBob), { token: w.carol.token }));
    await denied('guest', 404, () => w.call('DELETE', task(w.ids.tBob)));
    // alice administers Acme: she may delete a task of Acme (a throwaway one)
    const id = await w.create('tasks', { owner: w.bob.id, title: 'to delete', org: w.ids.org });
    await w.ok(w.call('DELETE', task(id), { token: w.alice.token }), 'alice deletes', 204);
  });

  test('a single-relation path (@request.auth.org.name) and a back-relation (@request.auth.memberships_via_user.team)', async () => {
    await setRules({ viewRule: '@request.auth.org.name = "Acme"' });
    await w.ok(w.call('GET', task(w.ids.tBob), { token: w.alice.token }), 'alice in Acme');
    expectApiError(await w.call('GET', task(w.ids.tBob), { token: w.carol.token }), 404, 'carol has no org');
    expectApiError(await w.call('GET', task(w.ids.tBob)), 404, 'guest');

    await setRules({ viewRule: '@request.auth.memberships_via_user.team ?= team' });
    await w.ok(w.call('GET', task(w.ids.tBob), { token: w.carol.token }), 'carol, a Bravo member, sees a Bravo task');
    expectApiError(await w.call('GET', task(w.ids.tBob), { token: w.alice.token }), 404, 'alice is no Bravo member');
    await w.ok(w.call('GET', task(w.ids.tOpen), { token: w.alice.token }), 'alice sees an Alpha task');
  });

  test('a hidden field of the caller (@request.auth.role) is readable by rules, not writable by the caller', async () => {
    await setRules({ viewRule: '@request.auth.role = "admin"' });
    await w.ok(w.call('GET', task(w.ids.tOpen), { token: w.dave.token }), 'dave is admin');
    expectApiError(await w.call('GET', task(w.ids.tOpen), { token: w.alice.token }), 404, 'alice is not');
  });
});

describe('@request.body and its modifiers', () => {
  test(':isset — the owner may edit, but not send the owner field at all', async () => {
    await setRules({ updateRule: 'owner = @request.auth.id && @request.body.owner:isset = false' });
    await w.ok(w.call('PATCH', task(w.ids.tOpen), { token: w.alice.token, body: { title: 'open task' } }), 'title only');
    await denied('owner sent (even unchanged)', 404, () =>
      w.call('PATCH', task(w.ids.tOpen), { token: w.alice.token, body: { title: 'x', owner: w.alice.id } }),
    );
    await denied('owner given away', 404, () => w.call('PATCH', task(w.ids.tOpen), { token: w.alice.token, body: { owner: w.bob.id } }));
  });

  test(':changed — status may be resent as it is, not changed', async () => {
    await setRules({ updateRule: 'owner = @request.auth.id && @request.body.status:changed = false' });
    await w.ok(w.call('PATCH', task(w.ids.tOpen), { token: w.alice.token, body: { status: 'open', title: 'open task' } }), 'same');
    await w.ok(w.call('PATCH', task(w.ids.tOpen), { token: w.alice.token, body: { title: 'open task' } }), 'not sent');
    await denied('changed', 404, () => w.call('PATCH', task(w.ids.tOpen), { token: w.alice.token, body: { status: 'done' } }));
  });

  test(':length — at most two tags on create', async () => {
    await setRules({ createRule: '@request.auth.id != "" && owner = @request.auth.id && @request.body.tags:length <= 2' });
    const id = await w.create('tasks', { owner: w.alice.id, tags: ['a', 'b'] }, w.alice.token);
    await w.ok(w.call('DELETE', task(id), { token: w.alice.token }), 'cleanup', 204);
    await denied('three tags', 400, () =>
      w.call('POST', tasks, { token: w.alice.token, body: { owner: w.alice.id, tags: ['a', 'b', 'c'] } }),
    );
  });

  test(':each — no tag may be "forbidden"', async () => {
    await setRules({ createRule: '@request.auth.id != "" && owner = @request.auth.id && @request.body.tags:each != "forbidden"' });
    const id = await w.create('tasks', { owner: w.alice.id, tags: ['a', 'c'] }, w.alice.token);
    await w.ok(w.call('DELETE', task(id), { token: w.alice.token }), 'cleanup', 204);
    await denied('a forbidden tag among others', 400, () =>
      w.call('POST', tasks, { token: w.alice.token, body: { owner: w.alice.id, tags: ['a', 'forbidden'] } }),
    );
    // any-of: at least one tag must be "a"
    await setRules({ createRule: '@request.auth.id != "" && owner = @request.auth.id && @request.body.tags:each ?= "a"' });
    const id2 = await w.create('tasks', { owner: w.alice.id, tags: ['b', 'a'] }, w.alice.token);
    await w.ok(w.call('DELETE', task(id2), { token: w.alice.token }), 'cleanup', 204);
    await denied('no "a"', 400, () => w.call('POST', tasks, { token: w.alice.token, body: { owner: w.alice.id, tags: ['b', 'c'] } }));
  });

  test(':lower — "admin" in any case is refused as a name', async () => {
    await setRules({ createRule: '@request.auth.id != "" && owner = @request.auth.id && @request.body.name:lower != "admin"' });
    const id = await w.create('tasks', { owner: w.alice.id, name: 'Administrator' }, w.alice.token);
    await w.ok(w.call('DELETE', task(id), { token: w.alice.token }), 'cleanup', 204);
    for (const name of ['admin', 'ADMIN', 'AdMiN']) {
      await denied(name, 400, () => w.call('POST', tasks, { token: w.alice.token, body: { owner: w.alice.id, name } }));
    }
  });

  test('a relation in the body: @request.body.team.members ?= @request.auth.id (docs of your own teams only)', async () => {
    // the world's docs createRule
    const id = await w.create('docs', { title: 'alice writes for Alpha', team: w.ids.tA }, w.alice.token);
    await w.ok(w.call('DELETE', `/api/collections/docs/records/${id}`, { token: w.su }), 'cleanup', 204);
    await denied('alice writes for Bravo', 400, () =>
      w.call('POST', '/api/collections/docs/records', { token: w.alice.token, body: { title: 'x', team: w.ids.tB } }),
    );
    await denied('no team', 400, () => w.call('POST', '/api/collections/docs/records', { token: w.alice.token, body: { title: 'x' } }));
  });
});

describe('@request.query, .headers, .method, .context', () => {
  test('@request.query.share — a share link opens one task to others', async () => {
    await setRules({ viewRule: 'owner = @request.auth.id || @request.query.share = "s3cret"' });
    await w.ok(w.call('GET', task(w.ids.tOpen, q({ share: 's3cret' })), { token: w.bob.token }), 'with the link');
    await w.ok(w.call('GET', task(w.ids.tOpen, q({ share: 's3cret' }))), 'a guest with the link');
    for (const query of [q({ share: 'wrong' }), q({ share: 'S3CRET' }), q({ Share: 's3cret' }), '?share=s3cret%00', '']) {
      expectApiError(await w.call('GET', task(w.ids.tOpen, query), { token: w.bob.token }), 404, query);
    }
  });

  test('@request.headers.x_api_key — header names are lowercased with - as _', async () => {
    await setRules({ viewRule: '@request.headers.x_api_key = "k-123"' });
    for (const name of ['X-Api-Key', 'x-api-key', 'X-API-KEY']) {
      await w.ok(w.call('GET', task(w.ids.tOpen), { headers: { [name]: 'k-123' } }), name);
    }
    for (const headers of [{ 'x-api-key': 'k-124' }, { 'x-api-key': 'K-123' }, { 'x-api-keys': 'k-123' }, {}] as Record<string, string>[]) {
      expectApiError(await w.call('GET', task(w.ids.tOpen), { headers }), 404, JSON.stringify(headers));
    }
    expectApiError(await w.call('GET', task(w.ids.tOpen, q({ x_api_key: 'k-123' }))), 404, 'a query parameter is no header');
  });

  test('@request.method — one rule text as update and delete rule admits PATCH and refuses DELETE', async () => {
    await setRules({
      updateRule: 'owner = @request.auth.id && @request.method = "PATCH"',
      deleteRule: 'owner = @request.auth.id && @request.method = "PATCH"',
    });
    await w.ok(w.call('PATCH', task(w.ids.tOpen), { token: w.alice.token, body: { title: 'open task' } }), 'PATCH');
    await denied('DELETE', 404, () => w.call('DELETE', task(w.ids.tOpen), { token: w.alice.token }));
    const batch = await w.ok(
      w.call('POST', '/api/batch', {
        token: w.alice.token,
        body: { requests: [{ method: 'PATCH', url: task(w.ids.tOpen), body: { title: 'open task' } }] },
      }),
      'PATCH in a batch',
    );
    expect(batch[0].status).toBe(200);
  });

  test('@request.context — "batch" inside a batch, "default" otherwise', async () => {
    await setRules({ createRule: 'owner = @request.auth.id && @request.context != "batch"' });
    const id = await w.create('tasks', { owner: w.alice.id, title: 'rest' }, w.alice.token);
    await w.ok(w.call('DELETE', task(id), { token: w.alice.token }), 'cleanup', 204);
    await denied('in a batch', 400, () =>
      w.call('POST', '/api/batch', {
        token: w.alice.token,
        body: { requests: [{ method: 'POST', url: tasks, body: { owner: w.alice.id } }] },
      }),
    );
    await setRules({ createRule: 'owner = @request.auth.id && @request.context = "batch"' });
    const res = await w.ok(
      w.call('POST', '/api/batch', {
        token: w.alice.token,
        body: { requests: [{ method: 'POST', url: tasks, body: { owner: w.alice.id } }] },
      }),
      'batch only',
    );
    await w.ok(w.call('DELETE', task(res[0].body.id), { token: w.alice.token }), 'cleanup', 204);
    await denied('outside a batch', 400, () => w.call('POST', tasks, { token: w.alice.token, body: { owner: w.alice.id } }));
  });
});

describe('@collection', () => {
  const restore = () =>
    w.ok(
      w.call('PATCH', '/api/collections/docs', {
        token: w.su,
        body: { updateRule: '@collection.memberships.user ?= @request.auth.id && @collection.memberships.team ?= team' },
      }),
      'restore docs',
    );
  afterAll(restore);

  test('one alias is one row: user and team must match the same membership', async () => {
    for (const rule of [
      '@collection.memberships.user ?= @request.auth.id && @collection.memberships.team ?= team',
      '@collection.memberships:m.user ?= @request.auth.id && @collection.memberships:m.team ?= team',
    ]) {
      await w.ok(w.call('PATCH', '/api/collections/docs', { token: w.su, body: { updateRule: rule } }), rule);
      // alice has a membership (Alpha) and a Bravo membership exists (bob's): they must not combine
      await denied(`alice on a Bravo doc: ${rule}`, 404, () =>
        w.call('PATCH', `/api/collections/docs/records/${w.ids.dB}`, { token: w.alice.token, body: { title: 'x' } }),
      );
      await w.ok(
        w.call('PATCH', `/api/collections/docs/records/${w.ids.dB}`, { token: w.carol.token, body: { title: 'bravo plan' } }),
        rule,
      );
    }
  });

  test('two aliases are two independent rows', async () => {
    await w.ok(
      w.call('PATCH', '/api/collections/docs', {
        token: w.su,
        body: { updateRule: '@collection.memberships:me.user ?= @request.auth.id && @collection.memberships:any.team ?= team' },
      }),
      'two aliases',
    );
    // now alice qualifies: she has some membership, and the doc's team has some membership
    await w.ok(
      w.call('PATCH', `/api/collections/docs/records/${w.ids.dB}`, { token: w.alice.token, body: { title: 'bravo plan' } }),
      'alice',
    );
    // a user without any membership still does not
    await denied('dave', 404, () =>
      w.call('PATCH', `/api/collections/docs/records/${w.ids.dB}`, { token: w.dave.token, body: { title: 'x' } }),
    );
    await restore();
  });
});

describe('date macros', () => {
  test('@now — a due date must lie in the future', async () => {
    await setRules({ createRule: 'owner = @request.auth.id && @request.body.due > @now' });
    const id = await w.create('tasks', { owner: w.alice.id, due: date(day) }, w.alice.token);
    await w.ok(w.call('DELETE', task(id), { token: w.alice.token }), 'cleanup', 204);
    await denied('yesterday', 400, () => w.call('POST', tasks, { token: w.alice.token, body: { owner: w.alice.id, due: date(-day) } }));
  });

  test('@todayStart / @todayEnd / @yesterday / @tomorrow', async () => {
    await setRules({ createRule: 'owner = @request.auth.id && @request.body.due >= @todayStart && @request.body.due <= @todayEnd' });
    const today = new Date();
    const noon = `${today.toISOString().slice(0, 10)} 12:00:00.000Z`;
    const id = await w.create('tasks', { owner: w.alice.id, due: noon }, w.alice.token);
    await w.ok(w.call('DELETE', task(id), { token: w.alice.token }), 'cleanup', 204);
    await denied('tomorrow', 400, () => w.call('POST', tasks, { token: w.alice.token, body: { owner: w.alice.id, due: date(2 * day) } }));

    await setRules({ createRule: 'owner = @request.auth.id && @request.body.due > @yesterday && @request.body.due < @tomorrow' });
    const id2 = await w.create('tasks', { owner: w.alice.id, due: date(0) }, w.alice.token);
    await w.ok(w.call('DELETE', task(id2), { token: w.alice.token }), 'cleanup', 204);
    await denied('in two days', 400, () =>
      w.call('POST', tasks, { token: w.alice.token, body: { owner: w.alice.id, due: date(2 * day) } }),
    );
  });

  test('an embargo in a view rule: due <= @now', async () => {
    await setRules({ viewRule: 'owner = @request.auth.id || due <= @now', listRule: 'owner = @request.auth.id || due <= @now' });
    const past = await w.create('tasks', { owner: w.alice.id, due: date(-day) });
    const future = await w.create('tasks', { owner: w.alice.id, due: date(day) });
    try {
      await w.ok(w.call('GET', task(past), { token: w.bob.token }), 'past');
      expectApiError(await w.call('GET', task(future), { token: w.bob.token }), 404, 'future');
      const listed = await w.listIds('tasks', {}, w.bob.token);
      expect(listed).toContain(past);
      expect(listed).not.toContain(future);
    } finally {
      for (const id of [past, future]) await w.ok(w.call('DELETE', task(id), { token: w.su }), 'cleanup', 204);
    }
  });
});

describe('create rules see the record as written', () => {
  test('a missing owner is the empty value the rule sees (deny); a generated code is there (allow)', async () => {
    await denied('no owner', 400, () => w.call('POST', tasks, { token: w.alice.token, body: { title: 'orphan' } }));
    await denied("bob's name", 400, () => w.call('POST', tasks, { token: w.alice.token, body: { owner: w.bob.id } }));
    // the generated code is on the written row, though the body never carried it
    await setRules({ createRule: 'owner = @request.auth.id && code != ""' });
    const id = await w.create('tasks', { owner: w.alice.id }, w.alice.token);
    expect((await w.read('tasks', id)).code).toMatch(/^[a-z0-9]{8}$/);
    await w.ok(w.call('DELETE', task(id), { token: w.alice.token }), 'cleanup', 204);
    await setRules({ createRule: 'owner = @request.auth.id && @request.body.code != ""' });
    await denied('the body has no code', 400, () => w.call('POST', tasks, { token: w.alice.token, body: { owner: w.alice.id } }));
  });

  test('a rule on a related record of the written row (comments only on public posts or your own)', async () => {
    await denied("bob on alice's draft", 400, () =>
      w.call('POST', '/api/collections/comments/records', { token: w.bob.token, body: { post: w.ids.pA2, author: w.bob.id, text: 'x' } }),
    );
    const id = await w.create('comments', { post: w.ids.pA1, author: w.bob.id, text: 'allowed' }, w.bob.token);
    await w.ok(w.call('DELETE', `/api/collections/comments/records/${id}`, { token: w.bob.token }), 'cleanup', 204);
  });

  test('a rule that reads its own collection (@collection.tasks) sees the written row among the others', async () => {
    // only the new row itself can hold this title, so only a check that sees it admits the create
    await setRules({ createRule: 'owner = @request.auth.id && @collection.tasks.title ?= title' });
    const id = await w.create('tasks', { owner: w.alice.id, title: `unique ${Date.now()}` }, w.alice.token);
    await w.ok(w.call('DELETE', task(id), { token: w.su }), 'cleanup', 204);
    await setRules({ createRule: 'owner = @request.auth.id && @collection.tasks.title != title' });
    await denied('the row itself holds the title', 400, () =>
      w.call('POST', tasks, { token: w.alice.token, body: { owner: w.alice.id, title: `other ${Date.now()}` } }),
    );
  });

  test('relation ids that name no record are a 400 naming the field, before the rule is asked', async () => {
    for (const owner of [w.alice.id, w.bob.id]) {
      await w.unchanged(async () => {
        const res = await w.call('POST', tasks, { token: w.alice.token, body: { owner, team: 'nosuchteam00000', org: w.ids.org } });
        expectApiError(res, 400, `owner ${owner === w.alice.id ? 'alice' : 'bob'}`);
        const data = (res.body as { data: Record<string, { code: string }> }).data;
        expect(Object.keys(data)).toEqual(['team']);
        expect(data.team?.code).toBe('validation_missing_rel_records');
      });
    }
  });

  test('a guest meets a rule that needs a caller: 400, nothing created', async () => {
    await denied('guest', 400, () => w.call('POST', tasks, { body: { title: 'guest' } }));
  });
});

describe('update rules: the stored record before, @request.body after', () => {
  test('a stored lock is checked before the change: a body that unlocks cannot pass', async () => {
    await setRules({ updateRule: 'owner = @request.auth.id && locked = false' });
    await denied('unlock', 404, () => w.call('PATCH', task(w.ids.tLocked), { token: w.alice.token, body: { locked: false, title: 'x' } }));
    // an unlocked task may be locked (the rule saw it unlocked)
    const id = await w.create('tasks', { owner: w.alice.id, locked: false });
    await w.ok(w.call('PATCH', task(id), { token: w.alice.token, body: { locked: true } }), 'lock');
    await denied('now locked', 404, () => w.call('PATCH', task(id), { token: w.alice.token, body: { title: 'after' } }));
    await w.ok(w.call('DELETE', task(id), { token: w.su }), 'cleanup', 204);
  });

  test('a hidden record is a 404 whatever is wrong with the input; the owner gets the 400', async () => {
    const missingTeam = 'nosuchteam00000';
    await denied('bob, invalid status', 404, () => w.call('PATCH', task(w.ids.tOpen), { token: w.bob.token, body: { status: 'bogus' } }));
    await denied('bob, missing relation', 404, () =>
      w.call('PATCH', task(w.ids.tOpen), { token: w.bob.token, body: { team: missingTeam } }),
    );
    await denied('guest, missing relation', 404, () => w.call('PATCH', task(w.ids.tOpen), { body: { team: missingTeam } }));
    await w.unchanged(async () => {
      const res = await w.call('PATCH', task(w.ids.tOpen), { token: w.alice.token, body: { team: missingTeam } });
      expectApiError(res, 400, 'alice, missing relation');
      expect(JSON.stringify(res.body)).toContain('validation_missing_rel_records');
    });
  });

  test('the body cannot make a stored field match: bob sending owner = bob to alice’s task', async () => {
    await denied('bob', 404, () => w.call('PATCH', task(w.ids.tOpen), { token: w.bob.token, body: { owner: w.bob.id } }));
  });

  test('a rule on the new value: @request.body.status may only become "done" from "open"', async () => {
    await setRules({
      updateRule: 'owner = @request.auth.id && (@request.body.status:isset = false || (status = "open" && @request.body.status = "done"))',
    });
    const id = await w.create('tasks', { owner: w.alice.id, status: 'open' });
    await w.ok(w.call('PATCH', task(id), { token: w.alice.token, body: { status: 'done' } }), 'open → done');
    await denied('done → open', 404, () => w.call('PATCH', task(id), { token: w.alice.token, body: { status: 'open' } }));
    await w.ok(w.call('DELETE', task(id), { token: w.su }), 'cleanup', 204);
  });

  test('delete rules see the stored record: only done tasks may be deleted', async () => {
    await setRules({ deleteRule: 'owner = @request.auth.id && status = "done"' });
    const id = await w.create('tasks', { owner: w.alice.id, status: 'open' });
    await denied('open', 404, () => w.call('DELETE', task(id), { token: w.alice.token }));
    await w.ok(w.call('PATCH', task(id), { token: w.su, body: { status: 'done' } }), 'done');
    await w.ok(w.call('DELETE', task(id), { token: w.alice.token }), 'delete done', 204);
  });
});

describe('manageRule', () => {
  test('a manager may set verified, email and password of others without oldPassword; others may not', async () => {
    // alice is no manager: bob's account is not hers (404), and her own verified stays hers to not set
    await denied('alice on bob', 404, () =>
      w.call('PATCH', `/api/collections/users/records/${w.bob.id}`, { token: w.alice.token, body: { verified: true } }),
    );
    await denied('alice verifies herself', 400, () =>
      w.call('PATCH', `/api/collections/users/records/${w.alice.id}`, { token: w.alice.token, body: { verified: true } }),
    );
    // dave manages accounts
    const res = await w.ok(
      w.call('PATCH', `/api/collections/users/records/${w.carol.id}`, {
        token: w.dave.token,
        body: { verified: true, email: 'carol2@attack.test', password: 'managed-pass-1', passwordConfirm: 'managed-pass-1' },
      }),
      'dave manages carol',
    );
    expect(res.verified).toBe(true);
    expect(res.email).toBe('carol2@attack.test');
    // carol's old token died with the change; the new password works
    expectApiError(await w.call('POST', '/api/collections/users/auth-refresh', { token: w.carol.token }), 401, 'old token');
    const signed = await w.ok(
      w.call('POST', '/api/collections/users/auth-with-password', { body: { identity: 'carol2@attack.test', password: 'managed-pass-1' } }),
      'new password',
    );
    // put carol back
    await w.ok(
      w.call('PATCH', `/api/collections/users/records/${w.carol.id}`, {
        token: w.su,
        body: { verified: false, email: w.carol.email, password: w.carol.password, passwordConfirm: w.carol.password },
      }),
      'restore carol',
    );
    expect(signed.token).toBeTruthy();
    w.carol.token = await w.signIn(w.carol);
    // a manager writes no hidden field either
    await w.ok(
      w.call('PATCH', `/api/collections/users/records/${w.bob.id}`, { token: w.dave.token, body: { role: 'admin', ssn: 'x' } }),
      'dave',
    );
    const bob = await w.read('users', w.bob.id);
    expect(bob.role).toBe('member');
    expect(bob.ssn).toBe(w.bob.ssn);
  });
});
