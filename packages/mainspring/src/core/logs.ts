import type { Logger } from 'pino';
import { compileFilter, FilterError, parseFilter, parseSort, SqlParams, type ValueType } from '../query/index.js';
import type { Dialect, Engine, Executor } from '../storage/engine.js';
import { formatDate } from './dates.js';
import { Errors } from './errors.js';
import { ID_LENGTH, randomString, timeOrderedId } from './ids.js';
import { type PageQuery, type PageSource, readPage } from './search/provider.js';
import type { SettingsService } from './settings.js';

/**
 * The request log (PocketBase's `/api/logs`): one row per API request, kept
 * `logs.maxDays` days (0 turns it off). Rows are buffered in memory and
 * written in one statement batch about once a second, so logging adds an
 * array push to a request, not a write.
 *
 * On SQLite the log has a file of its own, `auxiliary.db` beside `data.db`
 * (as PocketBase's), written without waiting for the disk
 * (`synchronous = OFF`): a power cut may lose the last seconds of the log,
 * never a record. Its writes do not queue behind (or hold up) the records'
 * writer, and do not grow the records' WAL. On PostgreSQL it is a table of
 * the shared database, so every instance's requests are in one log.
 */

/** The table of request log rows. */
export const LOGS_TABLE = '_ms_logs';

/** The SQLite file of the request log, in the data directory. */
export const LOGS_FILE = 'auxiliary.db';

/** Creates the request log's table and its indexes. */
export async function createLogsTable(tx: Executor, d: Dialect): Promise<void> {
  const text = (name: string) => ({ name, kind: 'text' as const });
  const num = (name: string) => ({ name, kind: 'number' as const });
  await tx.run(
    d.createTable(LOGS_TABLE, [
      { name: 'id', kind: 'text', primaryKey: true },
      { name: 'created', kind: 'date' },
      num('hour'),
      num('level'),
      text('message'),
      text('method'),
      text('url'),
      num('status'),
      num('exec_time'),
      text('remote_ip'),
      text('user_ip'),
      text('referer'),
      text('user_agent'),
      text('auth'),
      text('auth_id'),
      text('error'),
    ]),
  );
  await tx.run(d.createIndex({ name: 'idx__ms_logs_created', table: LOGS_TABLE, unique: false, columns: [{ name: 'created' }] }));
  await tx.run(d.createIndex({ name: 'idx__ms_logs_hour', table: LOGS_TABLE, unique: false, columns: [{ name: 'hour' }] }));
}

/** PocketBase's (slog's) levels. */
export const LOG_LEVEL = { info: 0, warn: 4, error: 8 } as const;

/** What the HTTP layer knows of a finished request. */
export interface RequestLogEntry {
  method: string;
  /** Path and query, with secrets already masked. */
  url: string;
  status: number;
  execTime: number;
  remoteIP: string;
  userIP: string;
  referer: string;
  userAgent: string;
  /** The caller's collection name, or '' for a guest. */
  auth: string;
  authId: string;
  error: string;
  /** The entry's message, when it is not the request's method and path (an audit entry). */
  message?: string;
}

/** A stored row, as read. */
type Row = Omit<Pending, 'at'> & { id: string; created: string };

/** A buffered row: its id and the text of its date are made when it is written, off the request's path. */
interface Pending {
  /** When the request ended (ms since the epoch). */
  at: number;
  hour: number;
  level: number;
  message: string;
  method: string;
  url: string;
  status: number;
  exec_time: number;
  remote_ip: string;
  user_ip: string;
  referer: string;
  user_agent: string;
  auth: string;
  auth_id: string;
  error: string;
}

/** Filterable and sortable names, as PocketBase names them, with their column and type. */
const NAMES: Record<string, [column: string, type: ValueType]> = {
  id: ['id', 'text'],
  created: ['created', 'date'],
  level: ['level', 'number'],
  message: ['message', 'text'],
  'data.method': ['method', 'text'],
  'data.url': ['url', 'text'],
  'data.status': ['status', 'number'],
  'data.execTime': ['exec_time', 'number'],
  'data.remoteIP': ['remote_ip', 'text'],
  'data.userIP': ['user_ip', 'text'],
  'data.referer': ['referer', 'text'],
  'data.userAgent': ['user_agent', 'text'],
  'data.auth': ['auth', 'text'],
  'data.authId': ['auth_id', 'text'],
  'data.error': ['error', 'text'],
};

