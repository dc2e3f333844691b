import { readFileSync } from 'node:fs';
import { CliError } from './errors.js';

/**
 * What the command line says about itself: the top-level help, each
 * command's own (`mainspring COMMAND --help`), the version, and the nearest
 * flag to one mistyped. Text only, so `main.ts` stays the commands.
 */

const DB = `  --db=postgres://USER:PASS@HOST:PORT/DB
                            run on PostgreSQL (default: DATABASE_URL); the data directory then holds only files and mails`;
const DIR = '  --dir=PATH                the data directory (default: MS_DATA_DIR, else ./ms_data)';

/** Every flag of `serve`, in the top-level help and in `serve --help` (the README lists the same). */
export const SERVE_OPTIONS = `  --http=HOST:PORT          the address to listen on (default: MS_HTTP, else 127.0.0.1:8090)
${DIR}
${DB}
  --origins=a,b             allowed CORS origins (default: MS_CORS_ORIGINS, else *)
  --hooksDir=PATH           the TypeScript hooks folder (default: MS_HOOKS_DIR, else ms_hooks beside the data directory)
  --migrationsDir=PATH      the migrations folder, applied in order at start
                            (default: MS_MIGRATIONS_DIR, else ms_migrations beside the data directory)
  --automigrate=on|off      write a migration file for each collection change made in the dashboard or API
                            (default: MS_AUTOMIGRATE, else on unless NODE_ENV=production)
  --log-level=LEVEL         trace, debug, info, warn, error, fatal or silent (default: MS_LOG_LEVEL, else info)
  --shutdown-timeout=TIME   how long SIGTERM/SIGINT may take to drain, e.g. 10, 10s, 500ms
                            (default: MS_SHUTDOWN_TIMEOUT, else 10 s)
`;

export const USAGE = `Usage: mainspring <command> [options]

Commands:
  serve [options]                           serve the API and the dashboard (options below)
  superuser upsert EMAIL PASSWORD [--dir]   create or update a superuser
  superuser create EMAIL PASSWORD [--dir]   create a superuser
  superuser update EMAIL PASSWORD [--dir]   change a superuser's password
  superuser delete EMAIL [--dir]            delete a superuser
  migrate [up] [--dir] [--migrationsDir]    apply pending migrations (system ones and ms_migrations/)
  migrate down [N]                          revert the N newest applied migrations (default 1)
  migrate create NAME                       write an empty migration ms_migrations/<time>_NAME.ts
  migrate status                            each migration: applied, pending, or applied with its file gone
  migrate collections                       write a migration of every collection as it is now
  migrate history-sync                      forget applied migrations whose file is gone
  migrate-data --from=DIR --to=postgres://…  copy a SQLite app into PostgreSQL (checked, safe to re-run)
  import-mongo --from=DIR [--dry-run]       import a mongodump folder or mongoexport files (collections, records, users)
  typegen [--out=FILE] [--for=sdk,hooks]    TypeScript types of every collection's records (stdout by default)
  doctor [--fix] [--grace=MINUTES] [--dir]  list stored files no record names; --fix removes those
                                            older than the grace period (default 60)
  backup create [NAME] | list [--dir]       make a backup (database and files, one zip) or list them
  backup restore KEY [--dir]                restore a backup (stop the server first on SQLite)
  export-postman [--url=URL] [--environment=FILE] [--identity=EMAIL] [--authCollection=NAME]
                                            a Postman collection (v2.1) of the API on stdout, and its environment
  help [COMMAND]                            this help, or a command's (also: mainspring COMMAND --help)
  --version                                 the version

serve options:
${SERVE_OPTIONS}
Every command takes --db=postgres://USER:PASS@HOST:PORT/DB (default: DATABASE_URL)
to run on PostgreSQL; the data directory then holds only files and mails.
`;

