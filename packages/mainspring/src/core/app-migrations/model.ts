import type { Logger } from 'pino';
import type { TxRecords } from '../hooks/transaction.js';

/**
 * A collection as `GET /api/collections/{id}` answers it and as
 * `POST /api/collections` takes it: `{ id?, name, type, fields, indexes, …Rule }`.
 */
export type CollectionJSON = Record<string, unknown>;

/**
 * What a migration's `up` and `down` receive: schema and record changes
 * inside the migration's one transaction. Each call sees the ones before it;
 * all commit together, or none (a throw rolls every one back).
 */
export interface MigrationApp {
  readonly collections: {
    /** A collection by id or name, or null. */
    find(idOrName: string): CollectionJSON | null;
    /** Every collection, system ones first. */
    all(): CollectionJSON[];
    /** Creates a collection from `POST /api/collections`'s body (an `id` given is kept); its table with it. */
    create(collection: CollectionJSON): Promise<CollectionJSON>;
    /** Changes a collection as `PATCH /api/collections/{idOrName}` does: fields matched by id keep their data. */
    update(idOrName: string, changes: CollectionJSON): Promise<CollectionJSON>;
    /** Deletes a collection and its table (refused while another collection relates to it). */
    delete(idOrName: string): Promise<void>;
    /**
     * As `PUT /api/collections/import`: each collection created, or updated where one has its id (else its
     * name); with `deleteMissing`, the other non-system collections deleted. Relations among them may point either way.
     */
    import(collections: CollectionJSON[], deleteMissing?: boolean): Promise<void>;
  };
  /** Records, acting as the system (no rules), in the migration's transaction: seed data, backfills. */
  readonly records: TxRecords;
  /**
   * Raw SQL in the migration's transaction, with `$1`, `$2` placeholders on
   * both engines. The SQL is the engine's own (SQLite or PostgreSQL): keep it portable.
   */
  readonly db: {
    run(sql: string, params?: readonly (string | number | null)[]): Promise<number>;
    all<T = Record<string, unknown>>(sql: string, params?: readonly (string | number | null)[]): Promise<T[]>;
  };
  readonly logger: Logger;
}

/**
 * A file in `ms_migrations/`: `export default { async up(app) {…}, async down(app) {…} } satisfies Migration`.
 * `up` runs once per database, in filename order; `down` undoes it (`mainspring migrate down`).
 */
export interface Migration {
  up(app: MigrationApp): Promise<void> | void;
  down?(app: MigrationApp): Promise<void> | void;
}

/** A migration file that cannot be built, loaded or run: `message` names the file and says why. */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

/** One line of `mainspring migrate status`. */
export interface MigrationState {
  file: string;
  /** When it was applied (ms since the epoch), or null when pending. */
  applied: number | null;
  /** Applied, but its file is no longer in the folder. */
  missing: boolean;
}
