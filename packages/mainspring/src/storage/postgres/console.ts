import pg from 'pg';
import { type ConsoleAnswer, type ConsoleStatement, DatabaseUnavailableError, QueryRejectedError } from '../engine.js';
import { translate, types } from './pool.js';

/**
 * The SQL console's statements on PostgreSQL, each on a connection of its
 * own (never a pooled one, whose session a `SET` would change for the API)
 * that is closed after it. Read-only, the statement runs in a READ ONLY
 * transaction that is always rolled back, after a first query has taken
 * its snapshot (so `SET TRANSACTION READ WRITE` is refused), through the
 * extended protocol (one statement only: `…; COMMIT; DELETE …` is refused
 * by PostgreSQL), and only queries run: SELECT, WITH, VALUES and TABLE
 * through a cursor (rows are fetched a page at a time, so a huge answer is
 * never held), SHOW and EXPLAIN as they are. Anything else (COPY,
 * CREATE EXTENSION, LOAD, SET) is refused before it reaches PostgreSQL.
 * PostgreSQL's statement timeout stops a statement that runs too long.
 * The role Mainspring connects with decides what functions may read
 * (`pg_read_file` needs a superuser role or pg_read_server_files).
 */

/** A cell longer than this many characters is cut. */
const MAX_CELL_CHARS = 1 << 20;

/** The statement's first word, after comments, spaces and opening parentheses. */
export function firstKeyword(sql: string): string {
  let s = sql;
  for (;;) {
    const before = s;
    s = s.replace(/^[\s(]+/, '');
    if (s.startsWith('--')) s = s.slice(s.indexOf('\n') === -1 ? s.length : s.indexOf('\n'));
    else if (s.startsWith('/*')) s = s.slice(s.indexOf('*/') === -1 ? s.length : s.indexOf('*/') + 2);
    if (s === before) break;
  }
  return (/^[A-Za-z]+/.exec(s)?.[0] ?? '').toUpperCase();
}

const CURSOR_KEYWORDS = new Set(['SELECT', 'WITH', 'VALUES', 'TABLE']);
const PLAIN_KEYWORDS = new Set(['SHOW', 'EXPLAIN']);

function cell(v: unknown): unknown {
  if (typeof v === 'string') return v.length > MAX_CELL_CHARS ? `${v.slice(0, MAX_CELL_CHARS)} … (${v.length} characters)` : v;
  if (typeof v === 'bigint') return String(v);
  if (v instanceof Uint8Array) return { blob: Buffer.from(v.subarray(0, MAX_CELL_CHARS)).toString('base64'), bytes: v.length };
  return v;
}

type Client = pg.Client;

/** Runs one console statement on a new connection to `url` (see above). */
export async function runConsoleStatement(url: string, statement: ConsoleStatement): Promise<ConsoleAnswer> {
  const keyword = firstKeyword(statement.sql);
  if (!statement.write && !CURSOR_KEYWORDS.has(keyword) && !PLAIN_KEYWORDS.has(keyword)) {
    throw new QueryRejectedError(
      'the console is read-only: only SELECT, WITH, VALUES, TABLE, SHOW and EXPLAIN run (writes are enabled in the settings, sqlConsole.allowWrites)',
    );
  }
  const timeout = Math.max(1, Math.floor(statement.timeoutMs));
  const client = new pg.Client({
    connectionString: url,
    types,
    statement_timeout: timeout,
    // a connection that hangs (a lock never granted is covered by statement_timeout) still ends
    query_timeout: timeout + 5000,
    options: '-c TimeZone=UTC -c DateStyle=ISO,YMD',
    connectionTimeoutMillis: 10_000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    throw new DatabaseUnavailableError(`the console could not connect to PostgreSQL: ${(err as Error)?.message ?? err}`);
  }
  try {
    return statement.write ? await writing(client, statement) : await reading(client, statement, CURSOR_KEYWORDS.has(keyword));
  } catch (err) {
    throw translate(err);
  } finally {
    await client.end().catch(() => {});
  }
}

const one = (client: Client, text: string) =>
  client.query({ text, rowMode: 'array', queryMode: 'extended' } as pg.QueryConfig & { rowMode: 'array'; queryMode: 'extended' });

async function reading(client: Client, statement: ConsoleStatement, cursor: boolean): Promise<ConsoleAnswer> {
  await client.query('BEGIN TRANSACTION READ ONLY');
  try {
    // takes the transaction's snapshot: from now on it cannot be made read-write
    await client.query('SELECT 1');
    if (!cursor) return page(await one(client, statement.sql), statement);
    await one(client, `DECLARE ms_console NO SCROLL CURSOR FOR ${statement.sql}`);
    if (statement.offset > 0) await client.query(`MOVE FORWARD ${Math.floor(statement.offset)} IN ms_console`);
    const fetched = await one(client, `FETCH FORWARD ${Math.floor(statement.limit) + 1} FROM ms_console`);
    const rows = (fetched.rows as unknown[][]).map((r) => r.map(cell));
    const more = rows.length > statement.limit;
    return { columns: fetched.fields.map((f) => f.name), rows: more ? rows.slice(0, statement.limit) : rows, more, changes: null };
  } finally {
    await client.query('ROLLBACK').catch(() => {});
  }
}

async function writing(client: Client, statement: ConsoleStatement): Promise<ConsoleAnswer> {
  await client.query('BEGIN');
  try {
    const result = await one(client, statement.sql);
    await client.query('COMMIT');
    return page(result, statement);
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** A whole result cut to the page asked for. */
function page(result: pg.QueryResult, statement: ConsoleStatement): ConsoleAnswer {
  if (result.fields.length === 0) return { columns: [], rows: [], more: false, changes: result.rowCount ?? 0 };
  const all = result.rows as unknown[][];
  const rows = all.slice(statement.offset, statement.offset + statement.limit).map((r) => r.map(cell));
  return { columns: result.fields.map((f) => f.name), rows, more: all.length > statement.offset + statement.limit, changes: null };
}
