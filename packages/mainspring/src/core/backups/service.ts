import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { BackupCheckError, BackupToolError, type Engine, isStorageFull } from '../../storage/engine.js';
import { ApiError, Errors, fieldError } from '../errors.js';
import { FileStorageError } from '../files/store.js';
import type { Hooks } from '../hooks/registry.js';
import { randomString } from '../ids.js';
import { archiveStream, type Manifest, STORAGE } from './archive.js';
import { stageRestore } from './restore.js';
import { type BackupInfo, type BackupStore, isBackupKey } from './store.js';

export interface BackupDeps {
  dataDir: string;
  engine: Engine;
  /** Where backups go: the local folder, or the bucket `backups.s3` names. */
  store: () => BackupStore;
  /** This instance's folder for copies and downloads a backup works on (`.backup-work/{instance id}`; a dead instance's is swept at start). */
  workDir: string;
  hooks: Hooks;
  logger: Logger;
  /** Holds file deletions while an archive is written, so no file a copied record names is gone before it is read. */
  holdFileDeletes: () => () => void;
}

/** PocketBase's rule for a backup name given on create. */
const CREATE_NAME = /^[a-z0-9_-]+\.zip$/;
/** Names of the backups the cron makes (PocketBase's `@auto_pb_backup_…`), the only ones `cronMaxKeep` removes. */
export const AUTO_PREFIX = '@auto_ms_backup_';
/** The id of the backup cron job (`GET /api/crons` lists it, as PocketBase lists `__pbBackups__`). */
export const BACKUP_CRON = '__msBackups__';
/** Copies, downloads and unfinished archives of backups, a folder per instance, under the data directory. */
export const BACKUP_WORK_DIR = '.backup-work';

/**
 * PocketBase's backups: an archive of the database (one consistent copy,
 * taken while writes go on) and the stored files, made, listed, uploaded,
 * downloaded, deleted and restored. One backup or restore runs at a time
 * per instance.
 */
export class BackupService {
  /** The backup being made or restored, if any (PocketBase's StoreKeyActiveBackup). */
  private active: string | null = null;
  /** Asked to open the app again on the data a restore staged; set by whoever runs the app. */
  restart: (() => Promise<void>) | null = null;

  constructor(private readonly d: BackupDeps) {}

  /** True when no backup or restore is running (health's `canBackup`). */
  get idle(): boolean {
    return this.active === null;
  }

  list(): Promise<BackupInfo[]> {
    return this.d.store().list();
  }

  /** Makes a backup named `name` (a new `ms_backup_<time>.zip` when none is given); resolves with its key once stored. */
  async create(name?: string, prefix = 'ms_backup_'): Promise<string> {
    if (name !== undefined && name !== '') {
      if (name.length > 150 || !CREATE_NAME.test(name)) {
        throw Errors.validation('An error occurred while validating the submitted data.', {
          name: fieldError('validation_match_invalid', 'Must be in a valid format.'),
        });
      }
      if ((await this.d.store().size(name)) !== null) {
        throw Errors.validation('An error occurred while validating the submitted data.', {
          name: fieldError('validation_backup_name_exists', 'The backup file name is invalid or already exists.'),
        });
      }
    }
    const key = name || `${prefix}${stamp(new Date())}.zip`;
    try {
      await this.exclusive(key, () => this.d.hooks.backupCreate.trigger({ name: key }, (e) => this.write(e.name)));
    } catch (err) {
      throw asBadRequest(err, 'Failed to create backup.', this.d.logger);
    }
    return key;
  }

  /** The copy, then the archive streamed into the store; the temporary copy is removed whatever happens. */
  private async write(key: string): Promise<void> {
    const work = join(this.d.workDir, randomString(10));
    mkdirSync(work, { recursive: true });
    const backup = this.d.engine.backup;
    const release = this.d.holdFileDeletes();
    try {
      const copy = join(work, backup.fileName);
      await backup.write(copy);
      const manifest: Manifest = { format: 1, database: backup.fileName, created: new Date().toISOString() };
      await this.d.store().write(key, await archiveStream(manifest, copy, join(this.d.dataDir, STORAGE)));
    } catch (err) {
      throw asBadRequest(err, 'Failed to create backup.', this.d.logger);
    } finally {
      release();
      rmSync(work, { recursive: true, force: true });
    }
  }

