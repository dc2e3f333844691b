import { type Expr, FilterError, parseFilterCached, parseSort, searchRequired } from '../../query/index.js';
import type { Executor } from '../../storage/engine.js';
import type { Collection } from '../collections/model.js';
import { Errors } from '../errors.js';
import { isSuperuser, type RecordData, type RequestInfo } from '../rules/request-info.js';
import { RecordResolver, type ResolverScope } from '../rules/resolver.js';
import { type PageLimits, type PageSource, pageOf, readPage } from '../search/provider.js';
import { parseClientFilter } from './access.js';
import type { RecordContext } from './context.js';
import { type ExpandTree, parseExpand, serializeWithExpand } from './expand.js';
import { checkQueryCost, readsByIndex, sortWalksIndex } from './limits.js';
import { checkFields, type FieldsPick, parseFields, pickFields } from './output.js';
import { decodeRecords, RECORD_ALIAS, selectList } from './rows.js';

/** PocketBase's paging of records: 30 per page by default, at most 1000. */
const LIST_LIMITS: PageLimits = { defaultPerPage: 30, maxPerPage: 1000 };

/** What a list request asks for (the query string, as strings). */
export interface ListQuery {
  filter?: string;
  sort?: string;
  page?: string;
  perPage?: string;
  skipTotal?: string;
  expand?: string;
  fields?: string;
}

/** How a record request wants its result shaped. */
export interface ShapeQuery {
  expand?: string;
  fields?: string;
}

/** A {@link ShapeQuery}, parsed and checked. */
export interface Shape {
  expand: ExpandTree | null;
  fields: FieldsPick | null;
}

/** A page of records, PocketBase's list shape. */
export interface ListResult {
  page: number;
  perPage: number;
  totalItems: number;
  totalPages: number;
  items: unknown[];
}

/** Reading records for a request: lists and single records through their rules, expanded and picked as asked. */
export class RecordReads {
  constructor(private readonly ctx: RecordContext) {}

  /** The parsed `expand` and `fields`; a `fields` naming what the caller may not see is a 400. */
  shape(c: Collection, q: ShapeQuery, info: RequestInfo | null): Shape {
    const expand = q.expand ? parseExpand(q.expand) : null;
    const fields = q.fields ? parseFields(q.fields) : null;
    if (fields) checkFields(fields, c, info);
    return { expand, fields };
  }

  /** Records as the API answers them: expanded through the related collections' rules, then picked. */
  async output(db: Executor, c: Collection, records: RecordData[], q: Shape, info: RequestInfo | null) {
    const out = await serializeWithExpand(this.ctx.access, this.ctx.registry, db, c, records, q.expand, info);
    return q.fields ? out.map((r) => pickFields(r, q.fields as FieldsPick)) : out;
  }

  /**
   * `GET /records`: a page of what the list rule and the filter admit. A
   * list compiled against a schema that changed before it was read (a
   * search index or a field dropped meanwhile: "no such table") is read
   * once more against the schema now, so a schema change costs a reader
   * no 500; a collection deleted meanwhile is a 404.
   */
  async list(c: Collection, q: ListQuery, info: RequestInfo | null): Promise<ListResult> {
    try {
      return await this.listOnce(c, q, info);
    } catch (err) {
      const now = this.ctx.registry.find(c.id);
      if (now === c || !schemaGone(err)) throw err;
      if (!now) throw Errors.notFound();
      return this.listOnce(now, q, info);
    }
  }

  private async listOnce(c: Collection, q: ListQuery, info: RequestInfo | null): Promise<ListResult> {
    this.checkListAccess(c, [q.filter, q.sort], info);
    // paging is judged first, as it always was (a bad page is its own 400 whatever the filter)
    pageOf(q, LIST_LIMITS);
    const shape = this.shape(c, q, info);
    const source = this.source(c, q, info);
    const page = await readPage(this.ctx.engine, source, q, LIST_LIMITS);
    const items = await this.output(this.ctx.reads, c, decodeRecords(c, page.items as unknown[][], this.ctx.engine.dialect), shape, info);
    return { ...page, items };
  }

