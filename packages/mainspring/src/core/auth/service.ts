import type { Logger } from 'pino';
import type { Engine } from '../../storage/engine.js';
import { type Collection, fieldByName } from '../collections/model.js';
import type { CollectionRegistry } from '../collections/registry.js';
import { MFAS } from '../collections/system.js';
import { formatDate, nowString, parseDate } from '../dates.js';
import { ApiError, Errors, fieldError } from '../errors.js';
import type { EventBus } from '../events.js';
import { isPassword, kindOf } from '../fields/index.js';
import { newRecordId } from '../ids.js';
import type { MailService } from '../mail/mailer.js';
import type { RecordAccess } from '../records/access.js';
import { RECORD_ALIAS, readRecords, selectList } from '../records/rows.js';
import type { RecordService } from '../records/service.js';
import { newTokenKey } from '../records/writes.js';
import { type AuthState, isSuperuser, type RecordData, type RequestInfo } from '../rules/request-info.js';
import type { SettingsService } from '../settings.js';
import { type LockoutPolicy, LoginGuard, SharedLoginFailures } from './lockout.js';
import { verifyPassword } from './passwords.js';
import { claimsFor, issueToken, tokenValid } from './token-kinds.js';
import { peekToken } from './tokens.js';

/** How long a verified token is trusted without a lookup; any change to its record ends it sooner. */
const AUTH_CACHE_TTL_MS = 60_000;
const AUTH_CACHE_LIMIT = 10_000;

/** Refresh-token sessions (Mainspring's); access tokens issued from one carry its id as `sid`. */
export const SESSIONS_TABLE = '_ms_sessions';

/** The 401 that asks for a second factor: PocketBase's body `{mfaId}`, in our error shape. */
export class MfaRequiredError extends ApiError {
  constructor(readonly mfaId: string) {
    super(401, 'mfa_required', 'An additional authentication method is required.');
  }
  override toJSON() {
    return { ...super.toJSON(), mfaId: this.mfaId };
  }
}

/** How the caller proved who they are, as `@request.context` and MFA see it. */
export type AuthMethod = 'password' | 'otp' | 'oauth2' | 'refresh' | 'impersonate' | 'passkey';

/** What the auth services share. */
export interface AuthDeps {
  engine: Engine;
  registry: CollectionRegistry;
  records: RecordService;
  access: RecordAccess;
  events: EventBus;
  settings: SettingsService;
  mail: MailService;
  logger: Logger;
}

/**
 * Sessions: issuing and checking tokens, signing in with a password, the
 * authRule and MFA gate every sign-in passes, impersonation and "log out
 * everywhere". Any failure while resolving a token means "no auth", never
 * an error that could be mistaken for access.
 */
export class AuthService {
  /** Failed sign-ins per identity and client IP, and per identity from anywhere. */
  private readonly perClient: LoginGuard;
  private readonly perIdentity: LoginGuard;
  /** The same counts in the database, where several instances share one (PostgreSQL). */
  private readonly shared: SharedLoginFailures | undefined;
  private readonly cache = new Map<string, { auth: AuthState; until: number }>();
  private readonly tokensByRecord = new Map<string, Set<string>>();
  /** Bumped on every forget, so a lookup that raced a change is not cached. */
  private generation = 0;
  /** The statements of MFA sessions: records of `_mfas`, written with direct SQL (a sign-in pays no record machinery). */
  private readonly mfaSql: { insert: string; read: string; delete: string; finish: string };

  constructor(private readonly d: AuthDeps) {
    const q = (name: string) => d.engine.dialect.ident(name);
    const t = q(MFAS);
    this.mfaSql = {
      insert: `INSERT INTO ${t} (id, ${q('collectionRef')}, ${q('recordRef')}, method, created, updated) VALUES ($1, $2, $3, $4, $5, $5)`,
      read: `SELECT ${q('collectionRef')} AS "collectionRef", ${q('recordRef')} AS "recordRef", method, created FROM ${t} WHERE id = $1`,
      delete: `DELETE FROM ${t} WHERE id = $1`,
      // the session used, and any that expired meanwhile
      finish: `DELETE FROM ${t} WHERE id = $1 OR created < $2`,
    };
    this.perClient = new LoginGuard(() => this.clientPolicy());
    this.perIdentity = new LoginGuard(() => this.identityPolicy());
    this.shared = d.engine.shared ? new SharedLoginFailures(d.engine) : undefined;
    d.events.on((event) => {
      if (event.type === 'schema') this.forgetAll();
      else if (event.type === 'sessions') this.forget(`${event.collectionId}/${event.recordId}`);
      else if (event.type === 'record' && this.d.registry.find(event.collectionId)?.type === 'auth') {
        this.forget(`${event.collectionId}/${event.record.id}`);
      }
    });
  }

