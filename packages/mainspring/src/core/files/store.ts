import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { FileKey } from './keys.js';

/**
 * Where record files and their thumbs are kept: the one interface every
 * file driver implements (`local-store.ts`, `s3-store.ts`), and
 * all that the rest of the code knows of storage. Bytes go in and out as
 * streams, a range is read by the driver (a disk seeks, S3 sends a `Range`
 * request), and nothing of where a driver keeps a file (a path, a bucket)
 * leaves it: files are named by {@link FileKey}. `store.contract.ts` is the
 * specification every driver passes.
 */
export interface FileStore {
  /**
   * Stores `source` as `key`, whole or not at all: no reader ever sees part
   * of it. A key that holds a file already is never overwritten: putting the
   * same bytes again succeeds (a transaction run again, a thumb made twice),
   * other bytes reject with {@link FileExistsError}. A key no file can have
   * rejects with {@link InvalidFileKeyError}.
   */
  put(key: FileKey, source: FileSource): Promise<void>;
  /**
   * Opens `key` for reading: the file as it is now, and a stream of its
   * bytes (the whole file, or `range`); null when there is no such file (a
   * key no file can have included). `range` may be a function: it sees the
   * file (size, version) before any byte is read, and the bytes then come
   * from that very version, which HTTP needs for a suffix range, If-Range
   * and a 304; it returns null to read nothing (the stream is null then).
   * A stream not read to its end must be destroyed; that frees what the
   * driver holds open.
   */
  openRead(key: FileKey, range?: ByteRange | RangeChoice): Promise<FileRead | null>;
  /** The file `key` as it is now, or `{ exists: false }` (a key no file can have included). */
  stat(key: FileKey): Promise<FileStat>;
  /** Every file of `scope`, originals and thumbs, in no particular order (for cleanups). */
  list(scope: FileScope): AsyncIterable<FileKey>;
  /**
   * Deletes one file (an original with its thumbs), or every file of a
   * record or of a collection. What is missing is fine; a key no file can
   * have names nothing.
   */
  delete(target: DeleteTarget): Promise<void>;
}

/** Bytes from `start` to `end` (both included; `end` omitted: to the last byte). A range past the end is cut to it, and reads nothing when it starts past it. */
export interface ByteRange {
  start: number;
  end?: number;
}

/** The range to read once the file is known, or null for none (see {@link FileStore.openRead}). */
export type RangeChoice = (file: StoredFile) => ByteRange | null | Promise<ByteRange | null>;

/** A stored file as a driver describes it. */
export interface StoredFile {
  /** In bytes. */
  size: number;
  /** When it was stored, in milliseconds since the epoch. */
  modifiedMs: number;
  /** Opaque, and different for any other content stored under the key: what an ETag is made of. */
  version: string;
}

/** What {@link FileStore.stat} finds. */
export type FileStat = ({ exists: true } & StoredFile) | { exists: false };

/** An opened file: what it is, and its bytes (null when the range choice asked for none). */
export interface FileRead {
  file: StoredFile;
  stream: Readable | null;
}

/** A set of stored files. */
export type FileScope =
  | { kind: 'all' }
  | { kind: 'collection'; collectionId: string }
  | { kind: 'record'; collectionId: string; recordId: string };

/** What {@link FileStore.delete} removes: one file (with its thumbs, for an original), a record's files, a collection's. */
export type DeleteTarget = { kind: 'file'; key: FileKey } | Exclude<FileScope, { kind: 'all' }>;

/** The bytes a put stores. */
export interface FileSource {
  /** Their length. */
  readonly size: number;
  /** A new stream of them; a put that has to start again opens another. */
  open(): Readable;
  /**
   * A file on this machine that holds them (a finished upload), when there
   * is one: a driver on the same disk may link or copy it instead of
   * streaming it. Never a stored file's.
   */
  readonly localFile?: string;
}

/** Thrown by a put of a key no stored file can have (a name that could leave its folder); callers never build such keys. */
export class InvalidFileKeyError extends Error {
  override readonly name = 'InvalidFileKeyError';
}

/** Thrown by a put of other bytes under a key that holds a file already. */
export class FileExistsError extends Error {
  override readonly name = 'FileExistsError';
}

/**
 * Thrown when the storage itself failed (an S3 service that cannot be
 * reached, refuses the credentials, lacks the bucket): nothing about the
 * request was wrong, so the API answers 503, and the cause is logged.
 */
export class FileStorageError extends Error {
  override readonly name = 'FileStorageError';
}

/** The SHA-256 of a stream's bytes (a put again of a taken key compares them). */
export async function digest(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The bytes of a file on this machine (a temporary upload) as a put's source. */
export function fileSource(path: string, size: number): FileSource {
  return { size, localFile: path, open: () => createReadStream(path) };
}

/** Bytes in memory (a thumb just made) as a put's source. */
export function bufferSource(bytes: Buffer): FileSource {
  return { size: bytes.length, open: () => Readable.from([bytes], { objectMode: false }) };
}

/** Deletes files of one record (and their thumbs), one after another; what is missing is fine. */
export async function deleteFiles(store: FileStore, collectionId: string, recordId: string, names: readonly string[]): Promise<void> {
  for (const name of names) await store.delete({ kind: 'file', key: { collectionId, recordId, name } });
}
