import {
  compileFilter,
  type Expr,
  FilterError,
  parseFilterCached,
  type Resolved,
  type Resolver,
  type SqlValue,
} from '../../query/index.js';
import { type Collection, fieldByName, isMultiple, type RelationField } from '../collections/model.js';
import { isRelation, kindOf } from '../fields/index.js';
import { Chain } from './chain.js';
import { FieldPathResolver, type ResolverScope, splitModifier } from './field-paths.js';

export { MAX_RELATION_DEPTH, type ResolverCost, type ResolverScope } from './field-paths.js';

/** Auth fields `@request.auth.*` reads from the caller without a join. */
const PLAIN_AUTH_FIELDS = new Set(['id', 'collectionId', 'collectionName', 'email', 'emailVisibility', 'verified']);

/**
 * Resolves the names of a filter or rule over one collection into SQL
 * (PocketBase's record field resolver): the request's own values
 * (`@request.*`, the caller's record and the submitted body), other
 * collections (`@collection.*`), and, through {@link FieldPathResolver},
 * the record's field paths.
 */
export class RecordResolver extends FieldPathResolver implements Resolver {
  resolve(name: string): Resolved {
    if (name.length > 500) throw new FilterError('field path too long');
    const props = name.split('.');
    if (props.some((p) => p === '')) throw new FilterError(`invalid field "${name}"`);
    this.path = { name, depth: 0, backRelations: 0 };
    if (props[0] === '@request') return this.resolveRequest(name, props);
    if (props[0] === '@collection') return this.resolveCollection(name, props);
    if (props[0]?.startsWith('@')) throw new FilterError(`unknown name "${name}"`);
    return this.walk(this.base, this.baseAlias, this.aliasPrefix, props, null, 0);
  }

  // ------------------------------------------------------------- @request

  private resolveRequest(name: string, props: string[]): Resolved {
    const info = this.scope.info;
    const section = props[1];
    if (!info) return this.value(null);
    switch (section) {
      case 'context':
      case 'method':
        if (props.length !== 2) throw new FilterError(`invalid field "${name}"`);
        return this.value(section === 'context' ? info.context : info.method);
      case 'query':
      case 'headers':
        return this.staticValue(section === 'query' ? info.query : info.headers, props.slice(2), name);
      case 'auth':
        return this.resolveAuth(name, props.slice(2));
      case 'body':
        return this.resolveBody(name, props.slice(2));
      default:
        throw new FilterError(`unknown name "${name}"`);
    }
  }

  /** A value looked up in request data by a path; a missing key is NULL. */
  private staticValue(data: unknown, path: string[], name: string, numeric = false): Resolved {
    if (path.length === 0) throw new FilterError(`invalid field "${name}"`);
    const last = path[path.length - 1] as string;
    const [key, modifier] = splitModifier(last, name);
    const keys = [...path.slice(0, -1), key];
    let found = true;
    let cur: unknown = data;
    for (const k of keys) {
      if (cur !== null && typeof cur === 'object' && Object.hasOwn(cur, k)) {
        cur = (cur as Record<string, unknown>)[k];
      } else {
        found = false;
        cur = undefined;
        break;
      }
    }
    if (modifier === 'isset') return this.value(found);
    if (modifier && modifier !== 'lower') throw new FilterError(`the :${modifier} modifier cannot be used on "${name}"`);
    if (numeric && typeof cur === 'string' && cur.trim() !== '' && Number.isFinite(Number(cur))) cur = Number(cur);
    if (modifier === 'lower' && cur !== null && cur !== undefined) cur = String(cur).toLowerCase();
    return this.value(cur);
  }

  private resolveAuth(name: string, path: string[]): Resolved {
    const auth = this.scope.info?.auth;
    if (path.length === 0) throw new FilterError(`invalid field "${name}"`);
    if (!auth) {
      splitModifier(path[path.length - 1] as string, name);
      return this.value(null);
    }
    const plainKey = path.length === 1 ? (path[0] as string) : '';
    if (PLAIN_AUTH_FIELDS.has(plainKey)) {
      if (plainKey === 'collectionId') return this.value(auth.collection.id);
      if (plainKey === 'collectionName') return this.value(auth.collection.name);
      return this.value(auth.record[plainKey]);
    }
    // any other auth field is read from the caller's row, so relations can be followed
    const alias = this.d.storedName(`${this.aliasPrefix}_auth`);
    const idParam = this.scope.params.add(auth.record.id);
    this.join(alias, `LEFT JOIN ${this.table(auth.collection)} ${alias} ON ${this.col(alias, 'id')} = ${idParam}`);
    const chain = new Chain(alias, this.scope);
    chain.table(auth.collection.name, `${this.col('{{alias}}', 'id')} = ${idParam}`);
    return this.walk(auth.collection, alias, alias, path, chain, 0, /* multi */ false, /* nullifyMissing */ true);
  }

