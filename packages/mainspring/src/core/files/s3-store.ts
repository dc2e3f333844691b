import { type FileKey, isStoredId, keyPath, parseKeyPath, thumbsFolder } from './keys.js';
import { S3Bucket, type S3Location } from './s3-bucket.js';
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
} from './store.js';

/**
 * Record files in an S3 bucket, PocketBase's layout as object keys
 * (`{collectionId}/{recordId}/{name}`, thumbs in `…/thumbs_{name}/`), so a
 * bucket PocketBase filled is read as it is, and `<dataDir>/storage` copied
 * into a bucket is too. An object appears whole when its upload completes
 * (S3 never shows a part of one), so a put streams straight to its key.
 * S3 has no "create unless it exists" every service supports, so a taken
 * key is found by a HeadObject first, and puts of one key in this process
 * run one after another: one wins, the same bytes again succeed, other
 * bytes are refused. Across instances two puts of one key could both land,
 * the last winning; keys carry the record's id and a random part, so the
 * only puts of one key are an upload put again (a retried transaction) and
 * a thumb made by two instances at once, both the same file.
 */
export class S3FileStore implements FileStore {
  readonly bucket: S3Bucket;
  /** The put of each key in progress, so the next one waits for it. */
  private readonly putting = new Map<string, Promise<void>>();

  constructor(location: S3Location) {
    this.bucket = new S3Bucket(location);
  }

  async put(key: FileKey, source: FileSource): Promise<void> {
    const name = keyPath(key);
    if (name === null) throw new InvalidFileKeyError(`not a stored file's key: ${JSON.stringify(key).slice(0, 200)}`);
    const before = this.putting.get(name);
    const mine = (before ?? Promise.resolve()).catch(() => {}).then(() => this.place(name, source));
    this.putting.set(name, mine);
    try {
      await mine;
    } finally {
      if (this.putting.get(name) === mine) this.putting.delete(name);
    }
  }

  private async place(name: string, source: FileSource): Promise<void> {
    const existing = await this.bucket.head(name);
    if (!existing) return this.bucket.upload(name, source);
    // taken: fine when it holds the source's bytes
    if (existing.size === source.size) {
      const stored = await this.bucket.open(name);
      if (stored?.stream && (await digest(stored.stream)) === (await digest(source.open()))) return;
    }
    throw new FileExistsError(`a different file is stored as ${name}`);
  }

  openRead(key: FileKey, range?: ByteRange | RangeChoice): Promise<FileRead | null> {
    const name = keyPath(key);
    return name === null ? Promise.resolve(null) : this.bucket.open(name, range);
  }

  async stat(key: FileKey): Promise<FileStat> {
    const name = keyPath(key);
    const file = name === null ? null : await this.bucket.head(name);
    return file ? { exists: true, ...file } : { exists: false };
  }

  async *list(scope: FileScope): AsyncIterable<FileKey> {
    const folder = folderOf(scope);
    if (folder === null) return;
    for await (const name of this.bucket.list(folder)) {
      // anything else in the bucket (a settings test's object, what another app keeps) is not a file of ours
      const key = parseKeyPath(name);
      if (key) yield key;
    }
  }

  async delete(target: DeleteTarget): Promise<void> {
    if (target.kind !== 'file') {
      const folder = folderOf(target);
      if (folder !== null) await this.bucket.deletePrefix(folder);
      return;
    }
    const name = keyPath(target.key);
    if (name === null) return;
    const names = [name];
    if (target.key.thumb === undefined) {
      const { collectionId, recordId } = target.key;
      for await (const thumb of this.bucket.list(`${collectionId}/${recordId}/${thumbsFolder(target.key.name)}/`)) names.push(thumb);
    }
    await this.bucket.delete(names);
  }

  /** Closes the connections to the service. */
  destroy(): void {
    this.bucket.destroy();
  }
}

/** The folder of a scope's objects (`''` for all, `{c}/`, `{c}/{r}/`), or null for ids no stored file can have. */
function folderOf(scope: FileScope): string | null {
  if (scope.kind === 'all') return '';
  if (!isStoredId(scope.collectionId)) return null;
  if (scope.kind === 'collection') return `${scope.collectionId}/`;
  return isStoredId(scope.recordId) ? `${scope.collectionId}/${scope.recordId}/` : null;
}
