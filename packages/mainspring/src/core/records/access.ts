import { compileFilter, type Expr, FilterError, parseFilterCached, SqlParams } from '../../query/index.js';
import type { Engine, Executor, Row } from '../../storage/engine.js';
import type { Collection } from '../collections/model.js';
import type { CollectionRegistry } from '../collections/registry.js';
import type { RecordData, RequestInfo } from '../rules/request-info.js';
import { compileRuleCondition, RecordResolver, type ResolverScope, wrapJoins } from '../rules/resolver.js';
import { decodeRow, RECORD_ALIAS, selectList } from './rows.js';

/**
 * Reading records through a rule: the one authorization path every transport
 * uses (REST, batch, expand, and later realtime and files). A rule and the
 * caller's filter compile into one WHERE with bound parameters, so rows the
 * caller may not see are never read.
 */
export class RecordAccess {
  constructor(
    private readonly engine: Engine,
    private readonly registry: CollectionRegistry,
  ) {}

  /** A fresh compile scope for one statement. */
  scope(info: RequestInfo | null): ResolverScope {
    let n = 0;
    return {
      dialect: this.engine.dialect,
      params: new SqlParams(this.engine.dialect),
      info,
      lookup: (idOrName) => this.registry.find(idOrName),
      nextAlias: (prefix) => `__${prefix}${++n}`,
    };
  }

  /** A rule as a condition on `alias`; '' is TRUE. Never called for a null rule. */
  rule(scope: ResolverScope, c: Collection, rule: string, alias = RECORD_ALIAS): string {
    return compileRuleCondition(scope, c, alias, rule, alias);
  }

  /** A client's filter as a condition: hidden fields only for superusers. */
  filter(scope: ResolverScope, c: Collection, expr: Expr, superuser: boolean): string {
    const resolver = new RecordResolver(scope, c, RECORD_ALIAS, superuser);
    return wrapJoins(scope, resolver, compileFilter(expr, resolver, scope.dialect, scope.params));
  }

  /** The record with `id` if `rule` (null: no rule, superuser) admits it for the request. */
  async findOne(db: Executor, c: Collection, id: string, info: RequestInfo | null, rule: string | null): Promise<RecordData | undefined> {
    const d = this.engine.dialect;
    const scope = this.scope(info);
    const idParam = scope.params.add(id);
    let where = `${RECORD_ALIAS}.${d.ident('id')} = ${idParam}`;
    if (rule) where += ` AND (${this.rule(scope, c, rule)})`;
    const row = await db.get<Row>(
      `SELECT ${selectList(c, d)} FROM ${d.ident(c.name)} ${RECORD_ALIAS} WHERE ${where} LIMIT 1`,
      scope.params.values,
    );
    return row ? decodeRow(c, row, d) : undefined;
  }

  /** True when `rule` admits the stored record `id` for the request. */
  async admits(db: Executor, c: Collection, id: string, info: RequestInfo | null, rule: string): Promise<boolean> {
    return (await this.admittedIds(db, c, [id], info, rule)).has(id);
  }

  /** Which of the stored records `ids` the rule admits for the request, in one query. */
  async admittedIds(db: Executor, c: Collection, ids: readonly string[], info: RequestInfo | null, rule: string): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const d = this.engine.dialect;
    const scope = this.scope(info);
    const list = ids.map((id) => scope.params.add(id)).join(', ');
    const cond = rule === '' ? 'TRUE' : this.rule(scope, c, rule);
    const rows = await db.all<{ id: string }>(
      `SELECT ${RECORD_ALIAS}.${d.ident('id')} AS id FROM ${d.ident(c.name)} ${RECORD_ALIAS} WHERE ${RECORD_ALIAS}.${d.ident('id')} IN (${list}) AND (${cond})`,
      scope.params.values,
    );
    return new Set(rows.map((r) => r.id));
  }

  /** Records of `c` with the given ids that `rule` admits, in no particular order. */
  async findMany(
    db: Executor,
    c: Collection,
    ids: readonly string[],
    info: RequestInfo | null,
    rule: string | null,
  ): Promise<RecordData[]> {
    if (ids.length === 0) return [];
    const d = this.engine.dialect;
    const scope = this.scope(info);
    const list = ids.map((id) => scope.params.add(id)).join(', ');
    let where = `${RECORD_ALIAS}.${d.ident('id')} IN (${list})`;
    if (rule) where += ` AND (${this.rule(scope, c, rule)})`;
    const rows = await db.all<Row>(
      `SELECT ${selectList(c, d)} FROM ${d.ident(c.name)} ${RECORD_ALIAS} WHERE ${where}`,
      scope.params.values,
    );
    return rows.map((r) => decodeRow(c, r, d));
  }
}

/** Parses a client filter, turning syntax problems into {@link FilterError}. */
export function parseClientFilter(filter: string): Expr {
  if (typeof filter !== 'string') throw new FilterError('filter must be a string');
  return parseFilterCached(filter);
}
