import type { Collection } from '../../core/collections/model.js';
import { encodeValue } from '../../core/records/rows.js';
import type { Dialect, Executor, SqlValue } from '../../storage/engine.js';
import { CliError } from '../errors.js';
import { MONGO_ID } from './plan.js';

/** Parameters per statement: PostgreSQL takes at most 65,535, SQLite 32,766. */
const BATCH_PARAMS = 30_000;
/** Text held per statement: a batch of large documents is written before it holds more. */
const BATCH_BYTES = 16 * 1024 * 1024;

/**
 * Rows written many to a statement: one multi-row INSERT per batch (and,
 * for a collection that held rows before, one DELETE of the batch's ids
 * ahead of it, so a second run replaces its records). On PostgreSQL each
 * statement is a round trip; one per row made 100k orders take minutes.
 */
export class RowBatch {
  private rows: { data: Record<string, unknown>; at: string }[] = [];
  private bytes = 0;
  private readonly perStatement: number;
  written = 0;

  constructor(
    private readonly tx: Executor,
    private readonly d: Dialect,
    private readonly c: Collection,
    /** Whether the collection held rows before this run: only then may an id be there already. */
    private readonly replacing: boolean,
    /** The MongoDB collection, for errors. */
    private readonly source: string,
  ) {
    this.perStatement = Math.max(1, Math.floor(BATCH_PARAMS / c.fields.length));
  }

  /** Adds a record; the batch is written once full. */
  async add(data: Record<string, unknown>, at: string): Promise<void> {
    this.rows.push({ data, at });
    for (const v of Object.values(data)) if (typeof v === 'string') this.bytes += v.length;
    if (this.rows.length >= this.perStatement || this.bytes >= BATCH_BYTES) await this.flush();
  }

  /** Writes what the batch holds. */
  async flush(): Promise<void> {
    const rows = this.rows;
    if (rows.length === 0) return;
    this.rows = [];
    this.bytes = 0;
    const { d, c } = this;
    const table = d.ident(c.name);
    if (this.replacing) {
      const marks = rows.map((_, i) => d.param(i + 1)).join(', ');
      await this.tx.run(
        `DELETE FROM ${table} WHERE ${d.ident('id')} IN (${marks})`,
        rows.map((r) => r.data.id as string),
      );
    }
    const params: SqlValue[] = [];
    const tuples = rows.map(({ data }) => {
      const marks = c.fields.map((f) => {
        params.push(encodeValue(f, data[f.name], d));
        return d.param(params.length);
      });
      return `(${marks.join(', ')})`;
    });
    const columns = c.fields.map((f) => d.ident(f.name)).join(', ');
    try {
      await this.tx.run(`INSERT INTO ${table} (${columns}) VALUES ${tuples.join(', ')}`, params);
    } catch (err) {
      const unique = d.uniqueViolation(err);
      if (!unique) throw err;
      const what = unique.columns?.join(', ') ?? unique.index ?? 'a unique index';
      const first = rows[0];
      const last = rows[rows.length - 1];
      const where = rows.length === 1 ? `${first?.at}, _id ${first?.data[MONGO_ID]}` : `${first?.at} to ${last?.at}`;
      throw new CliError(`${this.source} (${where}): two records have the same ${what}; nothing was imported`);
    }
    this.written += rows.length;
  }
}
