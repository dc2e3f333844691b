import { crc32 } from 'node:zlib';
import { compileFilter, FilterError, parseFilter, parseSort, SqlParams } from '../../query/index.js';
import type { ColumnSpec, Engine, Executor, Row } from '../../storage/engine.js';
import { nowString } from '../dates.js';
import { ApiError, type ErrorData, Errors, type FieldError, fieldError } from '../errors.js';
import type { EventBus } from '../events.js';
import { randomString } from '../ids.js';
import { RecordResolver, type ResolverScope } from '../rules/resolver.js';
import { readPage } from '../search/provider.js';
import { AUTH_OPTION_KEYS, defaultAuthOptions, mergeAuthOptions, publicAuthOptions } from './auth-options.js';
import { buildField, defaultFieldId, idField, kindOf } from './fields.js';
import { formatIndex, indexSpec, type ParsedIndex, parseIndex } from './indexes.js';
import { type AuthOptions, type Collection, type Field, RESERVED_AUTH_FIELD_NAMES, type RuleName } from './model.js';
import { CollectionRegistry } from './registry.js';
import { AUTH_REF_COLLECTIONS } from './system.js';
import { readViewQuery, ViewQueryError } from './view-query.js';
import { createView, dropViews, inferViewFields, viewOrder } from './views.js';

const COLLECTION_NAME = /^[A-Za-z][A-Za-z0-9_]{0,99}$/;
/** System collections (`_superusers`) may start with an underscore; users' may not. */
const SYSTEM_COLLECTION_NAME = /^_?[A-Za-z][A-Za-z0-9_]{0,99}$/;
const RULES = ['listRule', 'viewRule', 'createRule', 'updateRule', 'deleteRule'] as const;
/** The table that stores every collection's definition. */
export const COLLECTIONS_TABLE = '_collections';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The fields every auth collection has, in PocketBase's order and with its options. */
function authSystemFields(): Field[] {
  const base = { system: true, hidden: false, presentable: false };
  return [
    {
      ...base,
      id: defaultFieldId('password', 'password'),
      name: 'password',
      type: 'password',
      hidden: true,
      required: true,
      min: 8,
      max: 0,
      pattern: '',
      cost: 0,
    },
    {
      ...base,
      id: defaultFieldId('text', 'tokenKey'),
      name: 'tokenKey',
      type: 'text',
      hidden: true,
      required: true,
      min: 30,
      max: 60,
      pattern: '',
      autogeneratePattern: '[a-zA-Z0-9]{50}',
      primaryKey: false,
    },
    { ...base, id: defaultFieldId('email', 'email'), name: 'email', type: 'email', required: true, exceptDomains: null, onlyDomains: null },
    { ...base, id: defaultFieldId('bool', 'emailVisibility'), name: 'emailVisibility', type: 'bool', required: false },
    { ...base, id: defaultFieldId('bool', 'verified'), name: 'verified', type: 'bool', required: false },
  ];
}

function autodate(name: 'created' | 'updated', system: boolean): Field {
  return {
    id: defaultFieldId('autodate', name),
    name,
    type: 'autodate',
    system,
    hidden: false,
    presentable: false,
    onCreate: true,
    onUpdate: name === 'updated',
  };
}

/**
 * Collections: their validation, their JSON, and the schema migrations that
 * keep each collection's table in step with its fields — every change in one
 * transaction, data kept.
 */
export class CollectionService {
  readonly registry = new CollectionRegistry();
  private lock: Promise<unknown> = Promise.resolve();

  /** Called once a collection's deletion has committed (the app deletes its files). */
  onDeleted: ((c: Collection) => void) | null = null;
  /** Called once a change that removed file fields has committed, with the files those fields held, per record. */
  onFilesDropped: ((collectionId: string, files: { recordId: string; names: string[] }[]) => void) | null = null;

  constructor(
    private readonly engine: Engine,
    private readonly events: EventBus,
  ) {}

  /** Reads every collection into the registry. */
  async load(db: Executor = this.engine): Promise<void> {
    const rows = await db.all<{ data: string }>(`SELECT data FROM ${COLLECTIONS_TABLE}`);
    this.registry.replace(rows.map((r) => JSON.parse(r.data) as Collection));
  }

  /** Reloads the schema after a change and tells every listener. */
  private async changed(): Promise<void> {
    await this.load();
    this.events.emit({ type: 'schema' });
  }