  // ------------------------------------------------------------ token cache

  /** Drops every cached token (credentials may have changed where no event tells which). */
  forgetAll(): void {
    this.generation++;
    this.cache.clear();
    this.tokensByRecord.clear();
  }

  private forget(recordKey: string): void {
    this.generation++;
    for (const token of this.tokensByRecord.get(recordKey) ?? []) this.cache.delete(token);
    this.tokensByRecord.delete(recordKey);
  }

  private remember(token: string, auth: AuthState, exp: number): void {
    if (this.cache.size >= AUTH_CACHE_LIMIT) this.forgetAll();
    this.cache.set(token, { auth, until: Math.min(exp * 1000, Date.now() + AUTH_CACHE_TTL_MS) });
    const key = `${auth.collection.id}/${auth.record.id}`;
    let set = this.tokensByRecord.get(key);
    if (!set) {
      set = new Set();
      this.tokensByRecord.set(key, set);
    }
    set.add(token);
  }

  // ---------------------------------------------------------------- tokens

  /** A record of an auth collection, read without rules. */
  async loadRecord(c: Collection, id: string): Promise<RecordData | undefined> {
    const dialect = this.d.engine.dialect;
    // rows as arrays, decoded by position: a column's label is its stored name, which may not be the field's
    const [record] = await readRecords(
      this.d.engine,
      c,
      dialect,
      `SELECT ${selectList(c, dialect)} FROM ${dialect.ident(c.name)} ${RECORD_ALIAS} WHERE ${RECORD_ALIAS}.${dialect.ident('id')} = $1`,
      [id],
    );
    return record;
  }

  /** The caller of a token verified a moment ago, without waiting; undefined when it must be checked. */
  cached(token: string): AuthState | undefined {
    const hit = this.cache.get(token);
    if (!hit) return undefined;
    if (hit.until > Date.now()) return hit.auth;
    this.cache.delete(token);
    return undefined;
  }

  /** Resolves a bearer token to its caller, or null for any token that is not a valid, current session. */
  async authenticate(token: string): Promise<AuthState | null> {
    const hit = this.cached(token);
    if (hit) return hit;
    const generation = this.generation;
    try {
      const claims = peekToken(token);
      if (claims?.type !== 'auth') return null;
      const c = this.d.registry.find(claims.collectionId);
      if (c?.type !== 'auth' || c.id !== claims.collectionId) return null;
      const record = await this.loadRecord(c, claims.id);
      if (!record || !tokenValid(token, c, record, 'auth')) return null;
      if (claims.sid !== undefined && !(await this.sessionActive(claims.sid, c.id, record.id))) return null;
      const auth = { collection: c, record };
      if (generation === this.generation) this.remember(token, auth, claims.exp);
      return auth;
    } catch {
      return null;
    }
  }

  private async sessionActive(sid: unknown, collectionId: string, recordId: string): Promise<boolean> {
    if (typeof sid !== 'string') return false;
    const row = await this.d.engine.get<{ revoked: unknown; expires: number | string }>(
      `SELECT revoked, expires FROM ${SESSIONS_TABLE} WHERE id = $1 AND collection_ref = $2 AND record_ref = $3`,
      [sid, collectionId, recordId],
    );
    return row !== undefined && !this.d.engine.dialect.decode('bool', row.revoked) && Number(row.expires) > Date.now();
  }

  /** A new session token; impersonation tokens cannot be refreshed. */
  newToken(c: Collection, record: RecordData, options: { refreshable?: boolean; duration?: number; sid?: string } = {}): string {
    const extra: Record<string, unknown> = { refreshable: options.refreshable ?? true };
    if (options.sid) extra.sid = options.sid;
    return issueToken(c, record, 'auth', extra, options.duration);
  }

