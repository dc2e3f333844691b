import type { Readable } from 'node:stream';
import type { Executor } from '../../storage/engine.js';
import { hashPassword } from '../auth/passwords.js';
import { parseIndex } from '../collections/indexes.js';
import { type Collection, type Field, isMultiple } from '../collections/model.js';
import { parseDateInput } from '../dates.js';
import { ApiError, type ErrorData, Errors, type FieldError, fieldError } from '../errors.js';
import { isAutodate, isFile, isPassword } from '../fields/index.js';
import type { RecordData, RequestInfo } from '../rules/request-info.js';
import type { RecordContext } from './context.js';
import { writable } from './deletes.js';
import type { WriteFlow } from './flow.js';
import { csvRows, jsonLines, SourceError, type SourceRow } from './import-source.js';
import { applyInput } from './input.js';
import type { RecordReads } from './reads.js';
import type { RowWrites } from './row-writes.js';
import { RECORD_ALIAS } from './rows.js';
import { newTokenKey } from './writes.js';

/**
 * Records from a file (`POST /api/ms/collections/{c}/import`, superusers):
 * CSV or JSON lines (the body, written to a file first by the route) read
 * a row at a time (import-source.ts), in batches of
 * `batchSize` rows. Each row is judged as a superuser's create (or update,
 * with `upsert`) is, and written with its relations and unique indexes
 * checked; an error names the row. Unlike a create, what an export wrote
 * comes back as it was: `created` and `updated` when given, file names
 * (the files themselves are not moved), the id.
 *
 * `mode=all` writes every row in one transaction, committed only when no
 * row failed; `mode=batch` commits each batch that has no failed row, so
 * a failure loses only its batch. `dryRun` does all of it and rolls back.
 * Each row's write sits in a savepoint, so one that fails leaves the
 * transaction usable and the later rows are still judged.
 *
 * Record hooks (`recordCreate`, `recordUpdate`) run for each row and
 * realtime hears of each once it commits, except in a dry run, which
 * runs no hook; after-hooks do not run.
 */

/** How an import runs (the query string, checked). */
export interface ImportOptions {
  format: 'csv' | 'jsonl';
  mode: 'all' | 'batch';
  batchSize: number;
  dryRun: boolean;
  /** Update the record whose `id`, or whose value of this unique field, the row gives; else every row creates. */
  upsert: string | null;
  /** CSV cells of multi-valued fields are split on this (else a JSON list, or one value). */
  separator: string | null;
}

/** One row's failure. */
export interface RowError {
  row: number;
  line: number;
  /** Per-field errors, as a create's. */
  data?: ErrorData;
  /** A row that could not be read, or a write that failed as a whole. */
  message?: string;
}

/** What an import did. */
export interface ImportReport {
  dryRun: boolean;
  mode: 'all' | 'batch';
  /** Rows read (the CSV header excepted). */
  rows: number;
  created: number;
  updated: number;
  /** Rows not written: their own error, or their batch's. */
  skipped: number;
  errors: RowError[];
  /** More errors than {@link MAX_REPORTED_ERRORS} happened. */
  errorsTruncated: boolean;
  /** The file could not be read past a point (its line), so the import stopped there. */
  stopped: { line: number; message: string } | null;
}

/** At most this many row errors are reported (the import judges every row whatever their number). */
export const MAX_REPORTED_ERRORS = 1000;

/** A dry run's transaction ends here: everything rolls back. */
class RollBack extends Error {}

/** A parsed, judged row ready to be written. */
interface ReadyRow {
  row: number;
  line: number;
  data: RecordData;
  current: RecordData | null;
}

/** A row written (its record, and the one it replaced), or its error. */
type RowOutcome = { record: RecordData; current: RecordData | null } | RowError;

export class RecordImports {
  constructor(
    private readonly ctx: RecordContext,
    private readonly reads: RecordReads,
    private readonly rows: RowWrites,
    private readonly flow: WriteFlow,
  ) {}