  /**
   * Runs schema changes one at a time: in this process, and across instances
   * sharing a database (a database-wide lock, then the schema read afresh, so
   * a change builds on what another instance changed a moment before).
   */
  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const shared = this.engine.withLock?.bind(this.engine);
    const guarded = shared
      ? () =>
          shared('mainspring:schema', async () => {
            await this.load();
            return fn();
          })
      : fn;
    const run = this.lock.then(guarded, guarded);
    this.lock = run.catch(() => undefined);
    return run;
  }

  // ------------------------------------------------------------------ JSON

  /** A collection as the API shows it (PocketBase's flat shape, no secrets). */
  toJSON(c: Collection): Record<string, unknown> {
    const { auth, ...rest } = c;
    const out: Record<string, unknown> = { ...rest };
    if (auth) Object.assign(out, publicAuthOptions(auth));
    return out;
  }

  // ------------------------------------------------------------ validation

  /**
   * Builds a complete collection from submitted JSON, over `current` for an
   * update. Throws a 400 with per-key errors when anything is invalid.
   * `pending` are collections of the same import, visible to relations and rules.
   */
  build(input: unknown, current: Collection | undefined, pending: Collection[] = [], system = false): Collection {
    if (!isObject(input)) throw Errors.badRequest('Failed to load the submitted data due to invalid formatting.');
    const errors: ErrorData = {};
    const now = nowString();

    const type = current?.type ?? (input.type === undefined ? 'base' : input.type);
    if (type !== 'base' && type !== 'auth' && type !== 'view') {
      errors.type = fieldError('validation_in_invalid', 'Must be "base", "auth" or "view".');
    }
    if (current && input.type !== undefined && input.type !== current.type) {
      errors.type = fieldError('validation_collection_type_change', 'Collection type cannot be changed.');
    }

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

    let id = current?.id ?? '';
    if (!current) {
      if (input.id !== undefined && input.id !== '') {
        if (typeof input.id !== 'string' || !/^\w{1,100}$/.test(input.id))
          errors.id = fieldError('validation_match_invalid', 'Invalid collection id.');
        else if (this.findIn(pending, input.id)) errors.id = fieldError('validation_collection_id_exists', 'The id is already in use.');
        else id = input.id;
      }
      if (!id) id = `pbc_${crc32(`${String(type)}${name}`)}`;
      if (this.findIn(pending, id) && !errors.id) id = `pbc_${crc32(`${String(type)}${name}${now}${Math.random()}`)}`;
    }

    // a view's fields come from its query (inferred when it is saved: see withViews); any sent are ignored
    const fields =
      type === 'view'
        ? structuredClone(current?.fields ?? [])
        : this.buildFields(input, current, type === 'auth', system || current?.system === true, errors);
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
    for (const rule of RULES) {
      if (!(rule in input)) continue;
      const v = input[rule];
      if (v !== null && typeof v !== 'string') errors[rule] = fieldError('validation_invalid_value', 'Must be a string or null.');
      else if (type === 'view' && v !== null && (rule === 'createRule' || rule === 'updateRule' || rule === 'deleteRule')) {
        errors[rule] = fieldError('validation_nil', 'Must be null: the records of a view cannot be written.');
      } else if (current?.system && v !== current[rule]) {
        errors[rule] = fieldError('validation_collection_system_rule_change', 'System collection API rule cannot be changed.');
      } else collection[rule] = v;
    }
    if (collection.type === 'auth') {
      const base: AuthOptions = current?.auth ?? defaultAuthOptions();
      const optionInput: Record<string, unknown> = {};
      for (const key of AUTH_OPTION_KEYS) if (key in input) optionInput[key] = input[key];
      collection.auth = mergeAuthOptions(base, optionInput, errors);
    }

    if (type === 'view') {
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
    collection.indexes = type === 'view' ? [] : this.buildIndexes(input, current, collection, errors);
    if (collection.auth?.passwordAuth.enabled && !errors.passwordAuth) {
      const error = identityFieldsError(collection);
      if (error) errors.passwordAuth = { identityFields: error };
    }
    if (Object.keys(errors).length === 0 && collection.type !== 'view') this.checkRules(collection, pending, errors);
    if (Object.keys(errors).length > 0) {
      throw Errors.validation(current ? 'Failed to update collection.' : 'Failed to create collection.', errors);
    }
    return collection;
  }

  /**
   * Runs a schema change in one transaction. Existing data that breaks a new
   * unique index is the caller's problem to fix: a 400, and nothing changed.
   */
  private async applying(message: string, fn: (tx: Executor) => Promise<void>): Promise<void> {
    try {
      await this.engine.transaction(fn);
    } catch (err) {
      if (this.engine.dialect.uniqueViolation(err)) {
        throw Errors.validation(message, {
          indexes: fieldError('validation_index_failure', 'Existing records break a unique index; fix them or change the index.'),
        });
      }
      throw err;
    }
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

  private buildFields(
    input: Record<string, unknown>,
    current: Collection | undefined,
    isAuth: boolean,
    system: boolean,
    errors: ErrorData,
  ): Field[] {
    let fields: Field[] = current ? structuredClone(current.fields) : [];
    if (input.fields !== undefined) {
      if (!Array.isArray(input.fields) || input.fields.length > 1000) {
        errors.fields = fieldError('validation_invalid_value', 'Must be a list of at most 1000 fields.');
        return fields;
      }
      const fieldErrors: ErrorData = {};
      const built: Field[] = [];
      input.fields.forEach((raw, i) => {
        const e: ErrorData = {};
        const f = buildField(raw, e);
        // keys of an auth record's write body (PocketBase's check, on auth collections only)
        if (f && isAuth && RESERVED_AUTH_FIELD_NAMES.has(f.name) && !e.name) {
          e.name = fieldError('validation_reserved_field_name', 'The field name is reserved and cannot be used.');
        }
        if (Object.keys(e).length > 0) fieldErrors[i] = e;
        else if (f) built.push(f);
      });
      if (Object.keys(fieldErrors).length > 0) {
        errors.fields = fieldErrors;
        return fields;
      }
      fields = built;
    }

    // the id field always leads; auth fields are enforced; created/updated are there unless named otherwise
    const byName = (n: string) => fields.find((f) => f.name === n);
    const required: Field[] = [idField()];
    if (isAuth) required.push(...authSystemFields());
    for (const sys of required) {
      const existing = byName(sys.name);
      if (!existing) fields.push(sys);
      else if (existing.type !== sys.type) {
        errors.fields = fieldError('validation_system_field_change', `The "${sys.name}" field must be of type ${sys.type}.`);
        return fields;
      } else {
        // system options win over what was submitted
        fields[fields.indexOf(existing)] = withTunable(existing, sys);
      }
    }
    if (!current) {
      for (const n of ['created', 'updated'] as const) if (!byName(n)) fields.push(autodate(n, false));
    }
    // id first, then the auth system fields, then the rest as given
    const leading = required.map((r) => fields.find((f) => f.name === r.name) as Field);
    fields = [...leading, ...fields.filter((f) => !leading.includes(f))];

    // names and ids unique; no primary key but id; system fields kept
    const names = new Set<string>();
    const ids = new Set<string>();
    for (const [i, f] of fields.entries()) {
      const lower = f.name.toLowerCase();
      if (names.has(lower))
        errors.fields = { [i]: { name: fieldError('validation_duplicated_field_name', `Duplicated field name "${f.name}".`) } };
      if (ids.has(f.id)) errors.fields = { [i]: { id: fieldError('validation_duplicated_field_id', `Duplicated field id "${f.id}".`) } };
      if (f.type === 'text' && f.primaryKey && f.name !== 'id') {
        errors.fields = { [i]: { primaryKey: fieldError('validation_invalid_value', 'Only the id field is the primary key.') } };
      }
      // a system collection may have one (PocketBase's `_otps` keeps its codes hashed in one)
      if (f.type === 'password' && !isAuth && !system) {
        errors.fields = { [i]: { type: fieldError('validation_invalid_value', 'Password fields belong to auth collections.') } };
      }
      names.add(lower);
      ids.add(f.id);
    }
    if (current) {
      for (const old of current.fields) {
        const i = fields.findIndex((f) => f.id === old.id);
        const now = fields[i];
        if (old.system && (!now || now.name !== old.name)) {
          errors.fields = fieldError('validation_system_field_change', `System field "${old.name}" cannot be deleted or renamed.`);
        }
        if (now && now.type !== old.type) {
          errors.fields = {
            [i]: { type: fieldError('validation_field_type_change', `The type of field "${old.name}" cannot be changed.`) },
          };
        }
        if (now?.type === 'relation' && old.type === 'relation' && now.collectionId !== old.collectionId) {
          const target = this.registry.find(now.collectionId);
          if (target?.id !== old.collectionId) {
            errors.fields = {
              [i]: {
                collectionId: fieldError(
                  'validation_field_relation_change',
                  'The related collection of a relation field cannot be changed.',
                ),
              },
            };
          }
        }
      }
    }
    if (fields.filter((f) => f.type === 'password').length > 1) {
      errors.fields = fieldError('validation_invalid_value', 'A collection has at most one password field.');
    }
    return fields;
  }

  private buildIndexes(input: Record<string, unknown>, current: Collection | undefined, c: Collection, errors: ErrorData): string[] {
    let raw: unknown[] = current ? [...current.indexes] : [];
    if (input.indexes !== undefined) {
      if (!Array.isArray(input.indexes) || input.indexes.length > 100) {
        errors.indexes = fieldError('validation_invalid_value', 'Must be a list of at most 100 index statements.');
        return [];
      }
      raw = input.indexes;
    } else if (current) {
      // follow field renames in existing indexes
      raw = raw.map((sql) => renameIndexColumns(sql as string, current, c));
    }
    const parsed: ParsedIndex[] = [];
    const indexErrors: ErrorData = {};
    raw.forEach((sql, i) => {
      const p = parseIndex(sql as string);
      if (typeof p === 'string') {
        indexErrors[i] = fieldError('validation_invalid_index_expression', p);
        return;
      }
      for (const col of [...p.columns.map((x) => x.name), ...(p.whereNotEmpty ? [p.whereNotEmpty] : [])]) {
        if (!c.fields.some((f) => f.name === col)) {
          indexErrors[i] = fieldError('validation_invalid_index_expression', `Unknown column "${col}".`);
          return;
        }
      }
      if (parsed.some((q) => q.name.toLowerCase() === p.name.toLowerCase())) {
        indexErrors[i] = fieldError('validation_duplicated_index_name', `Duplicated index name "${p.name}".`);
        return;
      }
      if (
        this.findIn([], p.name) ||
        p.name.toLowerCase() === c.name.toLowerCase() ||
        p.name.startsWith('_') ||
        /^(sqlite|pg)_/i.test(p.name)
      ) {
        indexErrors[i] = fieldError('validation_existing_index_name', `The index name "${p.name}" is taken or reserved.`);
        return;
      }
      // index names are global in a database
      const owner = this.registry
        .all()
        .find(
          (o) => o.id !== c.id && o.indexes.some((sql) => (parseIndex(sql) as ParsedIndex).name?.toLowerCase() === p.name.toLowerCase()),
        );
      if (owner) {
        indexErrors[i] = fieldError(
          'validation_existing_index_name',
          `The index name "${p.name}" is used by the "${owner.name}" collection.`,
        );
        return;
      }
      parsed.push(p);
    });
    if (c.type === 'auth') {
      const has = (col: string) => parsed.some((p) => p.unique && p.columns.length === 1 && p.columns[0]?.name === col);
      if (!has('tokenKey'))
        parsed.push({ name: `idx_tokenKey_${c.id}`, unique: true, columns: [{ name: 'tokenKey', desc: false, nocase: false }] });
      if (!has('email')) {
        parsed.push({
          name: `idx_email_${c.id}`,
          unique: true,
          columns: [{ name: 'email', desc: false, nocase: true }],
          whereNotEmpty: 'email',
        });
      }
    }
    if (Object.keys(indexErrors).length > 0) errors.indexes = indexErrors;
    return parsed.map((p) => formatIndex(p, c.name));
  }

  /** Compiles every rule against the collection so that a broken rule is refused when saved. */
  private checkRules(c: Collection, pending: Collection[], errors: ErrorData) {
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
          dialect: this.engine.dialect,
          params: new SqlParams(this.engine.dialect),
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
  private checkRelations(c: Collection, pending: Collection[], errors: ErrorData) {
    const fieldErrors: ErrorData = {};
    c.fields.forEach((f, i) => {
      if (f.type !== 'relation') return;
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

  // ------------------------------------------------------------- changes

  /** Creates a collection and its table. */
  create(input: unknown): Promise<Collection> {
    return this.serialize(async () => {
      const message = 'Failed to create collection.';
      const c = this.build(input, undefined);
      const errors: ErrorData = {};
      this.checkRelations(c, [], errors);
      if (Object.keys(errors).length > 0) throw Errors.validation(message, errors);
      await this.applying(message, (tx) =>
        // a new table changes no view
        c.type === 'view' ? this.withViews(tx, message, [...this.registry.all(), c], [c.id]) : this.createIn(tx, c),
      );
      await this.changed();
      return this.registry.find(c.id) as Collection;
    });
  }

  /**
   * Validates a new collection (`idOrName` undefined) or a change to one
   * exactly as {@link create} or {@link update} would, without applying it:
   * the dashboard's live rule check and change preview. Returns what would be saved.
   */
  async check(idOrName: string | undefined, input: unknown): Promise<Collection> {
    const current = idOrName === undefined ? undefined : this.registry.find(idOrName);
    if (idOrName !== undefined && !current) throw Errors.notFound();
    const message = current ? 'Failed to update collection.' : 'Failed to create collection.';
    const next = this.build(input, current);
    const errors: ErrorData = {};
    this.checkRelations(next, [], errors);
    if (Object.keys(errors).length > 0) throw Errors.validation(message, errors);
    if (next.type === 'view') {
      const after = [...this.registry.all().filter((o) => o.id !== next.id), next];
      next.fields = (await this.inferView(this.engine, message, next, after, true)).fields;
    }
    return next;
  }

  /** Updates a collection, migrating its table with its data. */
  update(idOrName: string, input: unknown): Promise<Collection> {
    return this.serialize(async () => {
      const current = this.registry.find(idOrName);
      if (!current) throw Errors.notFound();
      const message = 'Failed to update collection.';
      const next = this.build(input, current);
      const errors: ErrorData = {};
      this.checkRelations(next, [], errors);
      if (Object.keys(errors).length > 0) throw Errors.validation(message, errors);
      const after = this.registry.all().map((o) => (o.id === next.id ? next : o));
      await this.applying(message, (tx) =>
        next.type === 'view'
          ? this.withViews(tx, message, after, [next.id])
          : this.withViews(tx, message, after, [], () => this.migrateIn(tx, current, next)),
      );
      await this.changed();
      return this.registry.find(next.id) as Collection;
    });
  }

  /** Deletes a collection and its table, unless it is a system one or another collection relates to it. */
  delete(idOrName: string): Promise<void> {
    return this.serialize(async () => {
      const c = this.registry.find(idOrName);
      if (!c) throw Errors.notFound();
      this.assertDeletable(c, []);
      const after = this.registry.all().filter((o) => o.id !== c.id);
      await this.engine.transaction((tx) => this.withViews(tx, 'Failed to delete collection.', after, [], () => this.deleteIn(tx, c)));
      await this.changed();
    });
  }

  private assertDeletable(c: Collection, alsoDeleted: string[]) {
    if (c.system) throw Errors.badRequest('System collections cannot be deleted.');
    for (const other of this.registry.all()) {
      // a view that reads the collection is judged when it is created again (see withViews)
      if (other.id === c.id || alsoDeleted.includes(other.id) || other.type === 'view') continue;
      const ref = other.fields.find((f) => f.type === 'relation' && f.collectionId === c.id);
      if (ref) {
        throw Errors.badRequest(`The collection is referenced by the "${ref.name}" field of "${other.name}"; remove that field first.`);
      }
    }
  }

  /**
   * Replaces the schema with the submitted collections in one transaction:
   * matching ones (by id, else name) are updated, new ones created, and with
   * `deleteMissing` the others deleted.
   */
  importAll(input: unknown): Promise<void> {
    return this.serialize(async () => {
      if (!isObject(input) || !Array.isArray(input.collections) || input.collections.length === 0 || input.collections.length > 1000) {
        throw Errors.validation('Failed to import collections.', {
          collections: fieldError('validation_required', 'Must be a non-empty list of collections.'),
        });
      }
      if (input.deleteMissing !== undefined && typeof input.deleteMissing !== 'boolean') {
        throw Errors.validation('Failed to import collections.', {
          deleteMissing: fieldError('validation_invalid_value', 'Must be a boolean.'),
        });
      }
      const pending: Collection[] = [];
      const plan: { current?: Collection; next: Collection }[] = [];
      const errors: ErrorData = {};
      input.collections.forEach((raw, i) => {
        if (!isObject(raw)) {
          errors[i] = fieldError('validation_invalid_value', 'Must be an object.');
          return;
        }
        const current =
          (typeof raw.id === 'string' && this.registry.find(raw.id)) ||
          (typeof raw.name === 'string' && this.registry.find(raw.name)) ||
          undefined;
        try {
          const merged = current ? { ...raw, id: undefined, type: raw.type ?? current.type } : raw;
          if (current && Array.isArray(raw.fields) && !input.deleteMissing) merged.fields = keepUnlisted(current, raw.fields);
          const next = this.build(merged, current, pending);
          pending.push(next);
          plan.push(current ? { current, next } : { next });
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          errors[i] = err.data;
        }
      });
      for (const [i, step] of plan.entries()) {
        const e: ErrorData = {};
        this.checkRelations(step.next, pending, e);
        if (Object.keys(e).length > 0) errors[i] = e;
      }
      const removed = input.deleteMissing ? this.registry.all().filter((c) => !c.system && !pending.some((p) => p.id === c.id)) : [];
      for (const c of removed) {
        try {
          this.assertDeletable(
            c,
            removed.map((r) => r.id),
          );
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          errors[c.name] = fieldError('validation_collection_delete', err.message);
        }
      }
      if (Object.keys(errors).length > 0) {
        throw Errors.validation('Failed to import collections.', { collections: importFailure(errors, input.collections) });
      }
      const gone = new Set(removed.map((c) => c.id));
      const after = [
        ...this.registry.all().filter((c) => !gone.has(c.id) && !plan.some((step) => step.next.id === c.id)),
        ...plan.map((step) => step.next),
      ];
      const views = plan.filter((step) => step.next.type === 'view').map((step) => step.next.id);
      await this.applying('Failed to import collections.', (tx) =>
        this.withViews(tx, 'Failed to import collections.', after, views, async () => {
          for (const c of removed) await this.deleteIn(tx, c);
          for (const step of plan) {
            if (step.next.type === 'view') continue;
            if (step.current) await this.migrateIn(tx, step.current, step.next);
            else await this.createIn(tx, step.next);
          }
        }),
      );
      await this.changed();
    });
  }

  /** Inserts a built collection and creates its table, inside `tx`. Used by system migrations too. */
  async createIn(tx: Executor, c: Collection): Promise<void> {
    const d = this.engine.dialect;
    await this.insertRow(tx, c);
    await tx.run(d.createTable(c.name, c.fields.map(columnOf)));
    for (const sql of c.indexes) await tx.run(d.createIndex(indexSpec(parseIndex(sql) as ParsedIndex, c.name)));
  }

  /** The collection's row in `_collections`. */
  private async insertRow(tx: Executor, c: Collection): Promise<void> {
    const d = this.engine.dialect;
    await tx.run(`INSERT INTO ${COLLECTIONS_TABLE} (id, name, type, system, data, created, updated) VALUES ($1, $2, $3, $4, $5, $6, $7)`, [
      c.id,
      c.name,
      c.type,
      d.encode('bool', c.system),
      d.encode('json', c),
      c.created,
      c.updated,
    ]);
  }

  /** Writes a changed collection's row in `_collections`. */
  private async updateRow(tx: Executor, c: Collection): Promise<void> {
    await tx.run(`UPDATE ${COLLECTIONS_TABLE} SET name = $1, data = $2, updated = $3 WHERE id = $4`, [
      c.name,
      this.engine.dialect.encode('json', c),
      c.updated,
      c.id,
    ]);
  }

  /**
   * A view's fields inferred from its query against the schema `after` a
   * change; the rules of a view being saved (`saving`) are checked on them.
   * A query that no longer works is the saved view's field error, or a 400
   * that names the view another change would break.
   */
  private async inferView(db: Executor, message: string, v: Collection, after: readonly Collection[], saving: boolean) {
    const d = this.engine.dialect;
    const lookup = (table: string) => after.find((c) => d.storedName(c.name).toLowerCase() === table.toLowerCase());
    let inferred: Awaited<ReturnType<typeof inferViewFields>>;
    try {
      inferred = await inferViewFields(db, d, v.viewQuery ?? '', lookup, v.fields);
    } catch (err) {
      if (!(err instanceof ViewQueryError)) throw err;
      if (saving)
        throw Errors.validation(message, { viewQuery: fieldError('validation_invalid_view_query', `Invalid query - ${err.message}`) });
      const reason = err.message.replace(/\.$/, '');
      throw Errors.badRequest(`${message} The view collection "${v.name}" would no longer work (${reason}): change its query first.`);
    }
    if (saving) {
      const errors: ErrorData = {};
      this.checkRules({ ...v, fields: inferred.fields }, [...after], errors);
      if (Object.keys(errors).length > 0) throw Errors.validation(message, errors);
    }
    return inferred;
  }

  /**
   * Runs a schema change (`change`) with the database's views around it:
   * each is dropped first (a view stands in the way of dropping, renaming or
   * converting what it reads), and once the change is made every view
   * collection of `after` is created again from its query, its fields
   * inferred anew and its row written where they changed (or it is one of
   * `saving`, the views this change saves). A view that no longer works
   * fails the whole change.
   */
  private async withViews(
    tx: Executor,
    message: string,
    after: readonly Collection[],
    saving: readonly string[],
    change?: () => Promise<void>,
  ): Promise<void> {
    const d = this.engine.dialect;
    const before = this.registry.all().filter((c) => c.type === 'view');
    await dropViews(tx, d, before);
    if (change) await change();
    for (const v of viewOrder(after.filter((c) => c.type === 'view'))) {
      const isSaved = saving.includes(v.id);
      const inferred = await this.inferView(tx, message, v, after, isSaved);
      const next: Collection = { ...v, fields: inferred.fields };
      await createView(tx, d, next, inferred.columns);
      const old = before.find((c) => c.id === v.id);
      if (isSaved || !old || JSON.stringify(old.fields) !== JSON.stringify(next.fields)) {
        await tx.run(`DELETE FROM ${COLLECTIONS_TABLE} WHERE id = $1`, [next.id]);
        await this.insertRow(tx, next);
      }
    }
  }

  /** Drops the database views of every view collection, inside `tx` (before what they read is dropped). */
  async dropViewsIn(tx: Executor): Promise<void> {
    await dropViews(
      tx,
      this.engine.dialect,
      this.registry.all().filter((c) => c.type === 'view'),
    );
  }

  /**
   * Creates the view collections of `all` (the whole schema) and their
   * database views, inside `tx`, once what they read exists: how a copied
   * schema's views are made (`mainspring migrate-data`).
   */
  createViewsIn(tx: Executor, all: readonly Collection[]): Promise<void> {
    return this.withViews(tx, 'Failed to create the view collections.', all, []);
  }

  private async deleteIn(tx: Executor, c: Collection): Promise<void> {
    await tx.run(`DELETE FROM ${COLLECTIONS_TABLE} WHERE id = $1`, [c.id]);
    if (c.type === 'view') return; // its view went before the change (withViews)
    await tx.run(this.engine.dialect.dropTable(c.name));
    if (c.type === 'auth') await this.deleteAuthRefs(tx, c);
    const deleted = this.onDeleted;
    if (deleted) tx.afterCommit(() => deleted(c));
  }

  /**
   * An auth collection's rows in the system collections that point at its
   * records (MFA sessions, OTPs, external auths, auth origins) go with it,
   * in the same transaction, as PocketBase deletes them.
   */
  private async deleteAuthRefs(tx: Executor, c: Collection): Promise<void> {
    const d = this.engine.dialect;
    for (const name of AUTH_REF_COLLECTIONS) {
      const refs = this.registry.find(name);
      if (refs?.system) await tx.run(`DELETE FROM ${d.ident(refs.name)} WHERE ${d.ident('collectionRef')} = $1`, [c.id]);
    }
  }

  /** Before a file field's column goes: the files it holds are deleted once the change commits. */
  private async releaseFiles(tx: Executor, table: Collection, f: Field): Promise<void> {
    const dropped = this.onFilesDropped;
    if (!dropped) return;
    const d = this.engine.dialect;
    const rows = await tx.all<Row>(`SELECT ${d.ident('id')} AS id, ${d.ident(f.name)} AS v FROM ${d.ident(table.name)}`);
    const kind = kindOf(f).column(f);
    const files = rows
      .map((r) => {
        const v = d.decode(kind, r.v);
        return {
          recordId: String(r.id),
          names: (Array.isArray(v) ? v : [v]).filter((n): n is string => typeof n === 'string' && n !== ''),
        };
      })
      .filter((x) => x.names.length > 0);
    if (files.length > 0) tx.afterCommit(() => dropped(table.id, files));
  }

  /** Moves a table from `from` to `to`: renames, column changes and index changes, keeping data. */
  private async migrateIn(tx: Executor, from: Collection, to: Collection): Promise<void> {
    const d = this.engine.dialect;
    // an index survives when, after the renames, it is still wanted as it is;
    // any other goes first (SQLite cannot drop a column an index uses)
    const wanted = new Set(to.indexes);
    const kept = new Set<string>();
    for (const sql of from.indexes) {
      const renamed = renameIndexColumns(sql, from, to);
      if (wanted.has(renamed)) kept.add(renamed);
      else await tx.run(d.dropIndex((parseIndex(sql) as ParsedIndex).name));
    }
    if (from.name !== to.name) {
      // SQLite compares table names without case: a case-only rename goes through a temporary name
      if (from.name.toLowerCase() === to.name.toLowerCase()) {
        await tx.run(d.renameTable(from.name, `${to.name}__ms_renaming`));
        await tx.run(d.renameTable(`${to.name}__ms_renaming`, to.name));
      } else {
        await tx.run(d.renameTable(from.name, to.name));
      }
    }
    const renamed: { from: string; to: string; tmp: string }[] = [];
    for (const f of from.fields) {
      const g = to.fields.find((x) => x.id === f.id);
      if (!g) {
        if (f.type === 'file') await this.releaseFiles(tx, to, f);
        await tx.run(d.dropColumn(to.name, f.name));
      } else if (g.name !== f.name) renamed.push({ from: f.name, to: g.name, tmp: `__ms_renaming_${renamed.length}` });
    }
    // through temporary names, so that fields can swap names
    for (const r of renamed) await tx.run(d.renameColumn(to.name, r.from, r.tmp));
    for (const r of renamed) await tx.run(d.renameColumn(to.name, r.tmp, r.to));
    for (const g of to.fields) {
      const f = from.fields.find((x) => x.id === g.id);
      if (!f) {
        await tx.run(d.addColumn(to.name, columnOf(g)));
      } else {
        const a = kindOf(f).column(f);
        const b = kindOf(g).column(g);
        if (a !== b && (b === 'array' || b === 'text')) for (const sql of d.convertColumn(to.name, g.name, b)) await tx.run(sql);
      }
    }
    for (const sql of to.indexes) {
      if (!kept.has(sql)) await tx.run(d.createIndex(indexSpec(parseIndex(sql) as ParsedIndex, to.name)));
    }
    await this.updateRow(tx, to);
  }

  /**
   * PocketBase's scaffolds (`GET /api/collections/meta/scaffolds`): a new
   * collection of each type with every default a create gives it, id, name
   * and dates empty; index names end in a random suffix, as PocketBase's.
   * A view's scaffold has an empty query (a view's fields come from it).
   */
  scaffolds(): Record<'auth' | 'base' | 'view', Record<string, unknown>> {
    const suffix = randomString(10, 'abcdefghijklmnopqrstuvwxyz0123456789');
    const make = (type: 'base' | 'auth') => {
      // a name no user collection can take (system names only), so that none is in the way
      const c = this.build({ id: suffix, name: `_scaffold${suffix}`, type }, undefined, [], true);
      const indexes = c.indexes.map((sql) => formatIndex(parseIndex(sql) as ParsedIndex, ''));
      return this.toJSON({ ...c, id: '', name: '', created: '', updated: '', indexes });
    };
    const view = {
      id: '',
      name: '',
      type: 'view',
      system: false,
      fields: [],
      indexes: [],
      listRule: null,
      viewRule: null,
      createRule: null,
      updateRule: null,
      deleteRule: null,
      viewQuery: '',
      created: '',
      updated: '',
    };
    return { auth: make('auth'), base: make('base'), view };
  }

  /** A new collection object with the system defaults, for first start. */
  scaffold(input: Record<string, unknown>, system: boolean): Collection {
    const c = this.build(input, undefined, [], system);
    c.system = system;
    return c;
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
    if ((f.type !== 'text' && f.type !== 'email') || f.hidden) {
      return fieldError('validation_invalid_identity_field', `Identity field "${name}" must be a visible text or email field.`, {
        fieldName: name,
      });
    }
  }
  return null;
}

/** The column that stores a field. */
export function columnOf(f: Field): ColumnSpec {
  return f.type === 'text' && f.primaryKey ? { name: f.name, kind: 'text', primaryKey: true } : { name: f.name, kind: kindOf(f).column(f) };
}

/**
 * PocketBase's one field error for a failed import
 * (`validation_collections_import_failure`), its message naming each
 * collection that failed (by position or, for a deletion, by name) with its
 * errors, so a client reading `data.collections.code` finds it.
 */
function importFailure(errors: ErrorData, submitted: unknown[]): FieldError {
  const lines = Object.entries(errors).map(([key, errs]) => {
    const raw = /^\d+$/.test(key) ? submitted[Number(key)] : undefined;
    const name = isObject(raw) && typeof raw.name === 'string' ? raw.name : key;
    return `Data validations failed for collection ${JSON.stringify(name.slice(0, 100))}: ${JSON.stringify(errs)}`;
  });
  return fieldError('validation_collections_import_failure', lines.join('\n').slice(0, 5000));
}

/**
 * An imported field list over an existing collection, PocketBase's way when
 * `deleteMissing` is off: fields not listed stay, and a listed field with the
 * name and type of an existing one keeps that field's id (and so its data).
 */
function keepUnlisted(current: Collection, submitted: unknown[]): unknown[] {
  const out = submitted.map((raw) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
    const f = raw as Record<string, unknown>;
    if (f.id) return f;
    const same = current.fields.find((x) => x.name === f.name && x.type === f.type);
    return same ? { ...f, id: same.id } : f;
  });
  const listed = (x: Field) =>
    out.some(
      (raw) =>
        typeof raw === 'object' && raw !== null && ((raw as { id?: unknown }).id === x.id || (raw as { name?: unknown }).name === x.name),
    );
  return [...out, ...current.fields.filter((x) => !listed(x))];
}

/** Options a user may tune on system fields, as in PocketBase; the rest are fixed. */
const TUNABLE: Record<string, string[]> = {
  password: ['presentable', 'min', 'max', 'pattern', 'cost'],
  email: ['presentable', 'onlyDomains', 'exceptDomains'],
  emailVisibility: ['presentable'],
  verified: ['presentable'],
};

/** `sys` with the tunable options taken from what the user submitted. */
function withTunable(submitted: Field, sys: Field): Field {
  const out: Record<string, unknown> = { ...sys };
  for (const key of TUNABLE[sys.name] ?? []) {
    if (key in submitted) out[key] = (submitted as unknown as Record<string, unknown>)[key];
  }
  return out as unknown as Field;
}

/** An index statement with its columns renamed after field renames between two versions. */
function renameIndexColumns(sql: string, from: Collection, to: Collection): string {
  const p = parseIndex(sql);
  if (typeof p === 'string') return sql;
  const rename = (name: string) => {
    const f = from.fields.find((x) => x.name === name);
    const g = f && to.fields.find((x) => x.id === f.id);
    return g ? g.name : name;
  };
  const next: ParsedIndex = { ...p, columns: p.columns.map((c) => ({ ...c, name: rename(c.name) })) };
  if (p.whereNotEmpty) next.whereNotEmpty = rename(p.whereNotEmpty);
  return formatIndex(next, to.name);
}

/** The columns of `_collections` a superuser may filter and sort by. */
const LISTABLE: Record<string, 'text' | 'bool' | 'date'> = {
  id: 'text',
  name: 'text',
  type: 'text',
  system: 'bool',
  created: 'date',
  updated: 'date',
};

/** Lists collections with PocketBase's filter, sort and paging parameters. */
export async function listCollections(
  engine: Engine,
  service: CollectionService,
  q: { filter?: string; sort?: string; page?: string; perPage?: string; skipTotal?: string },
): Promise<{ page: number; perPage: number; totalItems: number; totalPages: number; items: unknown[] }> {
  const d = engine.dialect;
  const params = new SqlParams(d);
  const where: string[] = [];
  const resolver = {
    resolve(name: string) {
      const type = LISTABLE[name];
      if (!type) throw new FilterError(`unknown field "${name}"`);
      return { kind: 'sql' as const, sql: d.ident(name), type };
    },
  };
  let order = 'rowid ASC';
  try {
    if (q.filter) where.push(compileFilter(parseFilter(q.filter), resolver, d, params));
    if (q.sort) {
      order = parseSort(q.sort)
        .map((k) => {
          // PocketBase's search keys beside the fields: random order, and the order of creation
          if (k.name === '@random') return d.random();
          if (k.name === '@rowid') return `rowid ${k.desc ? 'DESC' : 'ASC'}`;
          if (!LISTABLE[k.name]) throw new FilterError(`cannot sort by "${k.name}"`);
          return `${d.ident(k.name)} ${k.desc ? 'DESC' : 'ASC'}`;
        })
        .concat(order)
        .join(', ');
    }
  } catch (err) {
    if (err instanceof FilterError) throw Errors.invalidFilter(err.message);
    throw err;
  }
  const page = await readPage(
    engine,
    { from: COLLECTIONS_TABLE, select: 'id', where, order: [order], params, light: true, guarded: false, arrays: false },
    q,
    { defaultPerPage: 30, maxPerPage: 1000 },
  );
  const items = (page.items as { id: string }[])
    .map((r) => service.registry.find(r.id))
    .filter((c): c is Collection => c !== undefined)
    .map((c) => service.toJSON(c));
  return { ...page, items };
}