  /** Stores an uploaded archive under its own name (PocketBase checks the name only; a restore checks the rest). */
  async upload(name: string, source: Readable): Promise<void> {
    if (!isBackupKey(name) || (await this.d.store().size(name)) !== null) {
      source.resume();
      throw Errors.validation('An error occurred while validating the submitted data.', {
        file: fieldError('validation_backup_name_exists', 'Backup file with the specified name already exists.'),
      });
    }
    try {
      await this.d.store().write(name, source);
    } catch (err) {
      throw asBadRequest(err, 'Failed to upload backup.', this.d.logger);
    }
  }

  /** The archive's bytes and size, or null. */
  async open(key: string): Promise<{ stream: Readable; size: number } | null> {
    if (!isBackupKey(key)) return null;
    const store = this.d.store();
    const size = await store.size(key);
    const stream = size === null ? null : await store.openRead(key);
    return stream && size !== null ? { stream, size } : null;
  }

  async delete(key: string): Promise<void> {
    if (key === this.active) throw Errors.badRequest('The backup is currently being used and cannot be deleted.');
    if (!isBackupKey(key) || !(await this.d.store().delete(key))) throw Errors.badRequest('Invalid or already deleted backup file.');
  }

  /**
   * Checks the archive and stages it (restore.ts); the app then opens again
   * on it through {@link restart}. Resolves once it is staged: the restart
   * follows, as PocketBase's restore goes on after its 204.
   */
  async restore(key: string): Promise<void> {
    if (!isBackupKey(key) || (await this.d.store().size(key)) === null) throw Errors.badRequest('Missing or invalid backup file.');
    try {
      await this.exclusive(key, () =>
        this.d.hooks.backupRestore.trigger({ name: key }, async (e) => {
          const work = join(this.d.workDir, randomString(10));
          mkdirSync(work, { recursive: true });
          try {
            const zip = join(work, 'restore.zip');
            const source = await this.d.store().openRead(e.name);
            if (!source) throw Errors.badRequest('Missing or invalid backup file.');
            await pipeline(source, createWriteStream(zip));
            await stageRestore(this.d.dataDir, zip, this.d.engine.backup);
          } catch (err) {
            throw asBadRequest(err, 'Failed to restore backup.', this.d.logger);
          } finally {
            rmSync(work, { recursive: true, force: true });
          }
        }),
      );
    } catch (err) {
      throw asBadRequest(err, 'Failed to restore backup.', this.d.logger);
    }
    const restart = this.restart;
    if (!restart) {
      this.d.logger.warn({ backup: key }, 'backup staged: it is restored when the app next starts');
      return;
    }
    // the answer goes out first (PocketBase waits a second too)
    setTimeout(() => {
      restart().catch((err) => this.d.logger.error({ err, backup: key }, 'restarting on the restored backup failed'));
    }, 1000).unref();
  }

  /** Removes the oldest cron-made backups beyond `keep`. */
  async prune(keep: number): Promise<void> {
    const auto = (await this.list()).filter((b) => b.key.startsWith(AUTO_PREFIX)).sort((a, b) => a.key.localeCompare(b.key));
    for (const b of auto.slice(0, Math.max(0, auto.length - keep))) await this.d.store().delete(b.key);
  }

  private async exclusive(key: string, work: () => Promise<void>): Promise<void> {
    if (this.active !== null) throw Errors.badRequest('Try again later - another backup/restore process has already been started.');
    this.active = key;
    try {
      await work();
    } finally {
      this.active = null;
    }
  }
}

/** `YYYYMMDDHHMMSS` in UTC, as PocketBase names its backups. */
function stamp(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/**
 * A failure as PocketBase answers it: a 400 "Failed to …" (a hook's refusal
 * too), saying why where the reason is the archive's or a missing tool's;
 * storage that is full or unreachable keeps its own answer (507, 503).
 */
function asBadRequest(err: unknown, message: string, logger: Logger): unknown {
  if (err instanceof ApiError || err instanceof FileStorageError || isStorageFull(err)) return err;
  if (err instanceof BackupCheckError || err instanceof BackupToolError) return Errors.badRequest(`${message} ${err.message}`);
  logger.warn({ err }, message);
  return Errors.badRequest(message);
}
