import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bufferSource } from '../src/core/files/store.js';
import { uploadsDir } from '../src/core/files/uploads.js';
import { createApp } from '../src/create-app.js';
import { run, userEnv } from './helpers/processes.js';
import { startServer, superuserToken, TEST_ENGINE, type TestServer } from './helpers/server.js';
import { storedFiles } from './helpers/uploads.js';

/**
 * Nothing left behind by a process that died (DESIGN §7, leftovers): stored
 * files no committed record names are listed by `mainspring doctor` and
 * removed by `--fix` once past the grace period; temporary uploads of dead
 * instances go when a server starts, a live instance's stay.
 */

const BIN = new URL('../bin/mainspring.js', import.meta.url).pathname;
let s: TestServer;
let su: string;

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  const created = await s.request('POST', '/api/collections', {
    token: su,
    body: { name: 'docs', type: 'base', createRule: '', fields: [{ name: 'file', type: 'file', maxSelect: 1 }] },
  });
  expect(created.status).toBe(200);
});
afterAll(() => s.close());

async function doctor(...args: string[]): Promise<string> {
  const out = await run(process.execPath, [BIN, 'doctor', `--dir=${s.dir}`, ...args], { cwd: s.dir, env: userEnv({ DATABASE_URL: '' }) });
  return out.stdout + out.stderr;
}

// on PostgreSQL the test server's database is not the CLI's to name; the same code reads it through the engine
describe.skipIf(TEST_ENGINE !== 'sqlite')('mainspring doctor (SQLite: the CLI opens the same folder)', () => {
  test('lists the files no record names, and --fix removes those past the grace period', async () => {
    const form = new FormData();
    form.append('file', new Blob(['kept bytes'], { type: 'text/plain' }), 'kept.txt');
    const kept = await fetch(`${s.url}/api/collections/docs/records`, { method: 'POST', body: form });
    expect(kept.status).toBe(200);
    const record = (await kept.json()) as { id: string; file: string };
    const c = s.app.records.collection('docs');
    // what a write killed after putting its upload in place leaves: a file of a record that never committed
    await s.app.files.put(
      { collectionId: c.id, recordId: 'nosuchrecord123', name: 'lost_abcdefghij.txt' },
      bufferSource(Buffer.from('lost')),
    );
    // and one beside a committed record that does not name it
    await s.app.files.put({ collectionId: c.id, recordId: record.id, name: 'stray_abcdefghij.txt' }, bufferSource(Buffer.from('stray')));

    const listed = await doctor();
    expect(listed).toContain(`orphan file ${c.id}/nosuchrecord123/lost_abcdefghij.txt`);
    expect(listed).toContain(`orphan file ${c.id}/${record.id}/stray_abcdefghij.txt`);
    expect(listed).not.toContain(record.file);
    expect(listed).toContain('2 stored files no record names; 0 older than 60 min.');

    // within the grace period nothing goes; with none, both
    expect(await doctor('--fix')).not.toContain('Removed');
    expect(storedFiles(s)).toHaveLength(3);
    expect(await doctor('--fix', '--grace=0')).toContain('Removed 2 orphan files');
    expect(storedFiles(s)).toEqual([`${c.id}/${record.id}/${record.file}`]);
    expect(await doctor()).toContain('No orphan files');
  });

  test('a bad --grace is refused with a clear message', async () => {
    const err = await doctor('--grace=soon').catch((e: Error) => e.message);
    expect(err).toContain('invalid --grace "soon"');
  });
});

// on PostgreSQL liveness is the instances' heartbeats, shown by the idempotency crash test
describe.skipIf(TEST_ENGINE !== 'sqlite')('temporary uploads of dead processes', () => {
  test('a serving start removes the uploads of instances that are gone, and keeps its own', async () => {
    const dir = join(s.dir, 'other');
    const uploads = uploadsDir(dir);
    mkdirSync(join(uploads, 'deadinstance123'), { recursive: true });
    writeFileSync(join(uploads, 'deadinstance123', 'part'), Buffer.alloc(1024));
    const ms = createApp({ dataDir: dir, databaseUrl: '', hooksDir: false });
    const { app } = await ms.ready();
    try {
      await expect.poll(() => existsSync(join(uploads, 'deadinstance123')), { timeout: 2000 }).toBe(false);
      expect(existsSync(app.uploadsDir)).toBe(true);
    } finally {
      await ms.close();
    }
  });
});
