import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EventSource } from 'eventsource';
import PocketBase from 'pocketbase';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Mainspring } from '../src/core/hooks/api.js';
import { signedUpUser, startServer, superuserToken, type TestServer } from './helpers/server.js';
import { eventually } from './helpers/uploads.js';

/**
 * `DELETE /api/collections/{c}/truncate` and `GET /api/collections/meta/scaffolds`
 * as PocketBase answers them (apis/collection.go and its test, core
 * TruncateCollection): a truncate deletes each record as a delete would, in
 * one transaction, or nothing.
 */

(globalThis as { EventSource?: unknown }).EventSource = EventSource;

/** PocketBase's answer when a record of the truncate cannot go (apis/collection.go). */
const TRUNCATE_FAILED = {
  status: 400,
  message: 'Failed to truncate collection (most likely due to required cascade delete record references).',
  data: {},
};

let s: TestServer;
let su: string;
let pb: PocketBase;
/** What the record hooks saw, in order. */
const seen: string[] = [];

function hooks(ms: Mainspring): void {
  ms.onRecordDelete(async (e) => {
    if (e.record.name === 'guarded') throw new ms.BadRequestError('This album stays.');
    seen.push(`delete ${e.collection.name} ${e.record.name ?? e.record.title ?? e.record.id}`);
    await e.next();
  });
  ms.onRecordAfterDeleteSuccess(async (e) => {
    seen.push(`deleted ${e.collection.name} ${e.record.name ?? e.record.title ?? e.record.id}`);
    await e.next();
  });
  ms.onRecordAfterDeleteError(async (e) => {
    seen.push(`failed ${e.collection.name} ${e.record.name ?? e.record.id}`);
    await e.next();
  });
}

const call = (method: string, path: string, body?: unknown, token: string | undefined = su) => s.request(method, path, { body, token });

