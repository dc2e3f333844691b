import {
  FilterError,
  type FullTextIndex,
  type MultiMatch,
  type Resolved,
  type SqlParams,
  type SqlValue,
  type TextIndex,
  type ValueType,
} from '../../query/index.js';
import type { Dialect } from '../../storage/engine.js';
import { searchColumns, searchIndexOf } from '../collections/indexes.js';
import { type Collection, type Field, fieldByName, isMultiple } from '../collections/model.js';
import { isRelation, kindOf } from '../fields/index.js';
import { Chain } from './chain.js';
import type { RequestInfo } from './request-info.js';

/** How many relations a path may cross, as in PocketBase. */
export const MAX_RELATION_DEPTH = 6;

const MODIFIERS = new Set(['isset', 'each', 'length', 'lower', 'changed']);
const VIA = /^(\w+)_via_(\w+)$/;

/** What every resolver of one statement shares. */
export interface ResolverScope {
  readonly dialect: Dialect;
  readonly params: SqlParams;
  readonly info: RequestInfo | null;
  /** Finds a collection by id or name (case-insensitive name). */
  lookup(idOrName: string): Collection | undefined;
  /** A fresh alias for a self-contained subquery. */
  nextAlias(prefix: string): string;
  /**
   * The collections (by id) whose tables the statement reads through a
   * join or subquery: a write that checks a rule in its own statement must
   * not when the rule reads the table being written (it would not see the row).
   */
  readonly tables: Set<string>;
}

/** The most any one path resolved so far crosses: relations, and back-relations among them (see core/records/limits.ts). */
export interface ResolverCost {
  depth: number;
  /** The path that crosses {@link depth} relations. */
  deepest: string;
  backRelations: number;
  /** The path that walks {@link backRelations} back-relations. */
  mostBack: string;
}

/**
 * Resolves the field paths of a filter or rule over one collection into SQL
 * (PocketBase's record field resolver, less the `@request` and
 * `@collection` names that `RecordResolver` in `resolver.ts` adds): a
 * field, a path across relations and back-relations or into a JSON
 * document, with a modifier; and a sort key. Paths across relations become
 * LEFT JOINs in {@link joins}, which the caller wraps into one `EXISTS` so
 * that conditions on the same path speak of the same related record;
 * multi-valued paths also get a correlated subquery ({@link Chain}) so
 * plain operators can require every value to match.
 */
export abstract class FieldPathResolver {
  /** LEFT JOINs by alias, in order. */
  readonly joins = new Map<string, string>();
  /** What the paths resolved so far cross. */
  readonly cost: ResolverCost = { depth: 0, deepest: '', backRelations: 0, mostBack: '' };
  /** The path being resolved, and what it has crossed so far. */
  protected path = { name: '', depth: 0, backRelations: 0 };
  protected readonly aliasPrefix: string;

  constructor(
    protected readonly scope: ResolverScope,
    protected readonly base: Collection,
    protected readonly baseAlias: string,
    /** Superusers and rules may use hidden fields; clients' filters may not. */
    public allowHidden: boolean,
    aliasPrefix?: string,
  ) {
    this.aliasPrefix = aliasPrefix ?? baseAlias;
  }

  protected get d() {
    return this.scope.dialect;
  }

  protected col(alias: string, name: string): string {
    return `${alias}.${this.d.ident(name)}`;
  }

  protected value(v: unknown): Resolved {
    if (v === undefined || v === null) return { kind: 'value', value: null };
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return { kind: 'value', value: v };
    return { kind: 'value', value: JSON.stringify(v) };
  }

  /** The table of `c`, noted as read by the statement. */
  protected table(c: Collection): string {
    this.scope.tables.add(c.id);
    return this.d.ident(c.name);
  }

  protected join(alias: string, sql: string) {
    if (!this.joins.has(alias)) this.joins.set(alias, sql);
  }

  /**
   * The condition that limits a joined collection to what the caller may
   * list, when the caller's own filter reaches into it. Superuser-only
   * collections cannot be reached at all.
   */
  protected listRuleCondition(collection: Collection, alias: string): string | null {
    if (this.allowHidden) return null;
    if (collection.listRule === null) {
      throw new FilterError(`the fields of "${collection.name}" can be filtered only by superusers`);
    }
    if (collection.listRule === '') return null;
    return this.ruleCondition(collection, alias, collection.listRule, this.d.storedName(`${alias}_lr`));
  }

