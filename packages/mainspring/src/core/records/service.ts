import { type Expr, FilterError, parseFilterCached, parseSort } from '../../query/index.js';
import { type Engine, type Executor, readingExecutor, type SqlValue } from '../../storage/engine.js';
import { hashPassword, verifyPassword } from '../auth/passwords.js';
import type { ValueSource } from '../collections/fields.js';
import { parseIndex } from '../collections/indexes.js';
import { type Collection, isMultiple, type RelationField } from '../collections/model.js';
import type { CollectionRegistry } from '../collections/registry.js';
import { AUTH_ORIGINS, AUTH_REF_COLLECTIONS, checkAuthRefs, MFAS, OTPS } from '../collections/system.js';
import { nowString } from '../dates.js';
import { ApiError, type ErrorData, Errors, fieldError } from '../errors.js';
import type { EventBus, RecordEvent } from '../events.js';
import type { RecordEvent as RecordHookEvent } from '../hooks/events.js';
import type { Hook } from '../hooks/hook.js';
import { withParams } from '../hooks/params.js';
import type { Hooks } from '../hooks/registry.js';
import { type FindOptions, inActiveTransaction, TxRecords } from '../hooks/transaction.js';
import { newRecordId, randomString } from '../ids.js';
import { isSuperuser, type RecordData, type RequestInfo, SUPERUSERS, SYSTEM_REQUEST } from '../rules/request-info.js';
import { RecordResolver } from '../rules/resolver.js';
import { type PageLimits, type PageSource, pageOf, readPage } from '../search/provider.js';
import { parseClientFilter, RecordAccess } from './access.js';
import { type ExpandTree, parseExpand, serializeWithExpand } from './expand.js';
import type { FieldUpload, RecordFiles } from './files.js';
import { applyInput, checkHookValues, type PreparedInput, type WriteAccess } from './input.js';
import { checkQueryCost, DEFAULT_QUERY_LIMITS, type QueryLimits, readsByIndex } from './limits.js';
import { checkFields, type FieldsPick, parseFields, pickFields } from './output.js';
import { decodeRecords, encodeValue, RECORD_ALIAS, readRecords, selectList, writeStatements } from './rows.js';

/** PocketBase's paging of records: 30 per page by default, at most 1000. */
const LIST_LIMITS: PageLimits = { defaultPerPage: 30, maxPerPage: 1000 };
/** The most records server code reads in one query. */
const MAX_ANSWER = 10_000;

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

/** A page of records, PocketBase's list shape. */
export interface ListResult {
  page: number;
  perPage: number;
  totalItems: number;
  totalPages: number;
  items: unknown[];
}

/** PocketBase's error for relation ids that name no record. */
const missingRelations = () => fieldError('validation_missing_rel_records', 'Failed to find all relation records with the provided ids.');

/** A rule to check for a request, with what the rule sees as `@request.body`. */
interface RuleCheck {
  info: RequestInfo | null;
  body: Record<string, unknown>;
  rule: string;
}

/** A write's submitted data and where it came from. */
export interface WriteInput {
  data: Record<string, unknown>;
  source: ValueSource;
}

const TOKEN_KEY_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/**
 * An auth record whose password or email changes gets a new tokenKey (unless
 * the change sets one itself), so every token issued before stops working.
 */
function rotateTokenKeyOnChange(c: Collection, before: RecordData, data: RecordData): void {
  if (c.type !== 'auth' || data.tokenKey !== before.tokenKey) return;
  if (data.password !== before.password || data.email !== before.email) data.tokenKey = newTokenKey();
}

/** Refuses a write to a view collection, whose records are its query's rows (PocketBase's answer). */
function writable(c: Collection): void {
  if (c.type === 'view') throw Errors.badRequest('Unsupported collection type.');
}

/**
 * A superuser is always verified (PocketBase sets it on every save): set just
 * before the row is written, so neither input nor a hook can store it false.
 */
function verifySuperuser(c: Collection, data: RecordData): void {
  if (c.name === SUPERUSERS) data.verified = true;
}

/**
 * Whether records of `c` hold a password (its `password` field, stored as a
 * bcrypt hash): every auth collection, and the system `_otps`.
 */
function hasPassword(c: Collection): boolean {
  return c.type === 'auth' || c.fields.some((f) => f.type === 'password');
}

/** A fresh `tokenKey`: storing one revokes every token signed with the old. */
export function newTokenKey(): string {
  return randomString(50, TOKEN_KEY_ALPHABET);
}

/**
 * Record CRUD with PocketBase's semantics: rules, validation, relations,
 * expand and field selection. Every method may run inside a caller's
 * transaction (`db`), which is how batch makes several writes atomic.
 */
export class RecordService {
  readonly access: RecordAccess;
  /** Reads that may be long (expands, rule checks with subqueries), through {@link Engine.read}. */
  private readonly reads: Executor;

  constructor(
    private readonly engine: Engine,
    private readonly registry: CollectionRegistry,
    private readonly events: EventBus,
    private readonly hooks: Hooks,
    /** Puts uploads in place and deletes files records let go. */
    private readonly files: RecordFiles,
    /** The limits on a client's filter and sort over a collection (the settings' queryLimits). */
    private readonly limits: (c: Collection) => QueryLimits = () => DEFAULT_QUERY_LIMITS,
  ) {
    this.access = new RecordAccess(engine, registry);
    this.reads = readingExecutor(engine);
  }

