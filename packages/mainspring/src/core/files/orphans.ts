import type { CollectionRegistry } from '../collections/registry.js';
import { isFile } from '../fields/index.js';
import { fileNames } from '../records/files.js';
import type { RecordService } from '../records/service.js';
import type { FileKey } from './keys.js';
import type { FileStore } from './store.js';

/**
 * Files in the store that no committed record names: left by a process that
 * died between putting an upload and its transaction's end (the
 * request's own cleanup never ran). `mainspring doctor` lists them and, with
 * `--fix`, removes them; `serve` removes them once, a minute after it
 * starts. Only files older than a grace period go: a younger one may belong
 * to a write still running (here or on another instance).
 */

/** One original no record names (its thumbs go with it). */
export interface OrphanFile {
  key: FileKey;
  size: number;
  modifiedMs: number;
}

/**
 * Files older than this may be removed: far longer than a write takes from
 * its put (a stored file's time, `uploads.ts`) to its commit, the transfer
 * included where a store dates a file by the upload's start.
 */
export const ORPHAN_GRACE_MS = 60 * 60_000;

/** Every original (or thumb without its original) in `store` that no committed record names. */
export async function* orphanFiles(store: FileStore, registry: CollectionRegistry, records: RecordService): AsyncIterable<OrphanFile> {
  const named = new Map<string, Set<string> | null>();
  const seen = new Set<string>();
  for await (const key of store.list({ kind: 'all' })) {
    const recordKey = `${key.collectionId}/${key.recordId}`;
    if (!named.has(recordKey)) named.set(recordKey, await namesOf(registry, records, key));
    if (named.get(recordKey)?.has(key.name)) continue;
    // an original and its thumbs are one orphan
    const fileKey = `${recordKey}/${key.name}`;
    if (seen.has(fileKey)) continue;
    seen.add(fileKey);
    const original = { collectionId: key.collectionId, recordId: key.recordId, name: key.name };
    let stat = await store.stat(original);
    if (!stat.exists && key.thumb) stat = await store.stat(key);
    if (!stat.exists) continue;
    yield { key: original, size: stat.size, modifiedMs: stat.modifiedMs };
  }
}

/** The file names the record of `key` holds, or null when there is no such record (or collection). */
async function namesOf(registry: CollectionRegistry, records: RecordService, key: FileKey): Promise<Set<string> | null> {
  const c = registry.find(key.collectionId);
  if (!c || c.id !== key.collectionId || c.type === 'view') return null;
  const record = await records.findById(c, key.recordId);
  if (!record) return null;
  return new Set(c.fields.flatMap((f) => (isFile(f) ? fileNames(record[f.name]) : [])));
}

/** Removes the orphans older than `graceMs`; answers what was removed. */
export async function removeOrphanFiles(
  store: FileStore,
  registry: CollectionRegistry,
  records: RecordService,
  graceMs = ORPHAN_GRACE_MS,
  now = Date.now(),
): Promise<OrphanFile[]> {
  // listed whole first: nothing is deleted from under the listing
  const old: OrphanFile[] = [];
  for await (const orphan of orphanFiles(store, registry, records)) if (now - orphan.modifiedMs > graceMs) old.push(orphan);
  const removed: OrphanFile[] = [];
  for (const orphan of old) {
    // looked at again just before: a record may have been written since
    if ((await namesOf(registry, records, orphan.key))?.has(orphan.key.name)) continue;
    await store.delete({ kind: 'file', key: orphan.key });
    removed.push(orphan);
  }
  return removed;
}
