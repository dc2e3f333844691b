import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { defaultSettings, type Settings } from '../settings.js';
import { chosenDriver, SettingsFileStore } from './drivers.js';
import { bufferSource } from './store.js';

const dir = mkdtempSync(join(tmpdir(), 'ms-drivers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the file driver the settings choose', () => {
  test('S3 when `s3.enabled` (PocketBase’s rule), else the local disk', () => {
    const settings = defaultSettings();
    expect(chosenDriver(settings)).toBe('local');
    expect(chosenDriver({ ...settings, s3: { ...settings.s3, enabled: true } })).toBe('s3');
  });

  test('files go to <dataDir>/storage; `s3.enabled` stored without an S3 driver keeps them there', async () => {
    let settings: Settings = defaultSettings();
    const store = new SettingsFileStore(dir, () => settings);
    const key = { collectionId: 'col1', recordId: 'rec1', name: 'a_0123456789.txt' };
    await store.put(key, bufferSource(Buffer.from('on disk')));
    expect(existsSync(join(dir, 'storage/col1/rec1/a_0123456789.txt'))).toBe(true);
    settings = { ...settings, s3: { ...settings.s3, enabled: true } };
    expect(await store.stat(key)).toMatchObject({ exists: true, size: 7 });
  });
});
