import { join } from 'node:path';

/**
 * Where files live, PocketBase's layout under the data directory:
 * `storage/{collectionId}/{recordId}/{filename}`, and a file's thumbnails in
 * `storage/{collectionId}/{recordId}/thumbs_{filename}/{size}_{filename}`.
 * Every part is checked here, so no name from a request can leave its folder.
 */

/** The storage root of a data directory. */
export function storageRoot(dataDir: string): string {
  return join(dataDir, 'storage');
}

/** A stored file name: what the upload code makes (letters, digits, `_`, `-`, one or more `.` parts), at most 200 characters. */
const FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}$/;
/** Collection and record ids. */
const ID = /^[A-Za-z0-9_]{1,100}$/;

/** True for a name that may be a stored file: no separators, no `..`, no leading dot. */
export function isStoredName(name: string): boolean {
  return typeof name === 'string' && FILE_NAME.test(name) && !name.includes('..');
}

/** The folder of one record's files; null when an id is not one. */
export function recordDir(root: string, collectionId: string, recordId: string): string | null {
  if (!ID.test(collectionId) || !ID.test(recordId)) return null;
  return join(root, collectionId, recordId);
}

/** The path of one stored file; null when any part could not be one. */
export function filePath(root: string, collectionId: string, recordId: string, filename: string): string | null {
  const dir = recordDir(root, collectionId, recordId);
  if (!dir || !isStoredName(filename)) return null;
  return join(dir, filename);
}

/** The path of a thumbnail of a stored file (`size` as `100x100`, `0x50`, `100x100t`…). */
export function thumbPath(root: string, collectionId: string, recordId: string, filename: string, size: string): string | null {
  const dir = recordDir(root, collectionId, recordId);
  if (!dir || !isStoredName(filename) || !/^\d{1,4}x\d{1,4}[tbf]?$/.test(size)) return null;
  return join(dir, `thumbs_${filename}`, `${size}_${filename}`);
}
