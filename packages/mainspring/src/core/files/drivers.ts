import type { S3Settings, Settings } from '../settings.js';
import type { FileKey } from './keys.js';
import { LocalFileStore, localStorageRoot } from './local-store.js';
import { S3FileStore } from './s3-store.js';
import type { ByteRange, DeleteTarget, FileRead, FileScope, FileSource, FileStat, FileStore, RangeChoice } from './store.js';

/** The file drivers, by the name the settings choose them with. */
export type FileDriverName = 'local' | 's3';

/** What each `MS_S3_*` variable sets of the `s3` settings. */
const S3_ENV: Record<string, Exclude<keyof S3Settings, 'enabled' | 'forcePathStyle'>> = {
  MS_S3_BUCKET: 'bucket',
  MS_S3_REGION: 'region',
  MS_S3_ENDPOINT: 'endpoint',
  MS_S3_ACCESS_KEY: 'accessKey',
  MS_S3_SECRET: 'secret',
};

/**
 * The `s3` settings in force: the stored ones with the environment's over
 * them (a container's configuration wins, as every `MS_*` variable does). A
 * bucket in `MS_S3_BUCKET` turns S3 on; `MS_S3_FORCE_PATH_STYLE` is
 * `true`/`1` or `false`/`0`.
 */
export function s3Settings(stored: S3Settings, env: NodeJS.ProcessEnv = process.env): S3Settings {
  const out = { ...stored };
  for (const [name, key] of Object.entries(S3_ENV)) {
    const value = env[name];
    if (value !== undefined && value !== '') out[key] = value;
  }
  if (env.MS_S3_BUCKET) out.enabled = true;
  const pathStyle = env.MS_S3_FORCE_PATH_STYLE?.toLowerCase();
  if (pathStyle === 'true' || pathStyle === '1') out.forcePathStyle = true;
  if (pathStyle === 'false' || pathStyle === '0') out.forcePathStyle = false;
  return out;
}

/** The driver the settings choose: S3 when `s3.enabled` (PocketBase's rule; the environment's settings over the stored), else the local disk. */
export function chosenDriver(settings: Settings, env: NodeJS.ProcessEnv = process.env): FileDriverName {
  return s3Settings(settings.s3, env).enabled ? 's3' : 'local';
}

/**
 * The file store `App` hands to every service: the driver the settings
 * choose, asked on every call, so a change of the settings takes effect at
 * once (PocketBase builds its filesystem from the settings per request too):
 * new files go where the settings say, and files stored elsewhere before
 * are not moved (nor found). The S3 driver is built for one configuration
 * and kept until it changes; the one it replaces is left to finish what it
 * streams (idle connections close on their own). To add a driver: a class
 * implementing `FileStore` that passes `store.contract.ts`, chosen here.
 */
export class SettingsFileStore implements FileStore {
  private readonly local: LocalFileStore;
  private s3: { config: string; store: S3FileStore } | undefined;

  constructor(
    dataDir: string,
    private readonly settings: () => Settings,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.local = new LocalFileStore(localStorageRoot(dataDir));
  }

  /** The driver the current settings choose. */
  driver(): FileStore {
    const s3 = s3Settings(this.settings().s3, this.env);
    if (!s3.enabled) return this.local;
    const config = JSON.stringify([s3.bucket, s3.region, s3.endpoint, s3.accessKey, s3.secret, s3.forcePathStyle]);
    if (this.s3?.config !== config) this.s3 = { config, store: new S3FileStore(s3) };
    return this.s3.store;
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

  /** Closes the S3 driver's connections (at shutdown). */
  close(): void {
    this.s3?.store.destroy();
    this.s3 = undefined;
  }
}
