import PocketBase from 'pocketbase';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { S3Bucket } from '../src/core/files/s3-bucket.js';
import { twoTone } from './helpers/files.js';
import { startS3, type TestS3 } from './helpers/s3.js';
import { startServer, superuserToken, type TestServer } from './helpers/server.js';

/**
 * Record files in S3 through the API, against a real S3-protocol server on
 * 127.0.0.1 (s3rver, in its own process): `s3` in the settings as PocketBase
 * checks it, `POST /api/settings/test/s3` as PocketBase's (an object
 * uploaded, its folder listed and deleted), uploads and deletes landing in
 * the bucket, and an outage (the server stopped, wrong credentials): an
 * upload is a 503 in the API's shape, no record is half-written, and
 * everything else keeps being served.
 */

let s: TestServer;
let s3: TestS3;
let su: string;
let pb: PocketBase;
let bucket: S3Bucket;
let collectionId: string;

const call = (method: string, path: string, body?: unknown, token: string | undefined = su) => s.request(method, path, { body, token });

/** The names in the bucket under a record's folder. */
async function objects(recordId = ''): Promise<string[]> {
  const out: string[] = [];
  for await (const name of bucket.list(`${collectionId}/${recordId}`)) out.push(name);
  return out.sort();
}

async function count(): Promise<number> {
  return (await call('GET', '/api/collections/docs/records?perPage=1')).body.totalItems;
}

const upload = (title: string, bytes = Buffer.from(`the file of ${title}`)) =>
  pb.collection('docs').create({ title, file: new File([bytes], `${title}.txt`, { type: 'text/plain' }) });

beforeAll(async () => {
  s3 = await startS3();
  s = await startServer();
  su = await superuserToken(s);
  pb = new PocketBase(s.url);
  pb.autoCancellation(false);
  pb.authStore.save(su, null);
  const docs = await call('POST', '/api/collections', {
    name: 'docs',
    listRule: '',
    viewRule: '',
    createRule: '',
    deleteRule: '',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'file', type: 'file', maxSelect: 1, maxSize: 50 << 20, thumbs: ['10x10'] },
    ],
  });
  expect(docs.status).toBe(200);
  collectionId = docs.body.id;
  bucket = new S3Bucket(s3.location());
});

afterAll(async () => {
  bucket?.destroy();
  await s?.close();
  await s3?.close();
});

describe('the s3 settings', () => {
  test("enabling needs endpoint, bucket, region, access key and secret (PocketBase's rule); nothing is stored otherwise", async () => {
    const res = await call('PATCH', '/api/settings', { s3: { enabled: true, bucket: 'files' } });
    expect(res.status).toBe(400);
    for (const key of ['endpoint', 'region', 'accessKey', 'secret']) expect(res.body.data.s3[key]?.code, key).toBe('validation_required');
    expect(res.body.data.s3.bucket).toBeUndefined();
    expect(s.app.settings.get().s3.enabled).toBe(false);
    // the backups' bucket follows the same rule, and stays off
    const backups = await call('PATCH', '/api/settings', { backups: { s3: { enabled: true, endpoint: s3.settings().endpoint } } });
    expect(backups.status).toBe(400);
    for (const key of ['bucket', 'region', 'accessKey', 'secret'])
      expect(backups.body.data.backups.s3[key]?.code, key).toBe('validation_required');
    expect(s.app.settings.get().backups.s3.enabled).toBe(false);
  });

  test('POST /api/settings/test/s3: not enabled, then a working bucket (204, nothing left in it), then wrong ones (400 naming the failure)', async () => {
    const off = await call('POST', '/api/settings/test/s3', { filesystem: 'storage' });
    expect(off.status).toBe(400);
    expect(off.body.message).toMatch(/S3 storage filesystem is not enabled/);

    expect((await call('PATCH', '/api/settings', { s3: s3.settings() })).status).toBe(200);
    await expect(pb.settings.testS3('storage')).resolves.toBe(true);
    expect(await objects('')).toEqual([]);
    const left: string[] = [];
    for await (const name of bucket.list('pb_settings_test_')) left.push(name);
    expect(left).toEqual([]);

    for (const [patch, said] of [
      [{ accessKey: 'NOBODY' }, /failed to upload a test file.*InvalidAccessKeyId/s],
      [{ bucket: 'no-such-bucket' }, /failed to upload a test file.*NoSuchBucket/s],
      [{ endpoint: 'http://127.0.0.1:9' }, /failed to upload a test file/],
    ] as const) {
      expect((await call('PATCH', '/api/settings', { s3: { ...s3.settings(), ...patch } })).status).toBe(200);
      const started = Date.now();
      const res = await call('POST', '/api/settings/test/s3', { filesystem: 'storage' });
      expect(res.status, JSON.stringify(patch)).toBe(400);
      expect(res.body.data).toEqual({});
      expect(res.body.message, JSON.stringify(patch)).toMatch(said);
      expect(res.body.message).not.toContain('S3RVER');
      expect(Date.now() - started).toBeLessThan(10_000);
    }
    expect((await call('PATCH', '/api/settings', { s3: s3.settings() })).status).toBe(200);
    // the backups filesystem has its own settings, off
    expect((await call('POST', '/api/settings/test/s3', { filesystem: 'backups' })).body.message).toMatch(/not enabled/);
  });
});

