import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { runChild } from '../child.js';
import { BackupCheckError, type DatabaseBackup } from '../engine.js';

const driver = createRequire(import.meta.url).resolve('better-sqlite3');

/**
 * The copy and the check run in a process of their own (CommonJS with
 * `-e`, as the readers): `VACUUM INTO` reads one snapshot of the database
 * (WAL: writers go on) for as long as the database is large, and an
 * integrity check reads every page; neither may hold the event loop.
 */
const COPY = `
const Database = require(process.env.MS_SQLITE_DRIVER);
const db = new Database(process.env.MS_SQLITE_FILE, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 30000');
db.prepare('VACUUM INTO ?').run(process.env.MS_SQLITE_COPY);
db.close();
`;

const CHECK = `
const Database = require(process.env.MS_SQLITE_DRIVER);
let db;
try {
  db = new Database(process.env.MS_SQLITE_FILE, { readonly: true, fileMustExist: true });
  const rows = db.pragma('integrity_check');
  const ok = rows.length === 1 && rows[0].integrity_check === 'ok';
  if (!ok) throw new Error('the database fails its integrity check: ' + rows.slice(0, 3).map((r) => r.integrity_check).join('; '));
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((r) => r.name);
  process.stdout.write(JSON.stringify({ tables }));
} catch (err) {
  process.stderr.write(String(err && err.message || err));
  process.exit(1);
} finally {
  if (db) db.close();
}
`;

/** Runs one of the scripts above; resolves with what it printed, rejects with what it said on stderr. */
function run(script: string, env: Record<string, string>): Promise<string> {
  return runChild(process.execPath, ['-e', script], { MS_SQLITE_DRIVER: driver, ...env });
}

/** The files of one SQLite database: the file, its write-ahead log and its shared memory. */
const companions = (file: string) => [file, `${file}-wal`, `${file}-shm`];

/** Backups of the SQLite database at `file`: `VACUUM INTO` while it serves, a file swap to restore. */
export function sqliteBackup(file: string): DatabaseBackup {
  return {
    fileName: 'data.db',
    async write(copy: string) {
      await run(COPY, { MS_SQLITE_FILE: file, MS_SQLITE_COPY: copy });
    },
    async check(copy: string) {
      try {
        await run(CHECK, { MS_SQLITE_FILE: copy });
      } catch (err) {
        throw new BackupCheckError(`data.db is not a usable SQLite database: ${(err as Error).message}`);
      }
    },
    async apply(copy: string, keepOldIn: string) {
      mkdirSync(keepOldIn, { recursive: true });
      for (const f of companions(file)) if (existsSync(f)) renameSync(f, join(keepOldIn, basename(f)));
      renameSync(copy, file);
    },
    async undo(keepOldIn: string) {
      // the restored database's log must not be replayed into the old one
      for (const f of companions(file)) rmSync(f, { force: true });
      for (const f of companions(file)) {
        const kept = join(keepOldIn, basename(f));
        if (existsSync(kept)) renameSync(kept, f);
      }
    },
  };
}