  /** Checks the options against the collection: `upsert` must be `id` or a field a unique index holds alone. */
  check(c: Collection, options: ImportOptions): void {
    writable(c);
    const key = options.upsert;
    if (key === null || key === 'id') return;
    const unique = c.indexes.some((sql) => {
      const p = parseIndex(sql);
      return typeof p !== 'string' && p.unique && p.columns.length === 1 && p.columns[0]?.name === key;
    });
    if (!unique) throw Errors.invalidQuery('upsert', `"${key.slice(0, 50)}" is not id or a field with a unique index of its own`);
  }

  /**
   * Reads the rows `open` gives (a file the body was written to: it can be
   * read again should the engine run the transaction again) and writes them
   * as `options` say; the report says what happened to each.
   */
  async run(c: Collection, open: () => Readable, options: ImportOptions, info: RequestInfo): Promise<ImportReport> {
    this.check(c, options);
    const report: ImportReport = {
      dryRun: options.dryRun,
      mode: options.mode,
      rows: 0,
      created: 0,
      updated: 0,
      skipped: 0,
      errors: [],
      errorsTruncated: false,
      stopped: null,
    };
    const batches = () => {
      const input = open();
      const source = options.format === 'csv' ? csvRows(input, (names) => this.checkHeader(c, names)) : jsonLines(input);
      return inBatches(source, options.batchSize);
    };
    try {
      if (options.mode === 'all') await this.allOrNothing(c, batches, options, info, report);
      else for await (const batch of batches()) await this.oneBatch(c, batch, options, info, report);
    } catch (err) {
      if (!(err instanceof SourceError)) throw err;
      report.stopped = { line: err.line, message: err.message };
    }
    if (options.mode === 'all' && (report.errors.length > 0 || report.stopped) && !options.dryRun) {
      report.skipped = report.rows;
      report.created = 0;
      report.updated = 0;
    }
    return report;
  }

  /** Every row in one transaction, rolled back if any failed (or the file broke off, or it is a dry run). */
  private async allOrNothing(
    c: Collection,
    batches: () => AsyncGenerator<SourceRow[]>,
    options: ImportOptions,
    info: RequestInfo,
    report: ImportReport,
  ): Promise<void> {
    let outcome: ImportReport | null = null;
    await this.ctx.engine
      .transaction(async (tx) => {
        // an engine may run the transaction again: each attempt reads the file and counts afresh
        outcome = { ...report, errors: [] };
        for await (const batch of batches()) await this.writeBatch(tx, c, batch, options, info, outcome);
        if (options.dryRun || outcome.errors.length > 0) throw new RollBack();
      })
      .catch((err) => {
        if (!(err instanceof RollBack)) throw err;
      })
      .finally(() => {
        if (outcome) Object.assign(report, outcome);
      });
  }

  /** One batch in a transaction of its own, committed only when each of its rows was written. */
  private async oneBatch(c: Collection, batch: SourceRow[], options: ImportOptions, info: RequestInfo, report: ImportReport) {
    let outcome: ImportReport | null = null;
    await this.ctx.engine
      .transaction(async (tx) => {
        // counted afresh on each attempt: an engine may run a transaction again
        outcome = { ...report, rows: 0, created: 0, updated: 0, skipped: 0, errors: [] };
        await this.writeBatch(tx, c, batch, options, info, outcome);
        if (options.dryRun || outcome.errors.length > 0) throw new RollBack();
      })
      .catch((err) => {
        if (!(err instanceof RollBack)) throw err;
      });
    const done = outcome as ImportReport | null;
    if (!done) return;
    report.rows += done.rows;
    const failed = done.errors.length > 0 && !options.dryRun;
    report.created += failed ? 0 : done.created;
    report.updated += failed ? 0 : done.updated;
    report.skipped += failed ? done.rows : done.skipped;
    for (const e of done.errors) noteError(report, e);
  }

