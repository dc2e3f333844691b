import { FilterError } from '../../query/index.js';
import type { Executor } from '../../storage/engine.js';
import type { Collection } from '../collections/model.js';
import { Errors } from '../errors.js';
import { withParams } from '../hooks/params.js';
import type { FindOptions } from '../hooks/transaction.js';
import { SYSTEM_REQUEST } from '../rules/request-info.js';
import type { ResolverScope } from '../rules/resolver.js';
import type { RecordContext } from './context.js';
import type { RecordReads } from './reads.js';
import { RECORD_ALIAS, readRecords, selectList } from './rows.js';

/** The most records server code reads in one query. */
const MAX_ANSWER = 10_000;
const AS_IS = { expand: null, fields: null };

/**
 * The reads server code makes (hooks, custom routes, crons through
 * `ms.records` and a hook's `e.tx`): as the system, no rules, filters with
 * bound `{:name}` placeholders, in the caller's transaction when there is one.
 */
export class ServerReads {
  constructor(
    private readonly ctx: RecordContext,
    private readonly reads: RecordReads,
  ) {}

  /** One record (no rules), as a superuser sees it. */
  async find(db: Executor | undefined, c: Collection, id: string): Promise<Record<string, unknown> | null> {
    const ex = db ?? this.ctx.engine;
    const record = await this.reads.find(ex, c, id, null, null);
    if (!record) return null;
    return (await this.reads.output(ex, c, [record], AS_IS, SYSTEM_REQUEST))[0] as Record<string, unknown>;
  }

  /** A filter with bound `{:name}` placeholders, a sort, a window. */
  async query(db: Executor | undefined, c: Collection, options: FindOptions): Promise<Record<string, unknown>[]> {
    const ex = db ?? this.ctx.engine;
    const d = this.ctx.engine.dialect;
    const scope = this.ctx.access.scope(SYSTEM_REQUEST);
    const where = this.where(scope, c, options.filter, options.params);
    const order = this.reads.order(scope, c, options.sort, true);
    const limit = scope.params.add(Math.max(0, Math.min(Math.trunc(Number(options.limit ?? 100)) || 0, MAX_ANSWER)));
    const offset = scope.params.add(Math.max(0, Math.trunc(Number(options.offset ?? 0)) || 0));
    const sql = `SELECT ${selectList(c, d)} FROM ${d.ident(c.name)} ${RECORD_ALIAS}${where} ORDER BY ${order.join(', ')} LIMIT ${limit} OFFSET ${offset}`;
    const records = await readRecords(ex, c, d, sql, scope.params.values);
    return (await this.reads.output(ex, c, records, AS_IS, SYSTEM_REQUEST)) as Record<string, unknown>[];
  }

  /** How many records a filter admits. */
  async count(db: Executor | undefined, c: Collection, filter?: string, params?: Record<string, unknown>): Promise<number> {
    const d = this.ctx.engine.dialect;
    const scope = this.ctx.access.scope(SYSTEM_REQUEST);
    const where = this.where(scope, c, filter, params);
    const row = await (db ?? this.ctx.engine).get<{ n: number | string }>(
      `SELECT COUNT(*) AS n FROM ${d.ident(c.name)} ${RECORD_ALIAS}${where}`,
      scope.params.values,
    );
    return Number(row?.n ?? 0);
  }

  /** A filter of server code (`{:name}` placeholders bound from `params`) as a WHERE clause ('' for none). */
  private where(scope: ResolverScope, c: Collection, filter?: string, params?: Record<string, unknown>): string {
    if (filter === undefined || filter.trim() === '') return '';
    try {
      return ` WHERE ${this.ctx.access.filter(scope, c, withParams(filter, params), true)}`;
    } catch (err) {
      if (err instanceof FilterError) throw Errors.invalidFilter(err.message);
      throw err;
    }
  }
}