  private checkField(collection: Collection, name: string): Field {
    const field = fieldByName(collection, name);
    // hidden fields answer exactly as unknown ones: their existence is no oracle
    if (!field || (field.hidden && !this.allowHidden)) throw new FilterError(`unknown field "${name}"`);
    return field;
  }

  knows(name: string): boolean {
    // only a plain field name is judged here; anything else is left to resolve()
    if (/[.:@]/.test(name)) return true;
    const field = fieldByName(this.base, name);
    return field !== undefined && (!field.hidden || this.allowHidden);
  }

  /**
   * The search index of this collection that holds every one of `names`,
   * for `search()`: its columns as this record's SQL, in the index's order
   * (where PostgreSQL's expression index is written in it).
   */
  fullTextIndex(names: readonly string[]): FullTextIndex {
    for (const name of names) this.checkField(this.base, name);
    const p = this.base.type === 'view' ? undefined : searchIndexOf(this.base, names);
    if (!p) {
      throw new FilterError(
        `no search index of "${this.base.name}" holds ${names.join(', ')}: a superuser may declare one (CREATE INDEX name ON ${this.base.name} USING search (${names.join(', ')}))`,
      );
    }
    const ordered = p.columns.filter((c) => names.includes(c.name));
    return {
      index: p.name,
      table: this.base.name,
      columns: ordered.map((c) => ({ name: c.name, sql: this.col(this.baseAlias, c.name) })),
      row: `${this.baseAlias}.rowid`,
    };
  }

  /** Counts one hop of the path being resolved. */
  private crossed(backRelation: boolean): void {
    const p = this.path;
    p.depth++;
    if (backRelation) p.backRelations++;
    if (p.depth > this.cost.depth) {
      this.cost.depth = p.depth;
      this.cost.deepest = p.name;
    }
    if (p.backRelations > this.cost.backRelations) {
      this.cost.backRelations = p.backRelations;
      this.cost.mostBack = p.name;
    }
  }

  // ---------------------------------------------------------------- paths

  /**
   * Follows `props` from `collection` (joined as `alias`), one relation at a
   * time, and resolves the last prop as a field of the collection reached.
   */
  protected walk(
    collection: Collection,
    alias: string,
    aliasPrefix: string,
    props: string[],
    chain: Chain | null,
    depth: number,
    multi = false,
    nullifyMissing = false,
  ): Resolved {
    const prop = props[0] as string;
    if (props.length === 1) return this.finish(collection, alias, prop, chain, multi, nullifyMissing);
    if (depth >= MAX_RELATION_DEPTH) throw new FilterError(`a path may cross at most ${MAX_RELATION_DEPTH} relations`);

    const field = fieldByName(collection, prop);
    if (field?.hidden && !this.allowHidden) throw new FilterError(`unknown field "${prop}"`);
    const rest = props.slice(1);
    const c = chain ?? new Chain(alias, this.scope);

    const json = field ? kindOf(field).filter.json : null;
    if (json !== null) return this.walkJson(json, alias, prop, props, c, multi);

    if (!field) {
      const via = VIA.exec(prop);
      if (!via) {
        if (nullifyMissing) return this.value(null);
        throw new FilterError(`unknown field "${prop}"`);
      }
      return this.walkBackRelation(
        collection,
        alias,
        aliasPrefix,
        prop,
        via[1] as string,
        via[2] as string,
        rest,
        c,
        depth,
        nullifyMissing,
      );
    }
    if (!isRelation(field)) throw new FilterError(`"${prop}" is not a relation field`);
    const target = this.scope.lookup(field.collectionId);
    if (!target) throw new FilterError(`the collection of "${prop}" no longer exists`);

    const many = isMultiple(field);
    // `rel.id` of a single relation is the column itself
    if (!many && rest.length === 1 && rest[0] === 'id') return this.finish(collection, alias, prop, chain, multi, nullifyMissing);
    this.crossed(false);

    const newAlias = this.d.storedName(`${aliasPrefix}_${prop}`);
    const lr = this.listRuleCondition(target, newAlias);
    const extra = lr ? ` AND ${lr}` : '';
    if (!many) {
      this.join(newAlias, `LEFT JOIN ${this.table(target)} ${newAlias} ON ${this.col(newAlias, 'id')} = ${this.col(alias, prop)}${extra}`);
      const from = c.alias;
      c.table(target.name, `${this.col('{{alias}}', 'id')} = ${this.col(from, prop)}${lr ? ` AND ${this.chainRule(target)}` : ''}`);
    } else {
      const je = this.d.storedName(`${newAlias}_je`);
      this.join(je, this.d.joinJsonEach(this.col(alias, prop), je, true));
      this.join(newAlias, `LEFT JOIN ${this.table(target)} ${newAlias} ON ${this.col(newAlias, 'id')} = ${je}.value${extra}`);
      const mje = c.jsonEach(this.col(c.alias, prop));
      c.table(target.name, `${this.col('{{alias}}', 'id')} = ${mje}.value${lr ? ` AND ${this.chainRule(target)}` : ''}`);
    }
    return this.walk(target, newAlias, newAlias, rest, c, depth + 1, multi || many, nullifyMissing);
  }

