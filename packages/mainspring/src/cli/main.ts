import { parseArgs } from 'node:util';
import { App, DataDirError } from '../core/app.js';
import { ApiError } from '../core/errors.js';
import { dataDirOf as dataDirOrDefault } from '../create-app.js';
import { DatabaseUnavailableError } from '../storage/engine.js';
import { backupCommand } from './backup.js';
import { doctor } from './doctor.js';
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
  doctor [--fix] [--grace=MINUTES] [--dir]  list stored files no record names; --fix removes those
                                            older than the grace period (default 60)
  backup create [NAME] | list [--dir]       make a backup (database and files, one zip) or list them
  backup restore KEY [--dir]                restore a backup (stop the server first on SQLite)
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

/** No positional arguments for `command`. */
function noArguments(command: string, positionals: string[]): void {
  if (positionals.length > 0) throw new CliError(`${command} takes no arguments, got "${positionals[0]}"`, 2);
}

type Values = Record<string, string | boolean | undefined>;
const text = (values: Values, name: string) => values[name] as string | undefined;
const where = (values: Values) => ({ dir: dataDirOf(values as { dir?: string }), db: databaseOf(values as { db?: string }) });

/** Each command: its arguments parsed and checked, then run. */
const COMMANDS: Record<string, (rest: string[]) => Promise<void>> = {
  async serve(rest) {
    const { values, positionals } = parse(rest, {
      ...DIR_OPTION,
      http: { type: 'string' },
      origins: { type: 'string' },
      hooksDir: { type: 'string' },
    });
    noArguments('serve', positionals);
    await serve({ http: text(values, 'http'), ...where(values), origins: text(values, 'origins'), hooksDir: text(values, 'hooksDir') });
  },
  async superuser(rest) {
    const { values, positionals } = parse(rest, DIR_OPTION);
    const { dir, db } = where(values);
    await superuserCommand(positionals, dir, db);
  },
  async migrate(rest) {
    const { values, positionals } = parse(rest, DIR_OPTION);
    if (positionals.length > 1 || (positionals[0] !== undefined && positionals[0] !== 'up')) {
      throw new CliError('migrate takes only "up" (the default)', 2);
    }
    const { dir, db } = where(values);
    const app = await App.open({ dataDir: dir, databaseUrl: db });
    await app.close();
    console.log(`Migrations are up to date in ${app.dataDir}.`);
  },
  async typegen(rest) {
    const { values, positionals } = parse(rest, { ...DIR_OPTION, out: { type: 'string' }, for: { type: 'string' } });
    noArguments('typegen', positionals);
    await typegen({ ...where(values), out: text(values, 'out'), for: text(values, 'for') });
  },
  async 'export-postman'(rest) {
    const { values, positionals } = parse(rest, {
      ...DIR_OPTION,
      url: { type: 'string' },
      environment: { type: 'string' },
      identity: { type: 'string' },
      authCollection: { type: 'string' },
    });
    noArguments('export-postman', positionals);
    await exportPostman({
      ...where(values),
      url: text(values, 'url'),
      environment: text(values, 'environment'),
      identity: text(values, 'identity'),
      authCollection: text(values, 'authCollection'),
    });
  },
  async backup(rest) {
    const { values, positionals } = parse(rest, DIR_OPTION);
    await backupCommand(positionals, where(values));
  },
  async doctor(rest) {
    const { values, positionals } = parse(rest, { ...DIR_OPTION, fix: { type: 'boolean' }, grace: { type: 'string' } });
    noArguments('doctor', positionals);
    await doctor({ ...where(values), fix: values.fix === true, grace: text(values, 'grace') });
  },
  async 'migrate-data'(rest) {
    const { values, positionals } = parse(rest, { from: { type: 'string' }, to: { type: 'string' } });
    noArguments('migrate-data', positionals);
    await migrateData({ from: text(values, 'from'), to: text(values, 'to') });
  },
};

const HELP = new Set([undefined, 'help', '--help', '-h']);

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (HELP.has(command)) {
    process.stdout.write(USAGE);
    return;
  }
  const run = Object.hasOwn(COMMANDS, command as string) ? COMMANDS[command as string] : undefined;
  if (!run) throw new CliError(`unknown command "${command}"; run "mainspring help"`, 2);
  await run(rest);
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
