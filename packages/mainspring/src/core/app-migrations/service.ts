import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import type { Engine, Executor } from '../../storage/engine.js';
import type { CollectionService } from '../collections/service.js';
import { ApiError } from '../errors.js';
import { bundleFiles, describe, shown } from '../hooks/loader.js';
import { TxRecords } from '../hooks/transaction.js';
import { typeErrorsApart } from '../hooks/typecheck.js';
import type { RecordService } from '../records/service.js';
import {
  type CollectionChange,
  changeMigration,
  changeSuffix,
  isFileName,
  migrationFiles,
  snapshotMigration,
  writeMigrationFile,
} from './files.js';
import { type CollectionJSON, type Migration, type MigrationApp, MigrationError, type MigrationState } from './model.js';

/** The table system migrations are recorded in (core/migrations.ts); app migrations are recorded there by file name, as PocketBase does. */
const MIGRATIONS_TABLE = '_migrations';

/** What the app's migrations work with. */
export interface AppMigrationsDeps {
  engine: Engine;
  collections: CollectionService;
  records: RecordService;
  logger: Logger;
  /** The migrations folder (`ms_migrations/`). */
  dir: string;
  /** Where the files are bundled to run (in the data directory). */
  buildDir: string;
  /** Write a migration file for each collection change made through the API. */
  automigrate: boolean;
}

let loads = 0;

/**
 * The app's schema migrations as files (PocketBase's `pb_migrations`):
 * `up` applies the pending ones in filename order, each in one transaction
 * with its row in `_migrations`; `down` reverts the newest; automigrate
 * writes a file per collection change made through the API, recorded as
 * applied (the change is in the database already).
 */
export class AppMigrations {
  readonly dir: string;
  readonly automigrate: boolean;

  constructor(private readonly deps: AppMigrationsDeps) {
    this.dir = resolve(deps.dir);
    this.automigrate = deps.automigrate;
  }

  /** The app migrations recorded as applied, newest first. */
  private async applied(db: Executor = this.deps.engine): Promise<{ file: string; applied: number }[]> {
    const rows = await db.all<{ file: string; applied: unknown }>(`SELECT file, applied FROM ${MIGRATIONS_TABLE}`);
    return rows
      .filter((r) => isFileName(r.file))
      .map((r) => ({ file: r.file, applied: Number(r.applied) }))
      .sort((a, b) => b.applied - a.applied || b.file.localeCompare(a.file));
  }

  /** Each file and each applied migration: applied or pending, and applied ones whose file is gone. */
  async status(): Promise<MigrationState[]> {
    const applied = new Map((await this.applied()).map((r) => [r.file, r.applied]));
    const files = migrationFiles(this.dir);
    const states: MigrationState[] = files.map((file) => ({ file, applied: applied.get(file) ?? null, missing: false }));
    for (const [file, at] of applied) if (!files.includes(file)) states.push({ file, applied: at, missing: true });
    return states.sort((a, b) => a.file.localeCompare(b.file));
  }

  /**
   * Applies the pending migrations; answers the files applied. Every file is
   * built and loaded first, so one that does not build changes nothing. With
   * several instances on one database, one applies them and the others wait,
   * then find them applied.
   */
  async up(): Promise<string[]> {
    const files = migrationFiles(this.dir);
    if (files.length === 0) return [];
    const done = new Set((await this.applied()).map((r) => r.file));
    const pending = files.filter((f) => !done.has(f));
    if (pending.length === 0) return [];
    const loaded = await this.load(pending);
    return this.locked(async () => {
      // read again under the lock: another instance may have applied them meanwhile
      const now = new Set((await this.applied()).map((r) => r.file));
      const ran: string[] = [];
      for (const file of pending) {
        if (now.has(file)) continue;
        await this.run(file, loaded.get(file) as Migration, 'up');
        ran.push(file);
      }
      return ran;
    });
  }