  /**
   * What a list reads: the rows the list rule and the caller's filter admit,
   * in the sort asked for; a list rule of superusers only, a filter a
   * non-superuser may not write, or one over the query limits is refused
   * here. Lists page through it; exports walk it in insertion order.
   */
  source(c: Collection, q: { filter?: string; sort?: string }, info: RequestInfo | null): PageSource {
    this.checkListAccess(c, [q.filter, q.sort], info);
    const superuser = isSuperuser(info);
    const { engine } = this.ctx;
    const d = engine.dialect;
    const { scope, where, exprs } = this.listWhere(c, q.filter, info);
    // a search's ranked matches hold only the rows that match: joined only where every row must
    if (!searchRequired(exprs)) scope.params.ranked = null;
    const order = this.order(scope, c, q.sort, superuser);
    const from = `${d.ident(c.name)} ${RECORD_ALIAS}`;
    const ranked = scope.params.rankJoined ? scope.params.ranked : null;

    // Subqueries (relations, @collection, every-value checks) can make a statement's work grow with the
    // square of a table: it is guarded by the engine's deadline, checked once per row. A plain scan is
    // linear and does without it (it would cost a function call per row). A view runs its own query for
    // every read: it is guarded too. A list whose rows one index finds, sorted by indexed columns, walks at
    // most one index (conditions on other columns are checked on the rows it walks): it is read where reads
    // are cheapest (light), until one of the collection's light lists turns out long (Engine.read's lightKey).
    const guarded = c.type === 'view' || scope.params.aliasCount > 0;
    const sortKeys = q.sort ? parseSort(q.sort).map((k) => k.name) : [];
    const light = !guarded && readsByIndex(c, exprs, sortKeys);
    // A `~` every row must meet, served by a search index, on the row itself (no join: nothing is wrapped in a
    // subquery), with no search() beside it to drive the read: a page sorted by an index may walk it instead
    const like = scope.params.walk;
    const walk = like && !guarded && scope.params.rank === null && sortWalksIndex(c, sortKeys) ? like : null;
    return {
      from,
      // the ranked matches first, so the page's rows are read in rank order (CROSS JOIN: SQLite keeps the order written)
      pageFrom: ranked ? `${ranked.from} CROSS JOIN ${from} ON ${ranked.on}` : undefined,
      select: selectList(c, d),
      where,
      order,
      params: scope.params,
      light,
      lightKey: c.id,
      guarded,
      arrays: true,
      // the term holds its own parameter: it occurs once
      walk: walk ? { where: where.map((w) => w.split(walk.term).join(walk.walkTerm)), probe: walk.probe } : undefined,
    };
  }

  /**
   * Who may list `c` at all (null rule: superusers only, a 403), and the
   * request names only superusers may filter or sort by; `texts` are the
   * caller's filter and sort (and an aggregate's names), each judged alike.
   */
  checkListAccess(c: Collection, texts: readonly (string | undefined)[], info: RequestInfo | null): void {
    if (isSuperuser(info)) return;
    if (c.listRule === null) throw Errors.superusersOnly();
    for (const v of texts) {
      for (const special of ['@collection.', '@request.']) if (v?.includes(special)) throw Errors.superuserFilterOnly(special);
    }
  }

