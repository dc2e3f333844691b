import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import PocketBase from 'pocketbase';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { App } from '../src/core/app.js';
import { SU, withSuperuser } from './helpers/crash.js';
import { startS3, type TestS3 } from './helpers/s3.js';
import { freshDatabase, startServer, superuserToken, TEST_ENGINE, type TestServer } from './helpers/server.js';

/**
 * Backups beyond the routes (backups.test.ts): the cron of the settings and
 * `cronMaxKeep`, the hooks, a bucket as the place backups go
 * (`backups.s3`, against a real S3-protocol server), and
 * `mainspring backup` on the command line with no server running.
 */

const BIN = new URL('../bin/mainspring.js', import.meta.url).pathname;

describe('on a test server', () => {
  let s: TestServer;
  let su = '';
  let s3: TestS3;

  beforeAll(async () => {
    s3 = await startS3(['backups']);
    s = await startServer({
      hooks: [
        (ms) => {
          ms.onBackupCreate(async (e) => {
            if (e.name.startsWith('refused')) throw new Error('no backups named refused, by a hook');
            await e.next();
          });
        },
      ],
    });
    su = await superuserToken(s);
  }, 60_000);

  afterAll(async () => {
    await s?.close();
    await s3?.close();
  });

  const keys = async () => ((await s.request('GET', '/api/backups', { token: su })).body as { key: string }[]).map((b) => b.key).sort();

  test('the cron makes @auto_ms_backup_ archives and keeps cronMaxKeep of them; backups made by hand are never pruned', async () => {
    expect((await s.request('POST', '/api/backups', { token: su, body: { name: 'by-hand.zip' } })).status).toBe(204);
    const set = await s.request('PATCH', '/api/settings', { token: su, body: { backups: { cron: '0 3 * * *', cronMaxKeep: 2 } } });
    expect(set.status).toBe(200);
    for (let i = 0; i < 3; i++) {
      await s.app.crons.run('__msBackups__');
      // names carry the second they were made in
      await new Promise((r) => setTimeout(r, 1100));
    }
    const all = await keys();
    expect(all.filter((k) => /^@auto_ms_backup_\d{14}\.zip$/.test(k))).toHaveLength(2);
    expect(all).toContain('by-hand.zip');
  }, 30_000);

  test("the official SDK's pb.backups works unchanged", async () => {
    const pb = new PocketBase(s.url);
    pb.authStore.save(su, null);
    expect(await pb.backups.create('sdk.zip')).toBe(true);
    const listed = await pb.backups.getFullList();
    expect(listed.find((b) => b.key === 'sdk.zip')).toMatchObject({
      key: 'sdk.zip',
      size: expect.any(Number),
      modified: expect.any(String),
    });
    const res = await fetch(pb.backups.getDownloadURL(await pb.files.getToken(), 'sdk.zip'));
    expect(res.status).toBe(200);
    expect(
      Buffer.from(await res.arrayBuffer())
        .subarray(0, 2)
        .toString(),
    ).toBe('PK');
    const zip = new Blob([Buffer.from(await (await fetch(pb.backups.getDownloadURL(await pb.files.getToken(), 'sdk.zip'))).arrayBuffer())]);
    expect(await pb.backups.upload({ file: new File([zip], 'sdk-copy.zip', { type: 'application/zip' }) })).toBe(true);
    expect((await pb.backups.getFullList()).map((b) => b.key)).toContain('sdk-copy.zip');
    expect(await pb.backups.delete('sdk.zip')).toBe(true);
    expect(await pb.backups.delete('sdk-copy.zip')).toBe(true);
    await expect(pb.backups.delete('sdk.zip')).rejects.toMatchObject({ status: 400 });
  });

  test('a hook refuses a backup: a 400, nothing stored', async () => {
    const res = await s.request('POST', '/api/backups', { token: su, body: { name: 'refused.zip' } });
    expect(res.status).toBe(400);
    expect(await keys()).not.toContain('refused.zip');
  });

  test.skipIf(TEST_ENGINE !== 'postgres')(
    'PostgreSQL without pg_dump on the PATH: a 400 saying what to install, nothing stored (skipped on SQLite, which needs no tool)',
    async () => {
      const path = process.env.PATH;
      process.env.PATH = '/nonexistent';
      try {
        const res = await s.request('POST', '/api/backups', { token: su, body: { name: 'no-tool.zip' } });
        expect(res.status).toBe(400);
        expect(res.body.message).toMatch(/pg_dump is not installed.*postgresql-client/);
      } finally {
        process.env.PATH = path;
      }
      expect(await keys()).not.toContain('no-tool.zip');
    },
  );

  test('backups.s3: archives go to the bucket, are listed, downloaded and deleted from it', async () => {
    const local = await keys();
    const on = await s.request('PATCH', '/api/settings', { token: su, body: { backups: { s3: s3.settings('backups') } } });
    expect(on.status, JSON.stringify(on.body)).toBe(200);
    expect((await s.request('POST', '/api/settings/test/s3', { token: su, body: { filesystem: 'backups' } })).status).toBe(204);
    expect(await keys()).toEqual([]);
    expect((await s.request('POST', '/api/backups', { token: su, body: { name: 'in-bucket.zip' } })).status).toBe(204);
    const listed = (await s.request('GET', '/api/backups', { token: su })).body as { key: string; size: number }[];
    expect(listed.map((b) => b.key)).toEqual(['in-bucket.zip']);
    const token = (await s.request('POST', '/api/files/token', { token: su })).body.token;
    const res = await fetch(`${s.url}/api/backups/in-bucket.zip?token=${token}`);
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(listed[0]?.size);
    expect((await s.request('DELETE', '/api/backups/in-bucket.zip', { token: su })).status).toBe(204);
    expect(await keys()).toEqual([]);
    // back to the local folder, whose backups are still there
    await s.request('PATCH', '/api/settings', { token: su, body: { backups: { s3: { enabled: false } } } });
    expect(await keys()).toEqual(local);
  });

  test('S3 down: making a backup fails with a clear error, and the server goes on', async () => {
    await s.request('PATCH', '/api/settings', { token: su, body: { backups: { s3: s3.settings('backups') } } });
    await s3.stop();
    try {
      const res = await s.request('POST', '/api/backups', { token: su, body: { name: 'while-down.zip' } });
      expect([400, 503]).toContain(res.status);
      expect(res.body).toMatchObject({ status: res.status, data: {} });
      expect((await s.request('GET', '/api/health')).status).toBe(200);
      expect((await s.request('GET', '/api/health', { token: su })).body.data.canBackup).toBe(true);
    } finally {
      await s3.start();
      await s.request('PATCH', '/api/settings', { token: su, body: { backups: { s3: { enabled: false } } } });
    }
  });
});

