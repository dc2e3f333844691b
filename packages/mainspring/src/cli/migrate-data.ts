import { App, isPostgresUrl } from '../core/app.js';
import type { Collection } from '../core/collections/model.js';
import { COLLECTIONS_TABLE } from '../core/collections/schema.js';
import { ApiError } from '../core/errors.js';
import { kindOf } from '../core/fields/index.js';
import type { Executor, Row, SqlValue } from '../storage/engine.js';
import { CliError } from './errors.js';

/** The `_params` row that marks a database this command filled (so running it again may replace it). */
const MARKER = 'ms_migrated_from';
/** Tables the target's own migrations own. */
const SKIP = new Set([COLLECTIONS_TABLE, '_migrations', '_ms_event_payloads']);
/** Rows per INSERT (PostgreSQL takes at most 65535 parameters per statement). */
const BATCH_PARAMS = 30_000;

/** Progress on a terminal as one updating line, else plain lines. */
function progress(out: NodeJS.WriteStream) {
  const tty = out.isTTY === true;
  return {
    step(table: string, done: number, total: number) {
      if (tty) out.write(`\r  ${table}: ${done}/${total} rows`);
    },
    end(table: string, total: number) {
      out.write(`${tty ? '\r' : ''}  ${table}: ${total} rows copied\n`);
    },
  };
}

/**
 * `mainspring migrate-data --from=DIR --to=postgres://…`: copies an embedded
 * SQLite app into PostgreSQL — collections as they are (ids, fields, rules,
 * secrets), every record with its insertion order, settings, sessions — in
 * one transaction, then checks that every table has as many rows as its
 * source before committing. The target must be a new database, or one this
 * command filled before: running it again replaces what it copied.
 */
export async function migrateData(options: { from: string | undefined; to: string | undefined; out?: NodeJS.WriteStream }): Promise<void> {
  const out = options.out ?? process.stdout;
  if (!options.from) throw new CliError('migrate-data needs --from=DIR, the data directory of the SQLite app', 2);
  if (!options.to || !isPostgresUrl(options.to)) throw new CliError('migrate-data needs --to=postgres://USER:PASS@HOST:PORT/DB', 2);

  const source = await App.open({ dataDir: options.from, databaseUrl: '' });
  let target: App | undefined;
  try {
    target = await App.open({ dataDir: options.from, databaseUrl: options.to });
    await refuseForeignData(target);
    const s = source.engine;
    const t = target.engine;
    const collections = source.collections.registry.all();
    const byTable = new Map(collections.map((c) => [c.name, c]));
    const tables = (await s.all<{ name: string }>(s.dialect.listTables())).map((r) => r.name).filter((n) => !SKIP.has(n));
    const expected = new Map<string, number>();
    for (const table of tables) {
      const row = await s.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${s.dialect.ident(table)}`);
      expected.set(table, Number(row?.n ?? 0));
    }
    out.write(`Copying ${collections.length} collections and ${tables.length} tables from ${source.dataDir} into PostgreSQL…\n`);
    const bar = progress(out);
    const targetApp = target;

    await t.transaction(async (tx) => {
      // the schema: the target's collections go (its views first), the source's come in exactly as they are
      await targetApp.collections.dropViewsIn(tx);
      for (const c of targetApp.collections.registry.all()) if (c.type !== 'view') await tx.run(t.dialect.dropTable(c.name));
      await tx.run(`DELETE FROM ${COLLECTIONS_TABLE}`);
      for (const c of collections) if (c.type !== 'view') await targetApp.collections.createIn(tx, c);

      for (const table of tables) {
        const c = byTable.get(table);
        if (!c) await tx.run(`DELETE FROM ${t.dialect.ident(table)}`);
        const total = expected.get(table) ?? 0;
        let done = 0;
        for await (const rows of readInOrder(source, table)) {
          await insertRows(tx, source, targetApp, table, c, rows);
          done += rows.length;
          bar.step(table, done, total);
        }
        const sync = t.dialect.syncRowid(table);
        if (sync) await tx.get(sync.sql, sync.params);
        bar.end(table, done);
      }

      // views last, over the copied tables: their queries are checked, and their fields inferred, by PostgreSQL
      try {
        await targetApp.collections.createViewsIn(tx, collections);
      } catch (err) {
        if (err instanceof ApiError) {
          throw new CliError(
            `${err.message} A view's query must run on PostgreSQL too: change it in the SQLite app (or remove the view), then run migrate-data again.`,
          );
        }
        throw err;
      }

      // every table holds what its source holds, or nothing is committed
      for (const [table, n] of expected) {
        const row = await tx.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t.dialect.ident(table)}`);
        if (Number(row?.n ?? 0) !== n) throw new CliError(`verification failed: ${table} has ${row?.n} rows in PostgreSQL, ${n} in SQLite`);
      }
      const now = new Date().toISOString().replace('T', ' ');
      await tx.run(`DELETE FROM ${t.dialect.ident('_params')} WHERE id = $1`, [MARKER]);
      await tx.run(`INSERT INTO ${t.dialect.ident('_params')} (id, value, created, updated) VALUES ($1, $2, $3, $3)`, [
        MARKER,
        t.dialect.encode('json', { from: source.dataDir, at: now }),
        now,
      ]);
    });
    const rows = [...expected.values()].reduce((a, b) => a + b, 0);
    out.write(`Verified: ${tables.length} tables, ${rows} rows, the same counts on both sides. Start the server with DATABASE_URL set.\n`);
  } finally {
    await target?.close();
    await source.close();
  }
}

/**
 * A target that holds anything but the empty schema a first start makes,
 * and was not filled by this command, is refused: its data would be lost.
 */
async function refuseForeignData(target: App): Promise<void> {
  const d = target.engine.dialect;
  const marker = await target.engine.get(`SELECT id FROM ${d.ident('_params')} WHERE id = $1`, [MARKER]);
  if (marker) return;
  const collections = target.collections.registry.all();
  const names = collections.map((c) => c.name);
  // what a first start makes: the system collections and users
  const fresh = collections.every((c) => c.system || c.name === 'users');
  let rows = 0;
  for (const n of names) rows += Number((await target.engine.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${d.ident(n)}`))?.n ?? 0);
  if (!fresh || rows > 0) {
    throw new CliError('the target database already holds data that migrate-data did not copy; give it a new, empty database');
  }
}