  /**
   * Judges and writes a batch's rows in `tx`; failures go to the report.
   * First in one savepoint for the whole batch (a round trip per row
   * fewer than a savepoint each); if the database refuses a row, the batch
   * is rolled back to it and written again with a savepoint per row, so the
   * refused row alone fails and the rows after it are still judged.
   */
  private async writeBatch(
    tx: Executor,
    c: Collection,
    batch: SourceRow[],
    options: ImportOptions,
    info: RequestInfo,
    report: ImportReport,
  ) {
    let outcomes: RowOutcome[] | null = null;
    if (batch.length > 1) {
      await tx.run('SAVEPOINT ms_import_batch');
      try {
        outcomes = [];
        for (const item of batch) outcomes.push(await this.writeRow(tx, c, item, options, info, false));
        await tx.run('RELEASE SAVEPOINT ms_import_batch');
      } catch (err) {
        if (!(err instanceof ApiError) || err.status >= 500) throw err;
        await tx.run('ROLLBACK TO SAVEPOINT ms_import_batch');
        await tx.run('RELEASE SAVEPOINT ms_import_batch');
        outcomes = null;
      }
    }
    if (outcomes === null) {
      outcomes = [];
      for (const item of batch) outcomes.push(await this.writeRow(tx, c, item, options, info, true));
    }
    for (const outcome of outcomes) {
      report.rows++;
      if ('record' in outcome) {
        if (outcome.current) report.updated++;
        else report.created++;
        if (!options.dryRun) this.flow.publish(tx, outcome.current ? 'update' : 'create', c, outcome.record);
      } else {
        report.skipped++;
        noteError(report, outcome);
      }
    }
  }

  /** One row judged and written; `guarded`, in a savepoint of its own, so that a refusal is its error alone. */
  private async writeRow(
    tx: Executor,
    c: Collection,
    item: SourceRow,
    options: ImportOptions,
    info: RequestInfo,
    guarded: boolean,
  ): Promise<RowOutcome> {
    const at = { row: item.row, line: item.line };
    if ('error' in item) return { ...at, message: item.error };
    const current = await this.existing(tx, c, item.values, options.upsert);
    const judged = await this.judge(c, item, current, options.separator);
    if ('errors' in judged) return { ...at, data: judged.errors };
    const ready = judged.ready;
    if (!guarded) return { record: await this.write(tx, c, ready, options.dryRun, info), current };
    await tx.run('SAVEPOINT ms_import_row');
    try {
      const record = await this.write(tx, c, ready, options.dryRun, info);
      await tx.run('RELEASE SAVEPOINT ms_import_row');
      return { record, current };
    } catch (err) {
      if (!(err instanceof ApiError) || err.status >= 500) throw err;
      await tx.run('ROLLBACK TO SAVEPOINT ms_import_row');
      await tx.run('RELEASE SAVEPOINT ms_import_row');
      return Object.keys(err.data).length > 0 ? { ...at, data: err.data } : { ...at, message: err.message };
    }
  }

  /** Writes one judged row, through the record hook unless a dry run; its event is the caller's to publish. */
  private async write(tx: Executor, c: Collection, ready: ReadyRow, dryRun: boolean, info: RequestInfo): Promise<RecordData> {
    const { data, current } = ready;
    const put = async (record: RecordData) => {
      if (current) await this.rows.update(tx, c, record, current, undefined, async () => true);
      else await this.rows.insert(tx, c, record);
    };
    if (dryRun) {
      await put(data);
      return data;
    }
    const hook = current ? this.ctx.hooks.recordUpdate : this.ctx.hooks.recordCreate;
    return this.flow.withHook(hook, tx, c, data, current, info, put);
  }

  /** The stored record the row updates, when upserting and one matches. */
  private async existing(tx: Executor, c: Collection, values: Record<string, unknown>, key: string | null): Promise<RecordData | null> {
    if (key === null) return null;
    const value = values[key];
    if (typeof value !== 'string' || value === '') return null;
    if (key === 'id') return (await this.reads.find(tx, c, value, null, null)) ?? null;
    const d = this.ctx.engine.dialect;
    const found = await tx.get<{ id: string }>(
      `SELECT ${RECORD_ALIAS}.${d.ident('id')} AS id FROM ${d.ident(c.name)} ${RECORD_ALIAS} WHERE ${RECORD_ALIAS}.${d.ident(key)} = $1 LIMIT 1`,
      [value],
    );
    return found ? ((await this.reads.find(tx, c, found.id, null, null)) ?? null) : null;
  }

