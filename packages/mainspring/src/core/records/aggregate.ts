import { FilterError } from '../../query/index.js';
import { parseStrftimeFormat, parseStrftimeModifier } from '../../query/strftime.js';
import type { ColumnKind, Dialect, SqlValue } from '../../storage/engine.js';
import { type Collection, type Field, fieldByName } from '../collections/model.js';
import { Errors } from '../errors.js';
import { isRelation, kindOf } from '../fields/index.js';
import type { RequestInfo } from '../rules/request-info.js';
import { RecordResolver, type ResolverScope } from '../rules/resolver.js';
import { type Page, type PageLimits, type PageSource, pageOf, readPage } from '../search/provider.js';
import {
  type AggregateField,
  type AggregateSortKey,
  type GroupKey,
  parseAggregateFields,
  parseAggregateSort,
  parseGroupBy,
} from './aggregate-spec.js';
import type { RecordContext } from './context.js';
import { checkQueryCost } from './limits.js';
import type { RecordReads } from './reads.js';
import { RECORD_ALIAS } from './rows.js';

/**
 * `GET /api/ms/collections/{c}/aggregate`: totals and group-bys over the
 * rows a list would admit. The list rule and the caller's filter are the
 * list's own WHERE (RecordReads.listWhere); the rows it admits are grouped
 * in a derived table, which the paged-list provider reads like any other
 * source (its page and its count of groups on one snapshot, away from the
 * event loop, under the statement timeout). Names resolve as a sort's do:
 * fields and paths through single relations, each related collection read
 * through its own list rule; hidden fields only for superusers, and never
 * a value that never leaves the server (passwords, token keys).
 */

/** What an aggregate request asks (the query string, as strings). */
export interface AggregateQuery {
  groupBy?: string;
  fields?: string;
  filter?: string;
  sort?: string;
  page?: string;
  perPage?: string;
  skipTotal?: string;
}

/** One group: its keys and its computed values, by alias. */
export type AggregateRow = Record<string, string | number | boolean | null>;

/** Groups per page: a dashboard's year of days fits one page; at most 1000, as for lists. */
export const AGGREGATE_PAGE_LIMITS: PageLimits = { defaultPerPage: 100, maxPerPage: 1000 };

/**
 * How a column's values come back: what the API shows. `stored` is a text
 * or date field's own value, '' when empty, as a record shows it (an empty
 * date is NULL on PostgreSQL, '' on SQLite; a computed text stays null).
 */
type OutKind = 'number' | 'bool' | 'text' | 'stored' | 'count' | 'sum';

/** A column of the grouped table: its SQL name, its alias in the answer, how it is read. */
interface OutColumn {
  name: string;
  alias: string;
  kind: OutKind;
}

/** A path's last field, found as the resolver walked it (single relations only). */
function fieldAt(c: Collection, path: string, lookup: ResolverScope['lookup']): { field: Field; owner: Collection } | undefined {
  let collection: Collection | undefined = c;
  const props = path.split('.');
  for (let i = 0; i < props.length - 1; i++) {
    const f = collection ? fieldByName(collection, props[i] as string) : undefined;
    if (!f || !isRelation(f)) return undefined;
    collection = lookup(f.collectionId);
  }
  const field = collection ? fieldByName(collection, props[props.length - 1] as string) : undefined;
  return field && collection ? { field, owner: collection } : undefined;
}

/** Values that never leave the server, whoever asks: they are unknown names here, as in a record's output. */
function neverShown(field: Field, owner: Collection): boolean {
  return kindOf(field).output === 'never' || (owner.type === 'auth' && field.name === 'tokenKey');
}

const SCALAR: ReadonlySet<ColumnKind> = new Set(['text', 'number', 'bool', 'date']);

/** Compiles and reads aggregates; built by RecordService beside the list it shares its WHERE with. */
export class RecordAggregates {
  constructor(
    private readonly ctx: RecordContext,
    private readonly reads: RecordReads,
  ) {}

