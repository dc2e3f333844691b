import type { Logger } from 'pino';
import { DatabaseUnavailableError, type Engine, EngineBusyError, QueryRejectedError, StatementTimeoutError } from '../storage/engine.js';
import { ApiError, Errors, fieldError } from './errors.js';
import { isObject } from './json.js';
import type { LogService } from './logs.js';
import type { SettingsService } from './settings.js';

/**
 * The superusers' SQL console (`POST /api/ms/sql`): one statement, run on a
 * connection of its own (Engine.console), read-only unless the settings
 * allow writes (`sqlConsole.allowWrites`) and the request asks for one
 * (`write: true`). Every write, allowed or not, is audited: a warning in
 * the server's log with the whole statement, and an entry in the request
 * log. Answers are pages (`page`, `perPage` up to 1000) of rows as arrays.
 * Writes bypass rules, hooks, realtime and the collection registry, as any
 * SQL beside the API would.
 */

/** At most this many rows per page. */
export const MAX_CONSOLE_PER_PAGE = 1000;
const DEFAULT_PER_PAGE = 100;
/** A statement longer than this is refused (a console is typed, not uploaded). */
const MAX_SQL_CHARS = 100_000;

/** The answer of one console statement. */
export interface SqlConsoleResult {
  columns: string[];
  rows: unknown[][];
  page: number;
  perPage: number;
  /** More rows follow this page. */
  more: boolean;
  /** Rows a write changed; null for a statement that returns rows. */
  changes: number | null;
  /** Whether it ran as a write. */
  write: boolean;
  /** How long it ran, in ms. */
  ms: number;
}

/** Who runs a statement, for the audit. */
export interface ConsoleCaller {
  id: string;
  email: string;
  ip: string;
}

const invalid = (field: string, message: string) =>
  Errors.validation('An error occurred while validating the submitted data.', { [field]: fieldError('validation_invalid_value', message) });

function wholeNumber(raw: unknown, field: string, def: number, max: number): number {
  if (raw === undefined || raw === null || raw === '') return def;
  const n = typeof raw === 'string' && /^\d{1,9}$/.test(raw) ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > max) throw invalid(field, `Must be a whole number from 1 to ${max}.`);
  return n;
}

/** The statement as sent, without the semicolons and spaces that end it. */
function statementOf(raw: unknown): string {
  if (typeof raw !== 'string') throw invalid('sql', 'Must be a string.');
  const sql = raw.replace(/[\s;]+$/, '');
  if (sql.trim() === '') throw invalid('sql', 'Cannot be blank.');
  if (sql.length > MAX_SQL_CHARS) throw invalid('sql', `Must be at most ${MAX_SQL_CHARS} characters.`);
  return sql;
}

export class SqlConsole {
  constructor(
    private readonly engine: Engine,
    private readonly settings: SettingsService,
    private readonly logger: Logger,
    private readonly logs: LogService,
  ) {}

  /** Runs the statement a request's body holds (`{sql, page?, perPage?, write?}`). */
  async run(body: unknown, caller: ConsoleCaller): Promise<SqlConsoleResult> {
    if (!isObject(body)) throw Errors.invalidBody('The request body must be a JSON object.');
    const sql = statementOf(body.sql);
    const page = wholeNumber(body.page, 'page', 1, 1_000_000);
    const perPage = wholeNumber(body.perPage, 'perPage', DEFAULT_PER_PAGE, MAX_CONSOLE_PER_PAGE);
    if (body.write !== undefined && typeof body.write !== 'boolean') throw invalid('write', 'Must be true or false.');
    const write = body.write === true;
    const { allowWrites, timeoutMs } = this.settings.get().sqlConsole;
    if (write) this.audit(caller, sql, allowWrites);
    if (write && !allowWrites) {
      throw Errors.forbidden('Writes from the SQL console are off; a superuser may turn them on in the settings (sqlConsole.allowWrites).');
    }
    const started = performance.now();
    try {
      const answer = await this.engine.console({ sql, offset: (page - 1) * perPage, limit: perPage, timeoutMs, write });
      return { ...answer, page, perPage, write, ms: Math.round(performance.now() - started) };
    } catch (err) {
      if (err instanceof StatementTimeoutError) {
        throw new ApiError(400, 'sql_timeout', `The statement ran longer than ${timeoutMs} ms (sqlConsole.timeoutMs) and was stopped.`);
      }
      throw consoleError(err);
    }
  }

  /** A write is written down before it runs, so one that never ends is on record too. */
  private audit(caller: ConsoleCaller, sql: string, allowed: boolean): void {
    this.logger.warn({ superuser: caller.id, email: caller.email, ip: caller.ip, allowed, sql }, 'SQL console write');
    const verdict = allowed ? 'write' : 'write refused';
    this.logs.add({
      method: 'POST',
      url: '/api/ms/sql',
      status: allowed ? 200 : 403,
      execTime: 0,
      remoteIP: caller.ip,
      userIP: caller.ip,
      referer: '',
      userAgent: '',
      auth: '_superusers',
      authId: caller.id,
      error: '',
      message: `SQL console ${verdict} by ${caller.email}: ${sql}`,
    });
  }
}

/**
 * What a statement ended with, as an answer: the engine's own conditions
 * (time limit, busy, unreachable) keep their meaning; a refusal, and any
 * error of the database about the statement, is a 400 with its message,
 * which a superuser who typed the SQL needs to read.
 */
function consoleError(err: unknown): unknown {
  if (err instanceof ApiError || err instanceof EngineBusyError || err instanceof DatabaseUnavailableError) return err;
  if (err instanceof QueryRejectedError) return new ApiError(400, 'sql_rejected', `The statement was refused: ${err.message}`);
  const message = String((err as Error)?.message ?? err).slice(0, 2000);
  return new ApiError(400, 'sql_failed', `The database refused the statement: ${message}`);
}