describe('mainspring backup on the command line', () => {
  let dir = '';
  let url = '';
  let drop: () => Promise<void> = async () => {};
  const cli = (...args: string[]) =>
    promisify(execFile)(process.execPath, [BIN, ...args, `--dir=${dir}`], {
      env: { ...process.env, DATABASE_URL: url, MS_LOG_LEVEL: 'warn' },
      timeout: 60_000,
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ms-backup-cli-'));
    const db = await freshDatabase();
    url = db.url;
    drop = db.drop;
    await withSuperuser(dir, url);
  }, 60_000);

  afterAll(async () => {
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('create, list, and restore bring the data back as it was', async () => {
    expect((await cli('backup', 'create', 'one.zip')).stdout).toContain('Backup one.zip created.');
    expect((await cli('backup', 'list')).stdout).toMatch(/^one\.zip\t\d+ bytes\t\d{4}-/m);
    // a second superuser after the backup: the restore takes it away
    await cli('superuser', 'upsert', 'later@example.com', 'later-password-1');
    expect((await cli('backup', 'restore', 'one.zip')).stdout).toContain('Backup one.zip restored.');
    // the superusers now: only the one the backup had
    const app = await App.open({ dataDir: dir, databaseUrl: url, logger: pino({ level: 'silent' }) });
    try {
      const rows = await app.engine.all<{ email: string }>(`SELECT email FROM ${app.engine.dialect.ident('_superusers')}`);
      expect(rows.map((r) => r.email)).toEqual([SU.email]);
    } finally {
      await app.close();
    }
  }, 120_000);

  test('a missing backup, an unknown action or no key are errors that say so', async () => {
    await expect(cli('backup', 'restore', 'missing.zip')).rejects.toMatchObject({
      stderr: expect.stringMatching(/Missing or invalid backup file/),
    });
    await expect(cli('backup', 'explode')).rejects.toMatchObject({ stderr: expect.stringMatching(/unknown backup action "explode"/) });
    await expect(cli('backup', 'restore')).rejects.toMatchObject({ stderr: expect.stringMatching(/needs the backup to restore/) });
  }, 60_000);
});