  /** Reverts the `count` newest applied migrations (their `down`), newest first; answers the files reverted. */
  async down(count: number): Promise<string[]> {
    const last = (await this.applied()).slice(0, count).map((r) => r.file);
    if (last.length === 0) return [];
    const present = new Set(migrationFiles(this.dir));
    const gone = last.find((f) => !present.has(f));
    if (gone) {
      throw new MigrationError(
        `${gone} was applied but is no longer in ${shown(this.dir)}: put it back to revert it, or forget it with "mainspring migrate history-sync"`,
      );
    }
    const loaded = await this.load(last);
    for (const file of last) {
      if (typeof loaded.get(file)?.down !== 'function') throw new MigrationError(`${file} has no down(): it cannot be reverted`);
    }
    return this.locked(async () => {
      const reverted: string[] = [];
      for (const file of last) {
        await this.run(file, loaded.get(file) as Migration, 'down');
        reverted.push(file);
      }
      return reverted;
    });
  }

  /** Forgets applied migrations whose file is gone (PocketBase's `history-sync`); answers them. */
  async historySync(): Promise<string[]> {
    const present = new Set(migrationFiles(this.dir));
    const gone = (await this.applied()).map((r) => r.file).filter((f) => !present.has(f));
    for (const file of gone) await this.deps.engine.run(`DELETE FROM ${MIGRATIONS_TABLE} WHERE file = $1`, [file]);
    return gone;
  }

  /**
   * Runs a collection change made through the API and, with automigrate on,
   * writes a migration file for each collection it created, updated or
   * deleted, recorded as applied. A file that cannot be written is logged:
   * the change itself has committed.
   */
  async recording<T>(change: () => Promise<T>): Promise<T> {
    if (!this.automigrate) return change();
    const before = this.snapshot();
    const result = await change();
    const after = this.snapshot();
    const changes: CollectionChange[] = [];
    for (const [id, a] of after) {
      const b = before.get(id) ?? null;
      if (b === null || JSON.stringify({ ...b, updated: null }) !== JSON.stringify({ ...a, updated: null }))
        changes.push({ before: b, after: a });
    }
    for (const [id, b] of before) if (!after.has(id)) changes.push({ before: b, after: null });
    for (const c of changes) {
      try {
        const path = writeMigrationFile(this.dir, changeSuffix(c), changeMigration(c));
        const file = path.slice(this.dir.length + 1);
        await this.deps.engine.run(`INSERT INTO ${MIGRATIONS_TABLE} (file, applied) VALUES ($1, $2)`, [file, Date.now()]);
        this.deps.logger.info({ file: shown(path) }, 'automigrate: migration written');
      } catch (err) {
        this.deps.logger.error({ err }, 'automigrate: writing the migration failed');
      }
    }
    return result;
  }

  /**
   * PocketBase's `migrate collections`: a migration of every non-system collection as it is now (an import,
   * so a fresh database gets them all), recorded as applied here; how a project that has collections but no
   * files starts using them. Answers its path.
   */
  async snapshotAll(): Promise<string> {
    const path = writeMigrationFile(this.dir, 'collections_snapshot', snapshotMigration([...this.snapshot().values()]));
    await this.deps.engine.run(`INSERT INTO ${MIGRATIONS_TABLE} (file, applied) VALUES ($1, $2)`, [
      path.slice(this.dir.length + 1),
      Date.now(),
    ]);
    return path;
  }

  /** The non-system collections as the API shows them, by id. */
  private snapshot(): Map<string, CollectionJSON> {
    const { collections } = this.deps;
    return new Map(collections.registry.all().flatMap((c) => (c.system ? [] : [[c.id, collections.toJSON(c)] as const])));
  }

