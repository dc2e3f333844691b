import { randomBytes } from 'node:crypto';
import { type BigIntStats, constants, createReadStream, createWriteStream, type Dirent } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, rename, rm, rmdir, stat, utimes } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type FileKey, isStoredId, isStoredName, keySegments, thumbKeyOf, thumbsFolder, thumbsFolderOf } from './keys.js';
import {
  type ByteRange,
  type DeleteTarget,
  digest,
  FileExistsError,
  type FileRead,
  type FileScope,
  type FileSource,
  type FileStat,
  type FileStore,
  InvalidFileKeyError,
  type RangeChoice,
  type StoredFile,
} from './store.js';

/**
 * The local disk driver: PocketBase's layout under `<dataDir>/storage/`
 * (keys.ts), the only code that knows a path there. A put of a finished
 * upload is a hard link from its temporary file (uploads are written under
 * the same data directory), so the stored file appears whole or not at all
 * and a put again of it is recognised by its inode; other bytes (across file
 * systems, a thumb) are written aside under a dot name no listing shows,
 * then linked into place, which never replaces a file. A read opens the
 * file once: its size, version and bytes all come from that one open file.
 */

/** The storage folder of a data directory. */
export function localStorageRoot(dataDir: string): string {
  return join(dataDir, 'storage');
}

const isCode = (err: unknown, ...codes: string[]) => codes.includes((err as NodeJS.ErrnoException)?.code ?? '');
/** What opening a path that is no stored file fails with. */
const NOT_FOUND = ['ENOENT', 'ENOTDIR', 'EISDIR', 'ENAMETOOLONG', 'ELOOP'];
/** What `link` fails with where hard links cannot be made (across file systems, file systems without them). */
const NO_LINKS = ['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP'];

/** A stored file as the store describes it; the version changes with the size or the modification time (in ns). */
function storedFileOf(st: BigIntStats): StoredFile {
  return { size: Number(st.size), modifiedMs: Number(st.mtimeMs), version: `${st.size}\0${st.mtimeNs}` };
}

/** Removes a folder if it is empty. */
async function removeIfEmpty(dir: string): Promise<void> {
  try {
    await rmdir(dir);
  } catch (err) {
    if (!isCode(err, 'ENOENT', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR')) throw err;
  }
}

/** The entries of a folder; none when it is missing. */
async function entries(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isCode(err, ...NOT_FOUND)) return [];
    throw err;
  }
}

/** Files on the local disk (see the module's comment). */
export class LocalFileStore implements FileStore {
  constructor(
    /** The storage folder ({@link localStorageRoot}). */
    readonly root: string,
  ) {}

  private pathOf(key: FileKey): string | null {
    const segments = keySegments(key);
    return segments && join(this.root, ...segments);
  }

  async put(key: FileKey, source: FileSource): Promise<void> {
    const target = this.pathOf(key);
    if (!target) throw new InvalidFileKeyError(`not a stored file's key: ${JSON.stringify(key).slice(0, 200)}`);
    // a folder being removed at this moment (its last file deleted) is made again
    for (let attempt = 1; ; attempt++) {
      await mkdir(dirname(target), { recursive: true });
      try {
        return await this.place(target, source);
      } catch (err) {
        if (!isCode(err, 'ENOENT') || attempt >= 3) throw err;
      }
    }
  }

