import { watch } from 'node:fs';
import type { Logger } from 'pino';
import { HooksLoadError } from '../core/hooks/loader.js';
import { automigrateOf, createApp, type MainspringApp, shutdownTimeoutOf } from '../create-app.js';
import { linkHost, parseHttpAddress } from './address.js';
import { CliError } from './errors.js';
import { cliLogger, logLevelOf } from './logger.js';

/**
 * Starts the app; when its hooks do not build or load, says why and waits for
 * a change in the hooks folder to try again, instead of exiting (which a
 * supervisor would turn into a crash loop).
 */
async function readyWaitingForHooks(ms: MainspringApp, logger: Logger): Promise<void> {
  for (;;) {
    try {
      await ms.ready();
      return;
    } catch (err) {
      if (!(err instanceof HooksLoadError) || !ms.hooksDir) throw err;
      logger.error(`${err.message}\n\nMainspring is not serving. Fix the file and save it; it will try again.`);
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

/** `mainspring serve`: opens the app, listens, and drains on SIGINT/SIGTERM within the shutdown timeout. */
export async function serve(options: {
  http: string | undefined;
  dir: string;
  db?: string;
  origins: string | undefined;
  hooksDir?: string;
  migrationsDir?: string | undefined;
  /** Automigrate: on/off as given; else MS_AUTOMIGRATE; else on outside NODE_ENV=production. */
  automigrate?: boolean | undefined;
  logLevel?: string;
  shutdownTimeoutMs?: number;
}): Promise<void> {
  const { host, port } = parseHttpAddress(options.http);
  const logger = cliLogger(logLevelOf(options.logLevel));
  const shutdownTimeoutMs = shutdownTimeoutOf(options.shutdownTimeoutMs);
  // a database that is not up yet (containers starting together) is waited for, with a message on each try
  const ms = createApp({
    dataDir: options.dir,
    databaseUrl: options.db ?? '',
    connectTimeoutMs: Number.POSITIVE_INFINITY,
    logger,
    shutdownTimeoutMs,
    ...(options.hooksDir !== undefined ? { hooksDir: options.hooksDir } : {}),
    ...(options.migrationsDir !== undefined ? { migrationsDir: options.migrationsDir } : {}),
    // PocketBase's automigrate is on by default; here only while developing, so a production server never writes into its folder
    automigrate: automigrateOf(options.automigrate, process.env.NODE_ENV !== 'production'),
    ...(options.origins !== undefined ? { corsOrigins: options.origins.split(',') } : {}),
  });
  await readyWaitingForHooks(ms, logger);
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
  // where to reach the server, and the install link, are said at any level short of silent
  const say = logger.isLevelEnabled('info') || logger.level === 'silent' ? logger : logger.child({}, { level: 'info' });
  // a link that works: a wildcard address is shown as one a browser can reach
  const shown = linkHost(host);
  const engine = ms.app.engine;
  const where = engine.shared ? `${engine.dialect.title}, files in ${ms.dataDir}` : `data in ${ms.dataDir}`;
  say.info(`Mainspring is serving http://${shown}:${port}/api/ (${where}); dashboard at http://${shown}:${port}/_/`);
  const install = await ms.app.install.newToken();
  if (install) say.info(`No superuser yet: create the first one within an hour at http://${shown}:${port}/_/#/install/${install}`);
  stopOnSignals(ms, logger, shutdownTimeoutMs);
}

/**
 * SIGINT/SIGTERM drain the app (create-app.ts) and exit 0; past the
 * shutdown timeout, or on a second signal, the process exits 1 at once.
 */
function stopOnSignals(ms: MainspringApp, logger: Logger, timeoutMs: number): void {
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) {
      logger.warn(`${signal} again: exiting without waiting`);
      process.exit(1);
    }
    closing = true;
    logger.info(`${signal}: draining (at most ${timeoutMs / 1000} s): no new connections, finishing in-flight requests…`);
    const started = performance.now();
    setTimeout(() => {
      logger.error(`shutdown took longer than ${timeoutMs / 1000} s: exiting now`);
      process.exit(1);
    }, timeoutMs).unref();
    ms.close()
      .then(() => {
        logger.info(`stopped in ${Math.round(performance.now() - started)} ms`);
        process.exit(0);
      })
      .catch((err) => {
        logger.error({ err }, 'error while shutting down');
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}
