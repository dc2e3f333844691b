import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import {
  type ChangeChannel,
  type ConsoleAnswer,
  type ConsoleStatement,
  type DatabaseBackup,
  DatabaseUnavailableError,
  type Engine,
  type EngineStats,
  type Executor,
  type QueryColumn,
  QueryRejectedError,
  type ReadOptions,
  type ReadStatement,
  type Row,
  type SqlValue,
  StatementTimeoutError,
  shouldRun,
  statementTimeoutMs,
} from '../engine.js';
import { postgresBackup } from './backup.js';
import { runConsoleStatement } from './console.js';
import { postgresDialect } from './dialect.js';
import { PgChangeChannel } from './notify.js';
import { connect, describeOn, poolQuery, query, retiring, types } from './pool.js';
import { ReplicaSet, replicaUrlsFromEnv } from './replicas.js';
import { SerializableTransactions } from './serializable.js';
import { renameShortenedNames } from './shortened-names.js';
import { Turns } from './turns.js';

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
  /** Told the warnings our own statements raise (`RAISE WARNING 'mainspring: …'`: a search index without pg_trgm). */
  onWarning?: (message: string) => void;
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
  /** Hot standbys of this primary that take {@link PostgresEngine.read}'s reads (default `DATABASE_REPLICA_URLS`). */
  replicaUrls?: readonly string[];
  /** Told when a standby goes in or out of rotation (logged by the app). */
  onReplicaChange?: (message: string) => void;
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
  readonly backup: DatabaseBackup;
  private closed = false;
  /** Calls started and not yet settled: close() waits for them (see {@link track}). */
  private running = 0;
  /** Called once nothing runs (close() waits so). */
  private idleWaiters: (() => void)[] = [];
  private closing: Promise<void> | null = null;
  /** Runs each transaction, and again after a serialization failure or a deadlock. */
  private readonly transactions: SerializableTransactions;
  /** The standbys reads go to, when any are configured. */
  private replicas: ReplicaSet | null = null;
  /** Present with standbys: see {@link Engine.asCaller}. */
  asCaller?: <T>(caller: string, fn: () => T) => T;

  private constructor(
    private readonly pool: pg.Pool,
    readonly url: string,
    private readonly timeoutMs: number,
    private readonly waitMs: number,
    private readonly readTurns: Turns,
  ) {
    this.backup = postgresBackup(url);
    this.transactions = new SerializableTransactions(pool);
  }

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
      // a statement goes out without waiting for the one before: a transaction's BEGIN travels with its
      // first statement, its COMMIT with its last write (TxConnection)
      pipeline: true,
    });
    // an idle connection that breaks (server restart) must not crash the process
    pool.on('error', () => {});
    // nor one in use: pg emits 'error' on a checked-out client whose server
    // ended it between two queries (a restart, pg_terminate_backend), which
    // without a listener is an uncaught exception; its next query fails, the
    // transaction releases it as broken, and the pool drops it
    pool.on('connect', (client) => {
      client.on('error', () => {});
      const warn = options.onWarning;
      if (warn) {
        client.on('notice', (notice) => {
          if (notice.severity === 'WARNING' && notice.message?.startsWith('mainspring: '))
            warn(notice.message.slice('mainspring: '.length));
        });
      }
    });
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
    const engine = new PostgresEngine(pool, url, timeout, options.poolWaitMs ?? 10_000, new Turns(share));
    const replicaUrls = options.replicaUrls ?? replicaUrlsFromEnv();
    if (replicaUrls.length > 0) engine.attachReplicas(replicaUrls, options);
    return engine;
  }

  /** Standbys for reads: each an engine of its own (its pool and share of reads), checked by the replica set. */
  private attachReplicas(urls: readonly string[], options: PostgresOptions): void {
    const replicas = new ReplicaSet(this, {
      urls,
      // a standby that does not answer is left quickly: its reads go to the primary meanwhile
      open: (url) => PostgresEngine.open(url, { ...options, replicaUrls: [], connectTimeoutMs: 0, poolWaitMs: 2000 }),
      onChange: options.onReplicaChange,
    });
    this.replicas = replicas;
    this.asCaller = (caller, fn) => replicas.asCaller(caller, fn);
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
    const replicas = this.replicas;
    if (replicas) return this.track(() => replicas.read(statements, options, () => this.readNow(statements, options)));
    return this.track(() => this.readNow(statements, options));
  }

  private async readNow(statements: readonly ReadStatement[], options: ReadOptions): Promise<unknown[][]> {
    // light reads need no turn: they cannot hold a connection long
    const done = options.light ? () => {} : await this.readTurns.take(this.waitMs);
    try {
      return await this.readStatements(statements, options);
    } catch (err) {
      if (err instanceof StatementTimeoutError) this.readsStopped++;
      throw err;
    } finally {
      done();
    }
  }

  /** The statements of one read: on the pool at the engine's own limit, or in a read-only transaction that sets the caller's. */
  private async readStatements(statements: readonly ReadStatement[], options: ReadOptions): Promise<unknown[][]> {
    if (options.timeoutMs === undefined || options.timeoutMs === this.timeoutMs) {
      const out: unknown[][] = [];
      for (const s of statements) out.push(shouldRun(s, out) ? (await poolQuery(this.pool, s.sql, s.params, s.arrays === true)).rows : []);
      return out;
    }
    // a limit of its own: the statements share a read-only transaction that sets it
    const client = await connect(this.pool);
    let broken = false;
    try {
      await client.query(`BEGIN READ ONLY; SET LOCAL statement_timeout = ${Math.max(1, Math.floor(options.timeoutMs))}`);
      const out: unknown[][] = [];
      for (const s of statements) out.push(shouldRun(s, out) ? (await query(client, s.sql, s.params, s.arrays === true, true)).rows : []);
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
  }

  /** Reads stopped at their time limit since the start. */
  private readsStopped = 0;

  console(statement: ConsoleStatement): Promise<ConsoleAnswer> {
    return this.track(() => runConsoleStatement(this.url, statement));
  }

  stats(): EngineStats {
    const { totalCount, idleCount, waitingCount } = this.pool;
    return {
      writesWaiting: waitingCount,
      pool: { size: totalCount, idle: idleCount, waiting: waitingCount },
      reads: { running: this.readTurns.taken, stopped: this.readsStopped },
      ...(this.replicas ? { replication: this.replicas.stats() } : {}),
    };
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
   * fails with a serialization failure or a deadlock (the retry lane:
   * {@link SerializableTransactions}): `fn` must do nothing outside the
   * database that it cannot do twice.
   */
  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    const replicas = this.replicas;
    if (replicas?.tracking) return this.track(() => this.transactionNoted(replicas, fn));
    return this.track(() => this.transactions.run(fn));
  }

  /**
   * A caller's transaction with standbys: the primary's position after its
   * commit is noted for the caller before its `afterCommit` callbacks run, so
   * the reads they start (realtime rule checks) find what it wrote too.
   */
  private async transactionNoted<T>(replicas: ReplicaSet, fn: (tx: Executor) => Promise<T>): Promise<T> {
    let later: (() => void)[] = [];
    const result = await this.transactions.run((tx) => {
      // each attempt starts with no callbacks: a failed attempt's are dropped
      const mine: (() => void)[] = [];
      later = mine;
      const deferring: Executor = Object.create(tx);
      deferring.afterCommit = (cb) => mine.push(cb);
      return fn(deferring);
    });
    await replicas.noteCommit();
    for (const cb of later) cb();
    return result;
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
    await this.replicas?.close();
    await this.pool.end();
  }
}
