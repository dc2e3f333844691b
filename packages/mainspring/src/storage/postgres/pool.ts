import { createHash } from 'node:crypto';
import pg from 'pg';
import {
  DatabaseUnavailableError,
  EngineBusyError,
  type QueryColumn,
  QueryRejectedError,
  type SqlValue,
  StatementTimeoutError,
} from '../engine.js';
import { formatTimestamp } from './dialect.js';

/*
 * How statements reach PostgreSQL: pooled connections, named prepared
 * statements (and what to do when a schema change made their plan stale),
 * parameters PostgreSQL would refuse, NUL characters it cannot hold, and
 * its errors as the engine's.
 */

/** A pooled connection; waiting longer than the pool allows is the engine being busy (a 503), not a fault. */
export async function connect(pool: pg.Pool): Promise<pg.PoolClient> {
  try {
    return await pool.connect();
  } catch (err) {
    if (/timeout exceeded when trying to connect/i.test(String((err as Error)?.message))) {
      throw new EngineBusyError('the database is busy; try again');
    }
    throw translate(err);
  }
}

/**
 * PostgreSQL text cannot hold the NUL character, which SQLite stores and
 * the API promises to keep. Strings are bound with NUL as ESC '0' and ESC
 * itself as ESC 'e' (ESC is U+10FFFF, a noncharacter that text rarely
 * holds), and read back the other way: equality, uniqueness and `~` still
 * work on the escaped form.
 */
const ESC = '\u{10FFFF}';
function escapeNul(v: string): string {
  if (!v.includes('\0') && !v.includes(ESC)) return v;
  return v.replaceAll(ESC, `${ESC}e`).replaceAll('\0', `${ESC}0`);
}
export function unescapeNul(v: string): string {
  if (!v.includes(ESC)) return v;
  return v.replace(/\u{10FFFF}([0e])/gu, (_, c: string) => (c === '0' ? '\0' : ESC));
}
/** The same inside JSON text, where a NUL must be written `\u0000`. */
function unescapeJsonNul(v: string): string {
  if (!v.includes(ESC)) return v;
  return v.replace(/\u{10FFFF}([0e])/gu, (_, c: string) => (c === '0' ? '\\u0000' : ESC));
}

/**
 * Type parsers of this engine's connections only (never pg's global ones, so
 * another user of `pg` in the process is not affected): timestamps come back
 * as PocketBase's date text, 64-bit integers and numerics as numbers, JSON as
 * its text (the dialect decodes it, as SQLite's does).
 */
export const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (format !== 'binary') {
      switch (oid) {
        case 25: // text
        case 1043: // varchar
          return unescapeNul;
        case 20: // int8
        case 1700: // numeric
          return (v: string) => Number(v);
        case 1114: // timestamp
        case 1184: // timestamptz
          return formatTimestamp;
        case 114: // json
        case 3802: // jsonb
          return unescapeJsonNul;
      }
    }
    return pg.types.getTypeParser(oid, format ?? 'text');
  },
};

/**
 * A connection the server ended or could not make: a restart, a failover,
 * `pg_terminate_backend` (SQLSTATE class 08, 57P01–57P03), or the socket
 * itself (refused, reset, closed under pg).
 */
function isConnectionLost(err: unknown): boolean {
  const code = String((err as { code?: unknown })?.code ?? '');
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return true;
  if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(code)) return true;
  return /Connection terminated|connection error and is not queryable|Client was closed and is not queryable/i.test(
    String((err as Error)?.message),
  );
}

/** Translates driver errors the API knows how to answer. */
export function translate(err: unknown): unknown {
  const code = (err as { code?: unknown })?.code;
  if (code === '57014') return new StatementTimeoutError('the query ran longer than the statement timeout');
  if (isConnectionLost(err)) return new DatabaseUnavailableError(`the connection to PostgreSQL was lost: ${(err as Error)?.message}`);
  return err;
}

const COMPACT_CACHE_LIMIT = 2000;
const compactCache = new Map<string, { sql: string; keep: number[] | null }>();

/**
 * Composed filter SQL may bind parameters it ends up not using (a subquery
 * prepared for a multi-valued path that the comparison did not need).
 * SQLite ignores them; PostgreSQL cannot type a parameter it never sees and
 * refuses the statement. So unused parameters are dropped and the others
 * renumbered, once per statement text.
 */
