import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import pino from 'pino';
import type { HooksModule } from '../../src/core/hooks/api.js';
import { createApp } from '../../src/create-app.js';
import { mainspringExpress } from '../../src/express.js';
import { freshDatabase, relaxProtections, requester, type TestServer } from './server.js';

/**
 * Mainspring mounted with `mainspring/express` under `prefix` in an Express 5
 * app that has routes of its own (`GET /`, and a JSON route after a body
 * parser), on one server on 127.0.0.1. `url` ends with the prefix, so every
 * suite written for {@link TestServer} runs against it unchanged.
 */
export async function startExpressServer(prefix = '/backend', options: { hooks?: HooksModule[] } = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ms-express-'));
  const db = await freshDatabase();
  const ms = createApp({
    dataDir: dir,
    databaseUrl: db.url,
    hooksDir: false,
    hooks: options.hooks ?? [],
    logger: pino({ level: process.env.MS_TEST_LOG ?? 'silent' }),
    server: { accessLog: false },
  });
  const backend = mainspringExpress(ms);
  const app = express();
  app.get('/', (_req, res) => {
    res.type('text/plain').send('the Express app');
  });
  app.use(prefix, backend);
  // the host app's own body parser, after the mount, leaves Mainspring's bodies alone
  app.post('/echo', express.json(), (req, res) => {
    res.json({ echoed: req.body });
  });
  try {
    await backend.ready();
    await relaxProtections(ms.app);
  } catch (err) {
    await backend.close();
    await db.drop();
    throw err;
  }
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${prefix}`;
  return {
    url,
    app: ms.app,
    server: ms.server,
    dir,
    request: requester(url),
    async close() {
      // the mounted app ends its realtime streams first, so the Express server can close
      await backend.close();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
