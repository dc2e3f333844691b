import type { Settings } from '../settings.js';
import type { FileKey } from './keys.js';
import { LocalFileStore, localStorageRoot } from './local-store.js';
import type { ByteRange, DeleteTarget, FileRead, FileScope, FileSource, FileStat, FileStore, RangeChoice } from './store.js';

/** The file drivers, by the name the settings choose them with. */
export type FileDriverName = 'local' | 's3';

/** The driver the settings choose: S3 when `s3.enabled`, else the local disk (PocketBase's rule). */
export function chosenDriver(settings: Settings): FileDriverName {
  return settings.s3.enabled ? 's3' : 'local';
}

/**
 * The file store `App` hands to every service: the driver the settings
 * choose, asked on every call, so a change of the settings takes effect at
 * once (PocketBase builds its filesystem from the settings per request too).
 * Only the local disk exists today; the settings refuse `s3.enabled` until
 * the S3 driver does (issue 24), and one stored anyway keeps the disk. To
 * add a driver: a class implementing `FileStore` that passes
 * `store.contract.ts`, built here under its name.
 */
export class SettingsFileStore implements FileStore {
  private readonly drivers: Partial<Record<FileDriverName, FileStore>>;
  private readonly local: LocalFileStore;

  constructor(
    dataDir: string,
    private readonly settings: () => Settings,
  ) {
    this.local = new LocalFileStore(localStorageRoot(dataDir));
    this.drivers = { local: this.local };
  }

  /** The driver the current settings choose. */
  driver(): FileStore {
    return this.drivers[chosenDriver(this.settings())] ?? this.local;
  }

  put(key: FileKey, source: FileSource): Promise<void> {
    return this.driver().put(key, source);
  }

  openRead(key: FileKey, range?: ByteRange | RangeChoice): Promise<FileRead | null> {
    return this.driver().openRead(key, range);
  }

  stat(key: FileKey): Promise<FileStat> {
    return this.driver().stat(key);
  }

  list(scope: FileScope): AsyncIterable<FileKey> {
    return this.driver().list(scope);
  }

  delete(target: DeleteTarget): Promise<void> {
    if (this.held !== null) {
      this.held.push(target);
      return Promise.resolve();
    }
    return this.driver().delete(target);
  }

  /** Deletions asked for while a hold is on: done when the last hold ends. */
  private held: DeleteTarget[] | null = null;
  private holds = 0;

  /**
   * Holds deletions until the answer is called: a backup copies the
   * database at one moment and the files after, so a file its records name
   * must still be there when it is read. Deletions only ever follow a commit
   * (the record no longer names the file), so doing them later changes
   * nothing anyone reads.
   */
  holdDeletes(): () => void {
    this.holds++;
    this.held ??= [];
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.holds > 0) return;
      const targets = this.held ?? [];
      this.held = null;
      for (const t of targets)
        this.driver()
          .delete(t)
          .catch(() => {});
    };
  }
}