  /** A row's values as the record to write, or its field errors. */
  private async judge(
    c: Collection,
    item: Extract<SourceRow, { values: unknown }>,
    current: RecordData | null,
    separator: string | null,
  ): Promise<{ ready: ReadyRow } | { errors: ErrorData }> {
    const input: Record<string, unknown> = {};
    const kept: Record<string, unknown> = {};
    const errors: ErrorData = {};
    for (const f of c.fields) {
      if (!(f.name in item.values)) continue;
      const raw = item.values[f.name];
      const value = item.source === 'form' && isMultiple(f) ? listCell(raw, separator) : raw;
      // what a create would set itself, or ignore, comes back as the file had it
      if (isAutodate(f) || isFile(f)) {
        const v = restored(f, value);
        if (typeof v === 'object' && v !== null && 'error' in v) errors[f.name] = v.error as FieldError;
        else if (v !== undefined) kept[f.name] = v;
        continue;
      }
      input[f.name] = value;
    }
    if (c.type === 'auth' && typeof input.password === 'string') input.passwordConfirm = input.password;
    const prepared = applyInput(c, current, input, item.source, { superuser: true, manage: true });
    // an update that leaves the password out keeps it; a new auth record still needs one
    if (current && c.type === 'auth' && !input.password) {
      delete prepared.errors.password;
      delete prepared.errors.passwordConfirm;
    }
    Object.assign(prepared.errors, errors);
    if (Object.keys(prepared.errors).length > 0) return { errors: prepared.errors };
    const data = { ...prepared.data, ...kept } as RecordData;
    if (prepared.newPassword !== undefined) {
      const field = c.fields.find((f) => isPassword(f));
      data.password = await hashPassword(prepared.newPassword, isPassword(field) ? field.cost : 0);
    }
    if (c.type === 'auth' && !data.tokenKey) data.tokenKey = newTokenKey();
    return { ready: { row: item.row, line: item.line, data, current } };
  }

  /** A CSV header names fields of the collection, each once. */
  private checkHeader(c: Collection, names: string[]): void {
    const known = new Set(c.fields.map((f) => f.name));
    if (c.type === 'auth') known.add('passwordConfirm');
    const seen = new Set<string>();
    for (const name of names) {
      if (!known.has(name)) throw Errors.badRequest(`The header names "${name.slice(0, 50)}", which is not a field of ${c.name}.`);
      if (seen.has(name)) throw Errors.badRequest(`The header names "${name.slice(0, 50)}" twice.`);
      seen.add(name);
    }
  }
}

function noteError(report: ImportReport, e: RowError): void {
  if (report.errors.length < MAX_REPORTED_ERRORS) report.errors.push(e);
  else report.errorsTruncated = true;
}

/** A CSV cell of a multi-valued field as a list: `["a","b"]`, or split on the separator, or one value; empty is none. */
export function listCell(raw: unknown, separator: string | null): unknown {
  if (typeof raw !== 'string' || raw === '') return raw === '' ? [] : raw;
  if (raw.startsWith('[')) {
    try {
      const list: unknown = JSON.parse(raw);
      if (Array.isArray(list)) return list;
    } catch {
      // not JSON: a value that starts with a bracket
    }
  }
  return separator === null ? [raw] : raw.split(separator);
}

/** An autodate's date or a file field's names as the row gives them; undefined leaves the write's own. */
function restored(f: Field, value: unknown): unknown {
  if (isAutodate(f)) {
    if (value === undefined || value === null || value === '') return undefined;
    const date = typeof value === 'string' ? parseDateInput(value) : null;
    return date ?? { error: fieldError('validation_invalid_date', 'Must be a valid date.') };
  }
  const names = value === '' || value === null || value === undefined ? [] : Array.isArray(value) ? value : [value];
  const ok = names.every((n) => typeof n === 'string' && n.length > 0 && n.length <= 255 && !/[/\\\0]/.test(n));
  if (!ok) return { error: fieldError('validation_invalid_type', 'File names must be plain names.') };
  const max = isFile(f) ? Math.max(1, f.maxSelect) : 1;
  if (names.length > max) return { error: fieldError('validation_too_many_values', `Select no more than ${max}.`, { maxSelect: max }) };
  return isMultiple(f) ? names : (names[0] ?? '');
}

/** Rows gathered into batches of `size` as they are read. */
async function* inBatches(rows: AsyncGenerator<SourceRow>, size: number): AsyncGenerator<SourceRow[]> {
  let batch: SourceRow[] = [];
  for await (const row of rows) {
    batch.push(row);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}