describe('files in the bucket', () => {
  test("an upload lands at PocketBase's key, its thumb beside it; a delete takes both once it commits", async () => {
    expect((await call('PATCH', '/api/settings', { s3: s3.settings() })).status).toBe(200);
    const png = await twoTone(20, 20);
    const rec = await pb.collection('docs').create({ title: 'img', file: new File([png], 'dot.png', { type: 'image/png' }) });
    expect(await objects(rec.id)).toEqual([`${collectionId}/${rec.id}/${rec.file}`]);
    const got = await fetch(`${s.url}/api/files/docs/${rec.id}/${rec.file}`);
    expect(Buffer.from(await got.arrayBuffer()).equals(png)).toBe(true);
    const ranged = await fetch(`${s.url}/api/files/docs/${rec.id}/${rec.file}`, { headers: { range: 'bytes=1-3' } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).toString()).toBe('PNG');
    expect((await fetch(`${s.url}/api/files/docs/${rec.id}/${rec.file}?thumb=10x10`)).status).toBe(200);
    expect(await objects(rec.id)).toEqual([
      `${collectionId}/${rec.id}/${rec.file}`,
      `${collectionId}/${rec.id}/thumbs_${rec.file}/10x10_${rec.file}`,
    ]);
    await pb.collection('docs').delete(rec.id);
    for (let i = 0; i < 100 && (await objects(rec.id)).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await objects(rec.id)).toEqual([]);
  });

  test('a 12 MB upload goes up in parts and comes back whole', async () => {
    const big = Buffer.alloc(12 << 20);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) & 0xff;
    const rec = await upload('big', big);
    const back = Buffer.from(await (await fetch(`${s.url}/api/files/docs/${rec.id}/${rec.file}`)).arrayBuffer());
    expect(back.equals(big)).toBe(true);
  });
});

describe('S3 down or refusing', () => {
  test('S3 stopped: an upload is a 503 in the API shape and writes no record; everything else is served; back once S3 is', async () => {
    expect((await call('PATCH', '/api/settings', { s3: s3.settings() })).status).toBe(200);
    const kept = await upload('before');
    const before = await count();
    await s3.stop();
    try {
      const res = await fetch(`${s.url}/api/collections/docs/records`, {
        method: 'POST',
        body: (() => {
          const form = new FormData();
          form.set('title', 'during');
          form.set('file', new File([Buffer.from('lost')], 'during.txt', { type: 'text/plain' }));
          return form;
        })(),
      });
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 503, message: 'The file storage is unavailable; try again later.', data: {} });
      expect(await count()).toBe(before);
      expect((await call('GET', `/api/collections/docs/records?filter=${encodeURIComponent('title = "during"')}`)).body.totalItems).toBe(0);
      // a write without files, reads, health, settings: all served
      expect((await call('POST', '/api/collections/docs/records', { title: 'no file' })).status).toBe(200);
      expect((await call('GET', `/api/collections/docs/records/${kept.id}`)).status).toBe(200);
      expect((await fetch(`${s.url}/api/health`)).status).toBe(200);
      expect((await call('GET', '/api/settings')).status).toBe(200);
      // the file itself cannot be read now: 503, not a 404 that would say it does not exist
      const download = await fetch(`${s.url}/api/files/docs/${kept.id}/${kept.file}`);
      expect(download.status).toBe(503);
      expect(((await download.json()) as { status: number }).status).toBe(503);
    } finally {
      await s3.start();
    }
    const after = await upload('after');
    expect(await (await fetch(`${s.url}/api/files/docs/${after.id}/${after.file}`)).text()).toBe('the file of after');
    expect(await (await fetch(`${s.url}/api/files/docs/${kept.id}/${kept.file}`)).text()).toBe('the file of before');
  });

  // s3rver checks the access key but not signatures (of SigV4): a wrong secret, which AWS answers with
  // SignatureDoesNotMatch (a 403 like this one, the same path through the driver), cannot be shown here
  test('wrong credentials in the settings: the same 503, no record; the settings test names the cause', async () => {
    expect((await call('PATCH', '/api/settings', { s3: { ...s3.settings(), accessKey: 'NOBODY' } })).status).toBe(200);
    const before = await count();
    await expect(upload('refused')).rejects.toMatchObject({ status: 503 });
    expect(await count()).toBe(before);
    expect((await call('POST', '/api/settings/test/s3', { filesystem: 'storage' })).body.message).toMatch(/InvalidAccessKeyId/);
    expect((await call('PATCH', '/api/settings', { s3: s3.settings() })).status).toBe(200);
    await expect(upload('accepted')).resolves.toMatchObject({ title: 'accepted' });
  });
});
