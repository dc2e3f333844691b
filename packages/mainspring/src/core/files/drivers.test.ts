import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startS3, type TestS3 } from '../../../test/helpers/s3.js';
import { defaultSettings, type Settings } from '../settings.js';
import { chosenDriver, SettingsFileStore, s3Settings } from './drivers.js';
import { S3Bucket } from './s3-bucket.js';
import { S3FileStore } from './s3-store.js';
import { bufferSource } from './store.js';

const dir = mkdtempSync(join(tmpdir(), 'ms-drivers-'));
let s3: TestS3;
beforeAll(async () => {
  s3 = await startS3(['files', 'other']);
});
afterAll(async () => {
  await s3?.close();
  rmSync(dir, { recursive: true, force: true });
});

const NO_ENV = {};

describe('the file driver the settings choose', () => {
  test('S3 when `s3.enabled` (PocketBase’s rule), else the local disk', () => {
    const settings = defaultSettings();
    expect(chosenDriver(settings, NO_ENV)).toBe('local');
    expect(chosenDriver({ ...settings, s3: { ...settings.s3, enabled: true } }, NO_ENV)).toBe('s3');
  });

  test('the environment wins over stored settings; a bucket there turns S3 on', () => {
    const stored = { ...defaultSettings().s3, bucket: 'stored', region: 'eu-1', secret: 'kept', forcePathStyle: true };
    expect(s3Settings(stored, NO_ENV)).toEqual(stored);
    expect(
      s3Settings(stored, {
        MS_S3_BUCKET: 'from-env',
        MS_S3_REGION: 'auto',
        MS_S3_ENDPOINT: 'https://acct.r2.cloudflarestorage.com',
        MS_S3_ACCESS_KEY: 'AK',
        MS_S3_SECRET: 'SK',
        MS_S3_FORCE_PATH_STYLE: 'false',
      }),
    ).toEqual({
      enabled: true,
      bucket: 'from-env',
      region: 'auto',
      endpoint: 'https://acct.r2.cloudflarestorage.com',
      accessKey: 'AK',
      secret: 'SK',
      forcePathStyle: false,
    });
    // one variable changes one key; empty ones change nothing
    expect(s3Settings(stored, { MS_S3_REGION: 'us-west-2', MS_S3_SECRET: '' })).toEqual({ ...stored, region: 'us-west-2' });
    expect(chosenDriver(defaultSettings(), { MS_S3_BUCKET: 'b' })).toBe('s3');
  });

  test('switching the setting switches where new files go; files stored before stay where they are', async () => {
    let settings: Settings = defaultSettings();
    const store = new SettingsFileStore(dir, () => settings, NO_ENV);
    const key = { collectionId: 'col1', recordId: 'rec1', name: 'a_0123456789.txt' };
    await store.put(key, bufferSource(Buffer.from('on disk')));
    expect(existsSync(join(dir, 'storage/col1/rec1/a_0123456789.txt'))).toBe(true);

    settings = { ...settings, s3: s3.settings('files') };
    expect(store.driver()).toBeInstanceOf(S3FileStore);
    expect(await store.stat(key)).toEqual({ exists: false });
    const key2 = { ...key, name: 'b_0123456789.txt' };
    await store.put(key2, bufferSource(Buffer.from('in the bucket')));
    const bucket = new S3Bucket(s3.location('files'));
    expect(await bucket.head('col1/rec1/b_0123456789.txt')).toMatchObject({ size: 13 });
    // the same configuration keeps its driver; another one gets a new one
    const driver = store.driver();
    settings = { ...settings, s3: { ...settings.s3 } };
    expect(store.driver()).toBe(driver);
    settings = { ...settings, s3: s3.settings('other') };
    expect(store.driver()).not.toBe(driver);
    expect(await store.stat(key2)).toEqual({ exists: false });

    settings = { ...settings, s3: { ...settings.s3, enabled: false } };
    expect((await store.stat(key)).exists).toBe(true);
    bucket.destroy();
    store.close();
  });
});
