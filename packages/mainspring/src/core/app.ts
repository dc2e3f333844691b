import { accessSync, constants, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import type { Engine } from '../storage/engine.js';
import { PostgresEngine } from '../storage/postgres/engine.js';
import { SqliteEngine } from '../storage/sqlite/engine.js';
import { AuthAlerts } from './auth/alerts.js';
import { OtpService } from './auth/otp.js';
import { RecoveryService } from './auth/recovery.js';
import { AuthService } from './auth/service.js';
import { SessionService } from './auth/sessions.js';
import { CollectionService } from './collections/service.js';
import { EventBus } from './events.js';
import { MailService } from './mail/mailer.js';
import { migrate } from './migrations.js';
import { RecordService } from './records/service.js';
import { SettingsService } from './settings.js';

/** How to open an app. */
export interface AppOptions {
  /** The data directory: the SQLite file, uploaded files, mails. Created if missing. */
  dataDir: string;
  /**
   * A `postgres://` URL selects PostgreSQL (the data directory then holds only
   * files and mails); '' the embedded SQLite file. Default: `DATABASE_URL`.
   */
  databaseUrl?: string;
  /** How long to keep trying to reach PostgreSQL at start-up, in ms (default 0: fail at once). */
  connectTimeoutMs?: number;
  logger?: Logger;
}

/** True for a URL that names a PostgreSQL database. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
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
  readonly events = new EventBus();
  readonly collections: CollectionService;
  readonly settings: SettingsService;
  readonly records: RecordService;
  readonly mail: MailService;
  readonly auth: AuthService;
  readonly recovery: RecoveryService;
  readonly otp: OtpService;
  readonly alerts: AuthAlerts;
  readonly sessions: SessionService;

  private constructor(
    readonly dataDir: string,
    readonly engine: Engine,
    readonly logger: Logger,
  ) {
    this.events.onListenerError = (err) => logger.error({ err }, 'event listener failed');
    this.collections = new CollectionService(engine, this.events);
    this.settings = new SettingsService(engine, this.events);
    this.records = new RecordService(engine, this.collections.registry, this.events);
    this.mail = new MailService(this.settings, dataDir, logger, this.events);
    const deps = {
      engine,
      registry: this.collections.registry,
      records: this.records,
      access: this.records.access,
      events: this.events,
      settings: this.settings,
      mail: this.mail,
      logger,
    };
    this.auth = new AuthService(deps);
    this.recovery = new RecoveryService(deps, this.auth);
    this.otp = new OtpService(deps, this.auth);
    this.alerts = new AuthAlerts(deps);
    this.sessions = new SessionService(deps, this.auth);
  }

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
    const url = options.databaseUrl ?? process.env.DATABASE_URL ?? '';
    if (url !== '' && !isPostgresUrl(url)) throw new DataDirError('the database URL must start with postgres:// or postgresql://');
    const engine: Engine = isPostgresUrl(url)
      ? await PostgresEngine.open(url, {
          connectTimeoutMs: options.connectTimeoutMs ?? 0,
          onRetry: (message, delay) => logger.warn(`${message}; trying again in ${Math.round(delay / 100) / 10} s`),
        })
      : new SqliteEngine(join(dataDir, 'data.db'));
    try {
      const app = new App(dataDir, engine, logger);
      await migrate(engine, app.collections);
      await app.collections.load();
      await app.settings.load();
      const channel = engine.channel?.();
      if (channel) {
        // another instance changed the schema or the settings: read them again before anyone hears of it
        await app.events.connect(channel, async (event) => {
          if (event.type === 'schema') await app.collections.load();
          else if (event.type === 'settings') await app.settings.load();
        });
      }
      return app;
    } catch (err) {
      await engine.close();
      throw err;
    }
  }

  /** Closes the database after pending writes. */
  async close(): Promise<void> {
    await this.events.disconnect();
    await this.engine.close();
  }
}