const COLUMNS = [
  'id',
  'created',
  'hour',
  'level',
  'message',
  'method',
  'url',
  'status',
  'exec_time',
  'remote_ip',
  'user_ip',
  'referer',
  'user_agent',
  'auth',
  'auth_id',
  'error',
] as const;

const HOUR = 3_600_000;
/** Rows written per INSERT (SQLite allows 32,766 parameters; 16 per row). */
const ROWS_PER_INSERT = 200;

/**
 * How many of `left` rows the next INSERT writes: {@link ROWS_PER_INSERT},
 * else the largest power of two that fits. So there are nine statements in
 * all, each prepared once (and named once per PostgreSQL connection), where
 * a size per flush made a new one of up to 3,200 parameters every second.
 */
function chunkSize(left: number): number {
  if (left >= ROWS_PER_INSERT) return ROWS_PER_INSERT;
  return 2 ** Math.floor(Math.log2(left));
}

const insertTexts = new Map<number, string>();

/** The INSERT of `size` rows (a size {@link chunkSize} gives), its text made once. */
function insertSql(size: number): string {
  let sql = insertTexts.get(size);
  if (sql === undefined) {
    const n = COLUMNS.length;
    const tuples = Array.from({ length: size }, (_, r) => `(${COLUMNS.map((_, j) => `$${r * n + j + 1}`).join(', ')})`);
    sql = `INSERT INTO ${LOGS_TABLE} (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`;
    insertTexts.set(size, sql);
  }
  return sql;
}
/** Beyond this many unwritten rows, new ones are dropped (a database that cannot keep up must not take the memory too). */
const MAX_BUFFERED = 20_000;

/** Query-string keys whose values never reach the log. */
const SECRET_KEY = /token|password|secret|otp|key|code|auth/i;

/** The path and query of a request URL, with the values of secret-looking keys masked. */
export function maskedUrl(raw: string): string {
  const q = raw.indexOf('?');
  if (q < 0) return raw.slice(0, 2000);
  const params = raw
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const key = eq < 0 ? pair : pair.slice(0, eq);
      let decoded = key;
      try {
        decoded = decodeURIComponent(key);
      } catch {
        // a malformed escape: judge the raw key
      }
      return eq >= 0 && SECRET_KEY.test(decoded) ? `${key}=***` : pair;
    });
  return `${raw.slice(0, q)}?${params.join('&')}`.slice(0, 2000);
}

/** The request log: buffered writes, retention, and the superusers' queries. */
export class LogService {
  private buffer: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private lastSweep = 0;
  private closed = false;

  /**
   * `engine` holds the log: auxiliary.db's on SQLite (see {@link open}), the
   * records' own on PostgreSQL; `owned` when this service closes it.
   */
  constructor(
    private readonly engine: Engine,
    private readonly settings: SettingsService,
    private readonly logger: Logger,
    private readonly owned = false,
  ) {}