  /**
   * Runs `write` as the action of a record hook (inside the transaction), or
   * directly when no handler listens to this collection.
   */
  private async withHook(
    hook: Hook<RecordHookEvent>,
    tx: Executor,
    c: Collection,
    record: RecordData,
    original: RecordData | null,
    info: RequestInfo | null,
    write: (record: RecordData) => Promise<void>,
  ): Promise<RecordData> {
    const tags = [c.id, c.name];
    if (!hook.has(tags)) {
      await write(record);
      return record;
    }
    let written = record;
    // a deep copy: on PostgreSQL the transaction may run again, and must start from the same values
    // (a hook may change a list or a point in place), and the changes are judged against the original
    const event = {
      collection: c,
      record: structuredClone(record),
      original,
      requestInfo: info?.system ? null : info,
      tx: new TxRecords(this, tx),
    };
    // the hook's own ms.records calls join this transaction
    await inActiveTransaction(tx, () =>
      hook.trigger(
        event,
        async (e) => {
          const checked = checkHookValues(c, record, { ...e.record, id: e.record.id ?? record.id } as RecordData, original === null);
          if (Object.keys(checked.errors).length > 0) {
            throw original === null ? Errors.createFailed(checked.errors) : Errors.updateFailed(checked.errors);
          }
          written = checked.data;
          await write(written);
        },
        tags,
      ),
    );
    return written;
  }

  /** Runs `fn` and reports its outcome to the after-success or after-error hook. */
  private async reported<T extends { record: RecordData; original: RecordData | null }>(
    success: 'recordAfterCreateSuccess' | 'recordAfterUpdateSuccess' | 'recordAfterDeleteSuccess',
    error: 'recordAfterCreateError' | 'recordAfterUpdateError' | 'recordAfterDeleteError',
    c: Collection,
    attempt: RecordData,
    db: Executor | undefined,
    fn: (tx: Executor) => Promise<T>,
  ): Promise<T> {
    const tags = [c.id, c.name];
    const listening = this.hooks[success].has(tags) || this.hooks[error].has(tags);
    if (!listening) return this.inTransaction(db, fn);
    try {
      return await this.inTransaction(db, async (tx) => {
        const out = await fn(tx);
        // on PostgreSQL a body may run again; only the attempt that commits reports
        tx.afterCommit(() => this.hooks.runAfter(this.hooks[success], { collection: c, record: out.record, original: out.original }, tags));
        return out;
      });
    } catch (err) {
      this.hooks.runAfter(this.hooks[error], { collection: c, record: attempt, original: null, error: err }, tags);
      throw err;
    }
  }

  /** Publishes a change once the transaction that made it commits. */
  private publish(tx: Executor, action: RecordEvent['action'], c: Collection, record: RecordData): void {
    tx.afterCommit(() => this.events.emit({ type: 'record', action, collectionId: c.id, record }));
  }

  /** The collection, or PocketBase's 404 "Missing collection context.". */
  collection(idOrName: string): Collection {
    const c = this.registry.find(idOrName);
    if (!c) throw Errors.collectionNotFound();
    return c;
  }

  private shape(c: Collection, q: ShapeQuery, info: RequestInfo | null): { expand: ExpandTree | null; fields: FieldsPick | null } {
    const expand = q.expand ? parseExpand(q.expand) : null;
    const fields = q.fields ? parseFields(q.fields) : null;
    if (fields) checkFields(fields, c, info);
    return { expand, fields };
  }

  private async output(
    db: Executor,
    c: Collection,
    records: RecordData[],
    q: { expand: ExpandTree | null; fields: FieldsPick | null },
    info: RequestInfo | null,
  ) {
    const out = await serializeWithExpand(this.access, this.registry, db, c, records, q.expand, info);
    return q.fields ? out.map((r) => pickFields(r, q.fields as FieldsPick)) : out;
  }

  // ------------------------------------------------------------------ read

  /** `GET /records`: a page of what the list rule and the filter admit. */
  async list(c: Collection, q: ListQuery, info: RequestInfo | null): Promise<ListResult> {
    const superuser = isSuperuser(info);
    if (c.listRule === null && !superuser) throw Errors.superusersOnly();
    if (!superuser) {
      for (const v of [q.filter, q.sort]) {
        for (const special of ['@collection.', '@request.']) if (v?.includes(special)) throw Errors.superuserFilterOnly(special);
      }
    }
    // paging is judged first, as it always was (a bad page is its own 400 whatever the filter)
    pageOf(q, LIST_LIMITS);
    const shape = this.shape(c, q, info);
    const d = this.engine.dialect;
    const scope = this.access.scope(info);

    const where: string[] = [];
    const exprs: (Expr | null)[] = [];
    try {
      if (!superuser && c.listRule) {
        where.push(this.access.rule(scope, c, c.listRule));
        exprs.push(parseFilterCached(c.listRule));
      }
      if (q.filter !== undefined && q.filter.trim() !== '') {
        const filter = parseClientFilter(q.filter);
        where.push(this.access.filter(scope, c, filter, superuser, this.limits(c)));
        exprs.push(filter);
      }
    } catch (err) {
      if (err instanceof FilterError) throw Errors.invalidFilter(err.message);
      throw err;
    }
    const order = this.order(scope, c, q.sort, superuser);

    // Subqueries (relations, @collection, every-value checks) can make a statement's work grow with the
    // square of a table: it is guarded by the engine's deadline, checked once per row. A plain scan is
    // linear and does without it (it would cost a function call per row). A view runs its own query for
    // every read: it is guarded too. A list whose every condition and sort key an index serves walks at
    // most one index: it is read where reads are cheapest (light).
    const guarded = c.type === 'view' || scope.params.aliasCount > 0;
    const light = !guarded && readsByIndex(c, exprs, q.sort ? parseSort(q.sort).map((k) => k.name) : []);
    const source: PageSource = {
      from: `${d.ident(c.name)} ${RECORD_ALIAS}`,
      select: selectList(c, d),
      where,
      order,
      params: scope.params,
      light,
      guarded,
      arrays: true,
    };
    const page = await readPage(this.engine, source, q, LIST_LIMITS);
    const items = await this.output(this.reads, c, decodeRecords(c, page.items as unknown[][], d), shape, info);
    return { ...page, items };
  }

