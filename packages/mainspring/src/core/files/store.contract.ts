import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { FileKey } from './keys.js';
import { bufferSource, FileExistsError, type FileSource, type FileStore, InvalidFileKeyError } from './store.js';

/**
 * What every file driver must do, as tests: run by each driver's test file
 * with a factory of fresh stores (Hono's `runTest({ newRouter })` shape),
 * so a new driver (S3) is done when it passes this file unchanged. Expected
 * values are the bytes the test put, never what the driver says.
 */

/** How the contract gets and frees a driver's stores. */
export interface FileStoreContract<S extends FileStore> {
  /** Shown in the test names. */
  name: string;
  /** A new, empty store. */
  newStore(): Promise<S>;
  /** Frees what a store used (a folder, a bucket). */
  dispose(store: S): Promise<void>;
  /** How many reads a store holds open (file handles, connections); without it, the tests that count them are skipped. */
  openReads?(store: S): number | Promise<number>;
}

const MiB = 1024 * 1024;

/** Deterministic bytes: `n` of them, different for each `seed`. */
function bytes(n: number, seed = 0): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return out;
}

/** Bytes as a put's source that streams them in small chunks, as an upload arrives (no local file). */
function streamed(data: Buffer, chunk = 64 * 1024): FileSource {
  return {
    size: data.length,
    open: () => Readable.from(chunksOf(data, chunk), { objectMode: false }),
  };
}

function* chunksOf(data: Buffer, chunk: number): Generator<Buffer> {
  for (let at = 0; at < data.length; at += chunk) yield data.subarray(at, at + chunk);
}

