import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { InvalidFilePathError, LocalFileStore } from './store.js';

const dir = mkdtempSync(join(tmpdir(), 'ms-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const store = new LocalFileStore(join(dir, 'storage'));

function upload(content: string): string {
  const path = join(dir, `up_${Math.random().toString(36).slice(2)}`);
  writeFileSync(path, content);
  return path;
}

describe('LocalFileStore', () => {
  test('puts a file in PocketBase layout, again without harm (a retried transaction), and keeps the source', async () => {
    const source = upload('hello');
    await store.put('col1', 'rec1', 'a_0123456789.txt', source);
    await store.put('col1', 'rec1', 'a_0123456789.txt', source);
    expect(readFileSync(join(dir, 'storage/col1/rec1/a_0123456789.txt'), 'utf8')).toBe('hello');
    expect(existsSync(source)).toBe(true);
    // another file under a name already taken is refused, never overwritten
    await expect(store.put('col1', 'rec1', 'a_0123456789.txt', upload('other'))).rejects.toThrow();
    expect(readFileSync(join(dir, 'storage/col1/rec1/a_0123456789.txt'), 'utf8')).toBe('hello');
  });

  test('refuses names and ids that could leave their folder', async () => {
    const source = upload('x');
    for (const [c, r, name] of [
      ['col1', 'rec1', '../x.txt'],
      ['col1', 'rec1', '.hidden'],
      ['col1', '..', 'x.txt'],
      ['../col', 'rec1', 'x.txt'],
      ['col1', 'rec1', 'a/b.txt'],
    ] as const) {
      await expect(store.put(c, r, name, source)).rejects.toBeInstanceOf(InvalidFilePathError);
    }
  });

  test('deletes files and their thumbnails; a deleted record folder goes only when empty', async () => {
    await store.put('col2', 'rec2', 'a_0000000000.png', upload('a'));
    await store.put('col2', 'rec2', 'b_0000000000.png', upload('b'));
    await store.put('col2', 'rec2', 'thumbs_a_0000000000.png', upload('not really a folder, but a name'));
    await store.delete('col2', 'rec2', ['a_0000000000.png', '../../escape', 'missing_0000000000.txt']);
    expect(existsSync(join(dir, 'storage/col2/rec2/a_0000000000.png'))).toBe(false);
    expect(existsSync(join(dir, 'storage/col2/rec2/thumbs_a_0000000000.png'))).toBe(false);
    await store.deleteRecord('col2', 'rec2', []);
    expect(existsSync(join(dir, 'storage/col2/rec2/b_0000000000.png'))).toBe(true);
    await store.deleteRecord('col2', 'rec2', ['b_0000000000.png']);
    expect(existsSync(join(dir, 'storage/col2/rec2'))).toBe(false);
    await store.deleteCollection('col2');
    expect(existsSync(join(dir, 'storage/col2'))).toBe(false);
  });
});