  /** The ORDER BY terms of `sort`, then insertion order (so paging is stable). */
  private order(scope: ReturnType<RecordAccess['scope']>, c: Collection, sort: string | undefined, superuser: boolean): string[] {
    const d = this.engine.dialect;
    let order: string[] = [];
    let keys: ReturnType<typeof parseSort> = [];
    try {
      if (sort) {
        const sorter = new RecordResolver(scope, c, RECORD_ALIAS, superuser);
        keys = parseSort(sort);
        order = keys.map((k) => d.orderBy(sorter.resolveSort(k.name), k.desc));
        if (!superuser) checkQueryCost(c, sorter.cost, null, this.limits(c));
      }
    } catch (err) {
      if (err instanceof FilterError) throw Errors.invalidQuery('sort', err.message);
      throw err;
    }
    // a view has no rowid: its id, which its query must give, keeps paging stable
    order.push(d.orderBy(`${RECORD_ALIAS}.${c.type === 'view' ? d.ident('id') : 'rowid'}`, keys[keys.length - 1]?.desc ?? false));
    return order;
  }

  /** A filter of server code (`{:name}` placeholders bound from `params`) as a condition. */
  private systemWhere(scope: ReturnType<RecordAccess['scope']>, c: Collection, filter?: string, params?: Record<string, unknown>): string {
    if (filter === undefined || filter.trim() === '') return '';
    try {
      return ` WHERE ${this.access.filter(scope, c, withParams(filter, params), true)}`;
    } catch (err) {
      if (err instanceof FilterError) throw Errors.invalidFilter(err.message);
      throw err;
    }
  }

  /** Server code's read of one record (no rules), as a superuser sees it. */
  async systemFind(db: Executor | undefined, c: Collection, id: string): Promise<Record<string, unknown> | null> {
    const ex = db ?? this.engine;
    const record = await this.find(ex, c, id, null, null);
    if (!record) return null;
    return (await this.output(ex, c, [record], { expand: null, fields: null }, SYSTEM_REQUEST))[0] as Record<string, unknown>;
  }

  /** Server code's query (no rules): a filter with bound `{:name}` placeholders, a sort, a window. */
  async systemQuery(db: Executor | undefined, c: Collection, options: FindOptions): Promise<Record<string, unknown>[]> {
    const ex = db ?? this.engine;
    const d = this.engine.dialect;
    const scope = this.access.scope(SYSTEM_REQUEST);
    const where = this.systemWhere(scope, c, options.filter, options.params);
    const order = this.order(scope, c, options.sort, true);
    const limit = scope.params.add(Math.max(0, Math.min(Math.trunc(Number(options.limit ?? 100)) || 0, MAX_ANSWER)));
    const offset = scope.params.add(Math.max(0, Math.trunc(Number(options.offset ?? 0)) || 0));
    const records = await readRecords(
      ex,
      c,
      d,
      `SELECT ${selectList(c, d)} FROM ${d.ident(c.name)} ${RECORD_ALIAS}${where} ORDER BY ${order.join(', ')} LIMIT ${limit} OFFSET ${offset}`,
      scope.params.values,
    );
    return (await this.output(ex, c, records, { expand: null, fields: null }, SYSTEM_REQUEST)) as Record<string, unknown>[];
  }

  /** How many records a server-code filter admits. */
  async systemCount(db: Executor | undefined, c: Collection, filter?: string, params?: Record<string, unknown>): Promise<number> {
    const d = this.engine.dialect;
    const scope = this.access.scope(SYSTEM_REQUEST);
    const where = this.systemWhere(scope, c, filter, params);
    const row = await (db ?? this.engine).get<{ n: number | string }>(
      `SELECT COUNT(*) AS n FROM ${d.ident(c.name)} ${RECORD_ALIAS}${where}`,
      scope.params.values,
    );
    return Number(row?.n ?? 0);
  }

  /** `GET /records/:id`: the record, if the view rule admits it (404 otherwise). */
  async view(
    c: Collection,
    id: string,
    q: ShapeQuery,
    info: RequestInfo | null,
    db: Executor = this.engine,
  ): Promise<Record<string, unknown>> {
    const superuser = isSuperuser(info);
    if (c.viewRule === null && !superuser) throw Errors.superusersOnly();
    const shape = this.shape(c, q, info);
    const record = await this.find(db, c, id, info, superuser ? null : c.viewRule);
    if (!record) throw Errors.notFound();
    // expanding reads other collections through their rules: away from the event loop
    const reader = shape.expand && db === this.engine ? this.reads : db;
    return (await this.output(reader, c, [record], shape, info))[0] as Record<string, unknown>;
  }

  private async find(db: Executor, c: Collection, id: string, info: RequestInfo | null, rule: string | null) {
    if (typeof id !== 'string' || id.length === 0 || id.length > 100) return undefined;
    try {
      return await this.access.findOne(db, c, id, info, rule);
    } catch (err) {
      // a rule that cannot compile (a field since removed) denies
      if (err instanceof FilterError) return undefined;
      throw err;
    }
  }

