import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import pg from 'pg';
import {
  type ChangeChannel,
  DatabaseUnavailableError,
  type Engine,
  EngineBusyError,
  type Executor,
  type QueryColumn,
  QueryRejectedError,
  type ReadOptions,
  type ReadStatement,
  type Row,
  type SqlValue,
  StatementTimeoutError,
  statementTimeoutMs,
} from '../engine.js';
import { formatTimestamp, postgresDialect } from './dialect.js';
import { PgChangeChannel } from './notify.js';
import { renameShortenedNames } from './shortened-names.js';

/** Options of the PostgreSQL engine. */
export interface PostgresOptions {
  /** Connections in the pool (`MS_PG_POOL_MAX`, default 20). */
  poolMax?: number;
  /** How long one statement may run, in ms (`MS_STATEMENT_TIMEOUT_MS`, default 5000). */
  statementTimeoutMs?: number;
  /**
   * Keep trying to connect at start-up, calling `onRetry` with the reason
   * before each new try, until this many ms have passed (0: fail at once;
   * Infinity: forever, what `serve` does).
   */
  connectTimeoutMs?: number;
  onRetry?: (message: string, delayMs: number) => void;
  /**
   * How long a statement or transaction waits for a pooled connection, in
   * ms (default 10,000, as long as a SQLite write waits for the writer);
   * then it fails as busy (a 503).
   */
  poolWaitMs?: number;
  /**
   * How many pooled connections {@link PostgresEngine.read} may hold at once
   * (`MS_PG_READ_SHARE`; default three quarters of the pool, at most two per
   * core of this machine), so that slow reads leave connections, and
   * PostgreSQL's CPU, to writes and cheap reads.
   */
  readShare?: number;
}

/**
 * A counted number of turns, first come first served: {@link PostgresEngine.read}
 * takes one for as long as it holds a connection.
 */
class Turns {
  private free: number;
  private readonly waiting: { grant: () => void }[] = [];
  constructor(size: number) {
    this.free = size;
  }

  /** Resolves with the function that gives the turn back; an EngineBusyError after `timeoutMs`. */
  take(timeoutMs: number): Promise<() => void> {
    const release = () => {
      const next = this.waiting.shift();
      if (next) next.grant();
      else this.free++;
    };
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(release);
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          clearTimeout(timer);
          resolve(release);
        },
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(entry), 1);
        reject(new EngineBusyError('the database is busy; try again'));
      }, timeoutMs);
      this.waiting.push(entry);
    });
  }
}

/** A pooled connection; waiting longer than the pool allows is the engine being busy (a 503), not a fault. */
async function connect(pool: pg.Pool): Promise<pg.PoolClient> {
  try {
    return await pool.connect();
  } catch (err) {
    if (/timeout exceeded when trying to connect/i.test(String((err as Error)?.message))) {
      throw new EngineBusyError('the database is busy; try again');
    }
    throw err;
  }
}

const RETRYABLE = new Set(['40001', '40P01']);
const isRetryable = (err: unknown) => {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && RETRYABLE.has(code);
};

/**
 * The retry lane: a transaction that lost once to a serialization failure
 * or a deadlock runs its later attempts holding this session-level advisory
 * lock, so retried transactions take turns across every instance instead of
 * losing to each other again.
 */
const LANE_KEY = "hashtext('mainspring:retry-lane')";
/** Attempts inside the lane, where a transaction competes only with others' first attempts. */
const LANE_ATTEMPTS = 200;
/** The most a transaction in the lane waits (a random part of it) before its next attempt. */
const LANE_BACKOFF_MS = 50;
/** How long a retried transaction waits for its turn in the lane before it fails as busy (a 503). */
const LANE_WAIT_MS = 30_000;
/**
 * A lane holder's session idle outside a transaction this long is ended by
 * the server (inside one, `idle_in_transaction_session_timeout` does it), so
 * an instance cut off by the network holds the lane a minute, not until
 * TCP keepalive notices (hours).
 */
