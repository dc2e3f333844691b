import PocketBase from 'pocketbase';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, superuserToken, type TestServer } from './helpers/server.js';

/**
 * The `s3` and `backups` settings in PocketBase's shape (core/settings_model.go:
 * keys and defaults; secrets never sent back), what an enabled S3
 * connection or a backup cron must hold, and `POST /api/settings/test/s3` as
 * PocketBase answers with S3 off (S3 on: test/s3-storage.test.ts).
 */

/** PocketBase's S3 defaults, as a client reads them (no secret). */
const S3_OFF = { enabled: false, bucket: '', region: '', endpoint: '', accessKey: '', forcePathStyle: false };

let s: TestServer;
let su: string;
let pb: PocketBase;

const call = (method: string, path: string, body?: unknown, token: string | undefined = su) => s.request(method, path, { body, token });

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  pb = new PocketBase(s.url);
  pb.autoCancellation(false);
  pb.authStore.save(su, null);
});

afterAll(async () => {
  await s?.close();
});

describe('s3 and backups settings', () => {
  test("defaults in PocketBase's shape, through the SDK's getAll", async () => {
    const all = await pb.settings.getAll();
    expect(all.s3).toEqual(S3_OFF);
    expect(all.backups).toEqual({ cron: '', cronMaxKeep: 3, s3: S3_OFF });
    // the other sections are still there
    expect(all.meta.appName).toBeTruthy();
    expect(all.smtp.enabled).toBe(false);
  });

  test('the connection details are kept; the secrets are stored and never sent back', async () => {
    const s3 = {
      bucket: 'files',
      region: 'eu-1',
      endpoint: 'https://s3.example.com',
      accessKey: 'AKIA-TEST',
      secret: 'top-secret-s3',
      forcePathStyle: true,
    };
    const updated = await pb.settings.update({ s3, backups: { cronMaxKeep: 7, s3: { ...s3, secret: 'top-secret-backups' } } });
    const { secret: _, ...visible } = s3;
    expect(updated.s3).toEqual({ ...visible, enabled: false });
    expect(updated.backups).toEqual({ cron: '', cronMaxKeep: 7, s3: { ...visible, enabled: false } });
    const raw = await call('GET', '/api/settings');
    expect(JSON.stringify(raw.body)).not.toContain('top-secret');
    expect(raw.body.s3).not.toHaveProperty('secret');
    expect(raw.body.backups.s3).not.toHaveProperty('secret');
    // stored: an update that leaves the secret out keeps it
    await pb.settings.update({ s3: { region: 'eu-2' } });
    expect(s.app.settings.get().s3).toMatchObject({ region: 'eu-2', secret: 'top-secret-s3' });
    expect(s.app.settings.get().backups.s3.secret).toBe('top-secret-backups');
    // what the SDK reads it sends back unchanged, and that is valid
    const all = await pb.settings.getAll();
    await pb.settings.update(all);
    expect(s.app.settings.get().s3.secret).toBe('top-secret-s3');
  });

  test('backups: an S3 bucket needs every value, a cron a valid expression; nothing is stored when one is wrong', async () => {
    const before = await call('GET', '/api/settings');
    // the values stored by the test above are blanked in the same request
    const blank = { enabled: true, bucket: 'b', endpoint: '', region: '', accessKey: '', secret: '' };
    const bucket = await call('PATCH', '/api/settings', { backups: { s3: blank } });
    expect(bucket.status).toBe(400);
    for (const key of ['endpoint', 'region', 'accessKey', 'secret']) {
      expect(bucket.body.data.backups.s3[key], key).toMatchObject({ code: 'validation_required' });
    }
    expect(bucket.body.data.backups.s3.bucket).toBeUndefined();
    const cron = await call('PATCH', '/api/settings', { backups: { cron: 'every tuesday' } });
    expect(cron.body).toMatchObject({ status: 400, data: { backups: { cron: { code: 'validation_invalid_cron' } } } });
    expect((await call('GET', '/api/settings')).body).toEqual(before.body);
  });

  test('a backup cron is stored and listed among the crons, and goes once cleared', async () => {
    const set = await call('PATCH', '/api/settings', { backups: { cron: '0 3 * * *', cronMaxKeep: 2 } });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body.backups).toMatchObject({ cron: '0 3 * * *', cronMaxKeep: 2 });
    const crons = await call('GET', '/api/crons');
    expect(crons.body).toContainEqual({ id: '__msBackups__', expression: '0 3 * * *' });
    expect((await call('PATCH', '/api/settings', { backups: { cron: '' } })).status).toBe(200);
    expect((await call('GET', '/api/crons')).body.map((c: { id: string }) => c.id)).not.toContain('__msBackups__');
  });

  test('bad values: wrong types, unknown keys, an endpoint that is not a URL, a negative cronMaxKeep', async () => {
    for (const [body, path] of [
      [{ s3: { bucket: 5 } }, 's3.bucket'],
      [{ s3: 'on' }, 's3'],
      [{ s3: { region: null } }, 's3.region'],
      [{ s3: { unknown: 'x' } }, 's3.unknown'],
      [{ backups: { cronMaxKeep: '3' } }, 'backups.cronMaxKeep'],
      [{ backups: { cronMaxKeep: -1 } }, 'backups.cronMaxKeep'],
      [{ backups: { cronMaxKeep: 1.5 } }, 'backups.cronMaxKeep'],
      [{ backups: { s3: { endpoint: 'not a url' } } }, 'backups.s3.endpoint'],
      [{ s3: { endpoint: 'javascript:alert(1)' } }, 's3.endpoint'],
    ] as const) {
      const res = await call('PATCH', '/api/settings', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      let error = res.body.data;
      for (const key of path.split('.')) error = error?.[key];
      expect(error?.code, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`).toMatch(/^validation_/);
    }
    // a prototype key smuggling enabled: true in
    const proto = await s.request('PATCH', '/api/settings', {
      token: su,
      raw: '{"backups":{"s3":{"__proto__":{"enabled":true}}},"s3":{"constructor":{"enabled":true}}}',
      headers: { 'content-type': 'application/json' },
    });
    expect(proto.status).toBe(400);
    expect(s.app.settings.get().s3.enabled).toBe(false);
    expect(s.app.settings.get().backups.s3.enabled).toBe(false);
    expect((await call('GET', '/api/settings')).body.backups.s3.enabled).toBe(false);
  });
});

describe('POST /api/settings/test/s3', () => {
  test('superusers only', async () => {
    expect((await call('POST', '/api/settings/test/s3', { filesystem: 'storage' }, '')).status).toBe(401);
  });

  test("PocketBase's answers: filesystem required, one of storage/backups, then S3 is not enabled", async () => {
    const missing = await call('POST', '/api/settings/test/s3', {});
    expect(missing.status).toBe(400);
    expect(missing.body.data.filesystem.code).toBe('validation_required');
    const invalid = await call('POST', '/api/settings/test/s3', { filesystem: 'invalid' });
    expect(invalid.status).toBe(400);
    expect(invalid.body.data.filesystem.code).toBe('validation_in_invalid');
    for (const filesystem of ['storage', 'backups']) {
      const res = await call('POST', '/api/settings/test/s3', { filesystem });
      expect(res.status).toBe(400);
      expect(res.body.data).toEqual({});
      expect(res.body.message).toMatch(/S3 storage filesystem is not enabled/);
    }
    // the SDK's call gets the same 400
    await expect(pb.settings.testS3('storage')).rejects.toMatchObject({ status: 400 });
  });
});