  /**
   * Sets field values directly, as the system: no rules and no input
   * conversion (the values are already what is stored: a password hash, a
   * new tokenKey). For flows such as verification, password reset and
   * logout-everywhere. `updated` autodates move and the change is published.
   */
  async systemUpdate(c: Collection, id: string, values: Record<string, unknown>, db?: Executor): Promise<RecordData> {
    writable(c);
    const out = await this.reported('recordAfterUpdateSuccess', 'recordAfterUpdateError', c, { id }, db, async (tx) => {
      const current = await this.find(tx, c, id, null, null);
      if (!current) throw Errors.notFound();
      const data: RecordData = { ...current, ...values, id: current.id };
      rotateTokenKeyOnChange(c, current, data);
      const now = nowString();
      for (const f of c.fields) if (f.type === 'autodate' && f.onUpdate) data[f.name] = now;
      const record = await this.withHook(this.hooks.recordUpdate, tx, c, data, current, SYSTEM_REQUEST, (record) =>
        this.writeUpdate(tx, c, record, current),
      );
      return { record, original: current };
    });
    return out.record;
  }

  /** The stored record without rules, for internal use. */
  findById(c: Collection, id: string, db: Executor = this.engine): Promise<RecordData | undefined> {
    return this.find(db, c, id, null, null);
  }

  // ----------------------------------------------------------------- write

  private async writeAccess(db: Executor, c: Collection, current: RecordData | null, info: RequestInfo | null): Promise<WriteAccess> {
    const superuser = isSuperuser(info);
    if (superuser) return { superuser, manage: true };
    const rule = c.auth?.manageRule;
    if (!current || !info?.auth || !rule) return { superuser, manage: false };
    try {
      return { superuser, manage: await this.access.admits(db, c, current.id, info, rule) };
    } catch (err) {
      if (err instanceof FilterError) return { superuser, manage: false };
      throw err;
    }
  }

  /** Hashes a new password (off the event loop) and checks the old one. */
  private async preparePasswords(
    c: Collection,
    prepared: PreparedInput,
    current: RecordData | null,
    access: WriteAccess,
  ): Promise<string | undefined> {
    if (!hasPassword(c) || prepared.newPassword === undefined) return undefined;
    if (c.type === 'auth' && current && !access.manage) {
      const ok = await verifyPassword(prepared.oldPassword ?? '', String(current.password ?? ''));
      if (!ok) {
        throw Errors.validation('Failed to update record.', {
          oldPassword: fieldError('validation_invalid_old_password', 'Missing or invalid old password.'),
        });
      }
    }
    const field = c.fields.find((f) => f.type === 'password');
    return hashPassword(prepared.newPassword, field?.type === 'password' ? field.cost : 0);
  }

  /**
   * The relation fields of `data` to check (ids changed from `before`), as
   * scalar subqueries counting the ids found, with the count each must
   * reach; `param` binds a value. A field whose target collection is gone
   * gets its error at once.
   */
  private relationCounts(
    c: Collection,
    data: RecordData,
    errors: ErrorData,
    before: RecordData | undefined,
    param: (value: SqlValue) => string,
  ): { fields: string[]; counts: string[]; expected: number[] } {
    const d = this.engine.dialect;
    const out = { fields: [] as string[], counts: [] as string[], expected: [] as number[] };
    for (const f of c.fields) {
      if (f.type !== 'relation' || errors[f.name]) continue;
      // a relation left as it was still holds: deleting its target cascades, unlinks or is refused
      if (before && JSON.stringify(before[f.name]) === JSON.stringify(data[f.name])) continue;
      const ids = [...new Set(Array.isArray(data[f.name]) ? (data[f.name] as string[]) : data[f.name] ? [data[f.name] as string] : [])];
      if (ids.length === 0) continue;
      const target = this.registry.find(f.collectionId);
      if (!target) {
        errors[f.name] = missingRelations();
        continue;
      }
      out.fields.push(f.name);
      out.counts.push(`(SELECT COUNT(*) FROM ${d.ident(target.name)} WHERE ${d.ident('id')} IN (${ids.map(param).join(', ')}))`);
      out.expected.push(ids.length);
    }
    return out;
  }

  /**
   * Checks every relation id exists; adds `validation_missing_rel_records`
   * errors. Every field is counted in one statement (a scalar subquery
   * each), so a record with several relations costs one round trip.
   */
  private async checkRelations(db: Executor, c: Collection, data: RecordData, errors: ErrorData, before?: RecordData): Promise<void> {
    const params: SqlValue[] = [];
    const relations = this.relationCounts(c, data, errors, before, (v) => this.engine.dialect.param(params.push(v)));
    if (relations.counts.length === 0) return;
    const [found] = await db.values(`SELECT ${relations.counts.join(', ')}`, params);
    relations.fields.forEach((field, i) => {
      if (Number(found?.[i] ?? 0) !== relations.expected[i]) errors[field] = missingRelations();
    });
  }

  /** Runs `fn` in `db` when given (a batch), otherwise in a new transaction. */
  private inTransaction<T>(db: Executor | undefined, fn: (tx: Executor) => Promise<T>): Promise<T> {
    return db ? fn(db) : this.engine.transaction(fn);
  }

  /** Maps a unique-constraint failure to the fields of the violated index. */
  private uniqueErrors(c: Collection, err: unknown): ErrorData | null {
    const violation = this.engine.dialect.uniqueViolation(err);
    if (!violation) return null;
    // the database reports names as it keeps them (PostgreSQL shortens long ones)
    const d = this.engine.dialect;
    let columns = violation.columns?.map((stored) => c.fields.find((f) => d.storedName(f.name) === stored)?.name ?? stored);
    if (!columns && violation.index) {
      const idx = c.indexes.map((s) => parseIndex(s)).find((p) => typeof p !== 'string' && d.storedName(p.name) === violation.index);
      columns = idx && typeof idx !== 'string' ? idx.columns.map((x) => x.name) : [];
    }
    const errors: ErrorData = {};
    for (const col of columns ?? []) {
      errors[col] =
        col === 'id'
          ? fieldError('validation_pk_invalid', 'The record primary key is invalid or already exists.')
          : fieldError('validation_not_unique', 'Value must be unique.');
    }
    return errors;
  }