  /** The database-wide migration lock (the system migrations'), then schema changes shut out while `fn` runs. */
  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const { engine, collections } = this.deps;
    const run = () => collections.exclusive(fn);
    return engine.withLock ? engine.withLock('mainspring:migrate', run) : run();
  }

  /** Builds, type-checks and imports `files`; a file that fails is a {@link MigrationError} naming it. */
  private async load(files: string[]): Promise<Map<string, Migration>> {
    const paths = files.map((f) => join(this.dir, f));
    const fail = (message: string) => new MigrationError(message);
    const bundles = await bundleFiles(this.dir, paths, resolve(this.deps.buildDir), 'migrations', fail);
    if (process.env.MS_HOOKS_TYPECHECK !== 'off' && files.some((f) => /\.m?ts$/.test(f))) {
      const errors = await typeErrorsApart(this.dir);
      if (errors) throw new MigrationError(`the migrations in ${shown(this.dir)} have type errors:\n\n${errors}`);
    }
    process.setSourceMapsEnabled(true);
    loads++;
    const out = new Map<string, Migration>();
    for (const [i, file] of files.entries()) {
      const source = shown(paths[i] as string);
      let mod: { default?: unknown };
      try {
        mod = (await import(`${pathToFileURL(bundles[i] as string).href}?v=${loads}`)) as { default?: unknown };
      } catch (err) {
        throw new MigrationError(`${source} failed while loading:\n\n${describe(err)}`);
      }
      const m = mod.default as Partial<Migration> | undefined;
      if (typeof m !== 'object' || m === null || typeof m.up !== 'function' || (m.down !== undefined && typeof m.down !== 'function')) {
        throw new MigrationError(`${source} must export default { async up(app) { … }, async down(app) { … } } satisfies Migration`);
      }
      out.set(file, m as Migration);
    }
    return out;
  }

  /** Runs one migration's `up` or `down` and records it, in one transaction; a throw rolls both back. */
  private async run(file: string, m: Migration, direction: 'up' | 'down'): Promise<void> {
    const { engine, collections, logger } = this.deps;
    try {
      await engine.transaction(async (tx) => {
        // afresh on each attempt: PostgreSQL may run the transaction again after a serialization failure
        await collections.load(tx);
        await (direction === 'up' ? m.up(this.context(tx)) : m.down?.(this.context(tx)));
        if (direction === 'up') await tx.run(`INSERT INTO ${MIGRATIONS_TABLE} (file, applied) VALUES ($1, $2)`, [file, Date.now()]);
        else await tx.run(`DELETE FROM ${MIGRATIONS_TABLE} WHERE file = $1`, [file]);
      });
    } catch (err) {
      const details = err instanceof ApiError && Object.keys(err.data).length > 0 ? `\n${JSON.stringify(err.data)}` : '';
      throw new MigrationError(
        `${shown(join(this.dir, file))} failed (${direction}) and was rolled back; the migrations after it did not run:\n\n${describe(err)}${details}`,
      );
    }
    logger.info({ file }, direction === 'up' ? 'migration applied' : 'migration reverted');
  }

  /** What a migration receives: the collections, records and SQL of its transaction. */
  private context(tx: Executor): MigrationApp {
    const { collections, records, logger } = this.deps;
    const json = (c: Parameters<CollectionService['toJSON']>[0]) => collections.toJSON(c);
    return {
      collections: {
        find: (idOrName) => {
          const c = collections.registry.find(String(idOrName));
          return c ? json(c) : null;
        },
        all: () => collections.registry.all().map(json),
        create: async (input) => json(await collections.createInTx(tx, input)),
        update: async (idOrName, input) => json(await collections.updateInTx(tx, String(idOrName), input)),
        delete: (idOrName) => collections.deleteInTx(tx, String(idOrName)),
        import: (list, deleteMissing = false) => collections.importInTx(tx, { collections: list, deleteMissing }),
      },
      records: new TxRecords(records, tx),
      db: {
        run: (sql, params) => tx.run(sql, params ?? []),
        all: <T>(sql: string, params?: readonly (string | number | null)[]) => tx.all<T>(sql, params ?? []),
      },
      logger,
    };
  }
}
