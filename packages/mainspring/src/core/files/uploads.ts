import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Executor } from '../../storage/engine.js';
import { deleteFiles, type FileSource, type FileStore, fileSource } from './store.js';

/**
 * Uploads on their way into a record. Each file of a request is streamed to
 * a temporary file under `<dataDir>/.uploads/` as it arrives. A write puts
 * the ones it keeps in the file store before its transaction, under their
 * final keys (a stored name is random and new: no reader looks for it until
 * a committed record names it), so a slow store (S3) never holds the
 * database's writer; inside the transaction each is claimed, and put then
 * only if the write's record moved it (a hook changed its id). When the
 * request is over, temporary files go, and so does every file put for a
 * write whose transaction did not commit (refused, failed, or a PostgreSQL
 * attempt run again that finally failed). A process that dies in between
 * leaves what it put to the orphan sweep (`orphans.ts`).
 */

/** The folder of temporary uploads of a data directory. */
export function uploadsDir(dataDir: string): string {
  return join(dataDir, '.uploads');
}

/** Creates the uploads folder (private to the process's user). */
export function ensureUploadsDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** Loose temporary files (from before uploads had a folder per instance) are removed after this long. */
const LOOSE_MAX_AGE_MS = 24 * 3600_000;

/**
 * Removes the temporary uploads of instances that are no longer alive:
 * each instance streams into a folder named after its id
 * (`.uploads/{instance}/`), so a live instance sharing the data folder
 * keeps its own. Loose files (an older version's) go after a day.
 */
export async function sweepDeadUploads(dir: string, alive: (instance: string) => Promise<boolean>): Promise<number> {
  let removed = 0;
  const now = Date.now();
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() ? await alive(entry.name) : now - ((await stat(path).catch(() => null))?.mtimeMs ?? now) <= LOOSE_MAX_AGE_MS) {
      continue;
    }
    await rm(path, { recursive: true, force: true });
    removed++;
  }
  return removed;
}

/** What a finished upload is: where its bytes wait, what they are, and the name it will be stored under. */
export interface UploadInfo {
  /** The file name the client sent (only a hint, never used as a path). */
  originalName: string;
  /** The stored name (`names.ts`): unique and safe. */
  name: string;
  /** The temporary file. */
  path: string;
  size: number;
  /** The MIME type its bytes show (`sniff.ts`). */
  type: string;
  /** SHA-256 of the content, hex: what an Idempotency-Key fingerprint sees of it. */
  sha256: string;
}

/** One uploaded file, as it appears among a request body's values. */
export class UploadedFile implements UploadInfo {
  readonly originalName: string;
  readonly name: string;
  readonly path: string;
  readonly size: number;
  readonly type: string;
  readonly sha256: string;

  constructor(
    /** The request's uploads this belongs to. */
    readonly owner: UploadSet,
    info: UploadInfo,
  ) {
    this.originalName = info.originalName;
    this.name = info.name;
    this.path = info.path;
    this.size = info.size;
    this.type = info.type;
    this.sha256 = info.sha256;
  }

  /** Its bytes, as the file store takes them. */
  get source(): FileSource {
    return fileSource(this.path, this.size);
  }

  /** Puts the file in the store as a file of a record, before the transaction that will name it: removed after the request unless one that {@link place}s it commits. */
  put(collectionId: string, recordId: string): Promise<void> {
    return this.owner.put(this, collectionId, recordId).then(() => {});
  }

  /** Claims the file as a file of a record inside `tx` (putting it, unless {@link put} did): kept if `tx` commits. */
  place(tx: Executor, collectionId: string, recordId: string): Promise<void> {
    return this.owner.place(tx, this, collectionId, recordId);
  }

  /** What JSON (hooks, logs, the Idempotency-Key fingerprint) shows of an upload: never its temporary path. */
  toJSON(): { file: string; size: number; type: string; sha256: string } {
    return { file: this.originalName, size: this.size, type: this.type, sha256: this.sha256 };
  }
}

/** True for a value that is an upload (JSON can never make one). */
export function isUpload(value: unknown): value is UploadedFile {
  return value instanceof UploadedFile;
}

/** True for a submitted value that is an upload or a list holding one. */
export function holdsUpload(value: unknown): boolean {
  return isUpload(value) || (Array.isArray(value) && value.some(isUpload));
}

interface Placement {
  collectionId: string;
  recordId: string;
  name: string;
  committed: boolean;
  /** The put, started or done: a write's own transaction, or one run again (PostgreSQL), does not upload the file again. */
  put?: Promise<void>;
}

/**
 * One request's uploads: their temporary files and where they were put.
 * {@link run} brackets the work that uses them; {@link finish} (called when
 * the last such work ends, or when the request ends without any) cleans up.
 */
export class UploadSet {
  private readonly temps = new Set<string>();
  private readonly placements = new Map<string, Placement>();
  private running = 0;

  constructor(
    readonly dir: string,
    private readonly store: FileStore,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** A new temporary file path (the caller creates the file); removed by {@link finish}. */
  tempPath(): string {
    const path = join(this.dir, `${Date.now().toString(36)}_${randomBytes(12).toString('hex')}`);
    this.temps.add(path);
    return path;
  }

  /** Number of temporary files not yet removed. */
  get pending(): number {
    return this.temps.size;
  }

  /** See {@link UploadedFile.put}. */
  async put(file: UploadedFile, collectionId: string, recordId: string): Promise<Placement> {
    const key = `${collectionId}/${recordId}/${file.name}`;
    let placement = this.placements.get(key);
    if (!placement) {
      placement = { collectionId, recordId, name: file.name, committed: false };
      this.placements.set(key, placement);
    }
    const p = placement;
    p.put ??= this.store.put({ collectionId, recordId, name: file.name }, file.source).catch((err) => {
      p.put = undefined;
      throw err;
    });
    await p.put;
    return p;
  }

  /** See {@link UploadedFile.place}. */
  async place(tx: Executor, file: UploadedFile, collectionId: string, recordId: string): Promise<void> {
    const p = await this.put(file, collectionId, recordId);
    // only the attempt that commits runs this (PostgreSQL drops a failed attempt's callbacks)
    tx.afterCommit(() => {
      p.committed = true;
    });
  }

  /** Runs `fn`, which may place uploads; the last one to end cleans up. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      if (this.running === 0) await this.finish();
    }
  }

  /** Cleans up unless work is still running (a request ended early: its client went away). */
  async finishIfIdle(): Promise<void> {
    if (this.running === 0) await this.finish();
  }

  /** Removes the temporary files, and every put file no committed transaction claimed. Safe to call again. */
  async finish(): Promise<void> {
    const temps = [...this.temps];
    this.temps.clear();
    const lost = [...this.placements.values()].filter((p) => !p.committed);
    this.placements.clear();
    await Promise.all(temps.map((path) => rm(path, { force: true }).catch(this.onError)));
    for (const p of lost) await deleteFiles(this.store, p.collectionId, p.recordId, [p.name]).catch(this.onError);
  }

  /** Forgets a temporary path already removed. */
  forget(path: string): void {
    this.temps.delete(path);
  }
}