  async aggregate(c: Collection, q: AggregateQuery, info: RequestInfo | null): Promise<Page<AggregateRow>> {
    this.reads.checkListAccess(c, [q.filter, q.sort, q.groupBy, q.fields], info);
    const { page: pageNumber, perPage, skipTotal } = pageOf(q, AGGREGATE_PAGE_LIMITS);
    const keys = judged('groupBy', () => parseGroupBy(q.groupBy));
    const fields = judged('fields', () => parseAggregateFields(q.fields));
    const sort = judged('sort', () => parseAggregateSort(q.sort));
    const aliases = new Set<string>();
    for (const a of [...keys, ...fields].map((x) => x.alias)) {
      if (aliases.has(a)) throw Errors.invalidQuery('fields', `"${a}" names two results; give one of them another name with "as"`);
      aliases.add(a);
    }

    const { scope, where, superuser } = this.reads.listWhere(c, q.filter, info);
    const resolver = new RecordResolver(scope, c, RECORD_ALIAS, superuser);
    const d = this.ctx.engine.dialect;
    const inner: string[] = [];
    const outer: string[] = [];
    const out: OutColumn[] = [];
    keys.forEach((key, i) => {
      const { sql, kind } = judged('groupBy', () => this.keySql(resolver, scope, c, key));
      inner.push(`${sql} AS k${i}`);
      outer.push(`_a.k${i} AS k${i}`);
      out.push({ name: `k${i}`, alias: key.alias, kind });
    });
    fields.forEach((field, i) => {
      const { value, aggregate, kind } = judged('fields', () => this.fieldSql(resolver, scope, c, field, d));
      if (value !== null) inner.push(`${value} AS v${i}`);
      outer.push(`${aggregate(`_a.v${i}`)} AS f${i}`);
      out.push({ name: `f${i}`, alias: field.alias, kind });
    });
    if (!superuser) checkQueryCost(c, resolver.cost, null, this.ctx.limits(c));

    // the deadline leads the inner WHERE: a grouped scan is what a statement timeout is for
    const conditions = [d.deadline(), ...where.map((w) => `(${w})`)].join(' AND ');
    const rows = `SELECT ${inner.length > 0 ? inner.join(', ') : '1 AS one'} FROM ${d.ident(c.name)} ${RECORD_ALIAS} WHERE ${conditions}`;
    const groupBy = keys.length > 0 ? ` GROUP BY ${keys.map((_, i) => `_a.k${i}`).join(', ')}` : '';
    const source: PageSource = {
      from: `(SELECT ${outer.join(', ')} FROM (${rows}) _a${groupBy}) _g`,
      select: out.map((o) => `_g.${o.name}`).join(', '),
      where: [],
      order: this.order(sort, out, keys.length, d),
      params: scope.params,
      light: false,
      guarded: false,
      arrays: true,
    };
    const bound = scope.params.values.length;
    const page = await readPage(this.ctx.engine, source, { ...q, skipTotal: '1' }, AGGREGATE_PAGE_LIMITS);
    if (!skipTotal) await this.count(page, source.from, scope.params.values.slice(0, bound), pageNumber, perPage);
    const items = (page.items as unknown[][]).map((row) => {
      // aliases are the caller's words: `__proto__` is a key like any other here
      const item: AggregateRow = Object.create(null);
      out.forEach((o, i) => {
        item[o.alias] = decode(o.kind, row[i], d);
      });
      return item;
    });
    return { ...page, items };
  }

  /**
   * Sets the page's count of groups. Counting groups groups every row again,
   * so the page is read alone, and when it holds the last group (fewer than
   * `perPage`, as a dashboard's one page does) it tells the count itself;
   * else the count is a read of its own (its own snapshot: a write in
   * between may show in one and not in the other).
   */
  private async count(page: Page<unknown>, from: string, params: SqlValue[], pageNumber: number, perPage: number): Promise<void> {
    const seen = page.items.length;
    let total = (pageNumber - 1) * perPage + seen;
    if (seen > 0 ? seen >= perPage : pageNumber > 1) {
      const [counted] = await this.ctx.engine.read([{ sql: `SELECT COUNT(*) AS n FROM ${from}`, params }]);
      total = Number((counted?.[0] as { n?: number | string } | undefined)?.n ?? 0);
    }
    page.totalItems = total;
    page.totalPages = Math.ceil(total / perPage);
  }

  /** A group key's SQL: the path's value, or its strftime bucket. */
  private keySql(resolver: RecordResolver, scope: ResolverScope, c: Collection, key: GroupKey): { sql: string; kind: OutKind } {
    const { sql, column } = this.resolvePath(resolver, scope, c, key.path);
    if (key.strftime) {
      if (column !== 'date') throw new FilterError(`strftime() buckets a date field; "${key.path}" is not one`);
      const call = {
        format: key.strftime.format,
        parts: parseStrftimeFormat(key.strftime.format),
        time: { sql },
        modifiers: key.strftime.modifiers.map(parseStrftimeModifier),
      };
      return { sql: scope.dialect.strftime(call, (v) => scope.params.add(v, 'text')), kind: 'text' };
    }
    if (!SCALAR.has(column)) throw new FilterError(`cannot group by "${key.path}": it holds several values or a document`);
    return { sql, kind: column === 'number' ? 'number' : column === 'bool' ? 'bool' : 'stored' };
  }

