import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { BackupCheckError, type DatabaseBackup } from '../../storage/engine.js';
import { STORAGE, unpackArchive } from './archive.js';

/**
 * A restore happens in two steps, so that the data an app has open is
 * never written under it, and the old data is kept until the new one has
 * opened:
 * 1. {@link stageRestore}, while the app serves: the archive is unpacked
 *    into `<dataDir>/.restore/staged`, checked (entries, manifest, the
 *    database copy's integrity), and marked ready.
 * 2. {@link applyStagedRestore}, when the app opens next (the restart a
 *    restore asks for, or `mainspring backup restore` with the server
 *    down): the database and the storage folder move aside into
 *    `.restore/old`, the staged ones take their place; once the app has
 *    opened on them the old ones are removed, and if it cannot open they
 *    are put back.
 */

const restoreDir = (dataDir: string) => join(dataDir, '.restore');
const READY = 'READY';
const APPLYING = 'APPLYING';
const APPLIED = 'APPLIED';

/** Unpacks and checks `zipFile` for a restore; a {@link BackupCheckError} for an archive that cannot be restored here. */
export async function stageRestore(dataDir: string, zipFile: string, backup: DatabaseBackup): Promise<void> {
  const dir = restoreDir(dataDir);
  rmSync(dir, { recursive: true, force: true });
  const staged = join(dir, 'staged');
  mkdirSync(staged, { recursive: true });
  try {
    const manifest = await unpackArchive(zipFile, staged);
    if (manifest.database !== backup.fileName) {
      const made = manifest.database === 'data.db' ? 'SQLite' : 'PostgreSQL';
      throw new BackupCheckError(
        `the backup was made on ${made}; this app runs on another engine (use mainspring migrate-data to move between them)`,
      );
    }
    await backup.check(join(staged, manifest.database));
    writeFileSync(join(dir, READY), manifest.database);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** True while a checked restore waits for the app's next start. */
export function restorePending(dataDir: string): boolean {
  return existsSync(join(restoreDir(dataDir), READY));
}

/** A restore applied at start: kept or undone once the app has opened, or not, on it. */
export interface AppliedRestore {
  /** The app opened on the restored data: the old data goes. */
  commit(): void;
  /** The app could not open on it: the old data comes back. */
  undo(): Promise<void>;
}

/**
 * Applies a staged restore, if one is ready; null when none is. Must run
 * before the database is opened. Each step is marked on disk first, so a
 * crash in the middle is finished or undone at the next start, and no data
 * is removed before the app has opened on what replaced it.
 */
export async function applyStagedRestore(dataDir: string, backup: DatabaseBackup, logger: Logger): Promise<AppliedRestore | null> {
  const dir = restoreDir(dataDir);
  const mark = (name: string) => join(dir, name);
  const old = join(dir, 'old');
  const storage = join(dataDir, STORAGE);
  const applied: AppliedRestore = {
    commit: () => rmSync(dir, { recursive: true, force: true }),
    undo: async () => {
      rmSync(storage, { recursive: true, force: true });
      if (existsSync(join(old, STORAGE))) renameSync(join(old, STORAGE), storage);
      await backup.undo?.(old);
      rmSync(dir, { recursive: true, force: true });
      logger.error({ dataDir }, 'the restored data could not be used: the data from before the restore is back');
    },
  };
  if (existsSync(mark(APPLYING))) {
    // the process died while the data was being swapped: the old data comes back
    await applied.undo();
    return null;
  }
  // the swap was done but the app never opened on it: it tries now
  if (existsSync(mark(APPLIED))) return applied;
  if (!existsSync(mark(READY))) {
    // a restore cut short before it was checked
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  const staged = join(dir, 'staged');
  mkdirSync(old, { recursive: true });
  writeFileSync(mark(APPLYING), '');
  rmSync(mark(READY));
  await backup.apply(join(staged, backup.fileName), old);
  if (existsSync(storage)) renameSync(storage, join(old, STORAGE));
  if (existsSync(join(staged, STORAGE))) renameSync(join(staged, STORAGE), storage);
  writeFileSync(mark(APPLIED), '');
  rmSync(mark(APPLYING));
  logger.warn({ dataDir }, 'backup restored: the app opens on the restored data');
  return applied;
}