  /** Creates the log's table in its own file on first use (on PostgreSQL a migration made it). */
  async open(): Promise<void> {
    if (!this.owned) return;
    const exists = await this.engine.get(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = $1`, [LOGS_TABLE]);
    if (!exists) await this.engine.transaction((tx) => createLogsTable(tx, this.engine.dialect));
  }

  /** True when requests are logged (`logs.maxDays` > 0). */
  get enabled(): boolean {
    return !this.closed && this.settings.get().logs.maxDays > 0;
  }

  /** Queues one request's row; it is written within about a second. */
  add(entry: RequestLogEntry): void {
    if (!this.enabled || this.buffer.length >= MAX_BUFFERED) return;
    const now = Date.now();
    const level = entry.status >= 500 ? LOG_LEVEL.error : entry.status >= 400 ? LOG_LEVEL.warn : LOG_LEVEL.info;
    const { logIP, logAuthId, minLevel } = this.settings.get().logs;
    if (level < minLevel) return;
    this.buffer.push({
      at: now,
      hour: Math.floor(now / HOUR),
      level,
      message: (entry.message ?? `${entry.method} ${entry.url.split('?', 1)[0]}`).slice(0, 500),
      method: entry.method,
      url: entry.url,
      status: entry.status,
      exec_time: entry.execTime,
      remote_ip: logIP ? entry.remoteIP : '',
      user_ip: logIP ? entry.userIP : '',
      referer: entry.referer.slice(0, 500),
      user_agent: entry.userAgent.slice(0, 500),
      auth: entry.auth,
      auth_id: logAuthId ? entry.authId : '',
      error: entry.error.slice(0, 500),
    });
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.flush().catch(() => {});
    }, 1000).unref();
  }

  /** Writes every buffered row now (tests, and before closing). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  private async write(): Promise<void> {
    const rows = this.buffer;
    this.buffer = [];
    let written = 0;
    try {
      // one short transaction per chunk: between chunks the event loop serves requests (and other writes),
      // where one transaction of a second's rows held it for as long as they took (~100 ms at 10k req/s)
      while (written < rows.length) {
        const size = chunkSize(rows.length - written);
        const chunk = rows.slice(written, written + size);
        try {
          await this.engine.run(insertSql(size), this.values(chunk, timeOrderedId) as never);
        } catch {
          // one bad row (an id met again) must not cost the chunk and the rest of the flush
          const left = await this.writeOneByOne(chunk);
          if (left > 0) {
            this.requeue(rows.slice(written + size - left));
            return;
          }
        }
        written += size;
        await new Promise((r) => setImmediate(r));
      }
      await this.sweep();
    } catch (err) {
      this.logger.warn({ err: { message: (err as Error).message } }, 'request log: sweeping old rows failed');
    }
  }

  /**
   * Inserts a chunk row by row after its INSERT failed: a row whose id is
   * taken gets a fresh one (its random part drawn anew) and is tried again
   * once; the first failure of another kind (the database itself failing)
   * stops, and the rows from there on are left for the next flush. Answers
   * how many rows of the chunk are left.
   */
  private async writeOneByOne(chunk: Pending[]): Promise<number> {
    const d = this.engine.dialect;
    const freshId = (at: number) => timeOrderedId(at).slice(0, 9) + randomString(ID_LENGTH - 9);
    for (let i = 0; i < chunk.length; i++) {
      const row = chunk.slice(i, i + 1);
      try {
        await this.engine.run(insertSql(1), this.values(row, timeOrderedId) as never);
      } catch (err) {
        if (!d.uniqueViolation(err)) {
          this.logger.warn({ err: { message: (err as Error).message }, kept: chunk.length - i }, 'request log: writing failed');
          return chunk.length - i;
        }
        try {
          await this.engine.run(insertSql(1), this.values(row, freshId) as never);
        } catch (again) {
          this.logger.warn({ err: { message: (again as Error).message }, dropped: 1 }, 'request log: a row could not be written');
        }
      }
    }
    return 0;
  }

  /** Puts unwritten rows back before those queued since, within the buffer's bound. */
  private requeue(rows: Pending[]): void {
    const room = MAX_BUFFERED - this.buffer.length;
    if (rows.length > room) this.logger.warn({ dropped: rows.length - Math.max(room, 0) }, 'request log: buffer full, rows dropped');
    if (room > 0) this.buffer = [...rows.slice(0, room), ...this.buffer];
    if (this.buffer.length > 0 && !this.closed) {
      this.timer ??= setTimeout(() => {
        this.timer = null;
        this.flush().catch(() => {});
      }, 1000).unref();
    }
  }

  /** The values of `rows` for their INSERT, in the order of COLUMNS, with ids from `id`. */
  private values(rows: Pending[], id: (at: number) => string): unknown[] {
    const d = this.engine.dialect;
    const values: unknown[] = [];
    // rows of one millisecond share the text of their date
    let at = Number.NaN;
    let created: unknown = '';
    for (const row of rows) {
      if (row.at !== at) {
        at = row.at;
        created = d.encode('date', formatDate(new Date(at)));
      }
      values.push(
        id(at),
        created,
        row.hour,
        row.level,
        row.message,
        row.method,
        row.url,
        row.status,
        row.exec_time,
        row.remote_ip,
        row.user_ip,
        row.referer,
        row.user_agent,
        row.auth,
        row.auth_id,
        row.error,
      );
    }
    return values;
  }

  /** Retention: rows older than `logs.maxDays` go, at most one sweep an hour. */
  private async sweep(): Promise<void> {
    const now = Date.now();
    if (now - this.lastSweep <= HOUR) return;
    this.lastSweep = now;
    const maxDays = this.settings.get().logs.maxDays;
    const cutoff = Math.floor((now - maxDays * 86_400_000) / HOUR);
    await this.engine.run(`DELETE FROM ${LOGS_TABLE} WHERE hour < $1`, [cutoff]);
  }

  /** Writes what is buffered and stops logging. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
    // rows a failing database left queued are not tried again after the last flush
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.closed = true;
    if (this.owned) await this.engine.close();
  }

  private compile(q: { filter?: string; sort?: string }, params: SqlParams): { where: string; order: string } {
    const d = this.engine.dialect;
    const resolver = {
      resolve(name: string) {
        const known = Object.hasOwn(NAMES, name) ? NAMES[name] : undefined;
        if (!known) throw new FilterError(`unknown field "${name}"`);
        return { kind: 'sql' as const, sql: known[0], type: known[1] };
      },
    };
    let order = `created DESC, id DESC`;
    let where = '';
    try {
      if (q.filter) where = compileFilter(parseFilter(q.filter), resolver, d, params);
      if (q.sort) {
        order = parseSort(q.sort)
          .map((k) => {
            // PocketBase's search keys beside the fields: random order, and the order of writing (ids grow with time)
            if (k.name === '@random') return d.random();
            if (k.name === '@rowid') return `${d.orderBy('created', k.desc)}, ${d.orderBy('id', k.desc)}`;
            const known = Object.hasOwn(NAMES, k.name) ? NAMES[k.name] : undefined;
            if (!known) throw new FilterError(`cannot sort by "${k.name}"`);
            return d.orderBy(known[0], k.desc);
          })
          .concat('id DESC')
          .join(', ');
      }
    } catch (err) {
      if (err instanceof FilterError) throw Errors.invalidFilter(err.message);
      throw err;
    }
    return { where, order };
  }

  /** A page of log rows, newest first unless sorted otherwise (PocketBase's list shape). */
  async list(q: { filter?: string; sort?: string } & PageQuery) {
    const params = new SqlParams(this.engine.dialect);
    const { where, order } = this.compile(q, params);
    const source: PageSource = {
      from: LOGS_TABLE,
      select: COLUMNS.join(', '),
      where: where ? [where] : [],
      order: [order],
      params,
      // the newest rows, by the index on time, are cheap; a filter may scan the whole log
      light: where === '' && !q.sort,
      guarded: false,
      arrays: false,
    };
    const page = await readPage(this.engine, source, q, { defaultPerPage: 30, maxPerPage: 500 });
    return { ...page, items: (page.items as Row[]).map((r) => this.toJSON(r)) };
  }

  /** Requests per hour (PocketBase's `[{total, date}]`), oldest first, for the rows the filter admits. */
  async stats(q: { filter?: string }): Promise<{ total: number; date: string }[]> {
    const params = new SqlParams(this.engine.dialect);
    const { where } = this.compile({ filter: q.filter ?? '' }, params);
    const rows = await this.engine.all<{ hour: number; total: number }>(
      `SELECT hour, COUNT(*) AS total FROM ${LOGS_TABLE}${where ? ` WHERE ${where}` : ''} GROUP BY hour ORDER BY hour`,
      params.values,
    );
    return rows.map((r) => ({ total: Number(r.total), date: formatDate(new Date(Number(r.hour) * HOUR)) }));
  }

  /** One row, or null. */
  async view(id: string) {
    const row = await this.engine.get<Row>(`SELECT ${COLUMNS.join(', ')} FROM ${LOGS_TABLE} WHERE id = $1`, [id]);
    return row ? this.toJSON(row) : null;
  }

  private toJSON(r: Row) {
    const d = this.engine.dialect;
    const created = String(d.decode('date', r.created));
    return {
      id: r.id,
      created,
      updated: created,
      level: Number(r.level),
      message: r.message,
      data: {
        type: 'request',
        method: r.method,
        url: r.url,
        status: Number(r.status),
        execTime: Number(r.exec_time),
        remoteIP: r.remote_ip,
        userIP: r.user_ip,
        referer: r.referer,
        userAgent: r.user_agent,
        auth: r.auth,
        authId: r.auth_id,
        ...(r.error ? { error: r.error } : {}),
      },
    };
  }
}
