import { watch } from 'node:fs';
import pino from 'pino';
import { HooksLoadError } from '../core/hooks/loader.js';
import { createApp, type MainspringApp } from '../create-app.js';
import { linkHost, parseHttpAddress } from './address.js';
import { CliError } from './errors.js';

/**
 * Starts the app; when its hooks do not build or load, says why and waits for
 * a change in the hooks folder to try again, instead of exiting (which a
 * supervisor would turn into a crash loop).
 */
async function readyWaitingForHooks(ms: MainspringApp): Promise<void> {
  for (;;) {
    try {
      await ms.ready();
      return;
    } catch (err) {
      if (!(err instanceof HooksLoadError) || !ms.hooksDir) throw err;
      console.error(`error: ${err.message}

Mainspring is not serving. Fix the file and save it; it will try again.`);
      const dir = ms.hooksDir;
      await new Promise<void>((done) => {
        const watcher = watch(dir, { recursive: true }, () => {
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
  // a database that is not up yet (containers starting together) is waited for, with a message on each try
  const ms = createApp({
    dataDir: options.dir,
    databaseUrl: options.db ?? '',
    connectTimeoutMs: Number.POSITIVE_INFINITY,
    logger: pino({ level: process.env.MS_LOG_LEVEL ?? 'info' }),
    ...(options.hooksDir !== undefined ? { hooksDir: options.hooksDir } : {}),
    ...(options.origins !== undefined ? { corsOrigins: options.origins.split(',') } : {}),
  });
  await readyWaitingForHooks(ms);
  try {
    await ms.listen({ host, port });
  } catch (err) {
    await ms.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new CliError(`${host}:${port} is already in use; stop the other server or pick another --http=HOST:PORT`);
    if (code === 'EACCES') throw new CliError(`not allowed to listen on ${host}:${port}`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new CliError(`cannot listen on ${host}:${port}: no such local address`);
    throw err;
  }
  // a link that works: a wildcard address is shown as one a browser can reach
  const shown = linkHost(host);
  const engine = ms.app.engine;
  const where = engine.shared ? `${engine.dialect.title}, files in ${ms.dataDir}` : `data in ${ms.dataDir}`;
  console.log(`Mainspring is serving http://${shown}:${port}/api/ (${where}); dashboard at http://${shown}:${port}/_/`);
  const install = await ms.app.install.newToken();
  if (install) console.log(`No superuser yet: create the first one within an hour at http://${shown}:${port}/_/#/install/${install}`);

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) {
      console.error(`${signal} again: exiting without waiting`);
      process.exit(1);
    }
    closing = true;
    console.log(`${signal}: finishing in-flight requests…`);
    ms.close()
      .then(() => process.exit(0))
      .catch((err) => {
        console.error(`error while shutting down: ${(err as Error).message}`);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}
