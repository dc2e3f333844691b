import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BSON, Long, ObjectId } from 'bson';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DumpError, listDump } from './dump.js';
import { gatherCollection } from './stats.js';
import { bcryptOf, recordIdOf } from './values.js';

/**
 * Reading dumps: the files mongodump and mongoexport write, and hostile
 * ones (corrupt, truncated, oversized, nested past any limit, not JSON),
 * each refused with a DumpError naming the file and the place, never a
 * crash or a hang.
 */

let dir: string;
let n = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ms-dump-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A folder holding one file. */
function folderWith(name: string, content: Buffer | string): string {
  const d = join(dir, `case${++n}`);
  mkdirSync(d);
  writeFileSync(join(d, name), content);
  return d;
}

/** Reads the one collection of a folder; the error, if any. */
async function read(d: string) {
  const { sources } = listDump(d);
  return gatherCollection(sources[0] as (typeof sources)[0]);
}

const doc = (i: number) => Buffer.from(BSON.serialize({ _id: new ObjectId(), n: i, s: `text ${i}` }));
const bson = (d: Record<string, unknown>) => Buffer.from(BSON.serialize(d));

describe('what mongodump and mongoexport write', () => {
  test('a BSON file and its gzipped twin read the same', async () => {
    const bytes = Buffer.concat([doc(1), doc(2), doc(3)]);
    expect((await read(folderWith('a.bson', bytes))).documents).toBe(3);
    const gz = await read(folderWith('a.bson.gz', gzipSync(bytes)));
    expect(gz.documents).toBe(3);
    expect(gz.keys.get('n')?.kinds.get('int')).toBe(3);
  });

  test('Extended JSON lines with a BOM and CRLF, canonical numbers read as numbers', async () => {
    const lines = [
      '{"_id":{"$oid":"650000000000000000000001"},"n":{"$numberInt":"1"},"d":{"$date":{"$numberLong":"0"}}}',
      '{"_id":{"$oid":"650000000000000000000002"},"n":2.5,"d":{"$date":"2024-01-01T00:00:00Z"}}',
    ];
    const stats = await read(folderWith('a.json', `\uFEFF${lines.join('\r\n')}\r\n\r\n`));
    expect(stats.documents).toBe(2);
    expect([...(stats.keys.get('n')?.kinds.keys() ?? [])].sort()).toEqual(['double', 'int']);
    expect(stats.keys.get('d')?.kinds.get('date')).toBe(2);
  });

  test('a long past 2^53 stays exact (not a rounded number)', async () => {
    const stats = await read(folderWith('a.bson', bson({ _id: 1, big: Long.fromString('9007199254740993') })));
    expect(stats.keys.get('big')?.kinds.get('long')).toBe(1);
  });

  test('a folder of database folders is refused with their names', () => {
    const d = join(dir, 'dumproot');
    mkdirSync(join(d, 'shop'), { recursive: true });
    mkdirSync(join(d, 'admin'), { recursive: true });
    expect(() => listDump(d)).toThrow(/point --from at one database's folder/);
    expect(() => listDump(d)).toThrow(/admin, shop/);
  });

  test('a file given as the folder (a mongodump --archive) is refused with what to do', () => {
    const d = folderWith('shop.archive', 'archive bytes');
    expect(() => listDump(join(d, 'shop.archive'))).toThrow(
      /is not a folder \(a mongodump --archive file is not read: dump with --out=DIR instead\)/,
    );
  });

  test("system collections and mongodump's own files are set aside", () => {
    const d = folderWith('system.views.bson', doc(1));
    writeFileSync(join(d, 'prelude.json'), '{}');
    writeFileSync(join(d, 'real.bson'), doc(1));
    const listing = listDump(d);
    expect(listing.sources.map((s) => s.collection)).toEqual(['real']);
    expect(listing.ignored.map((i) => i.file).sort()).toEqual(['prelude.json', 'system.views.bson']);
  });
});

describe('hostile dumps', () => {
  test('a size field past 16 MiB is refused before anything is read into memory', async () => {
    const head = Buffer.alloc(8);
    head.writeInt32LE(2_000_000_000, 0);
    await expect(read(folderWith('a.bson', head))).rejects.toThrow(/a\.bson, byte 0: a document of 2000000000 bytes/);
  });

  test('a negative or tiny size is refused', async () => {
    const head = Buffer.alloc(4);
    head.writeInt32LE(-5, 0);
    await expect(read(folderWith('a.bson', head))).rejects.toBeInstanceOf(DumpError);
  });

  test('a file that ends inside a document is truncated, at its offset', async () => {
    const bytes = Buffer.concat([doc(1), doc(2)]);
    const cut = bytes.subarray(0, bytes.length - 3);
    await expect(read(folderWith('a.bson', cut))).rejects.toThrow(new RegExp(`byte ${doc(1).length}: the file ends inside a document`));
  });

  test('garbage inside a well-sized document is not BSON', async () => {
    const bad = Buffer.from(doc(1));
    bad[4] = 0x55; // an element type BSON does not have
    await expect(read(folderWith('a.bson', bad))).rejects.toThrow(/byte 0: not a valid BSON document/);
  });

  test('invalid UTF-8 in a string is refused', async () => {
    const good = bson({ s: 'ab' });
    const i = good.indexOf(Buffer.from('ab'));
    good[i] = 0xff;
    await expect(read(folderWith('a.bson', good))).rejects.toBeInstanceOf(DumpError);
  });

  test('a document nested 200,000 levels deep is refused, not a stack overflow', async () => {
    // built from the inside out: each level is {a: <the level below>}
    let inner = bson({});
    const depth = 200_000;
    const parts: Buffer[] = [];
    const sizes: number[] = [];
    let size = inner.length;
    for (let i = 0; i < depth; i++) {
      size += 4 + 1 + 2 + 1; // size, type 0x03, "a\0", terminator
      sizes.push(size);
    }
    // write the levels' headers outermost first, then the innermost, then the terminators
    for (let i = depth - 1; i >= 0; i--) {
      const h = Buffer.alloc(7);
      h.writeInt32LE(sizes[i] as number, 0);
      h[4] = 0x03;
      h[5] = 0x61;
      h[6] = 0x00;
      parts.push(h);
    }
    parts.push(inner);
    parts.push(Buffer.alloc(depth));
    inner = Buffer.concat(parts);
    const outcome = await read(folderWith('a.bson', inner)).then(
      () => 'read',
      (err: unknown) => err,
    );
    expect(outcome).toBeInstanceOf(DumpError);
  });

  test('a JSON line that is not JSON names its line', async () => {
    await expect(read(folderWith('a.json', '{"_id":1}\n{"_id":2,\n'))).rejects.toThrow(/a\.json, line 2: not Extended JSON/);
  });

  test('a line that is JSON but not a document is refused', async () => {
    await expect(read(folderWith('a.json', '{"_id":1}\n42\n'))).rejects.toThrow(/line 2: a document must be a JSON object/);
  });

  test('a JSON array of scalars is refused', async () => {
    await expect(read(folderWith('a.json', '[{"_id":1}, "x"]'))).rejects.toThrow(/item 2: not an object/);
  });

  test('a line past the limit is refused without holding it all', { timeout: 60_000 }, async () => {
    const d = join(dir, `case${++n}`);
    mkdirSync(d);
    // 65 MiB of one line, written as a sparse-free file (the reader stops past 64 MiB)
    writeFileSync(join(d, 'a.json'), Buffer.alloc(65 * 1024 * 1024, 0x20));
    await expect(read(d)).rejects.toThrow(/a line over 64 MiB/);
  });

  test('a gzip file that is not gzip is refused', async () => {
    await expect(read(folderWith('a.bson.gz', 'not gzip at all'))).rejects.toBeInstanceOf(DumpError);
    await expect(read(folderWith('a.json.gz', 'not gzip at all'))).rejects.toBeInstanceOf(DumpError);
  });
});

describe('ids and hashes', () => {
  test('record ids are 15 characters of [a-z0-9], the same for the same _id and collection', () => {
    const id = new ObjectId('650000000000000000000001');
    const a = recordIdOf('users', id);
    expect(a).toMatch(/^[a-z0-9]{15}$/);
    expect(recordIdOf('users', new ObjectId('650000000000000000000001'))).toBe(a);
    expect(recordIdOf('orders', id)).not.toBe(a);
    // the string "6500…01" is another _id than the ObjectId
    expect(recordIdOf('users', '650000000000000000000001')).not.toBe(a);
    expect(recordIdOf('users', 'abcdefghij12345')).toBe('abcdefghij12345');
  });

  test('bcrypt hashes of the $2a$, $2b$ and $2y$ kinds are kept; others are not', () => {
    const tail = '10$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234';
    expect(bcryptOf(`$2a$${tail}`)).toBe(`$2a$${tail}`);
    expect(bcryptOf(`$2b$${tail}`)).toBe(`$2b$${tail}`);
    expect(bcryptOf(`$2y$${tail}`)).toBe(`$2b$${tail}`);
    expect(bcryptOf(`$2x$${tail}`)).toBeNull();
    expect(bcryptOf('sha1$5f4dcc3b5aa765d61d8327deb882cf99')).toBeNull();
    expect(bcryptOf(`$2b$${tail}x`)).toBeNull();
  });
});
