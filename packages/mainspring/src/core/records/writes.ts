import { FilterError } from '../../query/index.js';
import type { Executor } from '../../storage/engine.js';
import { hashPassword, verifyPassword } from '../auth/passwords.js';
import type { Collection } from '../collections/model.js';
import { AUTH_ORIGINS, MFAS, OTPS } from '../collections/system.js';
import { nowString } from '../dates.js';
import { Errors, fieldError } from '../errors.js';
import type { ValueSource } from '../fields/index.js';
import { isAutodate, isPassword } from '../fields/index.js';
import { holdsUpload } from '../files/uploads.js';
import { randomString } from '../ids.js';
import { isSuperuser, type RecordData, type RequestInfo, SYSTEM_REQUEST } from '../rules/request-info.js';
import type { RecordContext } from './context.js';
import { type RecordDeletes, writable } from './deletes.js';
import type { FieldUpload } from './files.js';
import { AFTER_CREATE, AFTER_UPDATE, type WriteFlow } from './flow.js';
import { applyInput, applyInputUnread, type PreparedInput, type WriteAccess } from './input.js';
import { mayBeRecordId, type RecordReads, type Shape, type ShapeQuery } from './reads.js';
import type { RowWrites, RuleCheck } from './row-writes.js';

/** A write's submitted data and where it came from. */
export interface WriteInput {
  data: Record<string, unknown>;
  source: ValueSource;
}

const TOKEN_KEY_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A fresh `tokenKey`: storing one revokes every token signed with the old. */
export function newTokenKey(): string {
  return randomString(50, TOKEN_KEY_ALPHABET);
}

/**
 * An auth record whose password or email changes gets a new tokenKey (unless
 * the change sets one itself), so every token issued before stops working.
 */
function rotateTokenKeyOnChange(c: Collection, before: RecordData, data: RecordData): void {
  if (c.type !== 'auth' || data.tokenKey !== before.tokenKey) return;
  if (data.password !== before.password || data.email !== before.email) data.tokenKey = newTokenKey();
}

/**
 * Whether records of `c` hold a password (its `password` field, stored as a
 * bcrypt hash): every auth collection, and the system `_otps`.
 */
function hasPassword(c: Collection): boolean {
  return c.type === 'auth' || c.fields.some((f) => isPassword(f));
}

const invalidOldPassword = () => fieldError('validation_invalid_old_password', 'Missing or invalid old password.');

/**
 * Creating and updating records: input judged against the record as it is
 * inside the transaction, passwords checked and hashed outside it, the
 * request's rule checked on the row as written (create) or as found (update),
 * and the record hooks run around the write.
 */
export class RecordWrites {
  constructor(
    private readonly ctx: RecordContext,
    private readonly reads: RecordReads,
    private readonly rows: RowWrites,
    private readonly deletes: RecordDeletes,
    private readonly flow: WriteFlow,
  ) {}