function compact(sql: string, params: readonly SqlValue[] | undefined): { sql: string; values: unknown[] | undefined } {
  if (!params || params.length === 0) return { sql, values: params as unknown[] | undefined };
  const key = `${params.length}:${sql}`;
  let hit = compactCache.get(key);
  if (!hit) {
    const used = new Set<number>();
    for (const m of sql.matchAll(/\$(\d+)/g)) used.add(Number(m[1]));
    if (used.size === params.length) {
      hit = { sql, keep: null };
    } else {
      const keep = [...used].filter((n) => n <= params.length).sort((a, b) => a - b);
      const renumber = new Map(keep.map((n, i) => [n, i + 1]));
      hit = { sql: sql.replace(/\$(\d+)/g, (_, n: string) => `$${renumber.get(Number(n)) ?? n}`), keep };
    }
    if (compactCache.size >= COMPACT_CACHE_LIMIT) compactCache.clear();
    compactCache.set(key, hit);
  }
  if (hit.keep === null) return { sql, values: params as unknown[] };
  return { sql: hit.sql, values: hit.keep.map((n) => params[n - 1]) };
}

/** How many named statements one pooled connection may hold before it is closed (each holds a plan on the server). */
const NAMED_PER_CONNECTION = 500;
const NAME_CACHE_LIMIT = 5000;
/** Statement names by text: a hash of the text, so one name never means two statements. */
const statementNames = new Map<string, string>();
/** The names prepared on each pooled connection. */
const namedOn = new WeakMap<pg.PoolClient, Set<string>>();
/** Connections to close when they are released: they hold too many named statements, a stale one, or failed. */
export const retiring = new WeakSet<pg.PoolClient>();

/**
 * Errors a named statement may owe to a plan made before a schema change
 * rather than to its values: its result types changed (`0A000`, "cached plan
 * must not change result type"), or a column's type did (a field that went
 * from one value to many: TEXT to JSONB), which the parameter types fixed
 * at its parse no longer fit (42804, 42883, 22P02). Run again unnamed, such
 * a statement passes, or fails for its own reasons.
 */
const PLAN_ERRORS = new Set(['0A000', '42804', '42883', '22P02']);
const mayOweToPlan = (err: unknown) => PLAN_ERRORS.has(String((err as { code?: unknown })?.code));
/** Errors that named statements in a transaction got for one of those reasons: the transaction runs again unnamed. */
const stalePlans = new WeakSet<object>();
export const isStalePlan = (err: unknown) => typeof err === 'object' && err !== null && stalePlans.has(err);

function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `ms_${createHash('sha256').update(text).digest('base64url').slice(0, 32)}`;
    if (statementNames.size >= NAME_CACHE_LIMIT) statementNames.clear();
    statementNames.set(text, name);
  }
  return name;
}

/** A statement as it is sent: compacted parameters, NULs escaped. */
function outgoing(sql: string, params: readonly SqlValue[] | undefined): { text: string; values: unknown[] | undefined } {
  const q = compact(sql, params);
  return { text: q.sql, values: q.values?.map((v) => (typeof v === 'string' ? escapeNul(v) : v)) };
}

function send(client: pg.PoolClient, text: string, values: unknown[] | undefined, array: boolean, name?: string): Promise<pg.QueryResult> {
  return array ? client.query({ name, text, values, rowMode: 'array' } as pg.QueryArrayConfig) : client.query({ name, text, values });
}

/**
 * Sends a statement with parameters as a named prepared statement: a
 * connection parses and plans each text once, and later runs only bind it,
 * which halves PostgreSQL's CPU for a read by id and saves a sixth of a
 * create's. A connection that holds {@link NAMED_PER_CONNECTION} of them is
 * closed when it is released (the pool opens another), so client-shaped
 * filters cannot grow a server's memory without end. A statement without
 * parameters goes as pg sends it, the simple protocol, which allows several
 * statements in one text.
 */
function sendNamed(client: pg.PoolClient, text: string, values: unknown[] | undefined, array: boolean): Promise<pg.QueryResult> {
  if (!values || values.length === 0) return send(client, text, values, array);
  let names = namedOn.get(client);
  if (!names) {
    names = new Set();
    namedOn.set(client, names);
  }
  const name = statementName(text);
  names.add(name);
  if (names.size >= NAMED_PER_CONNECTION) retiring.add(client);
  return send(client, text, values, array, name);
}

