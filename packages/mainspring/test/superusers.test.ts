import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { App } from '../src/core/app.js';
import { freshDatabase, startServer, superuserToken, type TestServer } from './helpers/server.js';

/**
 * Superusers as PocketBase keeps them: always verified, however they are
 * written, and the last one never deleted, by whatever path a deletion
 * takes (the records API, a batch, server code, a cascade).
 */

/** PocketBase's answer to deleting the last superuser (core/record_model_superusers.go). */
const LAST_SUPERUSER = { status: 400, message: "You can't delete the only existing superuser.", data: {} };

let s: TestServer;
let su: string;
let suId: string;

const call = (method: string, path: string, body?: unknown, token: string | undefined = su) => s.request(method, path, { body, token });

async function superuserIds(): Promise<string[]> {
  const res = await call('GET', '/api/collections/_superusers/records?perPage=100&sort=email');
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.items.map((r: { id: string }) => r.id);
}

/** Adds a superuser through the API and returns its id. */
async function addSuperuser(email: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await call('POST', '/api/collections/_superusers/records', {
    email,
    password: 'another-pass-1',
    passwordConfirm: 'another-pass-1',
    ...extra,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.id as string;
}

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  const me = await call('POST', '/api/collections/_superusers/auth-refresh');
  suId = me.body.record.id;
  // superuserToken leaves a bootstrap superuser beside ours: with it gone, ours is the only one
  for (const id of await superuserIds())
    if (id !== suId) expect((await call('DELETE', `/api/collections/_superusers/records/${id}`)).status).toBe(204);
  expect(await superuserIds()).toEqual([suId]);
});

afterAll(async () => {
  await s?.close();
});

describe('a superuser is always verified', () => {
  test('created through the API, even when told verified: false', async () => {
    const plain = await call('POST', '/api/collections/_superusers/records', {
      email: 'plain@example.com',
      password: 'another-pass-1',
      passwordConfirm: 'another-pass-1',
    });
    expect(plain.status, JSON.stringify(plain.body)).toBe(200);
    expect(plain.body.verified).toBe(true);
    const told = await call('POST', '/api/collections/_superusers/records', {
      email: 'told@example.com',
      password: 'another-pass-1',
      passwordConfirm: 'another-pass-1',
      verified: false,
    });
    expect(told.status, JSON.stringify(told.body)).toBe(200);
    expect(told.body.verified).toBe(true);
    // and as stored
    const read = await call('GET', `/api/collections/_superusers/records/${told.body.id}`);
    expect(read.body.verified).toBe(true);
    for (const id of [plain.body.id, told.body.id]) await call('DELETE', `/api/collections/_superusers/records/${id}`);
  });

  test('created in a batch, and kept verified by an update that says otherwise', async () => {
    const batch = await call('POST', '/api/batch', {
      requests: [
        {
          method: 'POST',
          url: '/api/collections/_superusers/records',
          body: { email: 'batched@example.com', password: 'another-pass-1', passwordConfirm: 'another-pass-1', verified: false },
        },
      ],
    });
    expect(batch.status, JSON.stringify(batch.body)).toBe(200);
    expect(batch.body[0].body.verified).toBe(true);
    const id = batch.body[0].body.id as string;
    const patched = await call('PATCH', `/api/collections/_superusers/records/${id}`, { verified: false });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body.verified).toBe(true);
    expect((await call('GET', `/api/collections/_superusers/records/${id}`)).body.verified).toBe(true);
    // server code writes the same way
    await s.app.api.records.update('_superusers', id, { verified: false });
    expect((await s.app.api.records.findById('_superusers', id))?.verified).toBe(true);
    await call('DELETE', `/api/collections/_superusers/records/${id}`);
  });
});