async function create(name: string, fields: unknown[], extra: Record<string, unknown> = {}): Promise<string> {
  const res = await call('POST', '/api/collections', { name, listRule: '', viewRule: '', fields, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.id as string;
}

async function names(collection: string): Promise<string[]> {
  const res = await call('GET', `/api/collections/${collection}/records?perPage=500&sort=name`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.items.map((r: { name: string }) => r.name);
}

beforeAll(async () => {
  s = await startServer({ hooks: [hooks] });
  su = await superuserToken(s);
  pb = new PocketBase(s.url);
  pb.autoCancellation(false);
  pb.authStore.save(su, null);
});

afterAll(async () => {
  pb?.realtime.unsubscribe().catch(() => {});
  await s?.close();
});

describe('DELETE /api/collections/{c}/truncate', () => {
  test('401 without a token, 403 for a user, 404 for an unknown collection; nothing deleted', async () => {
    await create('kept', [{ name: 'name', type: 'text' }]);
    await call('POST', '/api/collections/kept/records', { name: 'one' });
    const user = await signedUpUser(s, 'trunc-user@example.com');
    expect((await call('DELETE', '/api/collections/kept/truncate', undefined, '')).status).toBe(401);
    const forbidden = await call('DELETE', '/api/collections/kept/truncate', undefined, user.token);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.data).toEqual({});
    const missing = await call('DELETE', '/api/collections/nothing_here/truncate');
    expect(missing.status).toBe(404);
    expect(missing.body.data).toEqual({});
    expect(await names('kept')).toEqual(['one']);
  });

  test('hostile collection names are a 404, never a 500, and touch nothing', async () => {
    for (const name of [
      '__proto__',
      'constructor',
      "kept'; DROP TABLE kept; --",
      'kept%00',
      '%2e%2e%2fkept',
      'x'.repeat(5000),
      'kept%2Frecords',
      '_collections',
      '_params',
    ]) {
      const res = await call('DELETE', `/api/collections/${name}/truncate`);
      // a URL past the server's limit is refused before routing
      expect(res.status, name.slice(0, 40)).toBe(name.length > 4000 ? 414 : 404);
      expect(Object.keys(res.body).sort()).toEqual(['data', 'message', 'status']);
    }
    // a body and a query are ignored
    const res = await s.request('DELETE', '/api/collections/nothing_here/truncate?filter=1=1', { token: su, body: { all: true } });
    expect(res.status).toBe(404);
    expect(await names('kept')).toEqual(['one']);
  });

  test('every record goes as a delete would: hooks, cascades, unlinked relations, files after the commit, realtime events', async () => {
    const albums = await create('albums', [
      { name: 'name', type: 'text' },
      { name: 'cover', type: 'file', maxSelect: 1 },
    ]);
    await create('tracks', [
      { name: 'name', type: 'text' },
      { name: 'album', type: 'relation', collectionId: albums, required: true, cascadeDelete: true, maxSelect: 1 },
    ]);
    await create('reviews', [
      { name: 'name', type: 'text' },
      { name: 'albums', type: 'relation', collectionId: albums, maxSelect: 5 },
    ]);
    const ids: Record<string, string> = {};
    for (const name of ['a1', 'a2', 'a3']) {
      const rec = await pb
        .collection('albums')
        .create({ name, cover: new File([`cover of ${name}`], `${name}.txt`, { type: 'text/plain' }) });
      ids[name] = rec.id;
      expect(rec.cover).toMatch(/\.txt$/);
    }
    await pb.collection('tracks').create({ name: 't1', album: ids.a1 });
    await pb.collection('tracks').create({ name: 't2', album: ids.a2 });
    const review = await pb.collection('reviews').create({ name: 'r1', albums: [ids.a1, ids.a3] });
    const folders = Object.values(ids).map((id) => join(s.app.dataDir, 'storage', albums, id));
    for (const folder of folders) expect(existsSync(folder)).toBe(true);

    const events: string[] = [];
    await pb.collection('albums').subscribe('*', (e) => events.push(`${e.action} albums ${e.record.name}`));
    await pb.collection('tracks').subscribe('*', (e) => events.push(`${e.action} tracks ${e.record.name}`));
    await pb.collection('reviews').subscribe('*', (e) => events.push(`${e.action} reviews ${e.record.name}`));
    seen.length = 0;

    // the SDK's own call
    expect(await pb.collections.truncate('albums')).toBe(true);

    expect(await names('albums')).toEqual([]);
    expect(await names('tracks')).toEqual([]);
    const after = await pb.collection('reviews').getOne(review.id);
    expect(after.albums).toEqual([]);
    // in insertion order, each album's cascade inside its own delete, each after-hook after the commit
    expect(seen).toEqual([
      'delete albums a1',
      'delete tracks t1',
      'delete albums a2',
      'delete tracks t2',
      'delete albums a3',
      'deleted tracks t1',
      'deleted albums a1',
      'deleted tracks t2',
      'deleted albums a2',
      'deleted albums a3',
    ]);
    await eventually(() => {
      for (const folder of folders) expect(existsSync(folder)).toBe(false);
    });
    await eventually(() =>
      expect([...events].sort()).toEqual(
        [
          'delete albums a1',
          'delete albums a2',
          'delete albums a3',
          'delete tracks t1',
          'delete tracks t2',
          'update reviews r1',
          'update reviews r1',
        ].sort(),
      ),
    );
    await pb.realtime.unsubscribe();
    // an empty collection truncates to itself
    expect((await call('DELETE', '/api/collections/albums/truncate')).status).toBe(204);
  });

  test('a record a required relation holds on to: 400, and nothing at all is deleted', async () => {
    const labels = await create('labels', [
      { name: 'name', type: 'text' },
      { name: 'logo', type: 'file', maxSelect: 1 },
    ]);
    await create('artists', [
      { name: 'name', type: 'text' },
      { name: 'label', type: 'relation', collectionId: labels, required: true, maxSelect: 1 },
    ]);
    const free = await pb.collection('labels').create({ name: 'free', logo: new File(['logo'], 'logo.txt', { type: 'text/plain' }) });
    const held = await pb.collection('labels').create({ name: 'held' });
    await pb.collection('artists').create({ name: 'x', label: held.id });
    seen.length = 0;

    const res = await call('DELETE', '/api/collections/labels/truncate');
    expect(res.body).toEqual(TRUNCATE_FAILED);
    expect(await names('labels')).toEqual(['free', 'held']);
    expect(await names('artists')).toEqual(['x']);
    // the first record's deletion was undone with the rest, its file kept; the refused one's after-error hook ran
    expect(existsSync(join(s.app.dataDir, 'storage', labels, free.id))).toBe(true);
    expect(seen).toEqual(['delete labels free', 'delete labels held', 'failed labels held']);
  });

  test('a hook that refuses one record refuses the truncate', async () => {
    await create('sleeves', [{ name: 'name', type: 'text' }]);
    for (const name of ['first', 'guarded', 'last']) await call('POST', '/api/collections/sleeves/records', { name });
    expect((await call('DELETE', '/api/collections/sleeves/truncate')).body).toEqual(TRUNCATE_FAILED);
    expect(await names('sleeves')).toEqual(['first', 'guarded', 'last']);
  });

  test('_superusers: the last one cannot go, so the truncate is refused (as in PocketBase); users truncates', async () => {
    const before = (await call('GET', '/api/collections/_superusers/records')).body.totalItems;
    expect((await call('DELETE', '/api/collections/_superusers/truncate')).body).toEqual(TRUNCATE_FAILED);
    expect((await call('GET', '/api/collections/_superusers/records')).body.totalItems).toBe(before);
    expect((await call('GET', '/api/collections')).status).toBe(200);

    const user = await signedUpUser(s, 'to-go@example.com');
    expect((await call('DELETE', '/api/collections/users/truncate')).status).toBe(204);
    expect((await call('GET', '/api/collections/users/records')).body.totalItems).toBe(0);
    // its token went with it
    expect((await call('POST', '/api/collections/users/auth-refresh', undefined, user.token)).status).toBe(401);
  });
});

describe('GET /api/collections/meta/scaffolds', () => {
  test('superusers only: 401 and 403 otherwise', async () => {
    expect((await call('GET', '/api/collections/meta/scaffolds', undefined, '')).status).toBe(401);
    const user = await signedUpUser(s, 'scaffold-user@example.com');
    expect((await call('GET', '/api/collections/meta/scaffolds', undefined, user.token)).status).toBe(403);
  });

  test("PocketBase's shape: a default collection of each type keyed by type, with an empty id and name", async () => {
    const scaffolds = await pb.collections.getScaffolds();
    expect(Object.keys(scaffolds).sort()).toEqual(['auth', 'base', 'view']);
    for (const type of ['auth', 'base', 'view'] as const) {
      expect(scaffolds[type]).toMatchObject({ id: '', name: '', type, system: false, listRule: null, deleteRule: null });
    }
    // the id field PocketBase gives every new base and auth collection ("text3208210256")
    const idField = { id: 'text3208210256', name: 'id', type: 'text', primaryKey: true, system: true, min: 15, max: 15 };
    expect(scaffolds.base?.fields[0]).toMatchObject(idField);
    expect(scaffolds.auth?.fields[0]).toMatchObject(idField);
    expect(scaffolds.auth?.fields.map((f: { name: string }) => f.name)).toEqual(
      expect.arrayContaining(['id', 'password', 'tokenKey', 'email', 'emailVisibility', 'verified']),
    );
    expect(scaffolds.auth).toMatchObject({ passwordAuth: { enabled: true, identityFields: ['email'] }, authToken: { duration: 604800 } });
    expect(JSON.stringify(scaffolds)).not.toContain('secret');
    expect(scaffolds.view).toMatchObject({ fields: [], viewQuery: '' });
    // nothing was created
    expect((await pb.collections.getFullList()).some((c) => c.name === '' || c.name.startsWith('_scaffold'))).toBe(false);
  });

  test('a scaffold with a name is a collection a create takes as it is', async () => {
    const { auth, base } = await pb.collections.getScaffolds();
    const people = await pb.collections.create({ ...auth, name: 'people', createRule: '' });
    expect(people.indexes.every((sql: string) => sql.includes('ON `people`'))).toBe(true);
    await pb.collection('people').create({ email: 'p@example.com', password: 'people-pass-1', passwordConfirm: 'people-pass-1' });
    const signed = await new PocketBase(s.url).collection('people').authWithPassword('p@example.com', 'people-pass-1');
    expect(signed.record.email).toBe('p@example.com');
    const things = await pb.collections.create({ ...base, name: 'things' });
    expect(things.fields.map((f: { name: string }) => f.name)).toEqual(base?.fields.map((f: { name: string }) => f.name));
  });

  test('a collection named "meta" keeps its own routes', async () => {
    await create('meta', [{ name: 'name', type: 'text' }], { createRule: '' });
    expect((await call('POST', '/api/collections/meta/records', { name: 'm' }, undefined)).status).toBe(200);
    expect(await names('meta')).toEqual(['m']);
    expect((await call('GET', '/api/collections/meta')).body.name).toBe('meta');
  });
});
