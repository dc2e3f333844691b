import { crc32 } from 'node:zlib';
import { compileFilter, FilterError, parseFilter, SqlParams } from '../../query/index.js';
import type { Dialect } from '../../storage/engine.js';
import { checkMappedFields } from '../auth/oauth2/options.js';
import { nowString } from '../dates.js';
import { type ErrorData, Errors, type FieldError, fieldError } from '../errors.js';
import { isRelation, kindOf } from '../fields/index.js';
import { isObject } from '../json.js';
import { RecordResolver, type ResolverScope } from '../rules/resolver.js';
import { AUTH_OPTION_KEYS, defaultAuthOptions, mergeAuthOptions } from './auth-options.js';
import { buildFields } from './build-fields.js';
import { buildIndexes } from './build-indexes.js';
import { parseIndex } from './indexes.js';
import type { AuthOptions, Collection, RuleName } from './model.js';
import type { CollectionRegistry } from './registry.js';
import { readViewQuery, ViewQueryError } from './view-query.js';

const COLLECTION_NAME = /^[A-Za-z][A-Za-z0-9_]{0,99}$/;
/** System collections (`_superusers`) may start with an underscore; users' may not. */
const SYSTEM_COLLECTION_NAME = /^_?[A-Za-z][A-Za-z0-9_]{0,99}$/;
const RULES = ['listRule', 'viewRule', 'createRule', 'updateRule', 'deleteRule'] as const;

/** A JSON object (not null, not a list). */

/**
 * Turns submitted JSON into a checked collection: its type, name, id,
 * fields (build-fields.ts), rules, auth options, view query and indexes
 * (build-indexes.ts), and the checks that need the rest of the schema
 * (rules compile, relations point at collections, a collection may go).
 * Nothing here writes: applying a change is schema.ts's.
 */
export class CollectionBuilder {
  constructor(
    private readonly registry: CollectionRegistry,
    private readonly dialect: Dialect,
  ) {}

  /**
   * Builds a complete collection from submitted JSON, over `current` for an
   * update. Throws a 400 with per-key errors when anything is invalid.
   * `pending` are collections of the same import, visible to relations and rules.
   */
  build(input: unknown, current: Collection | undefined, pending: Collection[] = [], system = false): Collection {
    if (!isObject(input)) throw Errors.badRequest('Failed to load the submitted data due to invalid formatting.');
    const errors: ErrorData = {};
    const now = nowString();
    const type = readType(input, current, errors);
    const name = this.readName(input, current, pending, system, errors);
    const id = current?.id ?? this.newId(input, type, name, pending, now, errors);
    // a view's fields come from its query (inferred when it is saved: see SchemaWriter.withViews); any sent are ignored
    const fields =
      type === 'view'
        ? structuredClone(current?.fields ?? [])
        : buildFields(this.registry, input, current, type === 'auth', system || current?.system === true, errors);
    const collection: Collection = {
      id,
      name,
      type: type === 'auth' || type === 'view' ? type : 'base',
      system: current?.system ?? false,
      fields,
      indexes: [],
      listRule: current?.listRule ?? null,
      viewRule: current?.viewRule ?? null,
      createRule: current?.createRule ?? null,
      updateRule: current?.updateRule ?? null,
      deleteRule: current?.deleteRule ?? null,
      created: current?.created ?? now,
      updated: now,
    };
    readRules(input, current, collection, errors);
    if (collection.type === 'auth') collection.auth = readAuthOptions(input, current, errors);
    if (collection.type === 'view') readViewOptions(input, current, collection, errors);
    collection.indexes = type === 'view' ? [] : buildIndexes(this.registry, input, current, collection, errors);
    if (collection.auth?.passwordAuth.enabled && !errors.passwordAuth) {
      const error = identityFieldsError(collection);
      if (error) errors.passwordAuth = { identityFields: error };
    }
    if (collection.auth && !errors.oauth2) {
      checkMappedFields(collection.auth.oauth2, new Set(collection.fields.map((f) => f.name)), errors);
      // PocketBase's rule: superusers never sign in with a provider
      if (collection.name === '_superusers' && collection.auth.oauth2.enabled) {
        errors.oauth2 = { enabled: fieldError('validation_invalid_value', 'Superusers cannot sign in with OAuth2.') };
      }
    }
    if (Object.keys(errors).length === 0 && collection.type !== 'view') this.checkRules(collection, pending, errors);
    if (Object.keys(errors).length > 0) {
      throw Errors.validation(current ? 'Failed to update collection.' : 'Failed to create collection.', errors);
    }
    return collection;
  }

