import { accessSync, constants, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import type { Engine } from '../storage/engine.js';
import { SqliteEngine } from '../storage/sqlite/engine.js';
import { AuthService } from './auth/service.js';
import { CollectionService } from './collections/service.js';
import { EventBus } from './events.js';
import { migrate } from './migrations.js';
import { RecordService } from './records/service.js';
import { loadSettings, type Settings } from './settings.js';

/** How to open an app. */
export interface AppOptions {
  /** The data directory: the SQLite file, uploaded files, mails. Created if missing. */
  dataDir: string;
  logger?: Logger;
}

/** Raised when the data directory cannot be created or written. */
export class DataDirError extends Error {
  override readonly name = 'DataDirError';
}

/**
 * One Mainspring application: its database engine, schema, settings and the
 * domain services over them. The HTTP layer and the CLI hold one of these.
 */
export class App {
  private constructor(
    readonly dataDir: string,
    readonly engine: Engine,
    readonly logger: Logger,
    readonly collections: CollectionService,
    readonly records: RecordService,
    readonly auth: AuthService,
    readonly events: EventBus,
    public settings: Settings,
  ) {}

  /** Opens (and on first use creates) the app in `dataDir`, applying pending migrations. */
  static async open(options: AppOptions): Promise<App> {
    const dataDir = resolve(options.dataDir);
    try {
      mkdirSync(dataDir, { recursive: true });
      accessSync(dataDir, constants.W_OK);
    } catch (err) {
      throw new DataDirError(`cannot write the data directory ${dataDir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    const logger = options.logger ?? pino({ level: process.env.MS_LOG_LEVEL ?? 'info' });
    const engine = new SqliteEngine(join(dataDir, 'data.db'));
    try {
      const events = new EventBus();
      events.onListenerError = (err) => logger.error({ err }, 'event listener failed');
      const collections = new CollectionService(engine, events);
      await migrate(engine, collections);
      await collections.load();
      const records = new RecordService(engine, collections.registry, events);
      const auth = new AuthService(engine, collections.registry, records.access, events);
      const settings = await loadSettings(engine);
      return new App(dataDir, engine, logger, collections, records, auth, events, settings);
    } catch (err) {
      await engine.close();
      throw err;
    }
  }

  /** Closes the database after pending writes. */
  async close(): Promise<void> {
    await this.engine.close();
  }
}
