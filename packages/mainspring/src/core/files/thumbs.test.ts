import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import pino from 'pino';
import sharp from 'sharp';
import { afterAll, describe, expect, test } from 'vitest';
import type { FileKey } from './keys.js';
import { LocalFileStore } from './local-store.js';
import { bufferSource } from './store.js';
import { makeThumb, parseThumbSize, Thumbnails } from './thumbs.js';

const dir = mkdtempSync(join(tmpdir(), 'ms-thumbs-'));
const logger = pino({ level: 'silent' });
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const store = new LocalFileStore(join(dir, 'storage'));

const keyOf = (name: string, thumb?: string): FileKey => ({ collectionId: 'col1', recordId: 'rec1', name, thumb });

/** Puts a green image of that size in the store as `name`. */
async function image(name: string, width: number, height: number): Promise<FileKey> {
  const key = keyOf(name);
  await store.put(
    key,
    bufferSource(
      await sharp({ create: { width, height, channels: 3, background: '#00ff00' } })
        .png()
        .toBuffer(),
    ),
  );
  return key;
}

async function stored(key: FileKey): Promise<Buffer> {
  const read = await store.openRead(key);
  if (!read?.stream) throw new Error('not stored');
  return buffer(read.stream);
}

describe('parseThumbSize', () => {
  test('PocketBase’s formats', () => {
    expect(parseThumbSize('100x50')).toEqual({ width: 100, height: 50, mode: 'center' });
    expect(parseThumbSize('100x50t')).toEqual({ width: 100, height: 50, mode: 'top' });
    expect(parseThumbSize('100x50b')).toEqual({ width: 100, height: 50, mode: 'bottom' });
    expect(parseThumbSize('100x50f')).toEqual({ width: 100, height: 50, mode: 'fit' });
    expect(parseThumbSize('0x50')).toEqual({ width: 0, height: 50, mode: 'center' });
    for (const bad of ['0x0', '100', 'x100', '100x', '100x50c', '-1x5', '10000x1', ' 1x1', '1x1 ', '1X1'])
      expect(parseThumbSize(bad), bad).toBeNull();
  });
});

describe('Thumbnails', () => {
  test('concurrent requests for one thumb make it once', async () => {
    const original = await image('one.png', 80, 60);
    let made = 0;
    const thumbs = new Thumbnails(store, logger, {
      make: async (...args) => {
        made++;
        await new Promise((r) => setTimeout(r, 50));
        return makeThumb(...args);
      },
    });
    const target = keyOf('one.png', '20x20');
    const answers = await Promise.all(Array.from({ length: 10 }, () => thumbs.ensure(original, '20x20', 'image/png')));
    expect(answers).toEqual(Array(10).fill(target));
    expect(made).toBe(1);
    // made before: not made again, by this instance or another sharing the store
    expect(await thumbs.ensure(original, '20x20', 'image/png')).toEqual(target);
    const another = new Thumbnails(store, logger, { make: () => Promise.reject(new Error('made again')) });
    expect(await another.ensure(original, '20x20', 'image/png')).toEqual(target);
    expect(made).toBe(1);
    expect(await sharp(await stored(target)).metadata()).toMatchObject({ width: 20, height: 20, format: 'png' });
  });

  test('a corrupt image is false (the original is served), and is not decoded again at once', async () => {
    const original = keyOf('bad.png');
    await store.put(original, bufferSource(Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(100, 1)])));
    let made = 0;
    const thumbs = new Thumbnails(store, logger, {
      make: (...args) => {
        made++;
        return makeThumb(...args);
      },
    });
    expect(await thumbs.ensure(original, '20x20', 'image/png')).toBeNull();
    expect(await thumbs.ensure(original, '20x20', 'image/png')).toBeNull();
    expect(made).toBe(1);
    expect((await store.stat(keyOf('bad.png', '20x20'))).exists).toBe(false);
    // not a size: nothing is made
    expect(await thumbs.ensure(original, '0x0', 'image/png')).toBeNull();
    expect(await thumbs.ensure(original, '../x', 'image/png')).toBeNull();
    expect(made).toBe(1);
  });

  test('at most `concurrency` generations run at once; one that waits too long gives up', async () => {
    // generations run until the test opens the gate, so the outcome depends on no timer racing another
    let open: () => void = () => {};
    const gate = new Promise<void>((r) => {
      open = r;
    });
    let running = 0;
    let peak = 0;
    const slow = (maxWaitMs: number) =>
      new Thumbnails(store, logger, {
        concurrency: 2,
        maxWaitMs,
        make: async () => {
          running++;
          peak = Math.max(peak, running);
          await gate;
          running--;
          return Buffer.from('thumb');
        },
      });
    const original = await image('gated.png', 10, 10);
    // thumbs of one original at sizes of their own
    const ensure = (thumbs: Thumbnails, width: number) => thumbs.ensure(original, `${width}x10`, 'image/png').then((k) => k !== null);
    const run = (thumbs: Thumbnails, n: number, from: number) => Promise.all(Array.from({ length: n }, (_, i) => ensure(thumbs, from + i)));

    // two run; the other three wait past 100 ms while the gate is shut, and give up. The gate opens
    // only once those three have answered, however slowly a loaded machine gets there.
    const thumbs = slow(100);
    let answered = 0;
    const impatient = Array.from({ length: 5 }, (_, i) => ensure(thumbs, 10 + i).finally(() => answered++));
    for (const deadline = Date.now() + 20_000; answered < 3 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
    open();
    const outcomes = await Promise.all(impatient);
    expect(outcomes.filter(Boolean)).toHaveLength(2);
    expect(peak).toBe(2);

    // with time to wait, the third runs once a slot is free
    peak = 0;
    expect(await run(slow(10_000), 3, 20)).toEqual([true, true, true]);
    expect(peak).toBeLessThanOrEqual(2);
  });
});