  private async place(target: string, source: FileSource): Promise<void> {
    if (source.localFile !== undefined) {
      try {
        await link(source.localFile, target);
        // dated by its put, not by when the upload's last byte came: the orphan sweep's grace counts from the put
        const now = new Date();
        return await utimes(target, now, now);
      } catch (err) {
        if (isCode(err, 'EEXIST')) return this.keep(target, source);
        if (!isCode(err, ...NO_LINKS)) throw err;
      }
    }
    const aside = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      if (source.localFile !== undefined) await copyFile(source.localFile, aside, constants.COPYFILE_FICLONE);
      else await pipeline(source.open(), createWriteStream(aside, { flags: 'wx' }));
      await this.publish(aside, target, source);
    } finally {
      await rm(aside, { force: true });
    }
  }

  /** Gives the finished file `aside` its name, unless a file has it already. */
  private async publish(aside: string, target: string, source: FileSource): Promise<void> {
    try {
      await link(aside, target);
    } catch (err) {
      if (isCode(err, 'EEXIST')) return this.keep(target, source);
      if (!isCode(err, ...NO_LINKS)) throw err;
      // no hard links here: a rename, which cannot refuse to replace a file, after a look
      if ((await this.statPath(target)).exists) return this.keep(target, source);
      await rename(aside, target);
    }
  }

  /** A file has the name already: fine when it holds the source's bytes (the same upload by its inode, else by content). */
  private async keep(target: string, source: FileSource): Promise<void> {
    const existing = await stat(target);
    if (!existing.isFile()) throw new FileExistsError(`something else is stored as ${basename(target)}`);
    if (source.localFile !== undefined) {
      const given = await stat(source.localFile);
      if (given.ino === existing.ino && given.dev === existing.dev) return;
    }
    if (existing.size === source.size && (await digest(createReadStream(target))) === (await digest(source.open()))) return;
    throw new FileExistsError(`a different file is stored as ${basename(target)}`);
  }

  async openRead(key: FileKey, range?: ByteRange | RangeChoice): Promise<FileRead | null> {
    const path = this.pathOf(key);
    if (!path) return null;
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if (isCode(err, ...NOT_FOUND)) return null;
      throw err;
    }
    let handedOver = false;
    try {
      const st = await fh.stat({ bigint: true });
      if (!st.isFile()) return null;
      const file = storedFileOf(st);
      const chosen = typeof range === 'function' ? await range(file) : (range ?? { start: 0 });
      if (chosen === null) return { file, stream: null };
      const start = chosen.start;
      const end = Math.min(chosen.end ?? file.size - 1, file.size - 1);
      if (start > end) return { file, stream: Readable.from([], { objectMode: false }) };
      // the stream owns the handle now: closed at its end, or when it is destroyed
      const stream = fh.createReadStream({ start, end, autoClose: true });
      handedOver = true;
      return { file, stream };
    } finally {
      if (!handedOver) await fh.close();
    }
  }

  stat(key: FileKey): Promise<FileStat> {
    const path = this.pathOf(key);
    return path ? this.statPath(path) : Promise.resolve({ exists: false });
  }

  private async statPath(path: string): Promise<FileStat> {
    try {
      const st = await stat(path, { bigint: true });
      return st.isFile() ? { exists: true, ...storedFileOf(st) } : { exists: false };
    } catch (err) {
      if (isCode(err, ...NOT_FOUND)) return { exists: false };
      throw err;
    }
  }

  async *list(scope: FileScope): AsyncIterable<FileKey> {
    const collections = scope.kind === 'all' ? await this.folders(this.root) : [scope.collectionId].filter(isStoredId);
    for (const collectionId of collections) {
      const records = scope.kind === 'record' ? [scope.recordId].filter(isStoredId) : await this.folders(join(this.root, collectionId));
      for (const recordId of records) yield* this.recordFiles(collectionId, recordId);
    }
  }

  /** The sub-folders of `dir` that are a collection's or a record's. */
  private async folders(dir: string): Promise<string[]> {
    return (await entries(dir)).filter((e) => e.isDirectory() && isStoredId(e.name)).map((e) => e.name);
  }

  private async *recordFiles(collectionId: string, recordId: string): AsyncIterable<FileKey> {
    const dir = join(this.root, collectionId, recordId);
    for (const entry of await entries(dir)) {
      if (entry.isFile()) {
        // files being written (dot names) and anything else that is no stored name are left out
        if (isStoredName(entry.name)) yield { collectionId, recordId, name: entry.name };
        continue;
      }
      const name = entry.isDirectory() ? thumbsFolderOf(entry.name) : null;
      if (name === null) continue;
      for (const thumb of await entries(join(dir, entry.name))) {
        const key = thumb.isFile() ? thumbKeyOf({ collectionId, recordId, name }, thumb.name) : null;
        if (key) yield key;
      }
    }
  }

  async delete(target: DeleteTarget): Promise<void> {
    if (target.kind === 'file') return this.deleteFile(target.key);
    const folder = target.kind === 'record' ? [target.collectionId, target.recordId] : [target.collectionId];
    if (!folder.every(isStoredId)) return;
    await rm(join(this.root, ...folder), { recursive: true, force: true });
  }

  private async deleteFile(key: FileKey): Promise<void> {
    const path = this.pathOf(key);
    if (!path) return;
    const recordDir = join(this.root, key.collectionId, key.recordId);
    const thumbs = join(recordDir, thumbsFolder(key.name));
    await rm(path, { force: true });
    if (key.thumb === undefined) await rm(thumbs, { recursive: true, force: true });
    else await removeIfEmpty(thumbs);
    // an emptied record folder goes; one that holds anything (a file put meanwhile) stays
    await removeIfEmpty(recordDir);
  }
}