  private resolveBody(name: string, path: string[]): Resolved {
    const info = this.scope.info;
    if (!info || path.length === 0) return this.value(null);
    const [fieldName, modifier] = splitModifier(path[0] as string, name);
    const field = fieldByName(this.base, fieldName);
    if (!field) return this.staticValue(info.body, path, name);
    const present = Object.hasOwn(info.body, fieldName);
    const raw = present ? info.body[fieldName] : undefined;

    if (path.length > 1) {
      if (!isRelation(field) || modifier) return this.staticValue(info.body, path, name);
      return this.resolveBodyRelation(field, raw, path.slice(1));
    }
    switch (modifier) {
      case 'isset':
        return this.value(present);
      case 'length': {
        if (!kindOf(field).filter.list) {
          throw new FilterError(`the :length modifier needs a multi-valued field, not "${fieldName}"`);
        }
        return this.value(toList(raw).length);
      }
      case 'lower':
        return this.value(raw === undefined || raw === null ? null : String(raw).toLowerCase());
      case 'each': {
        if (!kindOf(field).filter.list) {
          throw new FilterError(`the :each modifier needs a multi-valued field, not "${fieldName}"`);
        }
        const listJson = JSON.stringify(toList(raw).map(String));
        const alias = this.d.storedName(`${this.aliasPrefix}_body_${fieldName}_each`);
        const p = this.scope.params.add(listJson);
        this.join(alias, this.d.joinJsonEach(p, alias, true));
        const chain = new Chain(this.baseAlias, this.scope);
        const mmAlias = chain.jsonEach(this.scope.params.add(listJson));
        const sql = `${alias}.value`;
        return isMultiple(field)
          ? { kind: 'sql', sql, type: 'text', multi: { query: chain.query(`${mmAlias}.value`), type: 'text' } }
          : { kind: 'sql', sql, type: 'text' };
      }
      case 'changed': {
        // submitted and different from the stored value
        const expr = parseFilterCached(`@request.body.${fieldName}:isset = true && @request.body.${fieldName} != ${fieldName}`);
        const sub = new RecordResolver(this.scope, this.base, this.baseAlias, true, `${this.aliasPrefix}_chg`);
        const sql = wrapJoins(this.scope, sub, compileFilter(expr, sub, this.d, this.scope.params));
        return { kind: 'sql', sql: `(${sql})`, type: 'bool', nullFallback: 'disabled' };
      }
      default: {
        if (isMultiple(field)) {
          // the submitted list as a whole for plain operators, its items for `?` ones
          const listJson = JSON.stringify(toList(raw).map(String));
          return { ...this.value(raw), any: () => this.listItems(this.scope.params.add(listJson), false) };
        }
        return this.value(
          kindOf(field).filter.valueType === 'number' && typeof raw === 'string' && raw.trim() !== '' && Number.isFinite(Number(raw))
            ? Number(raw)
            : raw,
        );
      }
    }
  }

  private resolveBodyRelation(field: RelationField, raw: unknown, rest: string[]): Resolved {
    const target = this.scope.lookup(field.collectionId);
    const ids = toList(raw).filter((v): v is string => typeof v === 'string');
    if (!target || ids.length === 0) return this.value(null);
    const alias = this.d.storedName(`${this.aliasPrefix}_body_${field.name}`);
    const inList = ids.map((id) => this.scope.params.add(id)).join(', ');
    this.join(alias, `LEFT JOIN ${this.table(target)} ${alias} ON ${this.col(alias, 'id')} IN (${inList})`);
    const chain = new Chain(this.baseAlias, this.scope);
    const mmInList = ids.map((id) => this.scope.params.add(id)).join(', ');
    chain.table(target.name, `${this.col('{{alias}}', 'id')} IN (${mmInList})`);
    return this.walk(target, alias, alias, rest, chain, 0, isMultiple(field));
  }

  // ---------------------------------------------------------- @collection

  private resolveCollection(name: string, props: string[]): Resolved {
    if (props.length < 3) throw new FilterError(`invalid field "${name}"`);
    const [collName, aliasName] = (props[1] as string).split(':', 2) as [string, string | undefined];
    if (aliasName !== undefined && !/^\w+$/.test(aliasName)) throw new FilterError(`invalid alias in "${name}"`);
    const collection = this.scope.lookup(collName);
    if (!collection) throw new FilterError(`unknown collection in "${name}"`);
    const alias = this.d.storedName(`${this.aliasPrefix}_c_${aliasName ? `a_${aliasName}` : collection.name}`);
    this.join(alias, `LEFT JOIN ${this.table(collection)} ${alias} ON TRUE`);
    const lr = this.listRuleCondition(collection, alias);
    if (lr) this.joins.set(alias, `LEFT JOIN ${this.table(collection)} ${alias} ON ${lr}`);
    const chain = new Chain(this.baseAlias, this.scope);
    chain.table(collection.name, 'TRUE');
    return this.walk(collection, alias, alias, props.slice(2), chain, 0, true);
  }

  protected ruleCondition(collection: Collection, alias: string, rule: string, aliasPrefix: string): string {
    return compileRuleCondition(this.scope, collection, alias, rule, aliasPrefix);
  }
}

function toList(raw: unknown): unknown[] {
  if (raw === undefined || raw === null || raw === '') return [];
  return Array.isArray(raw) ? raw : [raw];
}

/** `sql` evaluated over the resolver's joins: one EXISTS, so a path means one related row. */
export function wrapJoins(scope: ResolverScope, resolver: RecordResolver, sql: string): string {
  if (resolver.joins.size === 0) return sql;
  return `EXISTS (SELECT 1 FROM (SELECT 1 AS one) ${scope.nextAlias('j')} ${[...resolver.joins.values()].join(' ')} WHERE ${sql})`;
}

/**
 * A rule of `collection` as a self-contained SQL condition on the row joined
 * as `alias`. Rules are written by superusers, so they may read hidden fields.
 */
export function compileRuleCondition(
  scope: ResolverScope,
  collection: Collection,
  alias: string,
  rule: string,
  aliasPrefix: string,
): string {
  if (rule === '') return 'TRUE';
  const expr: Expr = parseFilterCached(rule);
  const resolver = new RecordResolver(scope, collection, alias, true, aliasPrefix);
  return wrapJoins(scope, resolver, compileFilter(expr, resolver, scope.dialect, scope.params));
}

export type { SqlValue };