/** Each command's own help; a command without one (added later) is shown its lines of the top-level help. */
const COMMAND_HELP: Record<string, string> = {
  serve: `Usage: mainspring serve [options]

Serves the API at /api/ and the dashboard at /_/. SIGTERM or SIGINT drains
it: /api/health answers 503, no new connection is taken, realtime streams
end, in-flight requests finish, then the database closes; a second signal
exits at once. /api/ms/live answers 200 while the process runs.

Options:
${SERVE_OPTIONS}`,
  superuser: `Usage: mainspring superuser upsert|create|update EMAIL PASSWORD [options]
       mainspring superuser delete EMAIL [options]

Creates, updates or deletes a superuser (the dashboard's accounts).

Options:
${DIR}
${DB}
`,
  migrate: `Usage: mainspring migrate [up] [options]
       mainspring migrate down [N] | create NAME | status | collections | history-sync [options]

The app's schema as files in ms_migrations/ (PocketBase's pb_migrations).
Each file exports { up(app), down(app) }; serve applies the pending ones at
each start, in filename order, each in one transaction, recorded in the
_migrations table so each runs once per database. With automigrate on (the
default outside NODE_ENV=production), each collection change made in the
dashboard or the API writes such a file, recorded as applied: commit it, and
a teammate's serve applies it.

  up                        apply the pending migrations (system ones, then the folder's); the default
  down [N]                  run down() of the N newest applied migrations, newest first (default 1)
  create NAME               write an empty migration <unix time>_NAME.ts (NAME: letters, digits, _ and -)
  status                    list each migration: applied (when), pending, or applied but its file is gone
  collections               write a migration of every collection as it is now, recorded as applied here
                            (start using migrations in an app that has collections but no files)
  history-sync              forget applied migrations whose file is gone

Options:
  --migrationsDir=PATH      the migrations folder (default: MS_MIGRATIONS_DIR, else ms_migrations beside the data directory)
${DIR}
${DB}
`,
  'migrate-data': `Usage: mainspring migrate-data --from=DIR --to=postgres://…

Copies a SQLite app (collections, records, settings) into an empty or earlier
copied PostgreSQL database, and checks the row counts; safe to run again.

Options:
  --from=DIR                the SQLite app's data directory
  --to=postgres://…         the PostgreSQL database
`,
  'import-mongo': `Usage: mainspring import-mongo --from=DIR [options]

Imports a MongoDB database from what mongodump writes (a folder of .bson
files and their .metadata.json, gzipped or not) or from mongoexport files
(.json: Extended JSON, canonical or relaxed, a document per line or an
array). Every document is read once to choose each collection's fields:
numbers, dates, booleans, text, emails, arrays of a few distinct strings as
multi-selects, ObjectIds naming documents of an imported collection as
relations, anything else as JSON. Each _id becomes a record id (the same
every run) and is kept in the mongo_id field. A collection of users (an
email and a password key) becomes an auth collection; bcrypt hashes are
kept, so users sign in with their passwords. Everything is written in one
transaction, then a report says what was and was not imported. Run again,
it replaces the records it wrote. On SQLite, stop the server first.

Options:
  --from=DIR                the dump: one database's folder (mongodump --out=DIR writes DIR/<db>/)
  --dry-run                 check everything and print the report; write nothing
  --auth=a,b                the collections to import as auth collections ('' for none;
                            default: those with an email and a password key)
  --prefix=NAME             put NAME before every collection's name (when names are taken)
${DIR}
${DB}
`,
  typegen: `Usage: mainspring typegen [options]

Prints TypeScript types of every collection's records.

Options:
  --out=FILE                write them to FILE instead of stdout
  --for=sdk,hooks           which types: for the pocketbase SDK, for hooks, or both (default)
${DIR}
${DB}
`,
  doctor: `Usage: mainspring doctor [options]

Lists stored files that no committed record names (left by a write that
never committed); with --fix, removes those older than the grace period.

Options:
  --fix                     remove the files listed that are older than the grace period
  --grace=MINUTES           how old a file must be to be removed (default 60)
${DIR}
${DB}
`,
  backup: `Usage: mainspring backup create [NAME] | list | restore KEY [options]

The backups of /api/backups, for when the server is down. create makes one
(NAME: a-z 0-9 _ - ending in .zip; default ms_backup_<time>.zip) and may run
beside a server; list lists them; restore checks a backup, then puts its
database and files in place of the current ones (stop a SQLite server first).

Options:
${DIR}
${DB}
`,
  'export-postman': `Usage: mainspring export-postman [options]

Prints a Postman collection (v2.1) of the API, and writes its environment.

Options:
  --url=URL                 the server the requests go to (default http://MS_HTTP, else http://127.0.0.1:8090)
  --environment=FILE        write the Postman environment to FILE
  --identity=EMAIL          the account the sign-in request uses
  --authCollection=NAME     the auth collection it signs in to (default _superusers)
${DIR}
${DB}
`,
};

/** `mainspring COMMAND --help`: its own help, else its lines of the top-level help. */
export function commandHelp(command: string): string {
  const own = COMMAND_HELP[command];
  if (own) return own;
  const lines = USAGE.split('\n').filter((line) => line.trimStart().startsWith(`${command} `));
  return `Usage:\n${lines.join('\n')}\n`;
}

/** The package's version, from its package.json (dist/cli/ → the package root). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Edit distance between two short words (a flag typed and one that exists). */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      next[j] = Math.min((row[j] as number) + 1, (next[j - 1] as number) + 1, (row[j - 1] as number) + cost);
    }
    row = next;
  }
  return row[b.length] as number;
}

/** The known flag closest to `typed` (case aside), if it is close enough to be what was meant. */
export function nearestFlag(typed: string, known: string[]): string | null {
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const flag of known) {
    const d = distance(typed.toLowerCase(), flag.toLowerCase());
    if (d < bestDistance) {
      best = flag;
      bestDistance = d;
    }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(typed.length / 3)) ? best : null;
}

/** A usage error for an unknown flag, naming the nearest known one. */
export function unknownFlag(command: string, typed: string, known: string[]): CliError {
  const near = nearestFlag(typed, known);
  const hint = near ? `; did you mean --${near}?` : `; run "mainspring ${command} --help"`;
  return new CliError(`unknown flag --${typed}${hint}`, 2);
}