  /**
   * Checks the record's relations (and that no other auth collection holds
   * an auth record's id) and inserts its row. Given `check` (a create rule
   * for the request) and an engine that can, one statement counts the
   * relations, inserts the row when they hold and checks the rule on it,
   * and the rule's verdict is returned; otherwise (undefined) the caller
   * checks the rule with a statement of its own. A rule whose SQL reads this
   * collection's own table (`@collection`, a back-relation or a relation to
   * itself) is left to the caller: inside the inserting statement it would
   * not see the new row.
   */
  private async insertRecord(tx: Executor, c: Collection, data: RecordData, check?: RuleCheck): Promise<boolean | undefined> {
    verifySuperuser(c, data);
    const d = this.engine.dialect;
    const statements = writeStatements(c, d);
    const values: SqlValue[] = c.fields.map((f) => encodeValue(f, data[f.name], d));
    const errors: ErrorData = {};
    await checkAuthRefs(tx, d, this.registry, c, data, errors);
    if (d.insertChecked && c.type !== 'auth') {
      // the row's values are $1…$n; the relation ids and the rule's own parameters follow them
      const scope = this.access.scope(check?.info ? { ...check.info, body: check.body } : null);
      scope.params.values.push(...values);
      const relations = this.relationCounts(c, data, errors, undefined, (v) => scope.params.add(v));
      if (Object.keys(errors).length > 0) throw Errors.createFailed(errors);
      let condition: string | null = null;
      if (check) {
        try {
          condition = this.access.rule(scope, c, check.rule);
        } catch (err) {
          // a rule that does not compile denies; the caller's own check says so
          if (!(err instanceof FilterError)) throw err;
        }
        if (condition?.includes(d.ident(c.name))) condition = null;
      }
      const sql = d.insertChecked(statements.insertParts, relations.counts, relations.expected, RECORD_ALIAS, condition);
      const [row] = await this.uniqueChecked(c, () => tx.values(sql, scope.params.values));
      relations.fields.forEach((field, i) => {
        if (Number(row?.[i] ?? 0) !== relations.expected[i]) errors[field] = missingRelations();
      });
      if (Object.keys(errors).length > 0) throw Errors.createFailed(errors);
      return condition === null ? undefined : row?.[relations.fields.length] === true;
    }
    await this.checkRelations(tx, c, data, errors);
    if (c.type === 'auth' && (await this.idTakenByOtherAuth(tx, c, data.id))) {
      errors.id = fieldError('validation_invalid_auth_id', 'Invalid or duplicated auth record id.');
    }
    if (Object.keys(errors).length > 0) throw Errors.createFailed(errors);
    await this.uniqueChecked(c, () => tx.run(statements.insert, values));
    return undefined;
  }

  /** Runs a write, answering a unique-constraint failure with the fields of the violated index (a create's 400 unless told). */
  private async uniqueChecked<T>(c: Collection, write: () => Promise<T>, failed = Errors.createFailed): Promise<T> {
    try {
      return await write();
    } catch (err) {
      const unique = this.uniqueErrors(c, err);
      if (unique) throw failed(unique);
      throw err;
    }
  }

  /**
   * Writes the record's row. Given `check` (an update rule for the request),
   * the statement itself checks the rule on the row as it was and writes
   * only when it admits it: false means the rule refused (nothing written).
   */
  private async updateRow(tx: Executor, c: Collection, data: RecordData, check?: RuleCheck): Promise<boolean> {
    const d = this.engine.dialect;
    const update = writeStatements(c, d).update;
    const values: SqlValue[] = [];
    for (const f of c.fields) if (f.name !== 'id') values.push(encodeValue(f, data[f.name], d));
    values.push(data.id);
    if (!check) {
      await tx.run(update, values);
      return true;
    }
    const scope = this.access.scope(check.info ? { ...check.info, body: check.body } : null);
    // the row's values are $1…$n of the update (the id last); the rule's own parameters follow them
    scope.params.values.push(...values);
    let condition: string;
    try {
      condition = this.access.rule(scope, c, check.rule);
    } catch (err) {
      // a rule that does not compile denies
      if (err instanceof FilterError) return false;
      throw err;
    }
    // the subquery reads the row as the statement found it: the rule sees the stored record, as a check before would
    const guard = `EXISTS (SELECT 1 FROM ${d.ident(c.name)} ${RECORD_ALIAS} WHERE ${RECORD_ALIAS}.${d.ident('id')} = ${d.param(values.length)} AND (${condition}))`;
    return (await tx.run(`${update} AND ${guard}`, scope.params.values)) > 0;
  }

  /**
   * Whether another auth collection holds a record with this id. Rules such
   * as `id = @request.auth.id` compare ids only, so an auth id is kept unique
   * across auth collections (as PocketBase checks on save).
   */
  private async idTakenByOtherAuth(tx: Executor, c: Collection, id: string): Promise<boolean> {
    const d = this.engine.dialect;
    for (const other of this.registry.all()) {
      if (other.type !== 'auth' || other.id === c.id) continue;
      if (await tx.get(`SELECT 1 AS found FROM ${d.ident(other.name)} WHERE ${d.ident('id')} = $1`, [id])) return true;
    }
    return false;
  }