  /** A computed value: the per-row SQL it reads (none for `count()`), its aggregate over that column, how it is read. */
  private fieldSql(
    resolver: RecordResolver,
    scope: ResolverScope,
    c: Collection,
    f: AggregateField,
    d: Dialect,
  ): { value: string | null; aggregate: (col: string) => string; kind: OutKind } {
    if (f.path === null) return { value: null, aggregate: () => 'COUNT(*)', kind: 'count' };
    const { sql, column, valueType } = this.resolvePath(resolver, scope, c, f.path);
    if (!SCALAR.has(column)) throw new FilterError(`${f.fn}() takes a field of one value; "${f.path}" holds several or a document`);
    // empty values ('' text, no date, a hidden relation's NULL) are left out, as `field != ""` leaves them out of a filter
    const set = (col: string) => d.isEmpty(col, valueType, true);
    switch (f.fn) {
      case 'count':
        return { value: sql, aggregate: (col) => `COUNT(CASE WHEN ${set(col)} THEN 1 END)`, kind: 'count' };
      case 'countDistinct':
        return { value: sql, aggregate: (col) => `COUNT(DISTINCT CASE WHEN ${set(col)} THEN ${col} END)`, kind: 'count' };
      case 'sum':
      case 'avg':
        if (column !== 'number') throw new FilterError(`${f.fn}() takes a number field; "${f.path}" is not one`);
        return { value: sql, aggregate: (col) => `${f.fn.toUpperCase()}(${col})`, kind: f.fn === 'sum' ? 'sum' : 'number' };
      case 'min':
      case 'max': {
        if (column === 'bool') throw new FilterError(`${f.fn}() takes a number, text or date field; "${f.path}" is a bool`);
        const kind: OutKind = column === 'number' ? 'number' : 'text';
        return { value: sql, aggregate: (col) => `${f.fn.toUpperCase()}(CASE WHEN ${set(col)} THEN ${col} END)`, kind };
      }
    }
  }

  /** A path's SQL as a sort resolves it (rules of related collections applied), and its last field's kind. */
  private resolvePath(resolver: RecordResolver, scope: ResolverScope, c: Collection, path: string) {
    const sql = resolver.resolveSort(path);
    const at = fieldAt(c, path, scope.lookup);
    if (!at || neverShown(at.field, at.owner)) throw new FilterError(`unknown field "${path}"`);
    const kind = kindOf(at.field);
    return { sql, column: kind.column(at.field), valueType: kind.filter.valueType };
  }

  /** ORDER BY the sort's aliases, then every group key (a group is one set of keys: pages never overlap). */
  private order(sort: AggregateSortKey[], out: OutColumn[], keyCount: number, d: Dialect): string[] {
    const order: string[] = [];
    const used = new Set<string>();
    for (const s of sort) {
      const col = out.find((o) => o.alias === s.alias);
      if (!col) throw Errors.invalidQuery('sort', `unknown key "${s.alias.slice(0, 100)}": sort by a groupBy key or a field's alias`);
      order.push(d.orderBy(`_g.${col.name}`, s.desc));
      used.add(col.name);
    }
    for (let i = 0; i < keyCount; i++) if (!used.has(`k${i}`)) order.push(d.orderBy(`_g.k${i}`, false));
    return order.length > 0 ? order : ['1'];
  }
}

/** Runs `fn`, turning what it finds wrong with the request into the 400 of `param`. */
function judged<T>(param: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof FilterError) throw Errors.invalidQuery(param, err.message);
    throw err;
  }
}

/** A value of the grouped table as the API shows it. */
function decode(kind: OutKind, raw: unknown, d: Dialect): string | number | boolean | null {
  if (raw === null || raw === undefined) return kind === 'count' || kind === 'sum' ? 0 : kind === 'stored' ? '' : null;
  switch (kind) {
    case 'count':
    case 'sum':
    case 'number':
      return Number(raw);
    case 'bool':
      return d.decode('bool', raw) as boolean;
    default:
      return String(raw);
  }
}