  // --------------------------------------------------------------- sign-in

  /** The auth collection named in a route, or PocketBase's 404. */
  authCollection(idOrName: string): Collection {
    const c = this.d.registry.find(idOrName);
    if (c?.type !== 'auth' || !c.auth) throw Errors.notFound('Missing or invalid auth collection context.');
    return c;
  }

  /** The lockout key of an identity in a collection. */
  private identityKey(c: Collection, identity: string): string {
    return `${c.id}/${identity.trim().toLowerCase()}\n`;
  }

  /**
   * Begins a sign-in attempt: the seconds the client must wait, or 0 when it
   * may go on (then `endAttempt`). Attempts in flight count against the
   * failures an identity has left, which stops parallel guessing; one that
   * finds them all taken waits its turn in a short queue
   * ({@link SIGN_IN_QUEUE}) instead of being refused, so correct passwords
   * sent at once are all answered. A lock is only ever what failures made.
   */
  private async beginAttempt(key: string, ip: string): Promise<number> {
    const deadline = Date.now() + SIGN_IN_QUEUE.waitMs;
    for (;;) {
      const client = this.perClient.begin(key + ip);
      let guard: LoginGuard = this.perClient;
      let busyKey = key + ip;
      let refused = client;
      if (client === 0) {
        const identity = this.perIdentity.begin(key);
        if (identity === 0) return 0;
        this.perClient.end(key + ip);
        guard = this.perIdentity;
        busyKey = key;
        refused = identity;
      }
      const left = deadline - Date.now();
      if (!guard.busy(busyKey) || left <= 0 || !(await guard.whenFree(busyKey, left, SIGN_IN_QUEUE.maxWaiting))) return refused;
    }
  }

  private endAttempt(key: string, ip: string): void {
    this.perClient.end(key + ip);
    this.perIdentity.end(key);
  }

  private clientPolicy(): LockoutPolicy {
    return this.d.settings.get().loginProtection;
  }

  private identityPolicy(): LockoutPolicy {
    const p = this.d.settings.get().loginProtection;
    return { ...p, maxFailures: p.maxFailuresPerIdentity };
  }

  /** Counts a failed sign-in; the seconds of a lock it starts, or 0. */
  private async failed(key: string, ip: string): Promise<number> {
    const here = Math.max(this.perClient.failure(key + ip), this.perIdentity.failure(key));
    if (!this.shared) return here;
    const client = await this.shared.failure(key + ip, this.clientPolicy());
    const identity = await this.shared.failure(key, this.identityPolicy());
    return Math.max(here, client, identity);
  }

  private async succeeded(key: string, ip: string): Promise<void> {
    this.perClient.success(key + ip);
    this.perIdentity.success(key);
    await this.shared?.success(key + ip);
    await this.shared?.success(key);
  }

  /** Ends every lock on an identity: its owner proved it through a mailed link. */
  async clearLocks(c: Collection, identity: string): Promise<void> {
    const key = this.identityKey(c, identity);
    this.perIdentity.success(key);
    this.perClient.forget(key);
    await this.shared?.success(key);
    await this.shared?.forget(key);
  }

