import { compileFilter, type Expr, FilterError, parseFilterCached, SqlParams } from '../../query/index.js';
import { type Engine, type Executor, readingExecutor, type SqlValue } from '../../storage/engine.js';
import type { Collection } from '../collections/model.js';
import type { CollectionRegistry } from '../collections/registry.js';
import { kindOf } from '../fields/index.js';
import type { RecordData, RequestInfo } from '../rules/request-info.js';
import { compileRuleCondition, RecordResolver, type ResolverScope, wrapJoins } from '../rules/resolver.js';
import { checkQueryCost, type QueryLimits } from './limits.js';
import { encodeValue, RECORD_ALIAS, readRecords, selectList } from './rows.js';

/**
 * Reading records through a rule: the one authorization path every transport
 * uses (REST, batch, expand, and later realtime and files). A rule and the
 * caller's filter compile into one WHERE with bound parameters, so rows the
 * caller may not see are never read.
 */
export class RecordAccess {
  /** Reads that may take long, away from the event loop (Engine.read). */
  readonly reads: Executor;
  /**
   * Reads by id whose rule does not join (views, expands): on the engine
   * itself, except where it has standbys (Engine.asCaller), which take them
   * as light reads.
   */
  private readonly byIdReads: Executor;

  constructor(
    private readonly engine: Engine,
    private readonly registry: CollectionRegistry,
  ) {
    this.reads = readingExecutor(engine);
    this.byIdReads = engine.asCaller ? readingExecutor(engine, { light: true }) : engine;
  }

  /** A fresh compile scope for one statement. */
  scope(info: RequestInfo | null): ResolverScope {
    const params = new SqlParams(this.engine.dialect);
    return {
      dialect: this.engine.dialect,
      params,
      info,
      lookup: (idOrName) => this.registry.find(idOrName),
      // one counter for the resolver's and the compiler's aliases: params.aliasCount tells whether any was taken
      nextAlias: (prefix) => params.alias(prefix),
      tables: new Set(),
    };
  }

  /** A rule as a condition on `alias`; '' is TRUE. Never called for a null rule. */
  rule(scope: ResolverScope, c: Collection, rule: string, alias = RECORD_ALIAS): string {
    return compileRuleCondition(scope, c, alias, rule, alias);
  }

  /**
   * A client's filter as a condition: hidden fields only for superusers, and
   * for anyone else within `limits` when given (core/records/limits.ts).
   */
  filter(scope: ResolverScope, c: Collection, expr: Expr, superuser: boolean, limits?: QueryLimits): string {
    const resolver = new RecordResolver(scope, c, RECORD_ALIAS, superuser);
    const sql = wrapJoins(scope, resolver, compileFilter(expr, resolver, scope.dialect, scope.params));
    if (limits && !superuser) checkQueryCost(c, resolver.cost, expr, limits);
    return sql;
  }

  /**
   * The record with `id` if `rule` (null: no rule, superuser) admits it for
   * the request; `view`: a client's view, which may be read from a standby.
   */
  async findOne(
    db: Executor,
    c: Collection,
    id: string,
    info: RequestInfo | null,
    rule: string | null,
    view = false,
  ): Promise<RecordData | undefined> {
    const d = this.engine.dialect;
    const cache = callerReadsOnly(rule) ? this.byCaller(info) : undefined;
    const key = `${c.id}\0${rule ?? ''}`;
    let statement = cache?.get(key);
    if (statement?.c !== c) {
      const scope = this.scope(info);
      const idParam = scope.params.add(id);
      let where = `${RECORD_ALIAS}.${d.ident('id')} = ${idParam}`;
      if (rule) where += ` AND (${this.rule(scope, c, rule)})`;
      const sql = `SELECT ${selectList(c, d)} FROM ${d.ident(c.name)} ${RECORD_ALIAS} WHERE ${where} LIMIT 1`;
      statement = { c, sql, rest: scope.params.values.slice(1), joins: scope.params.aliasCount > 0 };
      if (cache) {
        if (cache.size >= 64) cache.clear();
        cache.set(key, statement);
      }
    }
    // a read by id is cheap unless its rule joins or has subqueries: then it runs away from the event loop
    const from = db !== this.engine ? db : statement.joins ? this.reads : view ? this.byIdReads : db;
    return (await readRecords(from, c, d, statement.sql, statement.rest.length === 0 ? [id] : [id, ...statement.rest]))[0];
  }

