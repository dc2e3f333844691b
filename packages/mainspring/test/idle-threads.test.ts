import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, expect, test } from 'vitest';
import { App } from '../src/core/app.js';
import { buildServer } from '../src/http/server.js';
import type { SqliteEngine } from '../src/storage/sqlite/engine.js';
import { requester, TEST_POSTGRES_URL } from './helpers/server.js';

/**
 * A SQLite server at rest holds no checkpoint thread (some 8 MB resident):
 * the thread starts on a write, so starting must not write when nothing has
 * changed. Here a data directory that has been written to is opened again,
 * served and read from; only the first write starts a thread.
 */

const dir = mkdtempSync(join(tmpdir(), 'ms-idle-'));
const logger = pino({ level: 'silent' });
const threads = (app: App) => (app.engine as SqliteEngine).checkpointer?.stats.threads;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

test.skipIf(!!TEST_POSTGRES_URL)('a reopened SQLite app starts no checkpoint thread until it writes', async () => {
  // databaseUrl '': SQLite even where DATABASE_URL is set
  const first = await App.open({ dataDir: dir, databaseUrl: '', logger });
  try {
    await first.engine.run('CREATE TABLE written (x INTEGER)');
    expect(threads(first)).toBe(1);
  } finally {
    await first.close();
  }

  const app = await App.open({ dataDir: dir, databaseUrl: '', logger });
  const server = await buildServer(app, { accessLog: false });
  try {
    app.crons.start();
    await server.listen({ host: '127.0.0.1', port: 0 });
    const address = server.server.address();
    const request = requester(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
    expect((await request('GET', '/api/health')).status).toBe(200);
    expect((await request('GET', '/api/collections/users/records')).status).toBe(200);
    expect(threads(app)).toBe(0);

    await app.engine.run('INSERT INTO written (x) VALUES (1)');
    expect(threads(app)).toBe(1);
  } finally {
    await server.close();
    await app.close();
  }
});