  /** `POST /records`: validates, writes, then checks the create rule against the written row. */
  async create(c: Collection, input: WriteInput, q: ShapeQuery, info: RequestInfo | null, db?: Executor): Promise<Record<string, unknown>> {
    writable(c);
    const superuser = isSuperuser(info);
    if (c.createRule === null && !superuser) throw Errors.superusersOnly();
    const shape = this.shape(c, q, info);
    const access = await this.writeAccess(db ?? this.engine, c, null, info);
    const prepared = applyInput(c, null, input.data, input.source, access);
    if (Object.keys(prepared.errors).length > 0) throw Errors.createFailed(prepared.errors);
    const hash = await this.preparePasswords(c, prepared, null, access);
    const data = prepared.data;
    if (hasPassword(c)) data.password = hash ?? '';
    if (c.type === 'auth' && !data.tokenKey) data.tokenKey = newTokenKey();

    // Without create hooks the rule can be checked by the inserting statement itself (a round trip
    // less on PostgreSQL); a hook may still write after its next(), and the rule must see that too.
    const checkOnInsert =
      !superuser && c.createRule && !this.hooks.recordCreate.has([c.id, c.name])
        ? { info, body: prepared.body, rule: c.createRule }
        : undefined;
    const written = await this.reported('recordAfterCreateSuccess', 'recordAfterCreateError', c, data, db, async (tx) => {
      // the create rule's verdict when the insert gave it
      let admitted: boolean | undefined;
      const record = await this.withHook(this.hooks.recordCreate, tx, c, data, null, info, async (record) => {
        admitted = await this.insertRecord(tx, c, record, checkOnInsert);
        // refused by the rule the insert checked: nothing more to do, the transaction rolls back
        if (admitted === false) throw Errors.createFailed();
        await this.files.place(tx, c, record, prepared.uploads);
        this.publish(tx, 'create', c, record);
      });
      // checked on the row as written; the transaction rolls back, so a refused create writes nothing
      if (!superuser && c.createRule && !(admitted ?? (await this.ruleAdmits(tx, c, record.id, info, prepared.body, c.createRule)))) {
        throw Errors.createFailed();
      }
      return { record, original: null, out: (await this.output(tx, c, [record], shape, info))[0] as Record<string, unknown> };
    });
    return written.out;
  }

  /**
   * `PATCH /records/:id`. Input is applied to the row as it is inside the
   * transaction, so `field+`/`field-` are atomic increments.
   */
  async update(
    c: Collection,
    id: string,
    input: WriteInput,
    q: ShapeQuery,
    info: RequestInfo | null,
    db?: Executor,
  ): Promise<Record<string, unknown>> {
    writable(c);
    const superuser = isSuperuser(info);
    if (c.updateRule === null && !superuser) throw Errors.superusersOnly();
    const shape = this.shape(c, q, info);

    // Outside a caller's transaction, the transaction below reads the record, checks the rule and
    // judges the input again on the row as it is then. The first pass is only needed for what must
    // not happen inside it: an auth record's password checks and hashing (slow), and the record an
    // after-error hook is told of. Without those it is work for nothing: a round trip on PostgreSQL,
    // and on SQLite a read from the reader, whose page cache every commit empties (four times the
    // cost of the same read on the writer), and a second compile of the rule.
    if (!db && !hasPassword(c) && !this.hooks.recordAfterUpdateError.has([c.id, c.name])) {
      return this.updateInTransaction(c, id, input, shape, info);
    }

    // a record the rule hides answers 404 before anything about the input is said;
    // slow work (password checks and hashing) happens outside the transaction
    const before = await this.find(db ?? this.engine, c, id, null, null);
    if (!before) throw Errors.notFound();
    const preAccess = await this.writeAccess(db ?? this.engine, c, before, info);
    const pre = applyInput(c, before, input.data, input.source, preAccess);
    if (!superuser && c.updateRule && !(await this.ruleAdmits(db ?? this.engine, c, id, info, pre.body, c.updateRule))) {
      throw Errors.notFound();
    }
    if (Object.keys(pre.errors).length > 0) throw Errors.updateFailed(pre.errors);
    const hash = await this.preparePasswords(c, pre, before, preAccess);

    const written = await this.reported('recordAfterUpdateSuccess', 'recordAfterUpdateError', c, before, db, async (tx) => {
      // inside the caller's transaction (a batch, server code) the record read above is the current one
      const current = db ? before : await this.find(tx, c, id, null, null);
      if (!current) throw Errors.notFound();
      const access = await this.writeAccess(tx, c, current, info);
      const prepared = current === before ? pre : applyInput(c, current, input.data, input.source, access);
      // checked above on this same row when inside the caller's transaction
      if (current !== before && !superuser && c.updateRule && !(await this.ruleAdmits(tx, c, id, info, prepared.body, c.updateRule))) {
        throw Errors.notFound();
      }
      if (Object.keys(prepared.errors).length > 0) throw Errors.updateFailed(prepared.errors);
      const data = prepared.data;
      if (hasPassword(c) && prepared.newPassword !== undefined) {
        // the hash was checked against the password as it was read before
        if (current.password !== before.password || hash === undefined) {
          throw Errors.updateFailed({ oldPassword: fieldError('validation_invalid_old_password', 'Missing or invalid old password.') });
        }
        data.password = hash;
      }
      rotateTokenKeyOnChange(c, current, data);
      const record = await this.withHook(this.hooks.recordUpdate, tx, c, data, current, info, (record) =>
        this.writeUpdate(tx, c, record, current, prepared.uploads),
      );
      return { record, original: current, out: (await this.output(tx, c, [record], shape, info))[0] as Record<string, unknown> };
    });
    return written.out;
  }