  /** A path into a JSON document (`data.a.0`) or a point (`at.lon`): the value at it, as JSON. */
  private walkJson(json: 'document' | 'point', alias: string, prop: string, props: string[], c: Chain, multi: boolean): Resolved {
    const rest = props.slice(1);
    if (json === 'point' && (rest.length !== 1 || (rest[0] !== 'lon' && rest[0] !== 'lat'))) {
      throw new FilterError(`a geoPoint has only "lon" and "lat": "${props.join('.')}"`);
    }
    const path = rest.map((p) => (/^\d+$/.test(p) ? Number(p) : p));
    if (path.some((p) => typeof p === 'string' && !/^\w+$/.test(p))) throw new FilterError(`invalid JSON path in "${props.join('.')}"`);
    const sql = this.d.jsonExtract(this.col(alias, prop), path, (v) => this.scope.params.add(v));
    // the `?` operators compare a document's array items; a point has none
    const any = json === 'document' ? () => this.jsonItems(this.col(alias, prop), path) : undefined;
    if (!multi) return { kind: 'sql', sql, type: 'json', nullFallback: 'disabled', ...(any ? { any } : {}) };
    const mmSql = this.d.jsonExtract(this.col(c.alias, prop), path, (v) => this.scope.params.add(v));
    return {
      kind: 'sql',
      sql,
      type: 'json',
      nullFallback: 'disabled',
      multi: { query: c.query(mmSql), type: 'json' },
      ...(any ? { any } : {}),
    };
  }

  /** The list rule of `collection` on the chain's next alias (filled in by {@link Chain.table}). */
  private chainRule(collection: Collection): string {
    const rule = collection.listRule ?? '';
    return this.ruleCondition(collection, '{{alias}}', rule, this.scope.nextAlias('mmlr'));
  }

  private walkBackRelation(
    collection: Collection,
    alias: string,
    aliasPrefix: string,
    prop: string,
    backName: string,
    backFieldName: string,
    rest: string[],
    c: Chain,
    depth: number,
    nullifyMissing: boolean,
  ): Resolved {
    const back = this.scope.lookup(backName);
    const backField = back ? fieldByName(back, backFieldName) : undefined;
    if (!back || !isRelation(backField) || backField.collectionId !== collection.id) {
      if (nullifyMissing) return this.value(null);
      throw new FilterError(`invalid back-relation "${prop}"`);
    }
    if (backField.hidden && !this.allowHidden) throw new FilterError(`invalid back-relation "${prop}"`);
    this.crossed(true);
    const newAlias = this.d.storedName(`${aliasPrefix}_${prop}`);
    const lr = this.listRuleCondition(back, newAlias);
    const extra = lr ? ` AND ${lr}` : '';
    const link = (a: string, from: string) =>
      isMultiple(backField)
        ? this.d.jsonArrayContains(this.col(a, backFieldName), this.col(from, 'id'))
        : `${this.col(a, backFieldName)} = ${this.col(from, 'id')}`;
    this.join(newAlias, `LEFT JOIN ${this.table(back)} ${newAlias} ON ${link(newAlias, alias)}${extra}`);
    const from = c.alias;
    c.table(back.name, `${link('{{alias}}', from)}${lr ? ` AND ${this.chainRule(back)}` : ''}`);
    return this.walk(back, newAlias, newAlias, rest, c, depth + 1, true, nullifyMissing);
  }

