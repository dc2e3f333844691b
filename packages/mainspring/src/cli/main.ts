import { parseArgs } from 'node:util';
import { DataDirError } from '../core/app.js';
import { ApiError } from '../core/errors.js';
import { dataDirOf as dataDirOrDefault, durationMs, switchOf } from '../create-app.js';
import { DatabaseUnavailableError } from '../storage/engine.js';
import { backupCommand } from './backup.js';
import { doctor } from './doctor.js';
import { CliError } from './errors.js';
import { exportPostman } from './export-postman.js';
import { commandHelp, USAGE, unknownFlag, version } from './help.js';
import { migrateCommand } from './migrate.js';
import { migrateData } from './migrate-data.js';
import { serve } from './serve.js';
import { superuserCommand } from './superuser.js';
import { typegen } from './typegen.js';

const DIR_OPTION = { dir: { type: 'string' as const }, db: { type: 'string' as const } };

/** The arguments after the command, checked against its flags; an unknown flag is named with the nearest known one. */
function parse(command: string, args: string[], options: Record<string, { type: 'string' | 'boolean' }>) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    const e = err as Error & { code?: string };
    const typed = e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'(?:--?)([^'=]+)/.exec(e.message)?.[1] : undefined;
    if (typed !== undefined) throw unknownFlag(command, typed, Object.keys(options));
    throw new CliError(e.message.split('\n')[0] ?? 'invalid arguments', 2);
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
    const { values, positionals } = parse('serve', rest, {
      ...DIR_OPTION,
      http: { type: 'string' },
      origins: { type: 'string' },
      hooksDir: { type: 'string' },
      migrationsDir: { type: 'string' },
      automigrate: { type: 'string' },
      'log-level': { type: 'string' },
      'shutdown-timeout': { type: 'string' },
    });
    noArguments('serve', positionals);
    const timeout = text(values, 'shutdown-timeout');
    const shutdownTimeoutMs = timeout === undefined ? undefined : durationMs(timeout);
    if (shutdownTimeoutMs === null || shutdownTimeoutMs === 0) {
      throw new CliError(`invalid --shutdown-timeout "${timeout}"; expected seconds such as 10, 10s or 500ms`, 2);
    }
    const automigrate = text(values, 'automigrate');
    if (automigrate !== undefined && switchOf(automigrate) === undefined) {
      throw new CliError(`invalid --automigrate "${automigrate}"; expected on or off`, 2);
    }
    await serve({
      http: text(values, 'http'),
      ...where(values),
      origins: text(values, 'origins'),
      hooksDir: text(values, 'hooksDir'),
      migrationsDir: text(values, 'migrationsDir'),
      automigrate: switchOf(automigrate),
      logLevel: text(values, 'log-level'),
      ...(shutdownTimeoutMs !== undefined ? { shutdownTimeoutMs } : {}),
    });
  },
  async superuser(rest) {
    const { values, positionals } = parse('superuser', rest, DIR_OPTION);
    const { dir, db } = where(values);
    await superuserCommand(positionals, dir, db);
  },
  async migrate(rest) {
    const { values, positionals } = parse('migrate', rest, { ...DIR_OPTION, migrationsDir: { type: 'string' } });
    await migrateCommand(positionals, { ...where(values), migrationsDir: text(values, 'migrationsDir') });
  },
  async typegen(rest) {
    const { values, positionals } = parse('typegen', rest, { ...DIR_OPTION, out: { type: 'string' }, for: { type: 'string' } });
    noArguments('typegen', positionals);
    await typegen({ ...where(values), out: text(values, 'out'), for: text(values, 'for') });
  },
  async 'export-postman'(rest) {
    const { values, positionals } = parse('export-postman', rest, {
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
    const { values, positionals } = parse('backup', rest, DIR_OPTION);
    await backupCommand(positionals, where(values));
  },
  async doctor(rest) {
    const { values, positionals } = parse('doctor', rest, { ...DIR_OPTION, fix: { type: 'boolean' }, grace: { type: 'string' } });
    noArguments('doctor', positionals);
    await doctor({ ...where(values), fix: values.fix === true, grace: text(values, 'grace') });
  },
  async 'import-mongo'(rest) {
    const { values, positionals } = parse('import-mongo', rest, {
      ...DIR_OPTION,
      from: { type: 'string' },
      'dry-run': { type: 'boolean' },
      auth: { type: 'string' },
      prefix: { type: 'string' },
    });
    noArguments('import-mongo', positionals);
    // loaded only here: the bson package is for this command alone
    const { importMongo } = await import('./import-mongo.js');
    await importMongo({
      ...where(values),
      from: text(values, 'from'),
      dryRun: values['dry-run'] === true,
      auth: text(values, 'auth'),
      prefix: text(values, 'prefix'),
    });
  },
  async 'migrate-data'(rest) {
    const { values, positionals } = parse('migrate-data', rest, { from: { type: 'string' }, to: { type: 'string' } });
    noArguments('migrate-data', positionals);
    await migrateData({ from: text(values, 'from'), to: text(values, 'to') });
  },
};

const HELP = new Set([undefined, 'help', '--help', '-h']);
const HELP_FLAGS = new Set(['--help', '-h']);

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-v' || command === 'version') {
    process.stdout.write(`${version()}\n`);
    return;
  }
  if (HELP.has(command)) {
    const about = command === 'help' ? rest[0] : undefined;
    process.stdout.write(about !== undefined && Object.hasOwn(COMMANDS, about) ? commandHelp(about) : USAGE);
    return;
  }
  const run = Object.hasOwn(COMMANDS, command as string) ? COMMANDS[command as string] : undefined;
  if (!run) throw new CliError(`unknown command "${command}"; run "mainspring help"`, 2);
  // before the arguments are checked, so that `serve --htp=x --help` still shows the help
  if (rest.some((arg) => HELP_FLAGS.has(arg))) {
    process.stdout.write(commandHelp(command as string));
    return;
  }
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