  /**
   * An update of a record of a collection without passwords, read, checked
   * and written in one transaction: a record the rule hides is a 404 before
   * anything about the input is said, as in {@link update}.
   */
  private async updateInTransaction(
    c: Collection,
    id: string,
    input: WriteInput,
    shape: { expand: ExpandTree | null; fields: FieldsPick | null },
    info: RequestInfo | null,
  ): Promise<Record<string, unknown>> {
    const superuser = isSuperuser(info);
    const written = await this.reported('recordAfterUpdateSuccess', 'recordAfterUpdateError', c, { id }, undefined, async (tx) => {
      const current = await this.find(tx, c, id, null, null);
      if (!current) throw Errors.notFound();
      const prepared = applyInput(c, current, input.data, input.source, await this.writeAccess(tx, c, current, info));
      const invalid = Object.keys(prepared.errors).length > 0;
      const rule = !superuser && c.updateRule ? c.updateRule : null;
      // Valid input and no update hooks (whose code must not run for a refused request): the
      // UPDATE checks the rule itself, one statement instead of two.
      const check =
        rule !== null && !invalid && !this.hooks.recordUpdate.has([c.id, c.name]) ? { info, body: prepared.body, rule } : undefined;
      if (rule !== null && !check && !(await this.ruleAdmits(tx, c, id, info, prepared.body, rule))) throw Errors.notFound();
      if (invalid) throw Errors.updateFailed(prepared.errors);
      const record = await this.withHook(this.hooks.recordUpdate, tx, c, prepared.data, current, info, (record) =>
        this.writeUpdate(tx, c, record, current, prepared.uploads, check),
      );
      return { record, original: current, out: (await this.output(tx, c, [record], shape, info))[0] as Record<string, unknown> };
    });
    return written.out;
  }

  /**
   * Checks relations and unique indexes while writing an updated row, puts
   * its uploads in place, and publishes the change; files it let go are
   * deleted after the commit.
   */
  private async writeUpdate(
    tx: Executor,
    c: Collection,
    data: RecordData,
    before: RecordData,
    uploads: readonly FieldUpload[] = [],
    check?: RuleCheck,
  ): Promise<void> {
    verifySuperuser(c, data);
    const errors: ErrorData = {};
    await this.checkRelations(tx, c, data, errors, before);
    await checkAuthRefs(tx, this.engine.dialect, this.registry, c, data, errors);
    if (Object.keys(errors).length > 0) {
      // a record the rule hides is a 404, whatever is wrong with the input
      if (check && !(await this.ruleAdmits(tx, c, data.id, check.info, check.body, check.rule))) throw Errors.notFound();
      throw Errors.updateFailed(errors);
    }
    const admitted = await this.uniqueChecked(c, () => this.updateRow(tx, c, data, check), Errors.updateFailed);
    if (!admitted) throw Errors.notFound();
    await this.files.place(tx, c, data, uploads);
    this.files.forgetRemoved(tx, c, before, data);
    this.publish(tx, 'update', c, data);
    if (c.type === 'auth') {
      // as PocketBase: a new tokenKey ends the record's pending OTPs, a new password its MFA sessions and the
      // origins it signed in from (whoever signs in next starts afresh)
      const stale = [
        ...(data.tokenKey !== before.tokenKey ? [OTPS] : []),
        ...(data.password !== before.password ? [MFAS, AUTH_ORIGINS] : []),
      ];
      if (stale.length > 0) await this.deleteAuthRefs(tx, c, data, new Set([`${c.id}/${data.id}`]), SYSTEM_REQUEST, stale);
    }
  }

  /** Whether `rule` admits record `id` with `body` as `@request.body`; a rule that fails to compile denies. */
  private async ruleAdmits(
    db: Executor,
    c: Collection,
    id: string,
    info: RequestInfo | null,
    body: Record<string, unknown>,
    rule: string,
  ): Promise<boolean> {
    try {
      return await this.access.admits(db, c, id, info ? { ...info, body } : null, rule);
    } catch (err) {
      if (err instanceof FilterError) return false;
      throw err;
    }
  }

  /** `DELETE /records/:id`, with PocketBase's relation handling (cascade, unlink, or refuse). */
  async delete(c: Collection, id: string, info: RequestInfo | null, db?: Executor): Promise<void> {
    writable(c);
    const superuser = isSuperuser(info);
    if (c.deleteRule === null && !superuser) throw Errors.superusersOnly();
    await this.reported('recordAfterDeleteSuccess', 'recordAfterDeleteError', c, { id }, db, async (tx) => {
      const record = await this.find(tx, c, id, info, superuser ? null : c.deleteRule);
      if (!record) throw Errors.notFound();
      await this.deleteWithRelations(tx, c, record, new Set(), info);
      return { record, original: null };
    });
  }

  /**
   * `DELETE /api/collections/{c}/truncate`: deletes every record of `c` in
   * one transaction, each exactly as server code's delete would (PocketBase's
   * TruncateCollection): delete hooks and after-hooks, cascades, relations
   * unlinked or refused, files after the commit, a realtime event per
   * record. Records written while it runs (by its hooks) are left.
   */
  async truncate(c: Collection): Promise<void> {
    if (c.type === 'view') {
      throw Errors.badRequest("View collections cannot be truncated since they don't store their own records.");
    }
    const d = this.engine.dialect;
    const table = d.ident(c.name);
    try {
      await this.truncateIn(c, table);
    } catch (err) {
      // as PocketBase: whatever refused a deletion (a required relation, the last superuser, a hook), one 400
      if (err instanceof ApiError && err.status < 500) throw Errors.truncateFailed();
      throw err;
    }
  }

