import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Engine } from '../storage/engine.js';
import { FolderLock, type LockOwner } from '../storage/sqlite/folder-lock.js';
import { randomString } from './ids.js';

/**
 * This process as one instance of the app: an id new at every start, and
 * whether another instance is alive. Things an instance leaves half-done
 * when it dies (a claimed Idempotency-Key, temporary uploads) carry its id,
 * so whoever finds them can tell a live owner from a dead one.
 *
 * Where several processes share the database (`engine.shared`: PostgreSQL)
 * each instance keeps a row in `_ms_instances` whose `heartbeat` it renews
 * every second; one that has not for {@link LEASE_MS} is dead. Elsewhere
 * (SQLite) one process serves a data folder, under the folder's lock
 * ({@link lockDataDir}), so every instance but this one is dead: nothing is
 * written, and a server at rest stays without the checkpoint thread.
 */

export const INSTANCES_TABLE = '_ms_instances';
/** How often a live instance renews its heartbeat. */
const HEARTBEAT_MS = 1000;
/** How long without a heartbeat makes an instance dead. */
export const LEASE_MS = 4000;
/** Rows of instances gone this long are removed at start. */
const FORGET_MS = 24 * 3600_000;

/** Raised when the data directory cannot be created, written or taken. */
export class DataDirError extends Error {
  override readonly name: string = 'DataDirError';
}

/** Raised when another process serves the data folder. */
export class DataDirInUseError extends DataDirError {
  override readonly name = 'DataDirInUseError';
}

/** Takes the SQLite data folder for this process, or says who has it. */
export function lockDataDir(dir: string): FolderLock {
  const taken = FolderLock.take(dir, { pid: process.pid, hostname: hostname(), started: new Date().toISOString() });
  if (taken instanceof FolderLock) return taken;
  throw new DataDirInUseError(
    `the data folder ${dir} is in use by ${describeOwner(taken.heldBy)}; stop it first, or give this one another --dir`,
  );
}

function describeOwner(owner: LockOwner | null): string {
  if (!owner) return 'another Mainspring process';
  const serving = owner.url ? `, serving ${owner.url}` : '';
  return `another Mainspring process (pid ${owner.pid} on ${owner.hostname}${serving}, started ${owner.started})`;
}

export class Instance {
  /** This instance's id: 15 characters of `[a-z0-9]`, new at every start. */
  readonly id = randomString(15);
  private timer: NodeJS.Timeout | null = null;
  private readonly table: string;

  constructor(
    private readonly engine: Engine,
    private readonly logger: Logger,
    /** The data folder's lock, when this process serves a SQLite folder. */
    private readonly lock: FolderLock | null = null,
  ) {
    this.table = engine.dialect.ident(INSTANCES_TABLE);
  }

  /** Announces this instance to the others (shared engines only) and starts its heartbeat. */
  async start(): Promise<void> {
    if (!this.engine.shared) return;
    const now = Date.now();
    await this.engine.run(`DELETE FROM ${this.table} WHERE heartbeat < $1`, [now - FORGET_MS]);
    await this.engine.run(`INSERT INTO ${this.table} (id, pid, hostname, started, heartbeat) VALUES ($1, $2, $3, $4, $4)`, [
      this.id,
      process.pid,
      hostname(),
      now,
    ]);
    this.timer = setInterval(() => {
      this.engine
        .run(`UPDATE ${this.table} SET heartbeat = $1 WHERE id = $2`, [Date.now(), this.id])
        .catch((err) => this.logger.warn({ err }, 'renewing the instance heartbeat failed'));
    }, HEARTBEAT_MS);
    this.timer.unref();
  }

  /** Tells a refused second process where this one serves. */
  announce(url: string): void {
    this.lock?.announce(url);
  }

  /** True while the instance `id` runs (this one always). */
  async alive(id: string, now = Date.now()): Promise<boolean> {
    if (id === this.id) return true;
    if (!this.engine.shared || id === '') return false;
    const row = await this.engine.get<{ heartbeat: number | string }>(`SELECT heartbeat FROM ${this.table} WHERE id = $1`, [id]);
    return row !== undefined && Number(row.heartbeat) > now - LEASE_MS;
  }

  /** Stops the heartbeat and leaves (the database must still be open); the folder's lock goes with {@link release}. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.engine.shared) await this.engine.run(`DELETE FROM ${this.table} WHERE id = $1`, [this.id]).catch(() => {});
  }

  /** Lets the data folder go (after the database is closed). */
  release(): void {
    this.lock?.release();
  }
}