test('superusers an earlier version stored unverified are verified on the next start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ms-superusers-'));
  const db = await freshDatabase();
  const open = () => App.open({ dataDir: dir, databaseUrl: db.url, logger: pino({ level: 'silent' }) });
  try {
    const first = await open();
    const made = await first.api.records.create('_superusers', {
      email: 'old@example.com',
      password: 'old-pass-123',
      passwordConfirm: 'old-pass-123',
    });
    // as an earlier version left it: unverified, and the migration not yet run
    const d = first.engine.dialect;
    await first.engine.run(`UPDATE ${d.ident('_superusers')} SET ${d.ident('verified')} = $1`, [d.encode('bool', false)]);
    await first.engine.run(`DELETE FROM _migrations WHERE file = '0012_superusers_verified'`);
    expect((await first.api.records.findById('_superusers', made.id))?.verified).toBe(false);
    await first.close();

    const second = await open();
    try {
      expect((await second.api.records.findById('_superusers', made.id))?.verified).toBe(true);
    } finally {
      await second.close();
    }
  } finally {
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('the last superuser cannot be deleted, by any path', () => {
  test('the records API: 400 with PocketBase answer, and it can still sign in', async () => {
    const res = await call('DELETE', `/api/collections/_superusers/records/${suId}`);
    expect(res.body).toEqual(LAST_SUPERUSER);
    expect(await superuserIds()).toEqual([suId]);
    expect((await call('GET', '/api/collections')).status).toBe(200);
  });

  test('a batch delete fails the batch with that answer; two deletes that would empty the table are refused together', async () => {
    const alone = await call('POST', '/api/batch', {
      requests: [{ method: 'DELETE', url: `/api/collections/_superusers/records/${suId}` }],
    });
    expect(alone.status).toBe(400);
    expect(alone.body.data.requests['0']).toMatchObject({ code: 'batch_request_failed', response: LAST_SUPERUSER });

    const other = await addSuperuser('second@example.com');
    const both = await call('POST', '/api/batch', {
      requests: [
        { method: 'DELETE', url: `/api/collections/_superusers/records/${other}` },
        { method: 'DELETE', url: `/api/collections/_superusers/records/${suId}` },
      ],
    });
    expect(both.status).toBe(400);
    expect(both.body.data.requests['1']).toMatchObject({ code: 'batch_request_failed', response: LAST_SUPERUSER });
    // the first delete was rolled back with the batch
    expect((await superuserIds()).sort()).toEqual([other, suId].sort());
    expect((await call('DELETE', `/api/collections/_superusers/records/${other}`)).status).toBe(204);
    expect(await superuserIds()).toEqual([suId]);
  });

  test('two superusers deleting each other at once: one deletion goes through, the other is refused', async () => {
    const other = await addSuperuser('racer@example.com');
    const [a, b] = await Promise.all([
      call('DELETE', `/api/collections/_superusers/records/${other}`),
      call('DELETE', `/api/collections/_superusers/records/${suId}`),
    ]);
    expect([a.status, b.status].sort()).toEqual([204, 400]);
    expect((a.status === 400 ? a : b).body).toEqual(LAST_SUPERUSER);
    const left = await s.app.api.records.find('_superusers');
    expect(left).toHaveLength(1);
    // which one goes is the race's choice: the rest of this file goes on as the one left
    if (left[0]?.id === other) {
      const auth = await call('POST', '/api/collections/_superusers/auth-with-password', {
        identity: 'racer@example.com',
        password: 'another-pass-1',
      });
      su = auth.body.token;
      suId = other;
    }
    expect(await superuserIds()).toEqual([suId]);
  });

  test('server code (ms.records.delete, tx.delete in runInTransaction) is refused as well', async () => {
    await expect(s.app.api.records.delete('_superusers', suId)).rejects.toMatchObject(LAST_SUPERUSER);
    await expect(s.app.api.runInTransaction((tx) => tx.delete('_superusers', suId))).rejects.toMatchObject(LAST_SUPERUSER);
    // two deletions in one transaction: the second is the last one
    const other = await addSuperuser('third@example.com');
    await expect(
      s.app.api.runInTransaction(async (tx) => {
        await tx.delete('_superusers', other);
        await tx.delete('_superusers', suId);
      }),
    ).rejects.toMatchObject(LAST_SUPERUSER);
    expect((await superuserIds()).sort()).toEqual([other, suId].sort());
    await s.app.api.records.delete('_superusers', other);
    expect(await superuserIds()).toEqual([suId]);
  });

  test('a cascade that would delete the last superuser is refused, and nothing of it happens', async () => {
    const teams = await call('POST', '/api/collections', { name: 'teams', fields: [{ name: 'name', type: 'text' }] });
    expect(teams.status, JSON.stringify(teams.body)).toBe(200);
    const superusers = (await call('GET', '/api/collections/_superusers')).body;
    const withTeam = await call('PATCH', '/api/collections/_superusers', {
      fields: [...superusers.fields, { name: 'team', type: 'relation', collectionId: teams.body.id, cascadeDelete: true, maxSelect: 1 }],
    });
    expect(withTeam.status, JSON.stringify(withTeam.body)).toBe(200);
    const red = (await call('POST', '/api/collections/teams/records', { name: 'red' })).body.id as string;
    const blue = (await call('POST', '/api/collections/teams/records', { name: 'blue' })).body.id as string;
    expect((await call('PATCH', `/api/collections/_superusers/records/${suId}`, { team: red })).status).toBe(200);

    // the only superuser would go with its team
    const refused = await call('DELETE', `/api/collections/teams/records/${red}`);
    expect(refused.body).toEqual(LAST_SUPERUSER);
    expect((await call('GET', `/api/collections/teams/records/${red}`)).status).toBe(200);
    expect(await superuserIds()).toEqual([suId]);

    // a second superuser in the same team: the cascade would still take both
    const mate = await addSuperuser('mate@example.com', { team: red });
    expect((await call('DELETE', `/api/collections/teams/records/${red}`)).body).toEqual(LAST_SUPERUSER);
    expect((await superuserIds()).sort()).toEqual([mate, suId].sort());

    // in another team, the cascade takes only it
    expect((await call('PATCH', `/api/collections/_superusers/records/${mate}`, { team: blue })).status).toBe(200);
    expect((await call('DELETE', `/api/collections/teams/records/${blue}`)).status).toBe(204);
    expect(await superuserIds()).toEqual([suId]);
  });
});