async function readAll(stream: Readable | null): Promise<Buffer> {
  if (!stream) throw new Error('no stream');
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A full garbage collection, so memory measured afterwards is memory held. */
function collector(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Memory held in buffers now: after a collection, and a moment for V8 to free what it collected (it sweeps buffers on another thread). */
async function heldBuffers(gc: () => void): Promise<number> {
  gc();
  await new Promise((r) => setTimeout(r, 20));
  gc();
  return process.memoryUsage().arrayBuffers;
}

async function eventually(check: () => Promise<boolean> | boolean, ms = 5000): Promise<boolean> {
  for (const until = Date.now() + ms; ; ) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const C = 'pbc_contract1';
const R = 'record1abc';
const key = (name: string, more: Partial<FileKey> = {}): FileKey => ({ collectionId: C, recordId: R, name, ...more });

/** Runs the file store contract against stores made by `contract`. */
export function runFileStoreContract<S extends FileStore>(contract: FileStoreContract<S>): void {
  describe(`FileStore contract: ${contract.name}`, () => {
    let store: S;
    beforeEach(async () => {
      store = await contract.newStore();
    });
    afterEach(async () => {
      await contract.dispose(store);
    });

    const read = async (k: FileKey, range?: { start: number; end?: number }) => readAll((await store.openRead(k, range))?.stream ?? null);
    const listed = async (scope: Parameters<FileStore['list']>[0]) => {
      const out: string[] = [];
      for await (const k of store.list(scope)) out.push(`${k.collectionId}/${k.recordId}/${k.name}${k.thumb ? `@${k.thumb}` : ''}`);
      return out.sort();
    };
    const openReads = contract.openReads;

    test('put then read back: streamed or in memory, whole', async () => {
      const data = bytes(300_000, 1);
      await store.put(key('a_0123456789.bin'), streamed(data));
      expect((await read(key('a_0123456789.bin'))).equals(data)).toBe(true);
      await store.put(key('b_0123456789.bin'), bufferSource(data));
      expect((await read(key('b_0123456789.bin'))).equals(data)).toBe(true);
    });

    test('ranges: first bytes, to the end, the last byte, cut at the end, past the end', async () => {
      const data = bytes(1000, 2);
      await store.put(key('r_0123456789.bin'), streamed(data, 100));
      const cases: [number, number | undefined, Buffer][] = [
        [0, 9, data.subarray(0, 10)],
        [0, 0, data.subarray(0, 1)],
        [990, undefined, data.subarray(990)],
        [999, 999, data.subarray(999)],
        [500, 100_000, data.subarray(500)],
        [1000, undefined, Buffer.alloc(0)],
        [5000, 6000, Buffer.alloc(0)],
      ];
      for (const [start, end, expected] of cases) {
        expect((await read(key('r_0123456789.bin'), { start, end })).equals(expected), `${start}-${end}`).toBe(true);
      }
    });

    test('a range chosen once the file is known: it sees the size and version, null reads nothing', async () => {
      const data = bytes(1000, 3);
      await store.put(key('c_0123456789.bin'), bufferSource(data));
      const st = await store.stat(key('c_0123456789.bin'));
      if (!st.exists) throw new Error('not stored');
      let seen: { size: number; version: string } | undefined;
      const suffix = await store.openRead(key('c_0123456789.bin'), (file) => {
        seen = { size: file.size, version: file.version };
        return { start: file.size - 5 };
      });
      expect(seen).toEqual({ size: 1000, version: st.version });
      expect((await readAll(suffix?.stream ?? null)).equals(data.subarray(995))).toBe(true);
      const none = await store.openRead(key('c_0123456789.bin'), () => null);
      expect(none?.stream).toBeNull();
      expect(none?.file.size).toBe(1000);
      await expect(
        store.openRead(key('c_0123456789.bin'), () => {
          throw new Error('refused');
        }),
      ).rejects.toThrow('refused');
      expect(await store.openRead(key('missing_0123456789.bin'), () => ({ start: 0 }))).toBeNull();
    });

    test('an empty file', async () => {
      await store.put(key('empty_0123456789.txt'), bufferSource(Buffer.alloc(0)));
      expect(await store.stat(key('empty_0123456789.txt'))).toMatchObject({ exists: true, size: 0 });
      expect((await read(key('empty_0123456789.txt'))).length).toBe(0);
      expect((await read(key('empty_0123456789.txt'), { start: 0 })).length).toBe(0);
      expect((await read(key('empty_0123456789.txt'), { start: 0, end: 10 })).length).toBe(0);
    });

    test('stat: missing, then size, time and a version that changes with the content', async () => {
      expect(await store.stat(key('s_0123456789.txt'))).toEqual({ exists: false });
      expect(await store.openRead(key('s_0123456789.txt'))).toBeNull();
      const before = Date.now();
      await store.put(key('s_0123456789.txt'), bufferSource(Buffer.from('first')));
      const after = Date.now();
      const first = await store.stat(key('s_0123456789.txt'));
      if (!first.exists) throw new Error('not stored');
      expect(first.size).toBe(5);
      // a second of slack for drivers that keep whole seconds (S3) and clocks apart
      expect(first.modifiedMs).toBeGreaterThanOrEqual(before - 2000);
      expect(first.modifiedMs).toBeLessThanOrEqual(after + 2000);
      expect(await store.stat(key('s_0123456789.txt'))).toEqual(first);
      expect((await store.openRead(key('s_0123456789.txt')))?.file).toEqual({
        size: first.size,
        modifiedMs: first.modifiedMs,
        version: first.version,
      });
      await readAll((await store.openRead(key('s_0123456789.txt')))?.stream ?? null);
      await store.delete({ kind: 'file', key: key('s_0123456789.txt') });
      expect(await store.stat(key('s_0123456789.txt'))).toEqual({ exists: false });
      await store.put(key('s_0123456789.txt'), bufferSource(Buffer.from('second')));
      const second = await store.stat(key('s_0123456789.txt'));
      expect(second.exists && second.version).not.toBe(first.version);
    });

    test('a put again of the same bytes is fine; other bytes under a taken key are refused, never stored', async () => {
      const data = bytes(5000, 4);
      await store.put(key('p_0123456789.bin'), streamed(data));
      await store.put(key('p_0123456789.bin'), streamed(data));
      await store.put(key('p_0123456789.bin'), bufferSource(data));
      await expect(store.put(key('p_0123456789.bin'), bufferSource(bytes(5000, 5)))).rejects.toBeInstanceOf(FileExistsError);
      await expect(store.put(key('p_0123456789.bin'), bufferSource(bytes(10, 5)))).rejects.toBeInstanceOf(FileExistsError);
      expect((await read(key('p_0123456789.bin'))).equals(data)).toBe(true);
      expect(await listed({ kind: 'all' })).toEqual([`${C}/${R}/p_0123456789.bin`]);
    });

    test('concurrent puts of one name: one whole file wins, the others are refused; the same bytes all succeed', async () => {
      const versions = Array.from({ length: 6 }, (_, i) => bytes(256 * 1024, 10 + i));
      const outcomes = await Promise.allSettled(versions.map((v) => store.put(key('race_0123456789.bin'), streamed(v, 16 * 1024))));
      const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
      expect(won).toHaveLength(1);
      for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(FileExistsError);
      expect((await read(key('race_0123456789.bin'))).equals(versions[won[0] as number] as Buffer)).toBe(true);

      const same = bytes(256 * 1024, 20);
      const all = await Promise.allSettled(
        Array.from({ length: 6 }, () => store.put(key('same_0123456789.bin'), streamed(same, 16 * 1024))),
      );
      expect(all.map((o) => o.status)).toEqual(Array(6).fill('fulfilled'));
      expect((await read(key('same_0123456789.bin'))).equals(same)).toBe(true);
      expect(await listed({ kind: 'all' })).toEqual([`${C}/${R}/race_0123456789.bin`, `${C}/${R}/same_0123456789.bin`]);
    });

    test('a put whose bytes fail midway stores nothing, and the key can be put afterwards', async () => {
      const failing: FileSource = {
        size: 3 * MiB,
        open: () =>
          Readable.from(
            (async function* () {
              yield bytes(MiB, 6);
              throw new Error('the upload broke');
            })(),
            { objectMode: false },
          ),
      };
      await expect(store.put(key('broken_0123456789.bin'), failing)).rejects.toThrow();
      expect(await store.stat(key('broken_0123456789.bin'))).toEqual({ exists: false });
      expect(await listed({ kind: 'all' })).toEqual([]);
      await store.put(key('broken_0123456789.bin'), bufferSource(Buffer.from('whole')));
      expect((await read(key('broken_0123456789.bin'))).toString()).toBe('whole');
    });

    test('thumbs are kept beside their original, listed with it, and go with it', async () => {
      await store.put(key('photo_0123456789.png'), bufferSource(Buffer.from('original')));
      await store.put(key('photo_0123456789.png', { thumb: '100x100' }), bufferSource(Buffer.from('thumb 100')));
      await store.put(key('photo_0123456789.png', { thumb: '0x50t' }), bufferSource(Buffer.from('thumb 50')));
      await store.put(key('other_0123456789.png'), bufferSource(Buffer.from('other')));
      expect((await read(key('photo_0123456789.png', { thumb: '100x100' }))).toString()).toBe('thumb 100');
      expect((await read(key('photo_0123456789.png'))).toString()).toBe('original');
      expect(await listed({ kind: 'record', collectionId: C, recordId: R })).toEqual([
        `${C}/${R}/other_0123456789.png`,
        `${C}/${R}/photo_0123456789.png`,
        `${C}/${R}/photo_0123456789.png@0x50t`,
        `${C}/${R}/photo_0123456789.png@100x100`,
      ]);
      // a thumb alone goes alone
      await store.delete({ kind: 'file', key: key('photo_0123456789.png', { thumb: '0x50t' }) });
      expect(await store.stat(key('photo_0123456789.png'))).toMatchObject({ exists: true });
      // the original takes its thumbs along
      await store.delete({ kind: 'file', key: key('photo_0123456789.png') });
      expect(await listed({ kind: 'all' })).toEqual([`${C}/${R}/other_0123456789.png`]);
      expect(await store.stat(key('photo_0123456789.png', { thumb: '100x100' }))).toEqual({ exists: false });
    });

    test('list and delete: a file, a record, a collection, everything', async () => {
      const put = (c: string, r: string, name: string) =>
        store.put({ collectionId: c, recordId: r, name }, bufferSource(Buffer.from(name)));
      await put(C, R, 'a_0123456789.txt');
      await put(C, R, 'b_0123456789.txt');
      await put(C, 'record2abc', 'c_0123456789.txt');
      await put('pbc_contract2', R, 'd_0123456789.txt');
      await store.put(key('a_0123456789.txt', { thumb: '10x10' }), bufferSource(Buffer.from('t')));
      expect(await listed({ kind: 'all' })).toEqual([
        `${C}/${R}/a_0123456789.txt`,
        `${C}/${R}/a_0123456789.txt@10x10`,
        `${C}/${R}/b_0123456789.txt`,
        `${C}/record2abc/c_0123456789.txt`,
        `pbc_contract2/${R}/d_0123456789.txt`,
      ]);
      expect(await listed({ kind: 'collection', collectionId: C })).toHaveLength(4);
      expect(await listed({ kind: 'record', collectionId: C, recordId: 'record2abc' })).toEqual([`${C}/record2abc/c_0123456789.txt`]);
      expect(await listed({ kind: 'record', collectionId: C, recordId: 'nosuchrecord' })).toEqual([]);
      expect(await listed({ kind: 'collection', collectionId: 'nosuchcollection' })).toEqual([]);

      await store.delete({ kind: 'file', key: key('missing_0123456789.txt') });
      await store.delete({ kind: 'file', key: key('b_0123456789.txt') });
      expect(await listed({ kind: 'record', collectionId: C, recordId: R })).toEqual([
        `${C}/${R}/a_0123456789.txt`,
        `${C}/${R}/a_0123456789.txt@10x10`,
      ]);
      await store.delete({ kind: 'record', collectionId: C, recordId: R });
      expect(await listed({ kind: 'all' })).toEqual([`${C}/record2abc/c_0123456789.txt`, `pbc_contract2/${R}/d_0123456789.txt`]);
      await store.delete({ kind: 'collection', collectionId: C });
      expect(await listed({ kind: 'all' })).toEqual([`pbc_contract2/${R}/d_0123456789.txt`]);
      await store.delete({ kind: 'collection', collectionId: 'nosuchcollection' });
      await store.delete({ kind: 'record', collectionId: C, recordId: R });
      // a record's folder emptied by deletes takes a new file again
      await put(C, R, 'again_0123456789.txt');
      expect((await read(key('again_0123456789.txt'))).toString()).toBe('again_0123456789.txt');
    });

    test('keys that try to leave their folder are refused by put and name nothing elsewhere', async () => {
      await store.put(key('kept_0123456789.txt'), bufferSource(Buffer.from('kept')));
      const hostile: FileKey[] = [
        key('../x.txt'),
        key('..'),
        key('.hidden'),
        key(''),
        key('a/b.txt'),
        key('a\\b.txt'),
        key('x\0.txt'),
        key('x'.repeat(201)),
        key('kept_0123456789.txt', { recordId: '..' }),
        key('kept_0123456789.txt', { recordId: '' }),
        key('kept_0123456789.txt', { recordId: 'a/b' }),
        key('kept_0123456789.txt', { collectionId: '../pbc_contract1' }),
        key('kept_0123456789.txt', { collectionId: '.' }),
        key('kept_0123456789.txt', { thumb: '../../x' }),
        key('kept_0123456789.txt', { thumb: '100x100/..' }),
        key('kept_0123456789.txt', { thumb: '' }),
      ];
      for (const k of hostile) {
        const shown = JSON.stringify(k);
        await expect(store.put(k, bufferSource(Buffer.from('evil'))), shown).rejects.toBeInstanceOf(InvalidFileKeyError);
        expect(await store.openRead(k), shown).toBeNull();
        expect(await store.stat(k), shown).toEqual({ exists: false });
        await store.delete({ kind: 'file', key: k });
      }
      for (const id of ['..', '.', '', 'a/b', '../pbc_contract1']) {
        await store.delete({ kind: 'record', collectionId: C, recordId: id });
        await store.delete({ kind: 'record', collectionId: id, recordId: R });
        await store.delete({ kind: 'collection', collectionId: id });
        expect(await listed({ kind: 'collection', collectionId: id }), id).toEqual([]);
        expect(await listed({ kind: 'record', collectionId: C, recordId: id }), id).toEqual([]);
      }
      expect(await listed({ kind: 'all' })).toEqual([`${C}/${R}/kept_0123456789.txt`]);
      expect((await read(key('kept_0123456789.txt'))).toString()).toBe('kept');
    });

    test.skipIf(!openReads)('a read stream destroyed midway, or never read, leaves nothing open', async () => {
      const count = () => (openReads as NonNullable<typeof openReads>)(store);
      await store.put(key('big_0123456789.bin'), streamed(bytes(8 * MiB, 7), MiB));
      const opened = await store.openRead(key('big_0123456789.bin'));
      const stream = opened?.stream;
      if (!stream) throw new Error('no stream');
      await new Promise<void>((resolve, reject) => {
        stream.once('data', () => resolve());
        stream.once('error', reject);
      });
      stream.pause();
      expect(await count()).toBe(1);
      stream.destroy();
      expect(await eventually(async () => (await count()) === 0)).toBe(true);

      const untouched = await store.openRead(key('big_0123456789.bin'), { start: MiB });
      untouched?.stream?.destroy();
      const none = await store.openRead(key('big_0123456789.bin'), () => null);
      expect(none?.stream).toBeNull();
      await store.openRead(key('big_0123456789.bin'), () => Promise.reject(new Error('refused'))).catch(() => {});
      expect(await eventually(async () => (await count()) === 0)).toBe(true);
    });

    test('large files stream in and out without being held whole', async () => {
      const gc = collector();
      const size = 64 * MiB;
      const chunk = MiB;
      const blockOf = (i: number) => Buffer.alloc(chunk, i & 0xff);
      const expected = createHash('sha256');
      for (let i = 0; i < size / chunk; i++) expected.update(blockOf(i));
      const sha = expected.digest('hex');

      // the source makes each chunk when asked; three quarters in, what is held must be far below what a
      // driver that gathers the file first would hold then (the three quarters)
      let base = 0;
      let heldWhilePutting = 0;
      const source: FileSource = {
        size,
        open: () =>
          Readable.from(
            (async function* () {
              for (let i = 0; i < size / chunk; i++) {
                if (i === 0) base = await heldBuffers(gc);
                if (i === (size / chunk) * 0.75) heldWhilePutting = (await heldBuffers(gc)) - base;
                yield blockOf(i);
              }
            })(),
            { objectMode: false },
          ),
      };
      await store.put(key('large_0123456789.bin'), source);
      expect(heldWhilePutting).toBeLessThan(size / 2);

      const opened = await store.openRead(key('large_0123456789.bin'));
      if (!opened?.stream) throw new Error('no stream');
      expect(opened.file.size).toBe(size);
      const hash = createHash('sha256');
      let got = 0;
      let largest = 0;
      let heldWhileReading = 0;
      const readBase = await heldBuffers(gc);
      for await (const c of opened.stream) {
        const b = c as Buffer;
        if (got < size * 0.75 && got + b.length >= size * 0.75) heldWhileReading = (await heldBuffers(gc)) - readBase;
        got += b.length;
        largest = Math.max(largest, b.length);
        hash.update(b);
      }
      expect(got).toBe(size);
      expect(hash.digest('hex')).toBe(sha);
      expect(largest).toBeLessThanOrEqual(8 * MiB);
      expect(heldWhileReading).toBeLessThan(size / 2);
    });
  });
}
