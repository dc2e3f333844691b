import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { formatDate } from '../dates.js';
import { randomString } from '../ids.js';

/** One stored backup, as `GET /api/backups` lists it (PocketBase's BackupFileInfo). */
export interface BackupInfo {
  key: string;
  size: number;
  /** When it was stored, in PocketBase's date format. */
  modified: string;
}

/**
 * Where backups are kept: the `backups` folder of the data directory, or a
 * bucket (`backups.s3`). An archive appears whole or not at all: one being
 * written (or cut short by a crash) is never listed.
 */
export interface BackupStore {
  list(): Promise<BackupInfo[]>;
  /** The backup's size, or null when there is none. */
  size(key: string): Promise<number | null>;
  /** Stores `source` as `key` (which must not exist yet); rejects, storing nothing, when the source fails. */
  write(key: string, source: Readable): Promise<void>;
  /** The archive's bytes, or null when there is none. */
  openRead(key: string): Promise<Readable | null>;
  /** True when something was deleted. */
  delete(key: string): Promise<boolean>;
}

/**
 * A backup's name: PocketBase's keys are file names (`pb_backup_….zip`, an
 * uploaded archive's own name, `@test4.zip`), so any name without a path,
 * a leading dot (our temporary files) or a control character is one.
 */
export function isBackupKey(key: unknown): key is string {
  return (
    typeof key === 'string' &&
    key.length > 0 &&
    key.length <= 150 &&
    /^[^./\\\x00-\x1f\x7f][^/\\\x00-\x1f\x7f]*$/.test(key) &&
    !key.includes('..')
  );
}

const TEMP_PREFIX = '.incoming-';

/** Backups in a folder of this machine (`<dataDir>/backups`). */
export class LocalBackupStore implements BackupStore {
  constructor(private readonly dir: string) {}

  async list(): Promise<BackupInfo[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: BackupInfo[] = [];
    for (const key of names.filter(isBackupKey).sort()) {
      const s = await stat(join(this.dir, key)).catch(() => null);
      if (s?.isFile()) out.push({ key, size: s.size, modified: formatDate(s.mtime) });
    }
    return out;
  }

  async size(key: string): Promise<number | null> {
    if (!isBackupKey(key)) return null;
    const s = await stat(join(this.dir, key)).catch(() => null);
    return s?.isFile() ? s.size : null;
  }

  async write(key: string, source: Readable): Promise<void> {
    if (!isBackupKey(key)) throw new Error(`not a backup name: ${key}`);
    mkdirSync(this.dir, { recursive: true });
    // written under a temporary name and renamed whole: a crash leaves a dotfile, never a half archive in the list
    const temp = join(this.dir, `${TEMP_PREFIX}${randomString(10)}`);
    try {
      await pipeline(source, createWriteStream(temp, { flags: 'wx' }));
      await rename(temp, join(this.dir, key));
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  async openRead(key: string): Promise<Readable | null> {
    if ((await this.size(key)) === null) return null;
    return createReadStream(join(this.dir, key));
  }

  async delete(key: string): Promise<boolean> {
    if ((await this.size(key)) === null) return false;
    await rm(join(this.dir, key), { force: true });
    return true;
  }

  /** Temporary files of writes that never finished (a crash); removed at start. */
  async sweepIncomplete(): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    for (const n of names) if (n.startsWith(TEMP_PREFIX)) await rm(join(this.dir, n), { force: true });
  }
}
