import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { LocalFileStore, localStorageRoot } from './local-store.js';
import { runFileStoreContract } from './store.contract.js';
import { bufferSource, deleteFiles, FileExistsError, fileSource } from './store.js';

const dir = mkdtempSync(join(tmpdir(), 'ms-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Open file descriptors of this process on files under `root`. */
function openUnder(root: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(`${root}/`);
    } catch {
      return false;
    }
  }).length;
}

let stores = 0;
runFileStoreContract<LocalFileStore>({
  name: 'LocalFileStore',
  newStore: async () => new LocalFileStore(localStorageRoot(join(dir, `contract${stores++}`))),
  dispose: (store) => rm(join(store.root, '..'), { recursive: true, force: true }),
  openReads: existsSync('/proc/self/fd') ? (store) => openUnder(store.root) : undefined,
});

function upload(content: string, folder = dir): string {
  const path = join(folder, `up_${Math.random().toString(36).slice(2)}`);
  writeFileSync(path, content);
  return path;
}

describe('LocalFileStore on disk', () => {
  const root = join(dir, 'own', 'storage');
  const store = new LocalFileStore(root);

  test("PocketBase's layout: <collectionId>/<recordId>/<name>, thumbs in thumbs_<name>/<size>_<name>", async () => {
    await store.put({ collectionId: 'col1', recordId: 'rec1', name: 'a_0123456789.png' }, bufferSource(Buffer.from('original')));
    await store.put(
      { collectionId: 'col1', recordId: 'rec1', name: 'a_0123456789.png', thumb: '100x100t' },
      bufferSource(Buffer.from('thumb')),
    );
    expect(readFileSync(join(root, 'col1/rec1/a_0123456789.png'), 'utf8')).toBe('original');
    expect(readFileSync(join(root, 'col1/rec1/thumbs_a_0123456789.png/100x100t_a_0123456789.png'), 'utf8')).toBe('thumb');
  });

  test('an upload is linked into place, keeps its source, and is put again without harm (a retried transaction)', async () => {
    const source = upload('hello');
    const key = { collectionId: 'col1', recordId: 'rec1', name: 'b_0123456789.txt' };
    await store.put(key, fileSource(source, 5));
    await store.put(key, fileSource(source, 5));
    const stored = join(root, 'col1/rec1/b_0123456789.txt');
    expect(statSync(stored).ino).toBe(statSync(source).ino);
    expect(existsSync(source)).toBe(true);
    // another upload under a name already taken is refused, never overwritten
    await expect(store.put(key, fileSource(upload('other'), 5))).rejects.toBeInstanceOf(FileExistsError);
    expect(readFileSync(stored, 'utf8')).toBe('hello');
  });

  test('a linked upload is dated by its put, not by when it was written (the orphan sweep counts its grace from the put)', async () => {
    const source = upload('written long ago');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    utimesSync(source, twoHoursAgo, twoHoursAgo);
    const key = { collectionId: 'col1', recordId: 'rec1', name: 'd_0123456789.txt' };
    const before = Date.now();
    await store.put(key, fileSource(source, 16));
    const stored = await store.stat(key);
    expect(stored.exists && stored.modifiedMs).toBeGreaterThanOrEqual(before - 1000);
    expect(statSync(join(root, 'col1/rec1/d_0123456789.txt')).ino).toBe(statSync(source).ino);
  });

  const shm = '/dev/shm';
  const otherDisk = existsSync(shm) && statSync(shm).dev !== statSync(dir).dev;
  test.skipIf(!otherDisk)('an upload on another file system is copied, whole, and put again without harm', async () => {
    const folder = mkdtempSync(join(shm, 'ms-store-'));
    try {
      const source = upload('across', folder);
      const key = { collectionId: 'col1', recordId: 'rec1', name: 'c_0123456789.txt' };
      await store.put(key, fileSource(source, 6));
      await store.put(key, fileSource(source, 6));
      expect(readFileSync(join(root, 'col1/rec1/c_0123456789.txt'), 'utf8')).toBe('across');
      await expect(store.put(key, fileSource(upload('nope!!', folder), 6))).rejects.toBeInstanceOf(FileExistsError);
      // nothing is left aside
      expect(readdirSync(join(root, 'col1/rec1')).filter((n) => n.startsWith('.'))).toEqual([]);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  test("a record's folder goes once its last file does, and only then", async () => {
    const put = (name: string) => store.put({ collectionId: 'col2', recordId: 'rec2', name }, bufferSource(Buffer.from(name)));
    await put('a_0000000000.png');
    await put('b_0000000000.png');
    await store.put({ collectionId: 'col2', recordId: 'rec2', name: 'a_0000000000.png', thumb: '10x10' }, bufferSource(Buffer.from('t')));
    await deleteFiles(store, 'col2', 'rec2', ['a_0000000000.png', '../../escape', 'missing_0000000000.txt']);
    expect(readdirSync(join(root, 'col2/rec2'))).toEqual(['b_0000000000.png']);
    await deleteFiles(store, 'col2', 'rec2', ['b_0000000000.png']);
    expect(existsSync(join(root, 'col2/rec2'))).toBe(false);
    expect(existsSync(join(root, 'col2'))).toBe(true);
  });

  test('hostile keys write nothing anywhere on the disk', async () => {
    const parent = join(dir, 'hostile');
    const hostile = new LocalFileStore(join(parent, 'storage'));
    for (const [collectionId, recordId, name] of [
      ['col1', 'rec1', '../x.txt'],
      ['col1', '..', 'x.txt'],
      ['..', 'rec1', 'x.txt'],
      ['col1', 'rec1', 'a/../../b.txt'],
    ] as const) {
      await expect(hostile.put({ collectionId, recordId, name }, bufferSource(Buffer.from('x')))).rejects.toThrow();
    }
    expect(existsSync(parent)).toBe(false);
  });
});
