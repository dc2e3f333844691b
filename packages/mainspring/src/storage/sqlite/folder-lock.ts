import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/**
 * One serving process per SQLite data folder. The lock is SQLite's own file
 * lock (POSIX `fcntl`) on a small file beside the database, held by a
 * connection in exclusive locking mode with a write transaction open: the
 * operating system drops it with the process, however it ends (`kill -9`
 * included), so no stale lock ever blocks a restart, and no pid is trusted
 * (pids are reused). A second connection, in this process or another, gets
 * `SQLITE_BUSY` at once. Who holds the lock is told in a plain JSON file
 * beside it, written by the holder (the locked file cannot be read).
 */

const LOCK_FILE = '.mainspring.lock';
const OWNER_FILE = '.mainspring.lock.json';

/** What the holder tells of itself. */
export interface LockOwner {
  pid: number;
  hostname: string;
  started: string;
  /** The address it serves, once it listens. */
  url?: string;
}

/** A held lock on a data folder. */
export class FolderLock {
  private constructor(
    private readonly db: Database.Database,
    private readonly dir: string,
    private owner: LockOwner,
  ) {}

  /** Takes the folder's lock, or answers who holds it (null when the holder did not say). */
  static take(dir: string, owner: LockOwner): FolderLock | { heldBy: LockOwner | null } {
    const db = new Database(join(dir, LOCK_FILE), { timeout: 0 });
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('BEGIN EXCLUSIVE');
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
      return { heldBy: readOwner(dir) };
    }
    const lock = new FolderLock(db, dir, owner);
    lock.write();
    return lock;
  }

  /** Adds what the holder serves to what a refused process is told. */
  announce(url: string): void {
    this.owner = { ...this.owner, url };
    this.write();
  }

  private write(): void {
    writeFileSync(join(this.dir, OWNER_FILE), `${JSON.stringify(this.owner)}\n`);
  }

  /** Lets the folder go (a lock not released goes with the process). */
  release(): void {
    rmSync(join(this.dir, OWNER_FILE), { force: true });
    this.db.close();
  }
}

function readOwner(dir: string): LockOwner | null {
  try {
    const owner = JSON.parse(readFileSync(join(dir, OWNER_FILE), 'utf8')) as LockOwner;
    return typeof owner.pid === 'number' ? owner : null;
  } catch {
    return null;
  }
}