/**
 * Runs a statement outside any transaction, on a pooled connection. A stale
 * plan (an error {@link mayOweToPlan}) is run once more unnamed, on a
 * connection that is then closed, which takes its stale plans with it.
 */
export async function poolQuery(
  pool: pg.Pool,
  sql: string,
  params: readonly SqlValue[] | undefined,
  array = false,
): Promise<pg.QueryResult> {
  const { text, values } = outgoing(sql, params);
  const client = await connect(pool);
  try {
    try {
      return await sendNamed(client, text, values, array);
    } catch (err) {
      if (!values || values.length === 0 || !mayOweToPlan(err)) throw err;
      retiring.add(client);
      return await send(client, text, values, array);
    }
  } catch (err) {
    // as pg's pool.query: a connection whose query failed is not reused
    retiring.add(client);
    throw translate(err);
  } finally {
    client.release(retiring.has(client));
  }
}

/**
 * Runs a statement in a transaction, named as outside one unless told not
 * to. A stale plan fails the transaction (it cannot go on after an error)
 * and retires the connection; the transaction then runs again unnamed.
 */
export async function query(
  on: pg.PoolClient,
  sql: string,
  params: readonly SqlValue[] | undefined,
  array: boolean,
  named: boolean,
): Promise<pg.QueryResult> {
  const { text, values } = outgoing(sql, params);
  try {
    return await (named ? sendNamed(on, text, values, array) : send(on, text, values, array));
  } catch (err) {
    if (named && values && values.length > 0 && mayOweToPlan(err) && typeof err === 'object' && err !== null) {
      retiring.add(on);
      stalePlans.add(err);
    }
    throw translate(err);
  }
}

/** PostgreSQL's types (by OID) as the filter's value types; any other type is unknown. */
const TYPE_OIDS: Record<number, NonNullable<QueryColumn['type']>> = {
  16: 'bool',
  20: 'number',
  21: 'number',
  23: 'number',
  700: 'number',
  701: 'number',
  1700: 'number',
  25: 'text',
  1042: 'text',
  1043: 'text',
  19: 'text',
  1082: 'date',
  1114: 'date',
  1184: 'date',
  114: 'json',
  3802: 'json',
};

/**
 * The columns of `sql` on `client`, from the answer's description (`LIMIT 0`:
 * no row is read, under the statement timeout), with each column's table
 * and name where PostgreSQL traces it to one. In the extended protocol, which
 * takes one statement only; inside a savepoint (in a transaction) or a
 * read-only transaction of its own, so a refusal leaves the caller's
 * transaction as it was.
 */
export async function describeOn(client: pg.PoolClient, sql: string, inTransaction: boolean): Promise<QueryColumn[]> {
  await client.query(inTransaction ? 'SAVEPOINT ms_describe' : 'BEGIN READ ONLY');
  try {
    let fields: pg.FieldDef[];
    try {
      fields = (await client.query({ text: `SELECT * FROM (${sql}) AS _ms_q LIMIT 0`, queryMode: 'extended' } as pg.QueryConfig)).fields;
    } catch (err) {
      const e = translate(err);
      if (e instanceof StatementTimeoutError) throw e;
      throw new QueryRejectedError(err instanceof Error ? err.message : String(err));
    }
    const tables = [...new Set(fields.map((f) => f.tableID).filter((id) => id !== 0))];
    const names = new Map<string, { table: string; column: string }>();
    if (tables.length > 0) {
      const rows = await client.query<{ oid: number; attnum: number; relname: string; attname: string }>(
        'SELECT c.oid::int AS oid, a.attnum::int AS attnum, c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE c.oid = ANY($1::oid[]) AND a.attnum > 0',
        [tables],
      );
      for (const r of rows.rows) names.set(`${r.oid}:${r.attnum}`, { table: r.relname, column: r.attname });
    }
    return fields.map((f) => ({
      name: f.name,
      origin: names.get(`${f.tableID}:${f.columnID}`) ?? null,
      type: TYPE_OIDS[f.dataTypeID] ?? null,
    }));
  } finally {
    await client.query(inTransaction ? 'ROLLBACK TO SAVEPOINT ms_describe; RELEASE SAVEPOINT ms_describe' : 'ROLLBACK');
  }
}
