import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { type ConsoleAnswer, type ConsoleStatement, QueryRejectedError, StatementTimeoutError } from '../engine.js';

/**
 * The SQL console's statements on SQLite: each in a process of its own that
 * opens the file for this one statement and is killed at the time limit.
 * Not a reader of the pool: a console statement may change its
 * connection (a PRAGMA), which the API's next read would inherit, and
 * better-sqlite3 cannot interrupt a statement, which only the end of a
 * process stops. Read-only, the connection is opened read-only with
 * `query_only` on, and only a statement that returns rows and writes
 * nothing (`stmt.reader && stmt.readonly`) runs: ATTACH and DETACH (which
 * SQLite counts as read-only), PRAGMA assignments and VACUUM INTO return no
 * rows and are refused before they run. `load_extension()` stays off, as
 * better-sqlite3 leaves it.
 */

/** A cell longer than this many characters is cut (a page stays a page). */
const MAX_CELL_CHARS = 1 << 20;
/** A page stops before its rows pass about this many bytes; the rest is "more". */
const MAX_PAGE_BYTES = 8 << 20;

const SCRIPT = `
const Database = require(process.env.MS_SQLITE_DRIVER);
const MAX_CELL = ${MAX_CELL_CHARS}, MAX_PAGE = ${MAX_PAGE_BYTES};
const cell = (v) => {
  if (typeof v === 'string') return v.length > MAX_CELL ? v.slice(0, MAX_CELL) + ' … (' + v.length + ' characters)' : v;
  if (typeof v === 'bigint') return String(v);
  if (v instanceof Uint8Array) return { blob: Buffer.from(v.subarray(0, MAX_CELL)).toString('base64'), bytes: v.length };
  return v;
};
const size = (row) => row.reduce((n, v) => n + (typeof v === 'string' ? v.length : v && v.blob ? v.blob.length : 8), 16);
process.on('message', (m) => {
  try {
    const db = new Database(m.file, { readonly: !m.write, fileMustExist: true });
    db.pragma('busy_timeout = ' + Number(m.busyMs));
    if (!m.write) db.pragma('query_only = ON');
    let stmt;
    try {
      stmt = db.prepare(m.sql);
    } catch (err) {
      const message = String((err && err.message) || err);
      return process.send({ error: message, rejected: /more than one statement/.test(message) });
    }
    if (!m.write && !(stmt.reader && stmt.readonly)) {
      return process.send({ error: 'the console is read-only: only a statement that returns rows and writes nothing runs (writes are enabled in the settings, sqlConsole.allowWrites)', rejected: true });
    }
    if (!stmt.reader) return process.send({ columns: [], rows: [], more: false, changes: stmt.run().changes });
    stmt.raw(true);
    const columns = stmt.columns().map((c) => c.name);
    // a write that returns rows runs to its end; a read stops at the end of the page
    const source = m.write ? stmt.all() : stmt.iterate();
    const rows = [];
    let skipped = 0, bytes = 0, more = false;
    for (const row of source) {
      if (skipped < m.offset) { skipped++; continue; }
      if (rows.length >= m.limit || bytes > MAX_PAGE) { more = true; break; }
      const out = row.map(cell);
      bytes += size(out);
      rows.push(out);
    }
    process.send({ columns, rows, more, changes: null });
  } catch (err) {
    process.send({ error: String((err && err.message) || err), rejected: false });
  }
});
process.send({ ready: true });
process.on('disconnect', () => process.exit(0));
`;

const driver = createRequire(import.meta.url).resolve('better-sqlite3');

type Reply = { ready: true } | { error: string; rejected: boolean } | ConsoleAnswer;

/** Runs one console statement on `file` in a process of its own (see above). */
export function runConsoleStatement(file: string, statement: ConsoleStatement, busyTimeoutMs: number): Promise<ConsoleAnswer> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--max-old-space-size=512', '-e', SCRIPT], {
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      serialization: 'advanced',
      env: { ...process.env, MS_SQLITE_DRIVER: driver },
    });
    let timer: NodeJS.Timeout | null = null;
    let settled = false;
    const finish = (err: Error | null, answer?: ConsoleAnswer) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (child.exitCode === null) child.kill('SIGKILL');
      if (err) reject(err);
      else resolve(answer as ConsoleAnswer);
    };
    child.on('message', (reply: Reply) => {
      if ('ready' in reply) {
        // the time starts once the process runs: its start is not the statement's
        timer = setTimeout(
          () => finish(new StatementTimeoutError(`the query ran longer than ${statement.timeoutMs} ms`)),
          statement.timeoutMs,
        );
        child.send({ ...statement, file, busyMs: Math.min(busyTimeoutMs, statement.timeoutMs) });
      } else if ('error' in reply) {
        finish(reply.rejected ? new QueryRejectedError(reply.error) : Object.assign(new Error(reply.error), { code: 'SQLITE_CONSOLE' }));
      } else {
        finish(null, reply);
      }
    });
    child.on('exit', () => finish(new Error('the console process ended unexpectedly')));
    child.on('error', (err) => finish(err));
  });
}
