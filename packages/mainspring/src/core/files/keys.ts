/**
 * What names a stored file, whatever the driver: a record's file, or a
 * thumb of one, kept beside it. Every part is checked here, so no name from
 * a request, a hook or a record's value can reach outside its record's
 * files. The layout is PocketBase's, as folders on a disk or as object keys
 * (`{collectionId}/{recordId}/{name}`, a thumb at
 * `{collectionId}/{recordId}/thumbs_{name}/{size}_{name}`).
 */

/** One stored file. */
export interface FileKey {
  collectionId: string;
  recordId: string;
  /** The stored name (names.ts); for a thumb, the name of its original. */
  name: string;
  /** For a thumb of the file: its size (`100x100`, `0x50`, `100x100t`…). */
  thumb?: string;
}

/** A stored file name: what the upload code makes (letters, digits, `_`, `-`, one or more `.` parts), at most 200 characters. */
const FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}$/;
/** Collection and record ids. */
const ID = /^[A-Za-z0-9_]{1,100}$/;
/** A thumb size, as thumbs.ts parses it. */
const THUMB_SIZE = /^\d{1,4}x\d{1,4}[tbf]?$/;
/** The folder a file's thumbs are kept in, beside it. */
const THUMBS_PREFIX = 'thumbs_';

/** True for a name that may be a stored file: no separators, no `..`, no leading dot. */
export function isStoredName(name: string): boolean {
  return typeof name === 'string' && FILE_NAME.test(name) && !name.includes('..');
}

/** True for a collection or record id a stored file's folder may have. */
export function isStoredId(id: string): boolean {
  return typeof id === 'string' && ID.test(id);
}

/**
 * The parts of a key's place in PocketBase's layout, each a plain name:
 * `[collectionId, recordId, name]`, for a thumb `[collectionId, recordId,
 * thumbs_{name}, {size}_{name}]`; null for a key no stored file can have.
 */
export function keySegments(key: FileKey): string[] | null {
  if (!isStoredId(key.collectionId) || !isStoredId(key.recordId) || !isStoredName(key.name)) return null;
  if (key.thumb === undefined) return [key.collectionId, key.recordId, key.name];
  if (typeof key.thumb !== 'string' || !THUMB_SIZE.test(key.thumb)) return null;
  return [key.collectionId, key.recordId, thumbsFolder(key.name), `${key.thumb}_${key.name}`];
}

/** The folder beside a file that holds its thumbs. */
export function thumbsFolder(name: string): string {
  return `${THUMBS_PREFIX}${name}`;
}

/** The key as one relative path (PocketBase's `servedPath` of a download hook); null for a key no file can have. */
export function keyPath(key: FileKey): string | null {
  return keySegments(key)?.join('/') ?? null;
}

/** The key a relative path names (the inverse of {@link keyPath}); null for anything else. */
export function parseKeyPath(path: string): FileKey | null {
  if (typeof path !== 'string') return null;
  const parts = path.split('/');
  const [collectionId = '', recordId = '', third = '', fourth = ''] = parts;
  let key: FileKey | null = null;
  if (parts.length === 3) key = { collectionId, recordId, name: third };
  else if (parts.length === 4) {
    const name = thumbsFolderOf(third);
    key = name === null ? null : thumbKeyOf({ collectionId, recordId, name }, fourth);
  }
  // only a path that is exactly the key's own (no `a//b`, nothing around it)
  return key && keyPath(key) === path ? key : null;
}

/** The original a thumb's folder is of (`thumbs_{name}` → name), or null for any other folder name. */
export function thumbsFolderOf(folder: string): string | null {
  if (!folder.startsWith(THUMBS_PREFIX)) return null;
  const name = folder.slice(THUMBS_PREFIX.length);
  return isStoredName(name) ? name : null;
}

/** The thumb key a file name inside the thumbs folder of `original` is, or null for anything else. */
export function thumbKeyOf(original: FileKey, file: string): FileKey | null {
  if (!file.endsWith(`_${original.name}`)) return null;
  const key = { ...original, thumb: file.slice(0, -original.name.length - 1) };
  return keySegments(key) ? key : null;
}