  /** Statements of `findOne` by the caller's record object (a new object whenever the record changes), and for guests. */
  private readonly statementsByCaller = new WeakMap<object, Map<string, CachedStatement>>();
  private readonly guestStatements = new Map<string, CachedStatement>();

  private byCaller(info: RequestInfo | null): Map<string, CachedStatement> | undefined {
    const record = info?.auth?.record;
    if (!record) return info ? this.guestStatements : undefined;
    let cache = this.statementsByCaller.get(record);
    if (!cache) {
      cache = new Map();
      this.statementsByCaller.set(record, cache);
    }
    return cache;
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

  /**
   * Whether `rule` (and a client's `filter`) admit `record` as it was
   * written, whether or not it is still stored: the record's values stand in
   * for its row (a derived table under the record alias), and relations are
   * read from the database. Realtime checks each event this way, deletes too.
   */
  async admitsRecord(
    c: Collection,
    record: RecordData,
    info: RequestInfo | null,
    rule: string | null,
    filter: Expr | null,
    superuser: boolean,
    timeoutMs?: number,
  ): Promise<boolean> {
    const d = this.engine.dialect;
    const scope = this.scope(info);
    // each value typed as its column is (an engine that types parameters casts them)
    const columns = c.fields.map((f) => {
      const kind = kindOf(f).column(f);
      const hint = kind === 'array' || kind === 'point' ? 'json' : kind;
      return `${scope.params.add(encodeValue(f, record[f.name], d), hint)} AS ${d.ident(f.name)}`;
    });
    const conditions: string[] = [];
    if (rule) conditions.push(this.rule(scope, c, rule));
    if (filter) conditions.push(this.filter(scope, c, filter, superuser));
    const where = conditions.length > 0 ? ` WHERE ${conditions.map((w) => `(${w})`).join(' AND ')}` : '';
    const sql = `SELECT 1 AS ok FROM (SELECT ${columns.join(', ')}) ${RECORD_ALIAS}${where}`;
    // a condition on the record's own values alone cannot take long: it runs here; any join or subquery
    // runs away from the event loop, under its own limit (Engine.read), so it cannot hold other subscribers
    if (scope.params.aliasCount === 0) return (await this.engine.get(sql, scope.params.values)) !== undefined;
    const [rows] = await this.engine.read([{ sql, params: scope.params.values }], timeoutMs === undefined ? {} : { timeoutMs });
    return (rows?.length ?? 0) > 0;
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
    // asked to read apart, a rule without joins or subqueries need not: the rows are the ids' few, found by
    // the primary key, as for findOne
    // (a view's rows are its query's, which may be long: it stays apart)
    const from =
      db === this.reads && scope.params.aliasCount === 0 && c.type !== 'view' && ids.length <= LIGHT_LOOKUP_IDS ? this.byIdReads : db;
    return readRecords(
      from,
      c,
      d,
      `SELECT ${selectList(c, d)} FROM ${d.ident(c.name)} ${RECORD_ALIAS} WHERE ${where}`,
      scope.params.values,
    );
  }
}

/** At most this many ids are looked up where reads are cheapest (see {@link RecordAccess.findMany}). */
const LIGHT_LOOKUP_IDS = 1000;

/** A compiled `findOne` statement: its SQL and the values bound after the id. */
interface CachedStatement {
  c: Collection;
  sql: string;
  rest: SqlValue[];
  /** The rule joins or has subqueries. */
  joins: boolean;
}

/**
 * Whether a rule compiles to the same SQL and values for as long as the
 * caller's record stays the same: it reads stored data and `@request.auth.*`
 * only (no request body, query, headers, method or context, no `@now`-style
 * macro, which change from request to request).
 */
function callerReadsOnly(rule: string | null): boolean {
  if (rule === null) return true;
  let verdict = callerReadsOnlyMemo.get(rule);
  if (verdict === undefined) {
    verdict = !rule.replaceAll('@request.auth.', '').replaceAll('@collection.', '').includes('@');
    if (callerReadsOnlyMemo.size >= 1000) callerReadsOnlyMemo.clear();
    callerReadsOnlyMemo.set(rule, verdict);
  }
  return verdict;
}
const callerReadsOnlyMemo = new Map<string, boolean>();

/** Parses a client filter, turning syntax problems into {@link FilterError}. */
export function parseClientFilter(filter: string): Expr {
  if (typeof filter !== 'string') throw new FilterError('filter must be a string');
  return parseFilterCached(filter);
}
