import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { formatDate } from '../dates.js';
import { S3Bucket } from '../files/s3-bucket.js';
import { fileSource } from '../files/store.js';
import { randomString } from '../ids.js';
import type { S3Settings } from '../settings.js';

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
    !key.startsWith('.') &&
    !key.includes('/') &&
    !key.includes('\\') &&
    !key.includes('..') &&
    !hasControlCharacter(key)
  );
}

/** True when `s` holds a control character (a name that would garble a listing or a header). */
export function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** Backups in a folder of this machine (`<dataDir>/backups`). */
export class LocalBackupStore implements BackupStore {
  /** `tempDir` (on the same disk) holds archives being written: a crash leaves them there, never in `dir`. */
  constructor(
    private readonly dir: string,
    private readonly tempDir: string,
  ) {}

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
    mkdirSync(this.tempDir, { recursive: true });
    // written elsewhere and renamed whole: a crash leaves the temporary file (swept at start), never a half archive here
    const temp = join(this.tempDir, `incoming-${randomString(10)}`);
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
}

/**
 * Backups in an S3 bucket (`backups.s3`, PocketBase's setting), at its root
 * as PocketBase keeps them. An archive is written to this instance's work
 * folder first and uploaded whole (in parts, as any large file): an upload
 * that fails stores nothing, and the bucket never lists half an archive.
 */
export class S3BackupStore implements BackupStore {
  constructor(
    private readonly bucket: S3Bucket,
    private readonly tempDir: string,
  ) {}

  async list(): Promise<BackupInfo[]> {
    const out: BackupInfo[] = [];
    for await (const key of this.bucket.list('')) {
      if (!isBackupKey(key)) continue;
      const head = await this.bucket.head(key);
      if (head) out.push({ key, size: head.size, modified: formatDate(new Date(head.modifiedMs)) });
    }
    return out.sort((a, b) => a.key.localeCompare(b.key));
  }

  async size(key: string): Promise<number | null> {
    if (!isBackupKey(key)) return null;
    return (await this.bucket.head(key))?.size ?? null;
  }

  async write(key: string, source: Readable): Promise<void> {
    if (!isBackupKey(key)) throw new Error(`not a backup name: ${key}`);
    mkdirSync(this.tempDir, { recursive: true });
    const temp = join(this.tempDir, `outgoing-${randomString(10)}`);
    try {
      await pipeline(source, createWriteStream(temp, { flags: 'wx' }));
      await this.bucket.upload(key, fileSource(temp, (await stat(temp)).size));
    } finally {
      await rm(temp, { force: true });
    }
  }

  async openRead(key: string): Promise<Readable | null> {
    if (!isBackupKey(key)) return null;
    return (await this.bucket.open(key))?.stream ?? null;
  }

  async delete(key: string): Promise<boolean> {
    if ((await this.size(key)) === null) return false;
    await this.bucket.delete([key]);
    return true;
  }
}

/**
 * The store the settings choose, asked on every call (as the file store):
 * the bucket of `backups.s3` when it is enabled, else the local folder. A
 * bucket's connection is kept until the settings change.
 */
export function chosenBackupStore(local: BackupStore, tempDir: string, settings: () => S3Settings): () => BackupStore {
  let current: { config: string; bucket: S3Bucket; store: S3BackupStore } | null = null;
  return () => {
    const { enabled, ...location } = settings();
    if (!enabled) return local;
    const config = JSON.stringify(location);
    if (current?.config !== config) {
      const bucket = new S3Bucket(location);
      current = { config, bucket, store: new S3BackupStore(bucket, tempDir) };
    }
    return current.store;
  };
}
