import { createWriteStream, type Dirent, mkdirSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import yazl from 'yazl';
import { BackupCheckError } from '../../storage/engine.js';
import { hasControlCharacter } from './store.js';

/**
 * A backup archive: a zip with a manifest, the database's copy (`data.db`
 * or `data.pgdump`) and the local file storage (`storage/…`, PocketBase's
 * layout). Written as a stream (nothing is held in memory but the zip's
 * directory); read back entry by entry, refusing anything that is not
 * ours or that would write outside the folder it is unpacked in.
 */

/** The manifest's name inside the archive. */
export const MANIFEST = 'mainspring-backup.json';
/** The folder of stored files inside the archive (and in the data directory). */
export const STORAGE = 'storage';

export interface Manifest {
  format: 1;
  /** The database copy's name inside the archive: which engine it is for. */
  database: string;
  created: string;
}

/** What goes in an archive: the database copy, and the data directory's storage folder (if any). */
export async function archiveStream(manifest: Manifest, databaseCopy: string, storageDir: string | null): Promise<Readable> {
  const zip = new yazl.ZipFile();
  zip.addBuffer(Buffer.from(JSON.stringify(manifest, null, 2)), MANIFEST);
  // stored, not deflated: uploads are mostly compressed already (images, video, archives), and deflating a
  // large data folder would cost a core for minutes on a server that is serving meanwhile
  zip.addFile(databaseCopy, manifest.database, { compress: false });
  if (storageDir)
    for await (const file of walk(storageDir))
      zip.addFile(file, `${STORAGE}/${relative(storageDir, file).split(sep).join('/')}`, { compress: false });
  zip.end();
  return zip.outputStream as Readable;
}

/** Every file under `dir` (none when it does not exist); links are not followed. */
async function* walk(dir: string): AsyncGenerator<string> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) yield* walk(path);
    else if (e.isFile()) yield path;
  }
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
/** One path segment of an entry: not empty, `.` or `..`, no backslash, no control character. */
const segmentAllowed = (p: string) => p !== '' && p !== '.' && p !== '..' && !p.includes('\\') && !hasControlCharacter(p);

/**
 * Unpacks the archive at `zipFile` into `dest` (a new, empty folder) after
 * checking it entry by entry: a manifest of ours first or anywhere, the
 * database copy it names, files under `storage/` only; no links, no
 * absolute or climbing paths, no entry twice, sizes as the directory says.
 * Anything else is a {@link BackupCheckError} (a 400), and `dest` is left
 * for the caller to remove.
 */
export async function unpackArchive(zipFile: string, dest: string): Promise<Manifest> {
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(zipFile);
  } catch (err) {
    throw new BackupCheckError(`the file is not a zip archive: ${(err as Error).message}`);
  }
  const seen = new Set<string>();
  let manifest: Manifest | null = null;
  try {
    for await (const entry of entries(zip)) {
      const name = entry.fileName;
      checkEntryName(name, entry.externalFileAttributes, seen);
      if (name.endsWith('/')) continue;
      const target = join(dest, ...name.split('/'));
      mkdirSync(dirname(target), { recursive: true });
      await pipeline(await zip.openReadStreamPromise(entry), createWriteStream(target, { flags: 'wx' }));
      if (name === MANIFEST) manifest = await readManifest(target);
    }
  } catch (err) {
    if (err instanceof BackupCheckError) throw err;
    throw new BackupCheckError(`the archive is damaged: ${(err as Error).message}`);
  } finally {
    zip.close();
  }
  if (!manifest) throw new BackupCheckError(`not a Mainspring backup: the archive has no ${MANIFEST}`);
  if (!seen.has(manifest.database)) throw new BackupCheckError(`the archive has no ${manifest.database}`);
  return manifest;
}

function checkEntryName(name: string, attributes: number, seen: Set<string>): void {
  const parts = name.replace(/\/$/, '').split('/');
  if (!parts.every(segmentAllowed)) throw new BackupCheckError(`the archive holds a path that is not allowed: ${JSON.stringify(name)}`);
  if (((attributes >>> 16) & S_IFMT) === S_IFLNK) throw new BackupCheckError(`the archive holds a link: ${JSON.stringify(name)}`);
  const top = parts[0];
  const allowed =
    parts.length === 1 ? top === MANIFEST || top === 'data.db' || top === 'data.pgdump' || name.endsWith('/') : top === STORAGE;
  if (!allowed) throw new BackupCheckError(`the archive holds something a Mainspring backup does not: ${JSON.stringify(name)}`);
  const key = name.replace(/\/$/, '');
  if (seen.has(key)) throw new BackupCheckError(`the archive holds ${JSON.stringify(name)} twice`);
  seen.add(key);
}

async function readManifest(file: string): Promise<Manifest> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    throw new BackupCheckError(`${MANIFEST} is not JSON`);
  }
  const m = parsed as Partial<Manifest>;
  if (m?.format !== 1 || (m.database !== 'data.db' && m.database !== 'data.pgdump') || typeof m.created !== 'string') {
    throw new BackupCheckError(`${MANIFEST} is not one this version of Mainspring wrote`);
  }
  return m as Manifest;
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    // yauzl refuses absolute and climbing names itself too (strictFileNames also refuses backslashes)
    yauzl.open(file, { lazyEntries: true, autoClose: false, strictFileNames: true, validateEntrySizes: true }, (err, zip) =>
      err ? reject(err) : resolve(zip),
    );
  });
}

/** The archive's entries, one at a time (each is read before the next is asked for). */
async function* entries(zip: yauzl.ZipFile): AsyncGenerator<yauzl.Entry> {
  for (;;) {
    const entry = await new Promise<yauzl.Entry | null>((resolve, reject) => {
      const cleanup = () => {
        zip.off('entry', onEntry);
        zip.off('end', onEnd);
        zip.off('error', onError);
      };
      const onEntry = (e: yauzl.Entry) => {
        cleanup();
        resolve(e);
      };
      const onEnd = () => {
        cleanup();
        resolve(null);
      };
      const onError = (e: Error) => {
        cleanup();
        reject(e);
      };
      zip.on('entry', onEntry);
      zip.on('end', onEnd);
      zip.on('error', onError);
      zip.readEntry();
    });
    if (!entry) return;
    yield entry;
  }
}
