import { ChildProcessError, runChild } from '../child.js';
import { BackupCheckError, BackupToolError, type DatabaseBackup } from '../engine.js';

/**
 * Backups of a PostgreSQL database with the tools its operators use:
 * `pg_dump --format=custom` while it serves (one snapshot, writers go on),
 * `pg_restore --clean --single-transaction` to restore (all of it or
 * nothing). The tools come with PostgreSQL's client package, of a version
 * at least the server's; without them, a clear error says what to install.
 */
export function postgresBackup(databaseUrl: string): DatabaseBackup {
  // the password goes in the environment: a command line is readable by every user of the machine (ps)
  const parsed = new URL(databaseUrl);
  const env: Record<string, string> = parsed.password ? { PGPASSWORD: decodeURIComponent(parsed.password) } : {};
  parsed.password = '';
  const url = parsed.toString();
  const tool = (name: 'pg_dump' | 'pg_restore', args: string[]) => runTool(name, args, env);
  return {
    fileName: 'data.pgdump',
    async write(file: string) {
      await tool('pg_dump', ['--format=custom', '--no-owner', '--no-privileges', `--file=${file}`, `--dbname=${url}`]);
    },
    async check(file: string) {
      try {
        const listing = await tool('pg_restore', ['--list', file]);
        if (!listing.includes('TABLE')) throw new Error('it holds no tables');
      } catch (err) {
        if (err instanceof BackupToolError) throw err;
        throw new BackupCheckError(`data.pgdump is not a usable PostgreSQL dump: ${(err as Error).message}`);
      }
    },
    async apply(file: string) {
      await tool('pg_restore', [
        '--clean',
        '--if-exists',
        '--single-transaction',
        '--no-owner',
        '--no-privileges',
        `--dbname=${url}`,
        file,
      ]);
    },
  };
}

/** Runs a PostgreSQL client tool; resolves with its output, rejects with the last line it wrote to stderr. */
async function runTool(name: 'pg_dump' | 'pg_restore', args: string[], env: Record<string, string>): Promise<string> {
  try {
    return await runChild(name, args, env);
  } catch (err) {
    if (!(err instanceof ChildProcessError)) throw err;
    if (err.spawnCode === 'ENOENT') {
      throw new BackupToolError(
        `${name} is not installed: backups on PostgreSQL need PostgreSQL's client tools (Debian: apt-get install postgresql-client)`,
      );
    }
    // a pg_dump older than the server refuses with "server version mismatch"
    if (/version mismatch/.test(err.stderr)) throw new BackupToolError(`${name}: ${err.message}`);
    throw new Error(`${name}: ${err.message}`);
  }
}
