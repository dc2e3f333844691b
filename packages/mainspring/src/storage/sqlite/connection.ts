import type Database from 'better-sqlite3';
import {
  type Executor,
  type QueryColumn,
  QueryRejectedError,
  type ReadStatement,
  type Row,
  type SqlValue,
  StatementTimeoutError,
} from '../engine.js';
import type { ReaderStatement } from './readers.js';

/** A prepared statement of better-sqlite3. */
export type Statement = Database.Statement<unknown[], Row>;

const STATEMENT_CACHE_LIMIT = 2000;

/** A prepared statement and, for each of its `?`, which `$n` parameter it takes. */
interface Prepared {
  stmt: Statement;
  order: number[];
  /** The same statement answering rows as arrays (better-sqlite3's raw mode), prepared when first asked for. */
  raw?: Statement;
}

/**
 * Rewrites `$1…$n` placeholders (which may repeat and come in any order, as
 * composed filter SQL does) into positional `?`, remembering the order:
 * positional binding is cheaper than SQLite's named parameters.
 */
function positional(sql: string): { sql: string; order: number[] } {
  const order: number[] = [];
  const rewritten = sql.replace(/\$(\d+)/g, (_, n: string) => {
    order.push(Number(n) - 1);
    return '?';
  });
  return { sql: rewritten, order };
}

/** The value type a column's declared SQL type gives it (SQLite's affinity rules), if any. */
function declaredType(decl: string | null): QueryColumn['type'] {
  if (!decl) return null;
  const t = decl.toUpperCase();
  if (t.includes('BOOL')) return 'bool';
  if (/INT|REAL|FLOA|DOUB|NUM|DEC/.test(t)) return 'number';
  if (/CHAR|CLOB|TEXT/.test(t)) return 'text';
  return null;
}

/** A better-sqlite3 connection with a bounded cache of prepared statements. */
export class Connection implements Executor {
  private readonly cache = new Map<string, Prepared>();
  /** Callbacks waiting for the open transaction to commit; null outside one. */
  pendingCommit: (() => void)[] | null = null;
  /** When the running statement must stop (ms since the epoch), and the limit that set it. */
  private deadline = 0;
  private limitMs = 0;
  /** The reader's statements that open and end its shared read transaction (see {@link shareSnapshots}). */
  private readonly snapshot: { begin: Statement; end: Statement } | null;
  private snapshotOpen = false;

  /**
   * better-sqlite3 cannot interrupt a statement, so queries shaped by a
   * client call `ms_deadline()` for each row they look at; it throws past
   * the statement's deadline, which aborts the statement.
   *
   * `shareSnapshots` (the reader): statements run until the event loop
   * turns share one read transaction. A statement outside a transaction
   * opens and ends its own, which in WAL mode takes and drops file locks
   * (three system calls, more than a by-id read itself costs); sharing it
   * also lets a list and its count read one snapshot. The engine ends it
   * just before the writer commits, so a read after a commit sees it and
   * the commit's checkpoint is not held back by it.
   */
  constructor(
    readonly db: Database.Database,
    private readonly timeoutMs: number,
    shareSnapshots = false,
  ) {
    db.function('ms_deadline', { deterministic: false, directOnly: true }, () => {
      if (Date.now() > this.deadline) {
        throw new StatementTimeoutError(`the query ran longer than ${this.limitMs} ms`);
      }
      return 1;
    });
    this.snapshot = shareSnapshots ? { begin: db.prepare('BEGIN') as Statement, end: db.prepare('COMMIT') as Statement } : null;
  }

  /** Opens the shared read transaction, if this connection shares one and it is not open yet. */
  private enterSnapshot(): void {
    if (this.snapshot === null || this.snapshotOpen) return;
    this.snapshot.begin.run();
    this.snapshotOpen = true;
    setImmediate(this.endSnapshot);
  }

  /** Ends the shared read transaction: the next statement reads the latest committed data. */
  readonly endSnapshot = (): void => {
    if (!this.snapshotOpen) return;
    this.snapshotOpen = false;
    // an error inside may have ended it already
    if (this.db.open && this.db.inTransaction) this.snapshot?.end.run();
  };