/** A table's rows in insertion order, a batch at a time, with their `rowid`. */
async function* readInOrder(source: App, table: string): AsyncGenerator<Row[]> {
  const d = source.engine.dialect;
  let after = -1;
  for (;;) {
    const rows = await source.engine.all<Row>(
      `SELECT rowid AS "__rowid", * FROM ${d.ident(table)} WHERE rowid > $1 ORDER BY rowid LIMIT 1000`,
      [after],
    );
    if (rows.length === 0) return;
    after = Number(rows[rows.length - 1]?.__rowid);
    yield rows;
  }
}

/**
 * Inserts rows with their `rowid`. A collection's values are decoded the
 * source's way and encoded the target's (dates, booleans, JSON); a system
 * table's values are plain text and numbers either way.
 */
async function insertRows(tx: Executor, source: App, target: App, table: string, c: Collection | undefined, rows: Row[]): Promise<void> {
  const d = target.engine.dialect;
  const sourceDialect = source.engine.dialect;
  const first = rows[0];
  if (!first) return;
  const columns = c ? c.fields.map((f) => f.name) : Object.keys(first).filter((k) => k !== '__rowid' && k !== 'rowid');
  const kinds = c ? c.fields.map((f) => kindOf(f).column(f)) : null;
  const perRow = columns.length + 1;
  const batch = Math.max(1, Math.floor(BATCH_PARAMS / perRow));
  for (let i = 0; i < rows.length; i += batch) {
    const chunk = rows.slice(i, i + batch);
    const params: SqlValue[] = [];
    const tuples = chunk.map((row) => {
      params.push(Number(row.__rowid));
      const marks = [d.param(params.length)];
      columns.forEach((col, j) => {
        const raw = row[col];
        let v: SqlValue;
        if (kinds) {
          const kind = kinds[j] ?? 'text';
          v = d.encode(kind, sourceDialect.decode(kind, raw));
        } else {
          v = (raw ?? null) as SqlValue;
        }
        params.push(v);
        marks.push(d.param(params.length));
      });
      return `(${marks.join(', ')})`;
    });
    await tx.run(
      `INSERT INTO ${d.ident(table)} (${d.ident('rowid')}, ${columns.map((x) => d.ident(x)).join(', ')}) VALUES ${tuples.join(', ')}`,
      params,
    );
  }
}