  private async truncateIn(c: Collection, table: string): Promise<void> {
    const d = this.engine.dialect;
    await this.engine.transaction(async (tx) => {
      const last = await tx.get<{ n: number | string | null }>(`SELECT MAX(rowid) AS n FROM ${table}`);
      const end = Number(last?.n ?? 0);
      let from = 0;
      while (from < end) {
        const rows = await tx.all<{ id: string; r: number | string }>(
          `SELECT ${d.ident('id')} AS id, rowid AS r FROM ${table} WHERE rowid > $1 AND rowid <= $2 ORDER BY rowid LIMIT 500`,
          [from, end],
        );
        if (rows.length === 0) break;
        for (const row of rows) {
          // gone already when an earlier record's deletion cascaded to it
          const record = await this.find(tx, c, row.id, null, null);
          if (!record) continue;
          await this.reported('recordAfterDeleteSuccess', 'recordAfterDeleteError', c, record, tx, async (inner) => {
            await this.deleteWithRelations(inner, c, record, new Set(), SYSTEM_REQUEST);
            return { record, original: null };
          });
        }
        from = Number(rows[rows.length - 1]?.r);
      }
    });
  }

  /** Deletes a record, through the delete hooks; records that cascade from it go the same way. */
  private async deleteWithRelations(
    tx: Executor,
    c: Collection,
    record: RecordData,
    seen: Set<string>,
    info: RequestInfo | null,
  ): Promise<void> {
    const key = `${c.id}/${record.id}`;
    if (seen.has(key)) return;
    seen.add(key);
    // every deletion comes here (the API, batch, server code, the CLI, cascades, truncate): so does this guard,
    // checked before the hooks run, as PocketBase's own delete handler runs first
    if (c.name === SUPERUSERS) {
      const left = await tx.get<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${this.engine.dialect.ident(c.name)}`);
      if (Number(left?.n ?? 0) <= 1) throw Errors.lastSuperuser();
    }
    await this.withHook(this.hooks.recordDelete, tx, c, record, null, info, () => this.deleteRow(tx, c, record, seen, info));
  }

  private async deleteRow(tx: Executor, c: Collection, record: RecordData, seen: Set<string>, info: RequestInfo | null): Promise<void> {
    const id = record.id;
    const d = this.engine.dialect;
    for (const other of this.registry.all()) {
      // a view's rows are not stored: its relations hold nothing to cascade or unlink
      if (other.type === 'view') continue;
      for (const f of other.fields) {
        if (f.type !== 'relation' || f.collectionId !== c.id) continue;
        const refs = await this.referencing(tx, other, f, id);
        for (const ref of refs) {
          if (other.id === c.id && ref.id === id) continue;
          if (f.cascadeDelete) {
            // a delete of its own, as in PocketBase: its after-success hook runs once the whole commits
            await this.reported('recordAfterDeleteSuccess', 'recordAfterDeleteError', other, ref, tx, async (inner) => {
              await this.deleteWithRelations(inner, other, ref, seen, info);
              return { record: ref, original: null };
            });
            continue;
          }
          const remaining = (Array.isArray(ref[f.name]) ? (ref[f.name] as string[]) : [ref[f.name] as string]).filter((x) => x && x !== id);
          if (f.required && remaining.length === 0) throw Errors.deleteReferenced();
          const next = isMultiple(f) ? remaining : (remaining[0] ?? '');
          await tx.run(`UPDATE ${d.ident(other.name)} SET ${d.ident(f.name)} = $1 WHERE ${d.ident('id')} = $2`, [
            encodeValue(f, next, d),
            ref.id,
          ]);
          this.publish(tx, 'update', other, { ...ref, [f.name]: next });
        }
      }
    }
    await tx.run(`DELETE FROM ${d.ident(c.name)} WHERE ${d.ident('id')} = $1`, [id]);
    if (c.type === 'auth') await this.deleteAuthRefs(tx, c, record, seen, info);
    this.files.forgetRecord(tx, c, record);
    // after commit: caches (an auth record's tokens) forget it, subscribers hear of it
    this.publish(tx, 'delete', c, record);
  }

  /**
   * An auth record's rows in the system collections `names` (all four when
   * it is deleted: MFA sessions, OTPs, external auths, auth origins) go, as
   * deletes of their own (hooks run, subscribers hear of them), as
   * PocketBase deletes them.
   */
  private async deleteAuthRefs(
    tx: Executor,
    c: Collection,
    record: RecordData,
    seen: Set<string>,
    info: RequestInfo | null,
    names: readonly string[] = AUTH_REF_COLLECTIONS,
  ): Promise<void> {
    const d = this.engine.dialect;
    const col = (name: string) => `${RECORD_ALIAS}.${d.ident(name)}`;
    for (const name of names) {
      const refs = this.registry.find(name);
      if (!refs?.system) continue;
      const rows = await readRecords(
        tx,
        refs,
        d,
        `SELECT ${selectList(refs, d)} FROM ${d.ident(refs.name)} ${RECORD_ALIAS} WHERE ${col('collectionRef')} = $1 AND ${col('recordRef')} = $2`,
        [c.id, record.id],
      );
      for (const row of rows) await this.deleteWithRelations(tx, refs, row, seen, info);
    }
  }

  private async referencing(tx: Executor, c: Collection, f: RelationField, id: string): Promise<RecordData[]> {
    const d = this.engine.dialect;
    const col = `${RECORD_ALIAS}.${d.ident(f.name)}`;
    const where = isMultiple(f) ? d.jsonArrayContains(col, '$1') : `${col} = $1`;
    return readRecords(tx, c, d, `SELECT ${selectList(c, d)} FROM ${d.ident(c.name)} ${RECORD_ALIAS} WHERE ${where}`, [id]);
  }
}

export { ApiError, newRecordId };
