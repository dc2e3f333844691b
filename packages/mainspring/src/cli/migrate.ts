import { relative } from 'node:path';
import pino from 'pino';
import { App } from '../core/app.js';
import { blankMigration, VALID_NAME, writeMigrationFile } from '../core/app-migrations/files.js';
import type { AppMigrations } from '../core/app-migrations/service.js';
import { migrationsDirOf } from '../create-app.js';
import { CliError } from './errors.js';

/** Where `mainspring migrate` works: the data directory, the database, the migrations folder. */
export interface MigrateWhere {
  dir: string;
  db: string;
  migrationsDir: string | undefined;
}

/** A path as the person who typed the command would type it. */
const shown = (path: string) => relative(process.cwd(), path) || path;

/**
 * `mainspring migrate [up] | down [N] | create NAME | status | history-sync`:
 * the app's migrations in `ms_migrations/` (core/app-migrations), beside the
 * system migrations every open applies.
 */
export async function migrateCommand(args: string[], where: MigrateWhere): Promise<void> {
  const [action = 'up', arg, ...extra] = args;
  if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}"`, 2);
  const migrationsDir = migrationsDirOf(where.migrationsDir, where.dir);
  if (action === 'create') {
    if (arg === undefined) throw new CliError('migrate create needs a name: mainspring migrate create add_posts', 2);
    if (!VALID_NAME.test(arg)) throw new CliError(`invalid migration name "${arg}"; use letters, digits, _ and - (at most 100)`, 2);
    // no database needed: the file is written, and applied by the next serve or migrate up
    const path = writeMigrationFile(migrationsDir, arg, blankMigration());
    console.log(`Created ${shown(path)}.`);
    return;
  }
  if (!['up', 'down', 'status', 'history-sync', 'collections'].includes(action)) {
    throw new CliError(`unknown migrate action "${action}"; expected up, down, create, status, collections or history-sync`, 2);
  }
  if (action !== 'down' && arg !== undefined) throw new CliError(`unexpected argument "${arg}"`, 2);
  const count = arg === undefined ? 1 : Number(arg);
  if (!Number.isInteger(count) || count < 1 || !/^\d+$/.test(arg ?? '1')) {
    throw new CliError(`invalid count "${arg}"; expected how many migrations to revert, e.g. 1`, 2);
  }
  const app = await App.open({
    dataDir: where.dir,
    databaseUrl: where.db,
    logger: pino({ level: 'warn' }),
    migrationsDir,
    applyMigrations: false,
  });
  try {
    await act(app.migrations as AppMigrations, action, count);
  } finally {
    await app.close();
  }
}

async function act(migrations: AppMigrations, action: string, count: number): Promise<void> {
  const dir = shown(migrations.dir);
  switch (action) {
    case 'up': {
      const applied = await migrations.up();
      for (const file of applied) console.log(`Applied ${file}.`);
      console.log(applied.length > 0 ? `Applied ${applied.length} migration(s) from ${dir}.` : 'Migrations are up to date.');
      return;
    }
    case 'down': {
      const reverted = await migrations.down(count);
      for (const file of reverted) console.log(`Reverted ${file}.`);
      if (reverted.length === 0) console.log('No applied migration to revert.');
      return;
    }
    case 'status': {
      const states = await migrations.status();
      if (states.length === 0) console.log(`No migrations in ${dir}.`);
      for (const s of states) {
        const state = s.applied === null ? 'pending' : `applied ${new Date(s.applied).toISOString()}`;
        console.log(`${s.file}\t${state}${s.missing ? `\tFILE MISSING from ${dir}` : ''}`);
      }
      return;
    }
    case 'collections':
      console.log(`Created ${shown(await migrations.snapshotAll())} (recorded as applied here).`);
      return;
    default: {
      const forgotten = await migrations.historySync();
      for (const file of forgotten) console.log(`Forgot ${file}.`);
      if (forgotten.length === 0) console.log('The history matches the files.');
    }
  }
}