  /** The collection's name: the submitted one when valid, else the current one ('' for a new collection). */
  private readName(
    input: Record<string, unknown>,
    current: Collection | undefined,
    pending: Collection[],
    system: boolean,
    errors: ErrorData,
  ): string {
    let name = current?.name ?? '';
    if (input.name !== undefined) {
      if (input.name === '' || input.name === null) {
        errors.name = fieldError('validation_required', 'Cannot be blank.');
      } else if (
        typeof input.name !== 'string' ||
        !(system || current?.system ? SYSTEM_COLLECTION_NAME : COLLECTION_NAME).test(input.name)
      ) {
        errors.name = fieldError('validation_match_invalid', 'Must start with a letter and hold only letters, digits and _ (at most 100).');
      } else if (/^(sqlite|pg)_/i.test(input.name) || input.name.toLowerCase().includes('_via_')) {
        errors.name = fieldError(
          'validation_collection_name_invalid',
          'The name is reserved (it may not start with sqlite_ or pg_, nor contain _via_).',
        );
      } else if (current?.system && input.name !== current.name) {
        errors.name = fieldError('validation_collection_system_name_change', 'System collection name cannot be changed.');
      } else {
        name = input.name;
      }
    }
    if (!name && !errors.name) errors.name = fieldError('validation_required', 'Cannot be blank.');
    // SQLite keeps tables and indexes in one namespace
    if (name && !errors.name && this.allIndexNames(current?.id).has(name.toLowerCase())) {
      errors.name = fieldError('validation_collection_name_invalid', 'The name is already used by an index.');
    }
    const clash = name ? this.findIn(pending, name) : undefined;
    if (clash && clash.id !== current?.id) {
      errors.name = fieldError('validation_collection_name_exists', 'Collection name must be unique (case insensitive).');
    }
    return name;
  }

  /** A new collection's id: the submitted one when valid and free, else PocketBase's `pbc_` and a checksum. */
  private newId(
    input: Record<string, unknown>,
    type: unknown,
    name: string,
    pending: Collection[],
    now: string,
    errors: ErrorData,
  ): string {
    let id = '';
    if (input.id !== undefined && input.id !== '') {
      if (typeof input.id !== 'string' || !/^\w{1,100}$/.test(input.id))
        errors.id = fieldError('validation_match_invalid', 'Invalid collection id.');
      else if (this.findIn(pending, input.id)) errors.id = fieldError('validation_collection_id_exists', 'The id is already in use.');
      else id = input.id;
    }
    if (!id) id = `pbc_${crc32(`${String(type)}${name}`)}`;
    if (this.findIn(pending, id) && !errors.id) id = `pbc_${crc32(`${String(type)}${name}${now}${Math.random()}`)}`;
    return id;
  }

  /** Lowercased index names of every collection but `exceptId`. */
  private allIndexNames(exceptId?: string): Set<string> {
    const names = new Set<string>();
    for (const o of this.registry.all()) {
      if (o.id === exceptId) continue;
      for (const sql of o.indexes) {
        const p = parseIndex(sql);
        if (typeof p !== 'string') names.add(p.name.toLowerCase());
      }
    }
    return names;
  }

  private findIn(pending: Collection[], idOrName: string): Collection | undefined {
    const lower = idOrName.toLowerCase();
    return pending.find((c) => c.id === idOrName || c.name.toLowerCase() === lower) ?? this.registry.find(idOrName);
  }

  /** Compiles every rule against the collection so that a broken rule is refused when saved. */
  checkRules(c: Collection, pending: Collection[], errors: ErrorData): void {
    const lookup = (idOrName: string) =>
      idOrName === c.id || idOrName.toLowerCase() === c.name.toLowerCase() ? c : this.findIn(pending, idOrName);
    const names: RuleName[] = [...RULES];
    const rules: Partial<Record<RuleName, string | null>> = { ...c };
    if (c.auth) {
      names.push('authRule', 'manageRule');
      rules.authRule = c.auth.authRule;
      rules.manageRule = c.auth.manageRule;
    }
    let n = 0;
    for (const name of names) {
      const rule = rules[name];
      if (rule === null || rule === undefined || rule === '') continue;
      try {
        const expr = parseFilter(rule);
        const scope: ResolverScope = {
          dialect: this.dialect,
          params: new SqlParams(this.dialect),
          info: null,
          lookup,
          nextAlias: (p) => `__${p}${++n}`,
          tables: new Set(),
        };
        compileFilter(expr, new RecordResolver(scope, c, '__r', true), scope.dialect, scope.params);
      } catch (err) {
        if (!(err instanceof FilterError)) throw err;
        errors[name] = fieldError('validation_invalid_rule', `Invalid rule: ${err.message}.`);
      }
    }
  }

  /** Checks relation fields point at existing collections. */
  checkRelations(c: Collection, pending: Collection[], errors: ErrorData): void {
    const fieldErrors: ErrorData = {};
    c.fields.forEach((f, i) => {
      if (!isRelation(f)) return;
      const target = f.collectionId === c.id ? c : this.findIn(pending, f.collectionId);
      if (!target) fieldErrors[i] = { collectionId: fieldError('validation_field_relation_missing_collection', 'Unknown collection.') };
      else if (target.type === 'view' && c.type !== 'view') {
        // a view's rows are not stored: nothing could keep such a relation from pointing at nothing
        fieldErrors[i] = {
          collectionId: fieldError(
            'validation_relation_field_non_view_base_collection',
            'Only view collections are allowed to have relations to other views.',
          ),
        };
      } else f.collectionId = target.id;
    });
    if (Object.keys(fieldErrors).length > 0) errors.fields = fieldErrors;
  }

