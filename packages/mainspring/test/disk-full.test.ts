import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmdirSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, superuserToken, TEST_ENGINE, type TestServer } from './helpers/server.js';

/**
 * A full disk (a 20 MB tmpfs as the data folder): writes fail with a 507 in
 * PocketBase's error shape, never a 500 or a crash; reads keep working;
 * nothing is corrupted; writes succeed again once space is freed. On SQLite
 * the database is on that disk; on PostgreSQL only the files are.
 */

const mountPoint = mkdtempSync(join(tmpdir(), 'ms-full-'));
/** Mounting needs root (or CAP_SYS_ADMIN); without it the suite says so and skips. */
const mounted = (() => {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', mountPoint], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

let s: TestServer;
let su: string;
const filler = join(mountPoint, 'filler');

/** Writes to the filler file until the disk is full. */
function fillDisk(): void {
  const fd = openSync(filler, 'a');
  const chunk = Buffer.alloc(256 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

beforeAll(async () => {
  if (!mounted) return;
  s = await startServer({ dir: join(mountPoint, 'ms_data') });
  su = await superuserToken(s);
  const created = await s.request('POST', '/api/collections', {
    token: su,
    body: {
      name: 'notes',
      type: 'base',
      createRule: '',
      listRule: '',
      fields: [
        { name: 'text', type: 'text', max: 1_000_000 },
        { name: 'doc', type: 'file', maxSelect: 1, maxSize: 5 << 20 },
      ],
    },
  });
  expect(created.status).toBe(200);
  for (let i = 0; i < 5; i++) {
    expect((await s.request('POST', '/api/collections/notes/records', { body: { text: `before ${i}` } })).status).toBe(200);
  }
});

afterAll(async () => {
  if (mounted) {
    await s?.close().catch(() => {});
    execFileSync('umount', [mountPoint]);
  }
  rmdirSync(mountPoint);
});

const upload = (bytes: number) => {
  const form = new FormData();
  form.append('text', 'with a file');
  form.append('doc', new Blob([Buffer.alloc(bytes, 7)]), 'big.bin');
  return fetch(`${s.url}/api/collections/notes/records`, { method: 'POST', body: form });
};

describe.skipIf(!mounted)(`a full disk under the data folder (${TEST_ENGINE}; skipped where tmpfs cannot be mounted)`, () => {
  test('writes fail with a 507 in the API error shape, reads go on, and writes work again once space is freed', async () => {
    fillDisk();

    // an upload streams to the full disk: a 507, nothing half stored
    const refused = await upload(2 << 20);
    expect(refused.status).toBe(507);
    expect(await refused.json()).toEqual({ status: 507, message: expect.stringContaining('storage is full'), data: {} });

    if (TEST_ENGINE === 'sqlite') {
      // the database is on the full disk too: its writes fail the same way (a few may fit in free pages)
      const statuses: number[] = [];
      for (let i = 0; i < 40 && !statuses.includes(507); i++) {
        const res = await s.request('POST', '/api/collections/notes/records', { body: { text: 'x'.repeat(200_000) } });
        statuses.push(res.status);
      }
      expect(statuses.filter((st) => st !== 200 && st !== 507)).toEqual([]);
      expect(statuses).toContain(507);
    }

    const list = await s.request('GET', '/api/collections/notes/records?filter=text~"before"', { token: su });
    expect(list.status).toBe(200);
    expect(list.body.totalItems).toBe(5);

    rmSync(filler);
    const written = await s.request('POST', '/api/collections/notes/records', { body: { text: 'after' } });
    expect(written.status).toBe(200);
    const withFile = await upload(1 << 20);
    expect(withFile.status).toBe(200);
    if (TEST_ENGINE === 'sqlite') {
      expect(await s.app.engine.all('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    }
  });
});