  /**
   * `auth-with-password`: finds the record by one of the identity fields and
   * checks the password. Unknown identity, wrong password and a record the
   * authRule refuses all answer the same 400 after the same bcrypt work;
   * repeated failures lock the identity out for a growing time, for the
   * client that failed (and for everyone after many failures from many IPs).
   */
  async withPassword(
    c: Collection,
    identity: unknown,
    password: unknown,
    options: { identityField?: unknown; ip: string; signal?: AbortSignal },
  ): Promise<RecordData> {
    const { identityField, ip, signal } = options;
    const a = c.auth;
    if (!a) throw Errors.notFound('Missing or invalid auth collection context.');
    if (!a.passwordAuth.enabled) throw Errors.forbidden('The collection is not configured to allow password authentication.');
    const errors: Record<string, ReturnType<typeof fieldError>> = {};
    if (typeof identity !== 'string' || identity.trim() === '') errors.identity = fieldError('validation_required', 'Cannot be blank.');
    else if (identity.length > 255) errors.identity = fieldError('validation_length_too_long', 'The length must be no more than 255.');
    if (typeof password !== 'string' || password === '') errors.password = fieldError('validation_required', 'Cannot be blank.');
    let fields = a.passwordAuth.identityFields;
    if (identityField !== undefined && identityField !== '') {
      if (typeof identityField !== 'string' || !fields.includes(identityField)) {
        errors.identityField = fieldError('validation_in_invalid', 'Must be a valid value.');
      } else fields = [identityField];
    }
    if (Object.keys(errors).length > 0) throw Errors.validation('An error occurred while validating the submitted data.', errors);

    const key = this.identityKey(c, identity as string);
    const retry = await this.beginAttempt(key, ip);
    if (retry > 0) throw rateLimited(retry);
    try {
      // locks another instance set
      const elsewhere = this.shared ? await this.shared.lockedFor([key + ip, key]) : 0;
      if (elsewhere > 0) throw rateLimited(elsewhere);
      const record = await this.findByIdentity(c, fields, identity as string);
      const cost = c.fields.find((f) => isPassword(f))?.cost;
      const ok = await verifyPassword(password as string, String(record?.password ?? ''), signal, cost);
      if (!record || !ok || !(await this.passesAuthRule(c, record, 'password'))) {
        const locked = await this.failed(key, ip);
        if (locked > 0) throw rateLimited(locked);
        throw Errors.authFailed();
      }
      await this.succeeded(key, ip);
      return record;
    } finally {
      this.endAttempt(key, ip);
    }
  }

  private async findByIdentity(c: Collection, fields: string[], identity: string): Promise<RecordData | undefined> {
    const dialect = this.d.engine.dialect;
    for (const name of fields) {
      const field = fieldByName(c, name);
      if (!field) continue;
      const col = `${RECORD_ALIAS}.${dialect.ident(name)}`;
      const cond = kindOf(field).identity === 'caseless' ? `LOWER(${col}) = LOWER($1)` : `${col} = $1`;
      const [record] = await readRecords(
        this.d.engine,
        c,
        dialect,
        `SELECT ${selectList(c, dialect)} FROM ${dialect.ident(c.name)} ${RECORD_ALIAS} WHERE ${cond} LIMIT 1`,
        [identity],
      );
      if (record) return record;
    }
    return undefined;
  }

  /** A record by email (case-insensitive), for the recovery flows. */
  async findByEmail(c: Collection, email: string): Promise<RecordData | undefined> {
    return this.findByIdentity(c, ['email'], email);
  }

  /** The collection's authRule, evaluated with the record itself as `@request.auth`. */
  async passesAuthRule(c: Collection, record: RecordData, method: AuthMethod): Promise<boolean> {
    const rule = c.auth?.authRule;
    if (rule === null || rule === undefined) return false;
    if (rule === '') return true;
    const info: RequestInfo = {
      auth: { collection: c, record },
      method: 'POST',
      context: method === 'otp' || method === 'password' || method === 'oauth2' ? method : 'default',
      query: {},
      headers: {},
      body: {},
    };
    try {
      return await this.d.access.admits(this.d.engine, c, record.id, info, rule);
    } catch {
      return false;
    }
  }