  /** Refuses (a 400) to delete a system collection, or one a collection outside `alsoDeleted` relates to. */
  assertDeletable(c: Collection, alsoDeleted: string[]): void {
    if (c.system) throw Errors.badRequest('System collections cannot be deleted.');
    for (const other of this.registry.all()) {
      // a view that reads the collection is judged when it is created again (see SchemaWriter.withViews)
      if (other.id === c.id || alsoDeleted.includes(other.id) || other.type === 'view') continue;
      const ref = other.fields.find((f) => isRelation(f) && f.collectionId === c.id);
      if (ref) {
        throw Errors.badRequest(`The collection is referenced by the "${ref.name}" field of "${other.name}"; remove that field first.`);
      }
    }
  }
}

/** The collection's type as submitted (unchecked when invalid: the error is set), or the current one. */
function readType(input: Record<string, unknown>, current: Collection | undefined, errors: ErrorData): unknown {
  const type = current?.type ?? (input.type === undefined ? 'base' : input.type);
  if (type !== 'base' && type !== 'auth' && type !== 'view') {
    errors.type = fieldError('validation_in_invalid', 'Must be "base", "auth" or "view".');
  }
  if (current && input.type !== undefined && input.type !== current.type) {
    errors.type = fieldError('validation_collection_type_change', 'Collection type cannot be changed.');
  }
  return type;
}

/** The submitted API rules over the current ones (a view's write rules stay null; a system collection's are fixed). */
function readRules(input: Record<string, unknown>, current: Collection | undefined, collection: Collection, errors: ErrorData): void {
  for (const rule of RULES) {
    if (!(rule in input)) continue;
    const v = input[rule];
    if (v !== null && typeof v !== 'string') errors[rule] = fieldError('validation_invalid_value', 'Must be a string or null.');
    else if (collection.type === 'view' && v !== null && (rule === 'createRule' || rule === 'updateRule' || rule === 'deleteRule')) {
      errors[rule] = fieldError('validation_nil', 'Must be null: the records of a view cannot be written.');
    } else if (current?.system && v !== current[rule]) {
      errors[rule] = fieldError('validation_collection_system_rule_change', 'System collection API rule cannot be changed.');
    } else collection[rule] = v;
  }
}

/** An auth collection's options: the submitted ones (flat on the collection's JSON) over the current or default ones. */
function readAuthOptions(input: Record<string, unknown>, current: Collection | undefined, errors: ErrorData): AuthOptions {
  const base: AuthOptions = current?.auth ?? defaultAuthOptions();
  const optionInput: Record<string, unknown> = {};
  for (const key of AUTH_OPTION_KEYS) if (key in input) optionInput[key] = input[key];
  return mergeAuthOptions(base, optionInput, errors);
}

/** A view's query, read and checked before any engine sees it (view-query.ts); a view takes no indexes. */
function readViewOptions(input: Record<string, unknown>, current: Collection | undefined, collection: Collection, errors: ErrorData): void {
  collection.viewQuery = current?.viewQuery ?? '';
  if (input.viewQuery !== undefined) {
    if (typeof input.viewQuery !== 'string') errors.viewQuery = fieldError('validation_invalid_value', 'Must be a string.');
    else collection.viewQuery = input.viewQuery;
  }
  if (!errors.viewQuery) {
    try {
      collection.viewQuery = readViewQuery(collection.viewQuery).query;
    } catch (err) {
      if (!(err instanceof ViewQueryError)) throw err;
      errors.viewQuery =
        collection.viewQuery.trim() === ''
          ? fieldError('validation_required', 'Cannot be blank.')
          : fieldError('validation_invalid_view_query', `Invalid query - ${err.message}`);
    }
  }
  if (Array.isArray(input.indexes) && input.indexes.length > 0) {
    errors.indexes = fieldError('validation_indexes_not_supported', "View collections don't support indexes.");
  }
}

/**
 * What is wrong with an auth collection's identity fields, checked as
 * PocketBase checks them when password sign-in is on (each a field with a
 * unique index of its own), plus Mainspring's own: a visible text or email
 * field, since sign-in compares the identity as text.
 */
function identityFieldsError(c: Collection): FieldError | null {
  const identityFields = c.auth?.passwordAuth.identityFields ?? [];
  if (identityFields.length === 0) return fieldError('validation_required', 'Cannot be blank.');
  for (const name of identityFields) {
    const f = c.fields.find((x) => x.name === name);
    if (!f) return fieldError('validation_missing_field', `Invalid or missing field ${name}.`, { fieldName: name });
    const unique = c.indexes.some((sql) => {
      const p = parseIndex(sql);
      return typeof p !== 'string' && p.unique && p.columns.length === 1 && p.columns[0]?.name === name;
    });
    if (!unique) {
      return fieldError('validation_missing_unique_constraint', `The field ${name} doesn't have a UNIQUE constraint.`, { fieldName: name });
    }
    if (kindOf(f).identity === null || f.hidden) {
      return fieldError('validation_invalid_identity_field', `Identity field "${name}" must be a visible text or email field.`, {
        fieldName: name,
      });
    }
  }
  return null;
}
