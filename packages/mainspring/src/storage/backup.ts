/**
 * Copies of a database for backups (core/backups): what operators of each
 * engine would use, driven by Mainspring. A copy is one file, made while
 * writes go on, as of one moment.
 */
export interface DatabaseBackup {
  /** The copy's name inside a backup archive (`data.db`, `data.pgdump`). */
  readonly fileName: string;
  /** Writes a consistent copy of the database to `file` (which must not exist), without stopping writes. */
  write(file: string): Promise<void>;
  /** Resolves when `file` is a whole copy this engine can restore; rejects with {@link BackupCheckError} saying why not. */
  check(file: string): Promise<void>;
  /**
   * Makes the database what `file` holds. SQLite: while no engine has the
   * database open (the app is closed), the file takes the database's place
   * and the old one is moved into `keepOldIn`. PostgreSQL: restored into
   * the live database in one transaction.
   */
  apply(file: string, keepOldIn: string): Promise<void>;
  /** Undoes {@link apply} from `keepOldIn` (a restored database that would not open); absent where apply is one transaction. */
  undo?(keepOldIn: string): Promise<void>;
}

/** A backup copy that cannot be restored: its message says why, for a 400. */
export class BackupCheckError extends Error {
  override readonly name = 'BackupCheckError';
}

/** A tool a backup needs is missing (pg_dump, pg_restore): its message says which and how to get it. */
export class BackupToolError extends Error {
  override readonly name = 'BackupToolError';
}