  afterCommit(fn: () => void): void {
    if (this.pendingCommit) this.pendingCommit.push(fn);
    else fn();
  }

  private prepare(sql: string): Prepared {
    let prepared = this.cache.get(sql);
    if (!prepared) {
      if (this.cache.size >= STATEMENT_CACHE_LIMIT) this.cache.clear();
      const p = positional(sql);
      prepared = { stmt: this.db.prepare(p.sql) as Statement, order: p.order };
      this.cache.set(sql, prepared);
    }
    return prepared;
  }

  /** A statement as a reader process takes it: `?` placeholders and their values in order. */
  static forReader(statement: ReadStatement): ReaderStatement {
    const p = positional(statement.sql);
    const args = Connection.bind(p.order, statement.params) as SqlValue[];
    return statement.when
      ? { sql: p.sql, args, arrays: statement.arrays === true, when: statement.when }
      : { sql: p.sql, args, arrays: statement.arrays === true };
  }

  static bind(order: number[], params: readonly SqlValue[] | undefined): unknown[] {
    const args = new Array(order.length);
    for (let i = 0; i < order.length; i++) {
      const n = order[i] as number;
      if (!params || n >= params.length) throw new RangeError(`missing SQL parameter $${n + 1}`);
      const v = params[n];
      args[i] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
    }
    return args;
  }

  /** Starts the statement's time: `timeoutMs` when the caller set one (Engine.read), else the connection's. */
  private startClock(timeoutMs = this.timeoutMs): void {
    this.limitMs = timeoutMs;
    this.deadline = Date.now() + timeoutMs;
  }

  allSync<T>(sql: string, params?: readonly SqlValue[], timeoutMs?: number): T[] {
    const { stmt, order } = this.prepare(sql);
    this.enterSnapshot();
    this.startClock(timeoutMs);
    return stmt.all(...Connection.bind(order, params)) as T[];
  }
  valuesSync(sql: string, params?: readonly SqlValue[], timeoutMs?: number): unknown[][] {
    const prepared = this.prepare(sql);
    prepared.raw ??= (this.db.prepare(prepared.stmt.source) as Statement).raw(true);
    this.enterSnapshot();
    this.startClock(timeoutMs);
    return prepared.raw.all(...Connection.bind(prepared.order, params)) as unknown as unknown[][];
  }
  getSync<T>(sql: string, params?: readonly SqlValue[]): T | undefined {
    const { stmt, order } = this.prepare(sql);
    this.enterSnapshot();
    this.startClock();
    return stmt.get(...Connection.bind(order, params)) as T | undefined;
  }
  runSync(sql: string, params?: readonly SqlValue[]): number {
    const { stmt, order } = this.prepare(sql);
    this.startClock();
    if (stmt.reader) {
      stmt.all(...Connection.bind(order, params));
      return 0;
    }
    return stmt.run(...Connection.bind(order, params)).changes;
  }

  describeSync(sql: string): QueryColumn[] {
    let stmt: Statement;
    try {
      stmt = this.db.prepare(sql) as Statement;
    } catch (err) {
      throw new QueryRejectedError(err instanceof Error ? err.message : String(err));
    }
    if (!stmt.reader || !stmt.readonly) throw new QueryRejectedError('the query must only read');
    return stmt.columns().map((c) => ({
      name: c.name,
      origin: c.table !== null && c.column !== null ? { table: c.table, column: c.column } : null,
      type: declaredType(c.type),
    }));
  }

  async describe(sql: string): Promise<QueryColumn[]> {
    return this.describeSync(sql);
  }

  async all<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.allSync<T>(sql, params);
  }
  async get<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.getSync<T>(sql, params);
  }
  async values(sql: string, params?: readonly SqlValue[]): Promise<unknown[][]> {
    return this.valuesSync(sql, params);
  }
  async run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.runSync(sql, params);
  }
}
