import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import sharp from 'sharp';
import { afterAll, describe, expect, test } from 'vitest';
import { makeThumb, parseThumbSize, Thumbnails } from './thumbs.js';

const dir = mkdtempSync(join(tmpdir(), 'ms-thumbs-'));
const logger = pino({ level: 'silent' });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function image(name: string, width: number, height: number): Promise<string> {
  const path = join(dir, name);
  await sharp({ create: { width, height, channels: 3, background: '#00ff00' } }).toFile(path);
  return path;
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
    const thumbs = new Thumbnails(logger, {
      make: async (...args) => {
        made++;
        await new Promise((r) => setTimeout(r, 50));
        return makeThumb(...args);
      },
    });
    const target = join(dir, 'thumbs_one.png', '20x20_one.png');
    const size = parseThumbSize('20x20');
    if (!size) throw new Error('size');
    const answers = await Promise.all(Array.from({ length: 10 }, () => thumbs.ensure(original, target, size, 'image/png')));
    expect(answers).toEqual(Array(10).fill(true));
    expect(made).toBe(1);
    // made before: not made again
    expect(await thumbs.ensure(original, target, size, 'image/png')).toBe(true);
    expect(made).toBe(1);
    expect(await sharp(target).metadata()).toMatchObject({ width: 20, height: 20 });
  });

  test('a corrupt image is false (the original is served), and is not decoded again at once', async () => {
    const original = join(dir, 'bad.png');
    writeFileSync(original, Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(100, 1)]));
    let made = 0;
    const thumbs = new Thumbnails(logger, {
      make: (...args) => {
        made++;
        return makeThumb(...args);
      },
    });
    const size = parseThumbSize('20x20');
    if (!size) throw new Error('size');
    const target = join(dir, 'thumbs_bad.png', '20x20_bad.png');
    expect(await thumbs.ensure(original, target, size, 'image/png')).toBe(false);
    expect(await thumbs.ensure(original, target, size, 'image/png')).toBe(false);
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
      new Thumbnails(logger, {
        concurrency: 2,
        maxWaitMs,
        make: async (_original, target) => {
          running++;
          peak = Math.max(peak, running);
          await gate;
          running--;
          writeFileSync(target, 'thumb');
        },
      });
    const size = parseThumbSize('10x10');
    if (!size) throw new Error('size');
    const run = (thumbs: Thumbnails, n: number, tag: string) =>
      Promise.all(Array.from({ length: n }, (_, i) => thumbs.ensure('unused', join(dir, `${tag}_${i}.png`), size, 'image/png')));

    // two run; the other three wait past 100 ms while the gate is shut, and give up. The gate opens
    // only once those three have answered, however slowly a loaded machine gets there.
    const thumbs = slow(100);
    let answered = 0;
    const impatient = Array.from({ length: 5 }, (_, i) =>
      thumbs.ensure('unused', join(dir, `impatient_${i}.png`), size, 'image/png').finally(() => answered++),
    );
    for (const deadline = Date.now() + 20_000; answered < 3 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
    open();
    const outcomes = await Promise.all(impatient);
    expect(outcomes.filter(Boolean)).toHaveLength(2);
    expect(peak).toBe(2);

    // with time to wait, the third runs once a slot is free
    peak = 0;
    expect(await run(slow(10_000), 3, 'patient')).toEqual([true, true, true]);
    expect(peak).toBeLessThanOrEqual(2);
  });
});