  /** Resolves the last prop of a path: a field of `collection`, with an optional modifier. */
  private finish(
    collection: Collection,
    alias: string,
    prop: string,
    chain: Chain | null,
    multi: boolean,
    nullifyMissing: boolean,
  ): Resolved {
    const [name, modifier] = splitModifier(prop, prop);
    if (modifier === 'isset' || modifier === 'changed') {
      throw new FilterError(`the :${modifier} modifier works only on @request.body fields`);
    }
    let field: Field;
    try {
      field = this.checkField(collection, name);
    } catch (err) {
      if (nullifyMissing && !fieldByName(collection, name)) return this.value(null);
      throw err;
    }
    const column = this.col(alias, name);
    const chainColumn = chain ? this.col(chain.alias, name) : column;
    const filter = kindOf(field).filter;
    const withMulti = (sql: string, type: ValueType, mmSql: string, extra: Partial<Extract<Resolved, { kind: 'sql' }>> = {}): Resolved =>
      multi && chain
        ? { kind: 'sql', sql, type, ...extra, multi: { query: chain.query(mmSql), type } }
        : { kind: 'sql', sql, type, ...extra };

    if (modifier === 'length') {
      if (!filter.list) throw new FilterError(`the :length modifier needs a multi-valued field, not "${name}"`);
      const len = (col: string) => (isMultiple(field) ? this.d.jsonArrayLength(col) : `(CASE WHEN ${col} = '' THEN 0 ELSE 1 END)`);
      return withMulti(len(column), 'number', len(chainColumn));
    }
    if (modifier === 'each') {
      if (!filter.list) throw new FilterError(`the :each modifier needs a multi-valued field, not "${name}"`);
      if (!isMultiple(field)) return withMulti(column, 'text', chainColumn);
      const je = this.d.storedName(`${alias}_${name}_each`);
      this.join(je, this.d.joinJsonEach(column, je, true));
      const c = chain ?? new Chain(alias, this.scope);
      const mje = c.jsonEach(chainColumn);
      return { kind: 'sql', sql: `${je}.value`, type: 'text', multi: { query: c.query(`${mje}.value`), type: 'text' } };
    }

    const type = filter.valueType;
    let sql = column;
    let mmSql = chainColumn;
    let any: (() => MultiMatch) | undefined;
    if (isMultiple(field)) {
      // plain operators compare the stored list as text (PocketBase's behaviour); `?` ones its items
      sql = this.d.asText(column, 'json');
      mmSql = this.d.asText(chainColumn, 'json');
      any = () => this.listItems(column, modifier === 'lower');
    } else if (filter.json === 'document') {
      // the value, not its JSON text: a top-level "x" equals the text x (PocketBase's json_extract)
      const param = (v: SqlValue) => this.scope.params.add(v);
      sql = this.d.jsonExtract(column, [], param);
      mmSql = this.d.jsonExtract(chainColumn, [], param);
      if (modifier === undefined) any = () => this.jsonItems(column, []);
    }
    let resultType: ValueType = isMultiple(field) ? 'text' : type;
    if (modifier === 'lower') {
      sql = `LOWER(${this.d.asText(sql, resultType)})`;
      mmSql = `LOWER(${this.d.asText(mmSql, resultType)})`;
      resultType = 'text';
    }
    const textIndex = modifier === undefined && !multi ? this.textIndex(collection, field, alias) : undefined;
    const resolved = withMulti(sql, resultType, mmSql, {
      ...(type === 'json' ? { nullFallback: 'disabled' } : {}),
      ...(any ? { any } : {}),
      ...(textIndex ? { textIndex } : {}),
    });
    if (name === 'email' && collection.type === 'auth' && !this.allowHidden) {
      // a non-superuser may match emails only of records that show them
      const visible = `${this.col(alias, 'emailVisibility')} = TRUE`;
      return { ...resolved, wrap: (cmp: string) => `(${cmp} AND ${visible})` } as Resolved;
    }
    return resolved;
  }

  /**
   * The search index that holds `field`'s column, for `~` on it: the column
   * itself, read once per row (a list's values are compared one by one, and scan).
   */
  private textIndex(collection: Collection, field: Field, alias: string): TextIndex | undefined {
    if (isMultiple(field) || collection.type === 'view') return undefined;
    const index = searchColumns(collection).get(field.name);
    return index === undefined ? undefined : { index, table: collection.name, column: field.name, row: `${alias}.rowid` };
  }

  /** The items of a stored list (a multi select, relation or file field), for the `?` operators. */
  protected listItems(listSql: string, lower: boolean): MultiMatch {
    const alias = this.scope.nextAlias('it');
    const value = lower ? `LOWER(${alias}.value)` : `${alias}.value`;
    return { query: `SELECT ${value} AS v FROM ${this.d.jsonEach(listSql, alias)}`, type: 'text' };
  }

  /** The items of a JSON value at `path` (an array's elements, else the value itself), for the `?` operators. */
  private jsonItems(column: string, path: readonly (string | number)[]): MultiMatch {
    const alias = this.scope.nextAlias('it');
    const from = this.d.jsonItems(column, path, alias, (v) => this.scope.params.add(v));
    return { query: `SELECT ${from.value} AS v FROM ${from.sql}`, type: 'json' };
  }

