import { parseArgs } from 'node:util';
import { App, DataDirError } from '../core/app.js';
import { ApiError } from '../core/errors.js';
import { dataDirOf as dataDirOrDefault } from '../create-app.js';
import { DatabaseUnavailableError } from '../storage/engine.js';
import { CliError } from './errors.js';
import { exportPostman } from './export-postman.js';
import { migrateData } from './migrate-data.js';
import { serve } from './serve.js';
import { superuserCommand } from './superuser.js';
import { typegen } from './typegen.js';

const USAGE = `Usage: mainspring <command> [options]

Commands:
  serve [--http=HOST:PORT] [--dir=PATH] [--hooksDir=PATH]
                                            serve the API (default 127.0.0.1:8090, ./ms_data,
                                            hooks from ms_hooks/ beside the data directory)
  superuser upsert EMAIL PASSWORD [--dir]   create or update a superuser
  superuser create EMAIL PASSWORD [--dir]   create a superuser
  superuser update EMAIL PASSWORD [--dir]   change a superuser's password
  superuser delete EMAIL [--dir]            delete a superuser
  migrate [up] [--dir=PATH]                 apply pending system migrations
  migrate-data --from=DIR --to=postgres://…  copy a SQLite app into PostgreSQL (checked, safe to re-run)
  typegen [--out=FILE] [--for=sdk,hooks]    TypeScript types of every collection's records (stdout by default)
  export-postman [--url=URL] [--environment=FILE] [--identity=EMAIL] [--authCollection=NAME]
                                            a Postman collection (v2.1) of the API on stdout, and its environment
  help                                      show this help

Every command takes --db=postgres://USER:PASS@HOST:PORT/DB (default: DATABASE_URL)
to run on PostgreSQL; the data directory then holds only files and mails.
`;

const DIR_OPTION = { dir: { type: 'string' as const }, db: { type: 'string' as const } };

function parse(args: string[], options: Record<string, { type: 'string' | 'boolean' }>) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError((err as Error).message.split('\n')[0] ?? 'invalid arguments', 2);
  }
}

/** The database: --db, else DATABASE_URL, else '' (SQLite in the data directory). */
export function databaseOf(values: { db?: string | undefined }): string {
  return values.db ?? process.env.DATABASE_URL ?? '';
}

/** The data directory: --dir, else MS_DATA_DIR, else ./ms_data. */
export function dataDirOf(values: { dir?: string | undefined }): string {
  return dataDirOrDefault(values.dir);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve': {
      const { values, positionals } = parse(rest, {
        ...DIR_OPTION,
        http: { type: 'string' },
        origins: { type: 'string' },
        hooksDir: { type: 'string' },
      });
      if (positionals.length > 0) throw new CliError(`serve takes no arguments, got "${positionals[0]}"`, 2);
      await serve({
        http: values.http as string | undefined,
        dir: dataDirOf(values as { dir?: string }),
        db: databaseOf(values as { db?: string }),
        origins: values.origins as string | undefined,
        hooksDir: values.hooksDir as string | undefined,
      });
      return;
    }
    case 'superuser': {
      const { values, positionals } = parse(rest, DIR_OPTION);
      await superuserCommand(positionals, dataDirOf(values as { dir?: string }), databaseOf(values as { db?: string }));
      return;
    }
    case 'migrate': {
      const { values, positionals } = parse(rest, DIR_OPTION);
      if (positionals.length > 1 || (positionals[0] !== undefined && positionals[0] !== 'up')) {
        throw new CliError('migrate takes only "up" (the default)', 2);
      }
      const app = await App.open({ dataDir: dataDirOf(values as { dir?: string }), databaseUrl: databaseOf(values as { db?: string }) });
      await app.close();
      console.log(`Migrations are up to date in ${app.dataDir}.`);
      return;
    }
    case 'typegen': {
      const { values, positionals } = parse(rest, { ...DIR_OPTION, out: { type: 'string' }, for: { type: 'string' } });
      if (positionals.length > 0) throw new CliError(`typegen takes no arguments, got "${positionals[0]}"`, 2);
      await typegen({
        dir: dataDirOf(values as { dir?: string }),
        db: databaseOf(values as { db?: string }),
        out: values.out as string | undefined,
        for: values.for as string | undefined,
      });
      return;
    }
    case 'export-postman': {
      const { values, positionals } = parse(rest, {
        ...DIR_OPTION,
        url: { type: 'string' },
        environment: { type: 'string' },
        identity: { type: 'string' },
        authCollection: { type: 'string' },
      });
      if (positionals.length > 0) throw new CliError(`export-postman takes no arguments, got "${positionals[0]}"`, 2);
      await exportPostman({
        dir: dataDirOf(values as { dir?: string }),
        db: databaseOf(values as { db?: string }),
        url: values.url as string | undefined,
        environment: values.environment as string | undefined,
        identity: values.identity as string | undefined,
        authCollection: values.authCollection as string | undefined,
      });
      return;
    }
    case 'migrate-data': {
      const { values, positionals } = parse(rest, { from: { type: 'string' }, to: { type: 'string' } });
      if (positionals.length > 0) throw new CliError(`migrate-data takes no arguments, got "${positionals[0]}"`, 2);
      await migrateData({ from: values.from as string | undefined, to: values.to as string | undefined });
      return;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      throw new CliError(`unknown command "${command}"; run "mainspring help"`, 2);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof CliError) {
    console.error(`error: ${err.message}`);
    process.exit(err.exitCode);
  }
  if (err instanceof DataDirError || err instanceof DatabaseUnavailableError) {
    console.error(`error: ${err.message}`);
    process.exit(1);
  }
  if (err instanceof ApiError) {
    const details = Object.entries(err.data)
      .map(([k, v]) => `${k}: ${(v as { message?: string }).message ?? JSON.stringify(v)}`)
      .join('; ');
    console.error(`error: ${err.message}${details ? ` (${details})` : ''}`);
    process.exit(1);
  }
  console.error(`error: ${(err as Error)?.message ?? String(err)}`);
  process.exit(1);
});
