import { randomBytes } from 'node:crypto';
import { copyFile, link, mkdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { filePath, recordDir } from './paths.js';

/**
 * Where record files are kept. One local implementation today; an S3 store
 * would implement the same four operations (PocketBase's layout becomes
 * object keys). Every name passes `paths.ts`, so none can leave its folder.
 */
export interface FileStore {
  /**
   * Stores the file at `source` (a finished upload) as `filename` of a
   * record. Idempotent for the same source: a transaction that runs again
   * (PostgreSQL retries) puts it again. The source stays where it is.
   */
  put(collectionId: string, recordId: string, filename: string, source: string): Promise<void>;
  /** Deletes files of a record and their thumbnails; missing ones are fine. */
  delete(collectionId: string, recordId: string, filenames: readonly string[]): Promise<void>;
  /** Deletes files of a deleted record, then its folder when nothing else is left in it. */
  deleteRecord(collectionId: string, recordId: string, filenames: readonly string[]): Promise<void>;
  /** Deletes every file of a collection (after the collection itself was deleted). */
  deleteCollection(collectionId: string): Promise<void>;
}

/** Thrown for a name or id that cannot be a stored file's; callers never build such names. */
export class InvalidFilePathError extends Error {
  override readonly name = 'InvalidFilePathError';
}

const isCode = (err: unknown, ...codes: string[]) => codes.includes((err as NodeJS.ErrnoException)?.code ?? '');

/**
 * Files on the local disk, PocketBase's layout:
 * `<root>/<collectionId>/<recordId>/<filename>`. An upload is put in place
 * with a hard link from its temporary file (uploads are written under the
 * same data directory), so the stored file appears whole or not at all and
 * the temporary one can be put again; across file systems it is copied to a
 * temporary name beside its place and renamed.
 */
export class LocalFileStore implements FileStore {
  constructor(readonly root: string) {}

  private path(collectionId: string, recordId: string, filename: string): string {
    const path = filePath(this.root, collectionId, recordId, filename);
    if (!path) throw new InvalidFilePathError(`not a stored file name: ${JSON.stringify(filename).slice(0, 120)}`);
    return path;
  }

  async put(collectionId: string, recordId: string, filename: string, source: string): Promise<void> {
    const target = this.path(collectionId, recordId, filename);
    const dir = recordDir(this.root, collectionId, recordId) as string;
    // a record folder being removed at this moment (its record deleted) is made again
    for (let attempt = 1; ; attempt++) {
      await mkdir(dir, { recursive: true });
      try {
        await this.linkOrCopy(source, target);
        return;
      } catch (err) {
        if (!isCode(err, 'ENOENT') || attempt >= 3) throw err;
      }
    }
  }

  private async linkOrCopy(source: string, target: string): Promise<void> {
    try {
      await link(source, target);
    } catch (err) {
      if (isCode(err, 'EEXIST')) {
        // put again (a retried transaction): fine when it is this very file
        const [a, b] = await Promise.all([stat(source), stat(target)]);
        if (a.ino === b.ino && a.dev === b.dev) return;
        throw err;
      }
      if (!isCode(err, 'EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP')) throw err;
      const tmp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
      try {
        await copyFile(source, tmp);
        await rename(tmp, target);
      } catch (copyErr) {
        await unlink(tmp).catch(() => {});
        throw copyErr;
      }
    }
  }

  async delete(collectionId: string, recordId: string, filenames: readonly string[]): Promise<void> {
    const dir = recordDir(this.root, collectionId, recordId);
    if (!dir) return;
    for (const name of filenames) {
      // a name that could not be stored (hook-written garbage) names nothing
      const path = filePath(this.root, collectionId, recordId, name);
      if (!path) continue;
      await rm(path, { force: true });
      await rm(join(dir, `thumbs_${name}`), { recursive: true, force: true });
    }
  }

  async deleteRecord(collectionId: string, recordId: string, filenames: readonly string[]): Promise<void> {
    await this.delete(collectionId, recordId, filenames);
    const dir = recordDir(this.root, collectionId, recordId);
    if (!dir) return;
    try {
      await rmdir(dir);
    } catch (err) {
      // files it holds belong to someone (a record made again with this id); an absent folder is fine
      if (!isCode(err, 'ENOENT', 'ENOTEMPTY', 'EEXIST')) throw err;
    }
  }

  async deleteCollection(collectionId: string): Promise<void> {
    if (!/^[A-Za-z0-9_]{1,100}$/.test(collectionId)) return;
    await rm(join(this.root, collectionId), { recursive: true, force: true });
  }
}