  // ---------------------------------------------------------------- sort

  /**
   * An ORDER BY expression for a sort key: a field, or a path through
   * single relations (as a scalar subquery). Multi-valued paths cannot be sorted.
   */
  resolveSort(name: string): string {
    if (name === '@random') return this.d.random();
    if (name === '@rank') {
      // the rank of the filter's search(), compiled before the sort
      const { params } = this.scope;
      if (params.rank === null) throw new FilterError('sorting by @rank needs a search(…) in the filter');
      if (params.ranked === null) return params.rank;
      // the page joins the ranked matches (core/records/reads.ts)
      params.rankJoined = true;
      return params.ranked.key;
    }
    // a view has no rowid; its ids are what orders its rows
    if (name === '@rowid') return this.base.type === 'view' ? this.col(this.baseAlias, 'id') : 'rowid';
    const props = name.split('.');
    let collection = this.base;
    let alias = this.baseAlias;
    const wraps: { table: string; alias: string; cond: string }[] = [];
    this.path = { name, depth: 0, backRelations: 0 };
    for (let i = 0; i < props.length - 1; i++) {
      const prop = props[i] as string;
      const field = fieldByName(collection, prop);
      if (!isRelation(field) || (field.hidden && !this.allowHidden) || isMultiple(field)) {
        throw new FilterError(`cannot sort by "${name}"`);
      }
      if (i >= MAX_RELATION_DEPTH) throw new FilterError(`cannot sort by "${name}"`);
      const target = this.scope.lookup(field.collectionId);
      if (!target) throw new FilterError(`cannot sort by "${name}"`);
      this.crossed(false);
      const next = this.scope.nextAlias('srt');
      const lr = this.listRuleCondition(target, next);
      wraps.push({ table: target.name, alias: next, cond: `${this.col(next, 'id')} = ${this.col(alias, prop)}${lr ? ` AND ${lr}` : ''}` });
      collection = target;
      alias = next;
    }
    const [fieldName, modifier] = splitModifier(props[props.length - 1] as string, name);
    const field = this.checkField(collection, fieldName);
    if (modifier && modifier !== 'lower' && modifier !== 'length') throw new FilterError(`cannot sort by "${name}"`);
    let sql = this.col(alias, fieldName);
    if (fieldName === 'email' && collection.type === 'auth' && !this.allowHidden) {
      // emails hidden from the caller sort as empty, or their order would give them away letter by letter
      const self = this.scope.info?.auth?.collection.id === collection.id ? this.scope.info.auth.record.id : undefined;
      const own = self === undefined ? '' : ` OR ${this.col(alias, 'id')} = ${this.scope.params.add(self)}`;
      sql = `(CASE WHEN ${this.col(alias, 'emailVisibility')} = TRUE${own} THEN ${sql} ELSE '' END)`;
    }
    if (modifier === 'lower') sql = `LOWER(${this.d.asText(sql, isMultiple(field) ? 'json' : kindOf(field).filter.valueType)})`;
    if (modifier === 'length') {
      if (!isMultiple(field)) throw new FilterError(`cannot sort by "${name}"`);
      sql = this.d.jsonArrayLength(sql);
    }
    if (wraps.length === 0) return sql;
    const [first, ...others] = wraps as [(typeof wraps)[0], ...typeof wraps];
    const joins = others.map((w) => `JOIN ${this.d.ident(w.table)} ${w.alias} ON ${w.cond}`).join(' ');
    return `(SELECT ${sql} FROM ${this.d.ident(first.table)} ${first.alias} ${joins} WHERE ${first.cond} LIMIT 1)`;
  }

  /**
   * A rule of `collection` as a self-contained SQL condition on the row
   * joined as `alias` (a joined collection's list rule): a rule may name
   * `@request` and `@collection`, which the subclass resolves.
   */
  protected abstract ruleCondition(collection: Collection, alias: string, rule: string, aliasPrefix: string): string;
}

/** A prop and its `:modifier`, checked to be one of PocketBase's. */
export function splitModifier(prop: string, name: string): [string, string | undefined] {
  const i = prop.indexOf(':');
  if (i < 0) return [prop, undefined];
  const modifier = prop.slice(i + 1);
  if (!MODIFIERS.has(modifier)) throw new FilterError(`unknown modifier in "${name}"`);
  return [prop.slice(0, i), modifier];
}