const LANE_IDLE_MS = 60_000;

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
const types = {
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

/** Translates driver errors the API knows how to answer. */
function translate(err: unknown): unknown {
  const code = (err as { code?: unknown })?.code;
  if (code === '57014') return new StatementTimeoutError('the query ran longer than the statement timeout');
  return err;
}

/** Plain words for why a connection failed. */
export function describeConnectError(err: unknown, url: string): string {
  const e = err as { code?: string; message?: string };
  let where = url;
  try {
    const u = new URL(url);
    where = `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    // keep it as given
  }
  switch (e?.code) {
    case 'ECONNREFUSED':
      return `PostgreSQL at ${where} is not accepting connections (is it running?)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve the PostgreSQL host of ${where}`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
      return `PostgreSQL at ${where} is unreachable (${e.code})`;
    case '28P01':
    case '28000':
      return `PostgreSQL at ${where} refused the credentials: ${e.message}`;
    case '3D000':
      return `the database of ${where} does not exist: ${e.message} (create it with createdb)`;
    case '57P03':
      return `PostgreSQL at ${where} is starting up`;
    default:
      return `cannot connect to PostgreSQL at ${where}: ${e?.message ?? String(err)}`;
  }
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
const retiring = new WeakSet<pg.PoolClient>();

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
const isStalePlan = (err: unknown) => typeof err === 'object' && err !== null && stalePlans.has(err);

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
async function poolQuery(pool: pg.Pool, sql: string, params: readonly SqlValue[] | undefined, array = false): Promise<pg.QueryResult> {
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
async function query(
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
async function describeOn(client: pg.PoolClient, sql: string, inTransaction: boolean): Promise<QueryColumn[]> {
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

/** One transaction's connection. */
class TxConnection implements Executor {
  readonly callbacks: (() => void)[] = [];
  constructor(
    private readonly client: pg.PoolClient,
    /** False after a stale plan: statements go unnamed. */
    private readonly named: boolean,
  ) {}

  async all<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return (await query(this.client, sql, params, false, this.named)).rows as T[];
  }
  async get<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }
  async values(sql: string, params?: readonly SqlValue[]): Promise<unknown[][]> {
    return (await query(this.client, sql, params, true, this.named)).rows as unknown[][];
  }
  async run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return (await query(this.client, sql, params, false, this.named)).rowCount ?? 0;
  }
  describe(sql: string): Promise<QueryColumn[]> {
    return describeOn(this.client, sql, true);
  }
  afterCommit(fn: () => void): void {
    this.callbacks.push(fn);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One attempt's end: committed with its result, or rolled back with its
 * error (`broken`: the connection is unusable; `begun`: false when the
 * failure came before the transaction began).
 */
type Attempt<T> = { ok: true; result: T; callbacks: (() => void)[] } | { ok: false; err: unknown; broken: boolean; begun: boolean };

/**
 * Statements an attempt sends in the same round trip as its BEGIN (before
 * it) and its COMMIT (after it, run only when the commit succeeds): the
 * retry lane takes and drops its lock so, two round trips fewer in a turn
 * that every retried transaction waits for.
 */
interface AttemptFrame {
  before?: string;
  after?: string;
}

/** Runs `fn` once in a SERIALIZABLE transaction on `client`: committed, or rolled back. */
async function attempt<T>(
  client: pg.PoolClient,
  fn: (tx: Executor) => Promise<T>,
  named = true,
  frame: AttemptFrame = {},
): Promise<Attempt<T>> {
  const tx = new TxConnection(client, named);
  let begun = false;
  try {
    await client.query(frame.before ? `${frame.before}; BEGIN ISOLATION LEVEL SERIALIZABLE` : 'BEGIN ISOLATION LEVEL SERIALIZABLE');
    begun = true;
    const result = await fn(tx);
    await client.query(frame.after ? `COMMIT; ${frame.after}` : 'COMMIT');
    return { ok: true, result, callbacks: tx.callbacks };
  } catch (err) {
    // nothing began: what came before BEGIN failed, and the caller judges the connection
    if (!begun) return { ok: false, err, broken: true, begun };
    try {
      await client.query('ROLLBACK');
      return { ok: false, err, broken: false, begun };
    } catch {
      return { ok: false, err, broken: true, begun };
    }
  }
}

/**
 * The retry lane's queue inside this process (first come, first served), so
 * that one transaction per instance waits on the advisory lock while the
 * others wait without holding a pooled connection.
 */
class LocalLane {
  private tail: Promise<void> = Promise.resolve();

  /** Resolves with the function that leaves the lane once it is this caller's turn; an EngineBusyError after `timeoutMs`. */
  enter(timeoutMs: number): Promise<() => void> {
    const before = this.tail;
    let leave!: () => void;
    const left = new Promise<void>((r) => {
      leave = r;
    });
    this.tail = before.then(() => left);
    return new Promise((resolve, reject) => {
      let gaveUp = false;
      const timer = setTimeout(() => {
        gaveUp = true;
        reject(new EngineBusyError('the database is busy; try again'));
      }, timeoutMs);
      before.then(() => {
        clearTimeout(timer);
        // a caller that gave up passes its turn on at once
        if (gaveUp) leave();
        else resolve(leave);
      });
    });
  }
}

/**
 * The production engine: a pool of PostgreSQL connections. Statements
 * outside a transaction take any connection; a transaction holds one for
 * its whole async body, at SERIALIZABLE isolation (what SQLite's single
 * writer gives), and is run again from the start when PostgreSQL reports a
 * serialization failure or a deadlock.
 */
export class PostgresEngine implements Engine {
  readonly dialect = postgresDialect;
  /** Several instances share the database. */
  readonly shared = true;
  readonly renameShortenedNames = renameShortenedNames;
  private closed = false;
  /** Calls started and not yet settled: close() waits for them (see {@link track}). */
  private running = 0;
  /** Called once nothing runs (close() waits so). */
  private idleWaiters: (() => void)[] = [];
  private closing: Promise<void> | null = null;
  private readonly lane = new LocalLane();

  private constructor(
    private readonly pool: pg.Pool,
    readonly url: string,
    private readonly timeoutMs: number,
    private readonly waitMs: number,
    private readonly readTurns: Turns,
  ) {}

  /** Connects (retrying as the options say) and returns the engine. */
  static async open(url: string, options: PostgresOptions = {}): Promise<PostgresEngine> {
    const timeout = statementTimeoutMs(options.statementTimeoutMs);
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolMax ?? (Number(process.env.MS_PG_POOL_MAX) || 20),
      types,
      statement_timeout: timeout,
      // a transaction left open by a crashed request must not hold its locks for ever
      idle_in_transaction_session_timeout: 60_000,
      options: '-c TimeZone=UTC -c DateStyle=ISO,YMD',
      connectionTimeoutMillis: options.poolWaitMs ?? 10_000,
    });
    // an idle connection that breaks (server restart) must not crash the process
    pool.on('error', () => {});
    // nor one in use: pg emits 'error' on a checked-out client whose server
    // ended it between two queries (a restart, pg_terminate_backend), which
    // without a listener is an uncaught exception; its next query fails, the
    // transaction releases it as broken, and the pool drops it
    pool.on('connect', (client) => client.on('error', () => {}));
    const deadline = Date.now() + (options.connectTimeoutMs ?? 0);
    for (let attempt = 1; ; attempt++) {
      try {
        const client = await pool.connect();
        client.release();
        break;
      } catch (err) {
        const message = describeConnectError(err, url);
        if (Date.now() >= deadline) {
          await pool.end().catch(() => {});
          throw new DatabaseUnavailableError(message);
        }
        const delay = Math.min(500 * 2 ** Math.min(attempt - 1, 4), 5000);
        options.onRetry?.(message, delay);
        await sleep(delay);
      }
    }
    const poolMax = options.poolMax ?? (Number(process.env.MS_PG_POOL_MAX) || 20);
    // Slow reads are CPU-bound in PostgreSQL: past a couple per core, more at once only slows everything
    // there (25 slow filters on a two-core machine put reads by id at a p99 of 111 ms with 15 running)
    const share =
      options.readShare ??
      (Number(process.env.MS_PG_READ_SHARE) || Math.max(1, Math.min(Math.floor((poolMax * 3) / 4), 2 * availableParallelism())));
    return new PostgresEngine(pool, url, timeout, options.poolWaitMs ?? 10_000, new Turns(share));
  }

  /**
   * Runs one call of the engine, counted so that close() waits for it. The
   * pool cannot do that itself: `pool.end()` ends at once when its clients
   * are idle, and a `connect()` already asked for but not yet answered then
   * waits out its timeout and fails, so a write started just before close()
   * was lost as "busy" (found by the engine contract).
   */
  private track<T>(work: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the database is closed'));
    this.running++;
    return work().finally(this.settled);
  }

  private readonly settled = (): void => {
    if (--this.running > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  };

  all<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.track(async () => (await poolQuery(this.pool, sql, params)).rows as T[]);
  }
  async get<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }
  values(sql: string, params?: readonly SqlValue[]): Promise<unknown[][]> {
    return this.track(async () => (await poolQuery(this.pool, sql, params, true)).rows as unknown[][]);
  }
  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.track(async () => (await poolQuery(this.pool, sql, params)).rowCount ?? 0);
  }
  read(statements: readonly ReadStatement[], options: ReadOptions = {}): Promise<unknown[][]> {
    return this.track(() => this.readNow(statements, options));
  }

  private async readNow(statements: readonly ReadStatement[], options: ReadOptions): Promise<unknown[][]> {
    // light reads need no turn: they cannot hold a connection long
    const done = options.light ? () => {} : await this.readTurns.take(this.waitMs);
    try {
      if (options.timeoutMs === undefined || options.timeoutMs === this.timeoutMs) {
        const out: unknown[][] = [];
        for (const s of statements) out.push((await poolQuery(this.pool, s.sql, s.params, s.arrays === true)).rows);
        return out;
      }
      // a limit of its own: the statements share a read-only transaction that sets it
      const client = await connect(this.pool);
      let broken = false;
      try {
        await client.query(`BEGIN READ ONLY; SET LOCAL statement_timeout = ${Math.max(1, Math.floor(options.timeoutMs))}`);
        const out: unknown[][] = [];
        for (const s of statements) out.push((await query(client, s.sql, s.params, s.arrays === true, true)).rows);
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw err;
      } finally {
        client.release(broken || retiring.has(client));
      }
    } finally {
      done();
    }
  }

  describe(sql: string): Promise<QueryColumn[]> {
    return this.track(() => this.describeNow(sql));
  }

  private async describeNow(sql: string): Promise<QueryColumn[]> {
    const client = await connect(this.pool);
    let broken = false;
    try {
      return await describeOn(client, sql, false);
    } catch (err) {
      broken = !(err instanceof QueryRejectedError);
      throw err;
    } finally {
      client.release(broken);
    }
  }
  afterCommit(fn: () => void): void {
    fn();
  }

  /**
   * Runs `fn` in a SERIALIZABLE transaction, again from the start when it
   * fails with a serialization failure or a deadlock: `fn` must do nothing
   * outside the database that it cannot do twice. The first attempt runs
   * alongside everything else; the later ones in the retry lane (one
   * transaction at a time across every instance, up to
   * {@link LANE_ATTEMPTS}), so under contention each transaction commits in
   * its turn instead of losing every retry. `afterCommit` callbacks of
   * failed attempts are dropped; those of the attempt that commits run once,
   * after the commit.
   */
  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    return this.track(() => this.transactionNow(fn));
  }

  private async transactionNow<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    let first = await this.attemptOnce(fn, true);
    // a named statement's plan went stale (a schema change): its connection is closed, and the
    // transaction runs again with unnamed statements (other connections may hold the same stale plan)
    if (!first.ok && isStalePlan(first.err)) first = await this.attemptOnce(fn, false);
    if (first.ok) {
      for (const cb of first.callbacks) cb();
      return first.result;
    }
    if (!isRetryable(first.err)) throw translate(first.err);
    return this.retryInLane(fn);
  }

  /** One attempt on a pooled connection, released (or closed) after it. */
  private async attemptOnce<T>(fn: (tx: Executor) => Promise<T>, named: boolean): Promise<Attempt<T>> {
    const client = await connect(this.pool);
    const outcome = await attempt(client, fn, named);
    client.release((!outcome.ok && outcome.broken) || retiring.has(client));
    return outcome;
  }

  /**
   * The later attempts of a transaction, holding the retry lane: a turn in
   * this process's queue, then the advisory lock on one pooled connection
   * (taken in the round trip of the first BEGIN, kept across the attempts,
   * released in that of the COMMIT, or after the last ROLLBACK). A
   * connection that fails on the way is destroyed, never returned to the
   * pool, so the lock cannot outlive its turn.
   */
  private async retryInLane<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    const deadline = Date.now() + LANE_WAIT_MS;
    const leave = await this.lane.enter(LANE_WAIT_MS);
    let client: pg.PoolClient | undefined;
    let broken = false;
    let outcome: Attempt<T> | undefined;
    try {
      client = await connect(this.pool);
      // the wait is bounded by what is left of the lane's, not by the statement timeout
      const wait = Math.max(1, deadline - Date.now());
      // a transaction of its own, committed before the attempt's BEGIN: statements before a BEGIN in one
      // message would otherwise become part of that transaction, which would then have taken its snapshot
      const lock = `BEGIN; SET LOCAL statement_timeout = ${wait}; SELECT pg_advisory_lock(${LANE_KEY}); SET idle_session_timeout = ${LANE_IDLE_MS}; COMMIT`;
      const unlock = `SELECT pg_advisory_unlock(${LANE_KEY}); RESET idle_session_timeout`;
      let named = true;
      for (let n = 1; ; n++) {
        // the lock is taken with the first BEGIN, and dropped with the COMMIT that succeeds
        outcome = await attempt(client, fn, named, { before: n === 1 ? lock : undefined, after: unlock });
        if (!outcome.ok && !outcome.begun) {
          broken = true;
          if ((outcome.err as { code?: unknown })?.code === '57014') throw new EngineBusyError('the database is busy; try again');
          throw translate(outcome.err);
        }
        // after a stale plan (a schema change meanwhile) the attempts left go unnamed; unnamed, no error is one
        if (!outcome.ok && isStalePlan(outcome.err)) named = false;
        else if (outcome.ok || outcome.broken || !isRetryable(outcome.err)) break;
        if (n >= LANE_ATTEMPTS || Date.now() >= deadline) break;
        // the first attempts it lost to get a moment to commit, so the next snapshot starts after them
        await sleep(Math.random() * Math.min(LANE_BACKOFF_MS, 2 ** n));
      }
      // a retired connection is closed, which also ends its hold on the lock
      broken = (!outcome.ok && outcome.broken) || retiring.has(client);
      if (!broken && !outcome.ok) {
        try {
          await client.query(unlock);
        } catch {
          broken = true;
        }
      }
    } finally {
      client?.release(broken);
      leave();
    }
    if (outcome.ok) {
      for (const cb of outcome.callbacks) cb();
      return outcome.result;
    }
    if (isRetryable(outcome.err) || isStalePlan(outcome.err)) throw new EngineBusyError('the database is busy; try again');
    throw translate(outcome.err);
  }

  /** A session-level advisory lock on one connection, held while `fn` runs. */
  withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.track(() => this.withLockNow(name, fn));
  }

  private async withLockNow<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      // waiting for another process's migrations is not a slow query
      await client.query('SET statement_timeout = 0');
      await client.query('SELECT pg_advisory_lock(hashtext($1))', [name]);
      try {
        return await fn();
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [name]);
        await client.query('RESET statement_timeout');
      }
    } finally {
      client.release();
    }
  }

  /** LISTEN/NOTIFY between the instances that share this database. */
  channel(): ChangeChannel {
    return new PgChangeChannel(this);
  }

  /** A dedicated connection outside the pool (LISTEN needs one that stays). */
  newClient(): pg.Client {
    return new pg.Client({ connectionString: this.url, types, options: '-c TimeZone=UTC' });
  }

  /**
   * Closes after the calls already running (and those they start meanwhile,
   * as SQLite's close() waits for the writes that queued writes lead to);
   * every caller waits for the same close.
   */
  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    while (this.running > 0) {
      await new Promise<void>((resolve) => {
        this.idleWaiters.push(resolve);
      });
    }
    this.closed = true;
    await this.pool.end();
  }
}
