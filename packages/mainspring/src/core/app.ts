import { accessSync, constants, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import type { Engine } from '../storage/engine.js';
import { postgresBackup } from '../storage/postgres/backup.js';
import { sqliteBackup } from '../storage/sqlite/backup.js';
import { SqliteEngine } from '../storage/sqlite/engine.js';
import type { FolderLock } from '../storage/sqlite/folder-lock.js';
import { AppMigrations } from './app-migrations/service.js';
import { AuthAlerts } from './auth/alerts.js';
import { OAuth2Service } from './auth/oauth2/service.js';
import { OtpService } from './auth/otp.js';
import { PasskeyService } from './auth/passkeys.js';
import { RecoveryService } from './auth/recovery.js';
import { AuthService } from './auth/service.js';
import { SessionService } from './auth/sessions.js';
import { applyStagedRestore } from './backups/restore.js';
import { AUTO_PREFIX, BACKUP_CRON, BACKUP_WORK_DIR, BackupService } from './backups/service.js';
import { chosenBackupStore, LocalBackupStore } from './backups/store.js';
import { CollectionService } from './collections/service.js';
import { CronService } from './crons.js';
import { EventBus } from './events.js';
import { FairShare } from './fair-share.js';
import { SettingsFileStore } from './files/drivers.js';
import { removeOrphanFiles } from './files/orphans.js';
import { FileServing } from './files/serve.js';
import { deleteFiles } from './files/store.js';
import { ensureUploadsDir, sweepDeadUploads, uploadsDir } from './files/uploads.js';
import { createHooksApi, type HooksModule, type Mainspring } from './hooks/api.js';
import { loadHooks } from './hooks/loader.js';
import { Hooks } from './hooks/registry.js';
import { activeTransaction, inActiveTransaction, TxRecords } from './hooks/transaction.js';
import { IdempotencyStore, markedTransaction } from './idempotency.js';
import { InstallService } from './install.js';
import { DataDirError, Instance, LEASE_MS, lockDataDir } from './instance.js';
import { LOGS_FILE, LogService } from './logs.js';
import { MailService } from './mail/mailer.js';
import { Metrics } from './metrics.js';
import { migrate } from './migrations.js';
import { mailLimit, type RateLimiter, rateLimiterFor } from './rate-limits.js';
import { RealtimeBroker } from './realtime/broker.js';
import { RecordFiles } from './records/files.js';
import { RecordService } from './records/service.js';
import { queryLimitsFor, SettingsService } from './settings.js';
import { SqlConsole } from './sql-console.js';

/** How to open an app. */
export interface AppOptions {
  /** The data directory: the SQLite file, uploaded files, mails. Created if missing. */
  dataDir: string;
  /**
   * A `postgres://` URL selects PostgreSQL (the data directory then holds only
   * files and mails); '' the embedded SQLite file. Default: `DATABASE_URL`.
   */
  databaseUrl?: string;
  /** PostgreSQL standbys that take reads (default: `DATABASE_REPLICA_URLS`, comma separated). */
  replicaUrls?: readonly string[];
  /** How long to keep trying to reach PostgreSQL at start-up, in ms (default 0: fail at once). */
  connectTimeoutMs?: number;
  logger?: Logger;
  /**
   * A folder of TypeScript hooks (`ms_hooks/`) to load; a failure is a
   * {@link HooksLoadError}. Default: none.
   */
  hooksDir?: string;
  /** Hooks given as functions (for apps mounted in code, and tests); they run after the folder's. */
  hooks?: HooksModule[];
  /**
   * The app's migrations folder (`ms_migrations/`): its pending migrations
   * are applied as the app opens (a failure is a `MigrationError` and
   * changes nothing further). Default: none.
   */
  migrationsDir?: string;
  /** Apply the pending migrations of {@link migrationsDir} as the app opens (default true; `migrate down` and `status` do not). */
  applyMigrations?: boolean;
  /** Write a migration into {@link migrationsDir} for each collection change made through the API (default false). */
  automigrate?: boolean;
  /**
   * This process serves the data folder: on SQLite, take the folder's lock
   * and refuse to open while another process holds it (core/instance.ts).
   * The CLI's one-shot commands do not take it.
   */
  exclusive?: boolean;
}

/**
 * Whether an app takes requests, as `/api/health` tells a load balancer:
 * `starting` until its server serves, `draining` once it shuts down.
 */
export type Readiness = 'starting' | 'ready' | 'draining';

/** True for a URL that names a PostgreSQL database. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

export { DataDirError } from './instance.js';

/**
 * One Mainspring application: its database engine, schema, settings and the
 * domain services over them. The HTTP layer and the CLI hold one of these.
 */
export class App {
  readonly events = new EventBus();
  readonly collections: CollectionService;
  readonly settings: SettingsService;
  /** Turns for lists, per caller (core/fair-share.ts). */
  readonly fairShare: FairShare;
  readonly records: RecordService;
  readonly mail: MailService;
  readonly auth: AuthService;
  readonly recovery: RecoveryService;
  readonly otp: OtpService;
  /** OAuth2 sign-in: providers, tickets, linking (core/auth/oauth2/). */
  readonly oauth2: OAuth2Service;
  readonly alerts: AuthAlerts;
  readonly sessions: SessionService;
  readonly passkeys: PasskeyService;
  readonly hooks: Hooks;
  readonly crons: CronService;
  /** The request log behind `/api/logs`. */
  readonly logs: LogService;
  /** The one-time link that creates the first superuser. */
  readonly install: InstallService;
  /** Record files and their thumbs, in the driver the settings choose (core/files/drivers.ts). */
  readonly files: SettingsFileStore;
  /** Where this instance streams uploads while a request arrives: `<dataDir>/.uploads/{instance id}/`. */
  readonly uploadsDir: string;
  /** This process among the instances sharing the database: its id, and who else is alive. */
  readonly instance: Instance;
  /** What hooks receive; also usable by code that embeds the app. */
  readonly api: Mainspring;
  /** The counters behind the rate limits (settings.rateLimits), shared by every instance where the database is. */
  readonly rateLimiter: RateLimiter;
  /** Answers kept for `Idempotency-Key` retries. */
  readonly idempotency: IdempotencyStore;
  /** Realtime clients of this instance and the delivery of record events to them. */
  readonly realtime: RealtimeBroker;
  /** Which stored file a download names, whether the caller may have it, and its thumbnails. */
  readonly fileServing: FileServing;
  /** Backups: made, listed, restored (`/api/backups`). */
  readonly backups: BackupService;
  /** Counters, gauges and histograms for `GET /api/ms/metrics`. */
  readonly metrics: Metrics;
  /** The superusers' SQL console. */
  readonly sqlConsole: SqlConsole;
  /** The app's migrations (`ms_migrations/`), when the app was opened with a folder of them. */
  migrations: AppMigrations | null = null;
  /** Ready unless the code that serves the app says otherwise (`createApp` while it starts and drains). */
  readiness: Readiness = 'ready';

  private constructor(
    readonly dataDir: string,
    readonly engine: Engine,
    readonly logger: Logger,
    logsEngine: Engine | null,
    lock: FolderLock | null,
  ) {
    this.instance = new Instance(engine, logger, lock);
    this.events.onListenerError = (err) => logger.error({ err }, 'event listener failed');
    // first, so every service can report to it; the broker's counts are read when scraped, after it exists
    this.metrics = new Metrics(engine, { realtime: () => this.realtime.counts() });
    this.collections = new CollectionService(engine, this.events);
    this.settings = new SettingsService(engine, this.events);
    this.fairShare = new FairShare(() => this.settings.get().fairShare);
    this.logs = new LogService(logsEngine ?? engine, this.settings, logger, logsEngine !== null);
    this.hooks = new Hooks(logger);
    this.sqlConsole = new SqlConsole(engine, this.settings, logger, this.logs);
    this.crons = new CronService(engine, logger, this.metrics);
    const files = new SettingsFileStore(dataDir, () => this.settings.get());
    this.files = files;
    this.uploadsDir = join(uploadsDir(dataDir), this.instance.id);
    this.records = new RecordService(
      engine,
      this.collections.registry,
      this.events,
      this.hooks,
      new RecordFiles(this.files, this.fileError),
      (c) => queryLimitsFor(this.settings.get(), c),
    );
    this.releaseFilesOfSchemaChanges();
    this.mail = new MailService(this.settings, dataDir, logger, this.events, this.metrics);
    this.rateLimiter = rateLimiterFor(engine, logger);
    this.mail.addressAllowed = mailLimit(this.settings, this.rateLimiter);
    this.idempotency = new IdempotencyStore(engine, this.instance);
    this.backups = this.backupService(files);
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
    this.oauth2 = new OAuth2Service(deps, this.auth, this.files, this.uploadsDir);
    this.alerts = new AuthAlerts(deps);
    this.sessions = new SessionService(deps, this.auth);
    this.passkeys = new PasskeyService(deps, this.auth);
    this.install = new InstallService(engine, this.collections.registry, this.records, this.auth);
    this.fileServing = new FileServing({
      store: this.files,
      engine,
      registry: this.collections.registry,
      records: this.records,
      auth: this.auth,
      logger,
    });
    this.realtime = new RealtimeBroker({
      events: this.events,
      auth: this.auth,
      access: this.records.access,
      registry: this.collections.registry,
      engine,
      logger,
      limits: (c) => queryLimitsFor(this.settings.get(), c),
      metrics: this.metrics,
    });
    this.api = this.hooksApi();
  }

  /** Backups: in `<dataDir>/backups` or the bucket of `backups.s3`, worked on in this instance's folder; the cron follows the settings. */
  private backupService(files: SettingsFileStore): BackupService {
    const workDir = join(this.dataDir, BACKUP_WORK_DIR, this.instance.id);
    const local = new LocalBackupStore(join(this.dataDir, 'backups'), workDir);
    this.events.on((e) => {
      if (e.type === 'settings') this.scheduleBackups();
    });
    return new BackupService({
      dataDir: this.dataDir,
      engine: this.engine,
      store: chosenBackupStore(local, workDir, () => this.settings.get().backups.s3),
      workDir,
      hooks: this.hooks,
      logger: this.logger,
      holdFileDeletes: () => files.holdDeletes(),
    });
  }

  /** The backup cron of the settings (`backups.cron`, keeping `cronMaxKeep` of its own backups), or none. */
  private scheduleBackups(): void {
    const { cron, cronMaxKeep } = this.settings.get().backups;
    if (cron.trim() === '') {
      this.crons.remove(BACKUP_CRON);
      return;
    }
    this.crons.add(BACKUP_CRON, cron, async () => {
      await this.backups.create(undefined, AUTO_PREFIX);
      await this.backups.prune(cronMaxKeep);
    });
  }

  private readonly fileError = (err: unknown) => this.logger.error({ err }, 'deleting a file failed');

  /** Files a schema change lets go are deleted once it commits: a deleted collection's, a removed file field's. */
  private releaseFilesOfSchemaChanges(): void {
    this.collections.onDeleted = (c) => {
      this.files.delete({ kind: 'collection', collectionId: c.id }).catch(this.fileError);
    };
    this.collections.onFilesDropped = (collectionId, files) => {
      for (const { recordId, names } of files) deleteFiles(this.files, collectionId, recordId, names).catch(this.fileError);
    };
  }

  /** `ms`, what hooks files receive: record helpers that join the transaction they run in. */
  private hooksApi(): Mainspring {
    return createHooksApi({
      hooks: this.hooks,
      logger: this.logger,
      records: new TxRecords(this.records, undefined),
      transaction: (fn) => {
        // inside a transaction already (a hook), a nested one is part of it
        const outer = activeTransaction();
        if (outer) return fn(new TxRecords(this.records, outer));
        return markedTransaction(this.engine, (tx) => inActiveTransaction(tx, () => fn(new TxRecords(this.records, tx))));
      },
      crons: this.crons,
    });
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
    // one process serves a SQLite folder; the lock is taken before the database is opened (or restored)
    const lock = options.exclusive && !isPostgresUrl(url) ? lockDataDir(dataDir) : null;
    try {
      // a restore staged by POST /api/backups/{key}/restore (or the CLI) takes effect now, before the database opens
      const backup = isPostgresUrl(url) ? postgresBackup(url) : sqliteBackup(join(dataDir, 'data.db'));
      const restored = await applyStagedRestore(dataDir, backup, logger);
      try {
        const app = await App.openOn(dataDir, url, logger, options, lock);
        restored?.commit();
        return app;
      } catch (err) {
        if (!restored) throw err;
        logger.error({ err }, 'the app would not open on the restored backup');
        await restored.undo();
        return await App.openOn(dataDir, url, logger, options, lock);
      }
    } catch (err) {
      lock?.release();
      throw err;
    }
  }

  /** Opens the database and every service on it, loads the hooks and runs the bootstrap hook; closes what it opened if that fails. */
  private static async openOn(dataDir: string, url: string, logger: Logger, options: AppOptions, lock: FolderLock | null): Promise<App> {
    const engine: Engine = isPostgresUrl(url)
      ? // loaded only here: the driver costs a SQLite server memory (a few MB) it would never use
        await (await import('../storage/postgres/engine.js')).PostgresEngine.open(url, {
          connectTimeoutMs: options.connectTimeoutMs ?? 0,
          onRetry: (message, delay) => logger.warn(`${message}; trying again in ${Math.round(delay / 100) / 10} s`),
          onWarning: (message) => logger.warn(message),
          replicaUrls: options.replicaUrls,
          onReplicaChange: (message) => logger.warn(message),
        })
      : new SqliteEngine(join(dataDir, 'data.db'));
    let logsEngine: Engine | null = null;
    let instance: Instance | null = null;
    try {
      // the request log: the database every instance shares, or a file of its own where one process owns the database (see logs.ts)
      if (!engine.shared) {
        logsEngine = new SqliteEngine(join(dataDir, LOGS_FILE), { synchronous: 'OFF', backgroundCheckpoints: false });
      }
      const app = new App(dataDir, engine, logger, logsEngine, lock);
      instance = app.instance;
      await migrate(engine, app.collections);
      await app.instance.start();
      ensureUploadsDir(app.uploadsDir);
      // leftovers of processes that died while receiving uploads; only where this process can tell the dead from
      // the live: it serves the SQLite folder, or the instances' heartbeats are in the database. A CLI command beside
      // a SQLite server sweeps nothing: the server's uploads would look dead to it
      if (lock || engine.shared) {
        // and of backups cut short: their copies and unfinished archives
        const sweep = () =>
          Promise.all([
            sweepDeadUploads(uploadsDir(dataDir), (id) => app.instance.alive(id)),
            sweepDeadUploads(join(dataDir, BACKUP_WORK_DIR), (id) => app.instance.alive(id)),
          ]).catch((err) => logger.warn({ err }, 'sweeping old uploads failed'));
        sweep();
        // an instance that died just before this start still looks alive until its lease ends: once more then
        if (engine.shared) setTimeout(sweep, LEASE_MS + 1000).unref();
      }
      await app.collections.load();
      await app.settings.load();
      app.scheduleBackups();
      await app.logs.open();
      // another process wrote where no channel tells (a CLI command beside a SQLite server): a password or
      // tokenKey may have changed, so cached tokens go; the schema and settings are read again
      engine.watchOtherWrites?.(() => {
        app.auth.forgetAll();
        Promise.all([app.collections.load(), app.settings.load()]).catch((err) =>
          logger.warn({ err }, 'reloading after another process wrote failed'),
        );
      });
      const channel = engine.channel?.();
      if (channel) {
        // another instance changed the schema or the settings: read them again before anyone hears of it
        await app.events.connect(channel, async (event) => {
          if (event.type === 'schema') await app.collections.load();
          else if (event.type === 'settings') await app.settings.load();
        });
      }
      if (options.migrationsDir) await app.openMigrations(options.migrationsDir, options);
      if (options.hooksDir) {
        const loaded = await loadHooks(options.hooksDir, join(dataDir, '.hooks'), app.api);
        if (loaded.length > 0) logger.info({ files: loaded, routes: app.hooks.routes.map((r) => `${r.method} ${r.path}`) }, 'hooks loaded');
      }
      for (const module of options.hooks ?? []) await module(app.api);
      await app.hooks.bootstrap.trigger({}, () => {});
      return app;
    } catch (err) {
      // nothing was logged yet: the log's file closes without a write
      await logsEngine?.close().catch(() => {});
      await instance?.stop();
      await engine.close();
      throw err;
    }
  }

  /** The app's migrations in `dir`, the pending ones applied unless `options.applyMigrations` is false. */
  private async openMigrations(dir: string, options: AppOptions): Promise<void> {
    this.migrations = new AppMigrations({
      engine: this.engine,
      collections: this.collections,
      records: this.records,
      logger: this.logger,
      dir,
      buildDir: join(this.dataDir, '.migrations'),
      automigrate: options.automigrate === true,
    });
    if (options.applyMigrations === false) return;
    const applied = await this.migrations.up();
    if (applied.length > 0) this.logger.info({ files: applied }, `applied ${applied.length} migration(s) from ${dir}`);
  }

  private orphanSweep: NodeJS.Timeout | null = null;

  /**
   * Once, a minute after the app starts serving: removes stored files no
   * committed record names that are older than the grace period (left by a
   * process that died mid-write; core/files/orphans.ts). A minute, so a
   * restart is not slowed by a walk over every file.
   */
  sweepOrphanFilesSoon(delayMs = 60_000): void {
    this.orphanSweep = setTimeout(() => {
      this.orphanSweep = null;
      removeOrphanFiles(this.files, this.collections.registry, this.records).then(
        (removed) => {
          if (removed.length > 0) this.logger.warn({ files: removed.map((o) => o.key) }, `removed ${removed.length} orphan files`);
        },
        (err) => this.logger.warn({ err }, 'removing orphan files failed'),
      );
    }, delayMs);
    this.orphanSweep.unref();
  }

  /** Closes the database after pending writes. */
  async close(): Promise<void> {
    if (this.orphanSweep) clearTimeout(this.orphanSweep);
    this.realtime.close();
    await this.crons.stop();
    await this.logs.close();
    await this.events.disconnect();
    await this.instance.stop();
    await this.engine.close();
    this.files.close();
    this.instance.release();
  }
}