  /** `POST /records`: validates, writes, then checks the create rule against the written row. */
  async create(c: Collection, input: WriteInput, q: ShapeQuery, info: RequestInfo | null, db?: Executor): Promise<Record<string, unknown>> {
    writable(c);
    const superuser = isSuperuser(info);
    if (c.createRule === null && !superuser) throw Errors.superusersOnly();
    const { hooks, engine } = this.ctx;
    const shape = this.reads.shape(c, q, info);
    const access = await this.writeAccess(db ?? engine, c, null, info);
    const prepared = applyInput(c, null, input.data, input.source, access);
    if (Object.keys(prepared.errors).length > 0) throw Errors.createFailed(prepared.errors);
    const hash = await this.preparePasswords(c, prepared, null, access);
    const data = prepared.data;
    if (hasPassword(c)) data.password = hash ?? '';
    if (c.type === 'auth' && !data.tokenKey) data.tokenKey = newTokenKey();

    // Without create hooks the rule can be checked by the inserting statement itself (a round trip
    // less on PostgreSQL); a hook may still write after its next(), and the rule must see that too.
    const checkOnInsert =
      !superuser && c.createRule && !hooks.recordCreate.has([c.id, c.name]) ? { info, body: prepared.body, rule: c.createRule } : undefined;
    // Its files are put before the transaction (a slow store holds no writer) once the input is valid;
    // the rule can only be judged on the inserted row, so a refused create puts them for nothing.
    const putFiles = () => this.ctx.files.put(c, data.id, prepared.uploads);
    // nothing after the insert can undo it (no hook, no file to place, no expand, whose names are judged only as it
    // reads: a 400 there must leave nothing written): it may carry the COMMIT
    const last = !db && !hooks.recordCreate.has([c.id, c.name]) && prepared.uploads.length === 0 && shape.expand === null;
    const written = await this.flow.reported(AFTER_CREATE, c, data, { db, before: putFiles }, async (tx) => {
      // the create rule's verdict when the insert gave it
      let admitted: boolean | undefined;
      const record = await this.flow.withHook(hooks.recordCreate, tx, c, data, null, info, async (record) => {
        admitted = await this.rows.insert(tx, c, record, checkOnInsert, last);
        // refused by the rule the insert checked: nothing more to do, the transaction rolls back
        if (admitted === false) throw Errors.createFailed();
        await this.ctx.files.place(tx, c, record, prepared.uploads);
        this.flow.publish(tx, 'create', c, record);
      });
      // checked on the row as written; the transaction rolls back, so a refused create writes nothing
      if (
        !superuser &&
        c.createRule &&
        !(admitted ?? (await this.ruleAdmits(tx, c, record.id, { info, body: prepared.body, rule: c.createRule })))
      ) {
        throw Errors.createFailed();
      }
      return { record, original: null, out: await this.answer(tx, c, record, shape, info) };
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
    const shape = this.reads.shape(c, q, info);

    // Outside a caller's transaction, the transaction below reads the record, checks the rule and
    // judges the input again on the row as it is then. The first pass is only needed for what must
    // not happen inside it: an auth record's password checks and hashing (slow), and the record an
    // after-error hook is told of. Without those it is work for nothing: a round trip on PostgreSQL,
    // and on SQLite a read from the reader, whose page cache every commit empties (four times the
    // cost of the same read on the writer), and a second compile of the rule. Uploads need it too:
    // they are put before the transaction, once the rule admits the request and the input keeps them.
    // Where nothing needs the stored record at all, the update reads nothing (updateUnread).
    const uploading = Object.values(input.data).some(holdsUpload);
    if (!db && !hasPassword(c) && !this.ctx.hooks.recordAfterUpdateError.has([c.id, c.name]) && !uploading) {
      return (await this.updateUnread(c, id, input, shape, info)) ?? this.updateInTransaction(c, id, input, shape, info);
    }
    const outer = db ?? this.ctx.engine;
    const rule = !superuser && c.updateRule ? c.updateRule : null;

    // a record the rule hides answers 404 before anything about the input is said;
    // slow work (password checks and hashing) happens outside the transaction
    const before = await this.reads.find(outer, c, id, null, null);
    if (!before) throw Errors.notFound();
    const preAccess = await this.writeAccess(outer, c, before, info);
    const pre = applyInput(c, before, input.data, input.source, preAccess);
    if (rule !== null && !(await this.ruleAdmits(outer, c, id, { info, body: pre.body, rule }))) throw Errors.notFound();
    if (Object.keys(pre.errors).length > 0) throw Errors.updateFailed(pre.errors);
    const hash = await this.preparePasswords(c, pre, before, preAccess);

    const putFiles = () => this.ctx.files.put(c, id, pre.uploads);
    const written = await this.flow.reported(AFTER_UPDATE, c, before, { db, before: putFiles }, async (tx) => {
      // inside the caller's transaction (a batch, server code) the record read above is the current one
      const current = db ? before : await this.reads.find(tx, c, id, null, null);
      if (!current) throw Errors.notFound();
      const access = await this.writeAccess(tx, c, current, info);
      const prepared = current === before ? pre : applyInput(c, current, input.data, input.source, access);
      // checked above on this same row when inside the caller's transaction
      if (current !== before && rule !== null && !(await this.ruleAdmits(tx, c, id, { info, body: prepared.body, rule }))) {
        throw Errors.notFound();
      }
      if (Object.keys(prepared.errors).length > 0) throw Errors.updateFailed(prepared.errors);
      const data = prepared.data;
      if (hasPassword(c) && prepared.newPassword !== undefined) {
        // the hash was checked against the password as it was read before
        if (current.password !== before.password || hash === undefined) throw Errors.updateFailed({ oldPassword: invalidOldPassword() });
        data.password = hash;
      }
      rotateTokenKeyOnChange(c, current, data);
      const record = await this.flow.withHook(this.ctx.hooks.recordUpdate, tx, c, data, current, info, (record) =>
        this.writeUpdate(tx, c, record, current, prepared.uploads),
      );
      return { record, original: current, out: await this.answer(tx, c, record, shape, info) };
    });
    return written.out;
  }

  /**
   * An update that reads nothing before it writes (one round trip on
   * PostgreSQL: BEGIN, the UPDATE guarded by the rule and returning the row,
   * COMMIT), where nothing needs the stored record: plain values of value
   * fields, each valid on its own (input.ts `applyInputUnread`), no hook
   * that would see the record before or after, no expand. No row updated is
   * a 404, as a record missing or hidden by the rule is on the usual path.
   * Undefined when the update must take that path instead.
   */
  private async updateUnread(
    c: Collection,
    id: string,
    input: WriteInput,
    shape: Shape,
    info: RequestInfo | null,
  ): Promise<Record<string, unknown> | undefined> {
    const hooks = this.ctx.hooks;
    const tags = [c.id, c.name];
    const [success] = AFTER_UPDATE;
    if (shape.expand !== null || hooks.recordUpdate.has(tags) || hooks[success].has(tags)) return undefined;
    if (!mayBeRecordId(id)) return undefined;
    const superuser = isSuperuser(info);
    const unread = applyInputUnread(c, id, input.data, input.source, { superuser, manage: false });
    if (!unread) return undefined;
    const { prepared, columns } = unread;
    const rule = !superuser && c.updateRule ? c.updateRule : null;
    const check = rule === null ? undefined : { info, body: prepared.body, rule };
    const written = await this.flow.reported(AFTER_UPDATE, c, { id }, {}, async (tx) => {
      const record = await this.rows.updateColumns(tx, c, id, prepared.data, columns, check);
      if (!record) throw Errors.notFound();
      this.flow.publish(tx, 'update', c, record);
      return { record, original: null, out: await this.answer(tx, c, record, shape, info) };
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
    shape: Shape,
    info: RequestInfo | null,
  ): Promise<Record<string, unknown>> {
    const superuser = isSuperuser(info);
    const hooks = this.ctx.hooks;
    const written = await this.flow.reported(AFTER_UPDATE, c, { id }, {}, async (tx) => {
      const current = await this.reads.find(tx, c, id, null, null);
      if (!current) throw Errors.notFound();
      const prepared = applyInput(c, current, input.data, input.source, await this.writeAccess(tx, c, current, info));
      const invalid = Object.keys(prepared.errors).length > 0;
      const rule = !superuser && c.updateRule ? c.updateRule : null;
      const check = rule === null ? undefined : { info, body: prepared.body, rule };
      // Valid input and no update hooks (whose code must not run for a refused request): the
      // UPDATE checks the rule itself, one statement instead of two.
      const checkInWrite = check && !invalid && !hooks.recordUpdate.has([c.id, c.name]) ? check : undefined;
      if (check && !checkInWrite && !(await this.ruleAdmits(tx, c, id, check))) throw Errors.notFound();
      if (invalid) throw Errors.updateFailed(prepared.errors);
      // without update hooks nothing after the UPDATE can undo it (no files, no auth records here, no expand, which
      // may still refuse its names): it may carry the COMMIT
      const last = !hooks.recordUpdate.has([c.id, c.name]) && prepared.uploads.length === 0 && shape.expand === null;
      const record = await this.flow.withHook(hooks.recordUpdate, tx, c, prepared.data, current, info, (record) =>
        this.writeUpdate(tx, c, record, current, prepared.uploads, checkInWrite, last),
      );
      return { record, original: current, out: await this.answer(tx, c, record, shape, info) };
    });
    return written.out;
  }

  /**
   * Sets field values directly, as the system: no rules and no input
   * conversion (the values are already what is stored: a password hash, a
   * new tokenKey). For flows such as verification, password reset and
   * logout-everywhere. `updated` autodates move and the change is published.
   */
  async systemUpdate(c: Collection, id: string, values: Record<string, unknown>, db?: Executor): Promise<RecordData> {
    writable(c);
    const out = await this.flow.reported(AFTER_UPDATE, c, { id }, { db }, async (tx) => {
      const current = await this.reads.find(tx, c, id, null, null);
      if (!current) throw Errors.notFound();
      const data: RecordData = { ...current, ...values, id: current.id };
      rotateTokenKeyOnChange(c, current, data);
      const now = nowString();
      for (const f of c.fields) if (isAutodate(f) && f.onUpdate) data[f.name] = now;
      const record = await this.flow.withHook(this.ctx.hooks.recordUpdate, tx, c, data, current, SYSTEM_REQUEST, (record) =>
        this.writeUpdate(tx, c, record, current),
      );
      return { record, original: current };
    });
    return out.record;
  }

  /**
   * Writes an updated row (its relations and unique indexes checked), claims
   * its uploads, and publishes the change; files it let go are
   * deleted after the commit.
   */
  private async writeUpdate(
    tx: Executor,
    c: Collection,
    data: RecordData,
    before: RecordData,
    uploads: readonly FieldUpload[] = [],
    check?: RuleCheck,
    last = false,
  ): Promise<void> {
    const admitted = await this.rows.update(
      tx,
      c,
      data,
      before,
      check,
      (k) => this.ruleAdmits(tx, c, data.id, k),
      last && c.type !== 'auth',
    );
    if (!admitted) throw Errors.notFound();
    await this.ctx.files.place(tx, c, data, uploads);
    this.ctx.files.forgetRemoved(tx, c, before, data);
    this.flow.publish(tx, 'update', c, data);
    if (c.type === 'auth') {
      // as PocketBase: a new tokenKey ends the record's pending OTPs, a new password its MFA sessions and the
      // origins it signed in from (whoever signs in next starts afresh)
      const stale = [
        ...(data.tokenKey !== before.tokenKey ? [OTPS] : []),
        ...(data.password !== before.password ? [MFAS, AUTH_ORIGINS] : []),
      ];
      if (stale.length > 0) await this.deletes.authRefs(tx, c, data, new Set([`${c.id}/${data.id}`]), SYSTEM_REQUEST, stale);
    }
  }

  /** The written record as the request asked it shaped. */
  private async answer(tx: Executor, c: Collection, record: RecordData, shape: Shape, info: RequestInfo | null) {
    return (await this.reads.output(tx, c, [record], shape, info))[0] as Record<string, unknown>;
  }

  /** Whether the caller may manage the auth record `current` (its manageRule) or is a superuser. */
  private async writeAccess(db: Executor, c: Collection, current: RecordData | null, info: RequestInfo | null): Promise<WriteAccess> {
    const superuser = isSuperuser(info);
    if (superuser) return { superuser, manage: true };
    const rule = c.auth?.manageRule;
    if (!current || !info?.auth || !rule) return { superuser, manage: false };
    try {
      return { superuser, manage: await this.ctx.access.admits(db, c, current.id, info, rule) };
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
      if (!ok) throw Errors.validation('Failed to update record.', { oldPassword: invalidOldPassword() });
    }
    const field = c.fields.find((f) => isPassword(f));
    return hashPassword(prepared.newPassword, isPassword(field) ? field.cost : 0);
  }

  /** Whether the check's rule admits record `id` with its body as `@request.body`; a rule that fails to compile denies. */
  private async ruleAdmits(db: Executor, c: Collection, id: string, check: RuleCheck): Promise<boolean> {
    try {
      return await this.ctx.access.admits(db, c, id, check.info ? { ...check.info, body: check.body } : null, check.rule);
    } catch (err) {
      if (err instanceof FilterError) return false;
      throw err;
    }
  }
}