  /**
   * The last step of every sign-in: when the collection wants MFA for this
   * record, the first method answers 401 `{mfaId}` and a second, different
   * method must come with that `mfaId`.
   */
  async secondFactor(c: Collection, record: RecordData, method: AuthMethod, mfaId: unknown): Promise<void> {
    const mfa = c.auth?.mfa;
    if (!mfa?.enabled || method === 'refresh' || method === 'impersonate') return;
    if (mfa.rule !== '') {
      const info: RequestInfo = { auth: { collection: c, record }, method: 'POST', context: 'default', query: {}, headers: {}, body: {} };
      let wants = false;
      try {
        wants = await this.d.access.admits(this.d.engine, c, record.id, info, mfa.rule);
      } catch {
        wants = true;
      }
      if (!wants) return;
    }
    const e = this.d.engine;
    if (mfaId === undefined || mfaId === null || mfaId === '') {
      const id = newRecordId();
      await e.run(this.mfaSql.insert, [id, c.id, record.id, method, nowString()]);
      throw new MfaRequiredError(id);
    }
    if (typeof mfaId !== 'string' || mfaId.length > 100) throw Errors.badRequest('Invalid or expired MFA session.');
    const row = await e.get<{ collectionRef: string; recordRef: string; method: string; created: string }>(this.mfaSql.read, [mfaId]);
    if (!row || !(parseDate(row.created) + mfa.duration * 1000 >= Date.now())) {
      if (row) await e.run(this.mfaSql.delete, [mfaId]);
      throw Errors.badRequest('Invalid or expired MFA session.');
    }
    if (row.collectionRef !== c.id || row.recordRef !== record.id) throw Errors.badRequest('Invalid MFA session.');
    if (row.method === method) throw Errors.badRequest('A different authentication method is required.');
    await e.run(this.mfaSql.finish, [mfaId, formatDate(new Date(Date.now() - mfa.duration * 1000))]);
  }

  /**
   * `auth-refresh`: the caller's record, re-checked against the authRule, and
   * a fresh token, unless the token says it is not refreshable (impersonation),
   * which is answered as it came (PocketBase). A token bound to a refresh
   * session stays bound to it, so ending the session still ends its heirs.
   */
  async refresh(c: Collection, auth: AuthState | null, token: string | null): Promise<{ record: RecordData; token: string }> {
    if (!auth || auth.collection.id !== c.id || !token) throw Errors.unauthorized();
    if (!(await this.passesAuthRule(c, auth.record, 'refresh'))) {
      throw Errors.forbidden("The request doesn't satisfy the collection requirements to authenticate.");
    }
    const claims = peekToken(token);
    if (claims?.refreshable !== true) return { record: auth.record, token };
    const sid = typeof claims.sid === 'string' ? claims.sid : undefined;
    return { record: auth.record, token: this.newToken(c, auth.record, sid ? { sid } : {}) };
  }

  /** `impersonate/{id}` (superusers): a non-refreshable token for any auth record. */
  async impersonate(info: RequestInfo, c: Collection, id: string, duration: unknown): Promise<{ record: RecordData; token: string }> {
    if (!info.auth) throw Errors.unauthorized();
    if (!isSuperuser(info)) throw Errors.forbidden('The authorized record is not allowed to perform this action.');
    if (
      duration !== undefined &&
      duration !== 0 &&
      (typeof duration !== 'number' || !Number.isInteger(duration) || duration < 0 || duration > 63_072_000)
    ) {
      throw Errors.validation('An error occurred while validating the submitted data.', {
        duration: fieldError('validation_invalid_value', 'Must be a whole number of seconds.'),
      });
    }
    const record = await this.loadRecord(c, id);
    if (!record) throw Errors.notFound();
    const seconds = typeof duration === 'number' && duration > 0 ? duration : undefined;
    return {
      record,
      token: this.newToken(c, record, seconds === undefined ? { refreshable: false } : { refreshable: false, duration: seconds }),
    };
  }

  /** Signs the caller out everywhere: a new tokenKey revokes every token; refresh sessions end too. */
  async logoutEverywhere(auth: AuthState): Promise<void> {
    await this.d.records.systemUpdate(auth.collection, auth.record.id, { tokenKey: newTokenKey() });
    await this.d.engine.run(`UPDATE ${SESSIONS_TABLE} SET revoked = $1 WHERE collection_ref = $2 AND record_ref = $3`, [
      this.d.engine.dialect.encode('bool', true),
      auth.collection.id,
      auth.record.id,
    ]);
    this.d.events.emit({ type: 'sessions', collectionId: auth.collection.id, recordId: auth.record.id });
  }

  /** The claims of a token of another kind, for routes that accept one (file tokens, later). */
  claims = claimsFor;
}

/** A 429 that says when to retry. */
export const rateLimited = (retryAfterSeconds: number): ApiError => Errors.tooManyRequests(retryAfterSeconds);

/** How many sign-ins of one identity may wait for those in flight, and for how long (ms), before a 429. */
export const SIGN_IN_QUEUE = { maxWaiting: 20, waitMs: 10_000 };
