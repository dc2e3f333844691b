import { watch } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import pino from 'pino';
import { App, type AppOptions } from '../core/app.js';
import { HooksLoadError } from '../core/hooks/loader.js';
import { buildServer } from '../http/server.js';
import { CliError } from './errors.js';

/** Parses `--http=HOST:PORT` (also `:PORT` and `PORT`). */
export function parseHttpAddress(raw: string | undefined): { host: string; port: number } {
  const value = raw ?? process.env.MS_HTTP ?? '127.0.0.1:8090';
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):)?(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65_535) throw new CliError(`invalid --http address "${value}"; expected HOST:PORT such as 127.0.0.1:8090`, 2);
  const host = (m[1] ?? '').replace(/^\[|\]$/g, '') || '127.0.0.1';
  return { host, port };
}

/** The hooks folder: --hooksDir, else MS_HOOKS_DIR, else `ms_hooks` beside the data directory (PocketBase's `pb_hooks`). */
export function hooksDirOf(option: string | undefined, dataDir: string): string {
  return option ?? process.env.MS_HOOKS_DIR ?? join(dirname(resolve(dataDir)), 'ms_hooks');
}

/**
 * Opens the app; when its hooks do not build or load, says why and waits for
 * a change in the hooks folder to try again, instead of exiting (which a
 * supervisor would turn into a crash loop).
 */
async function openWaitingForHooks(options: AppOptions & { hooksDir: string }): Promise<App> {
  for (;;) {
    try {
      return await App.open(options);
    } catch (err) {
      if (!(err instanceof HooksLoadError)) throw err;
      console.error(`error: ${err.message}

Mainspring is not serving. Fix the file and save it; it will try again.`);
      await new Promise<void>((done) => {
        const watcher = watch(options.hooksDir, { recursive: true }, () => {
          watcher.close();
          // editors write a file in several steps; let them finish
          setTimeout(done, 200);
        });
      });
    }
  }
}

/** `mainspring serve`: opens the app, listens, and drains on SIGINT/SIGTERM. */
export async function serve(options: {
  http: string | undefined;
  dir: string;
  db?: string;
  origins: string | undefined;
  hooksDir?: string;
}): Promise<void> {
  const { host, port } = parseHttpAddress(options.http);
  const logger = pino({ level: process.env.MS_LOG_LEVEL ?? 'info' });
  // a database that is not up yet (containers starting together) is waited for, with a message on each try
  const app = await openWaitingForHooks({
    dataDir: options.dir,
    databaseUrl: options.db ?? '',
    connectTimeoutMs: Number.POSITIVE_INFINITY,
    logger,
    hooksDir: hooksDirOf(options.hooksDir, options.dir),
  });
  const origins = (options.origins ?? process.env.MS_CORS_ORIGINS)
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const server = await buildServer(app, origins ? { corsOrigins: origins } : {});
  try {
    await server.listen({ host, port });
  } catch (err) {
    await app.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new CliError(`${host}:${port} is already in use; stop the other server or pick another --http=HOST:PORT`);
    if (code === 'EACCES') throw new CliError(`not allowed to listen on ${host}:${port}`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new CliError(`cannot listen on ${host}:${port}: no such local address`);
    throw err;
  }
  const shown = host.includes(':') ? `[${host}]` : host;
  const where = app.engine.dialect.name === 'postgres' ? `PostgreSQL, files in ${app.dataDir}` : `data in ${app.dataDir}`;
  console.log(`Mainspring is serving http://${shown}:${port}/api/ (${where})`);
  app.crons.start();

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) {
      console.error(`${signal} again: exiting without waiting`);
      process.exit(1);
    }
    closing = true;
    console.log(`${signal}: finishing in-flight requests…`);
    // connections go idle as their last response is sent; close them then, not after the keep-alive timeout
    const sweep = setInterval(() => server.server.closeIdleConnections(), 50);
    server
      .close()
      .finally(() => clearInterval(sweep))
      .then(() => app.close())
      .then(() => process.exit(0))
      .catch((err) => {
        console.error(`error while shutting down: ${(err as Error).message}`);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}