  /**
   * The list rule and the caller's filter as one WHERE (its conditions,
   * ANDed, their values in `scope.params`), the filter's cost checked
   * against the query limits: what a list reads, and what an aggregate
   * groups (core/records/aggregate.ts), so the two admit the same rows.
   */
  listWhere(c: Collection, filter: string | undefined, info: RequestInfo | null) {
    const superuser = isSuperuser(info);
    const { access } = this.ctx;
    const scope = access.scope(info);
    const where: string[] = [];
    const exprs: (Expr | null)[] = [];
    try {
      if (!superuser && c.listRule) {
        where.push(access.rule(scope, c, c.listRule));
        exprs.push(parseFilterCached(c.listRule));
      }
      if (filter !== undefined && filter.trim() !== '') {
        const parsed = parseClientFilter(filter);
        where.push(access.filter(scope, c, parsed, superuser, this.ctx.limits(c)));
        exprs.push(parsed);
      }
    } catch (err) {
      if (err instanceof FilterError) throw Errors.invalidFilter(err.message);
      throw err;
    }
    return { scope, where, exprs, superuser };
  }

  /** The ORDER BY terms of `sort`, then insertion order (so paging is stable). */
  order(scope: ResolverScope, c: Collection, sort: string | undefined, superuser: boolean): string[] {
    const d = this.ctx.engine.dialect;
    let order: string[] = [];
    let keys: ReturnType<typeof parseSort> = [];
    try {
      if (sort) {
        const sorter = new RecordResolver(scope, c, RECORD_ALIAS, superuser);
        keys = parseSort(sort);
        order = keys.map((k) => d.orderBy(sorter.resolveSort(k.name), k.desc));
        if (!superuser) checkQueryCost(c, sorter.cost, null, this.ctx.limits(c));
      }
    } catch (err) {
      if (err instanceof FilterError) throw Errors.invalidQuery('sort', err.message);
      throw err;
    }
    // a view has no rowid: its id, which its query must give, keeps paging stable; joined ranked
    // matches give the same rowid in their own order, which then needs no sort
    const { ranked, rankJoined } = scope.params;
    const tiebreak = rankJoined && ranked ? ranked.row : `${RECORD_ALIAS}.${c.type === 'view' ? d.ident('id') : 'rowid'}`;
    order.push(d.orderBy(tiebreak, keys[keys.length - 1]?.desc ?? false));
    return order;
  }

  /** `GET /records/:id`: the record, if the view rule admits it (404 otherwise). */
  async view(
    c: Collection,
    id: string,
    q: ShapeQuery,
    info: RequestInfo | null,
    db: Executor = this.ctx.engine,
  ): Promise<Record<string, unknown>> {
    const superuser = isSuperuser(info);
    if (c.viewRule === null && !superuser) throw Errors.superusersOnly();
    const shape = this.shape(c, q, info);
    const record = await this.find(db, c, id, info, superuser ? null : c.viewRule, true);
    if (!record) throw Errors.notFound();
    // expanding reads other collections through their rules: away from the event loop
    const reader = shape.expand && db === this.ctx.engine ? this.ctx.reads : db;
    return (await this.output(reader, c, [record], shape, info))[0] as Record<string, unknown>;
  }

  /**
   * The stored record `id` if `rule` admits it (null: no rule); a rule that
   * cannot compile admits nothing. `view`: a client's view (RecordAccess.findOne).
   */
  async find(
    db: Executor,
    c: Collection,
    id: string,
    info: RequestInfo | null,
    rule: string | null,
    view = false,
  ): Promise<RecordData | undefined> {
    if (!mayBeRecordId(id)) return undefined;
    try {
      return await this.ctx.access.findOne(db, c, id, info, rule, view);
    } catch (err) {
      // a rule that cannot compile (a field since removed) denies
      if (err instanceof FilterError) return undefined;
      throw err;
    }
  }
}

/** Whether `id` could name a record at all (a non-empty string of at most 100 characters); no record has any other. */
export function mayBeRecordId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= 100;
}

/** An engine's error for a table or column that is not there (SQLite's "no such …", PostgreSQL's 42P01 and 42703). */
function schemaGone(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (code === '42P01' || code === '42703') return true;
  return code === 'SQLITE_ERROR' && typeof message === 'string' && /^no such (table|column)/.test(message);
}
