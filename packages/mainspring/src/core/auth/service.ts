import type { Engine, Row } from '../../storage/engine.js';
import type { Collection } from '../collections/model.js';
import type { CollectionRegistry } from '../collections/registry.js';
import { Errors } from '../errors.js';
import type { EventBus } from '../events.js';
import type { RecordAccess } from '../records/access.js';
import { publicRecord } from '../records/output.js';
import { decodeRow, RECORD_ALIAS, selectList } from '../records/rows.js';
import type { AuthState, RecordData, RequestInfo } from '../rules/request-info.js';
import { verifyPassword } from './passwords.js';
import { peekToken, signToken, verifyToken } from './tokens.js';

/** How long a verified token is trusted without a lookup; any change to its record ends it sooner. */
const AUTH_CACHE_TTL_MS = 60_000;
const AUTH_CACHE_LIMIT = 10_000;

/** The `type` claim of session tokens. */
export const AUTH_TOKEN_TYPE = 'auth';

/** `{token, record}`, the answer of every auth endpoint. */
export interface AuthResponse {
  token: string;
  record: Record<string, unknown>;
}

/**
 * Sessions: issuing and checking tokens, and signing in with a password.
 * Any failure while resolving a token means "no auth", never an error that
 * could be mistaken for access.
 */
export class AuthService {
  /** Verified tokens → their caller, for a short while; dropped when the caller's record or the schema changes. */
  private readonly cache = new Map<string, { auth: AuthState; until: number }>();
  private readonly tokensByRecord = new Map<string, Set<string>>();

  constructor(
    private readonly engine: Engine,
    private readonly registry: CollectionRegistry,
    private readonly access: RecordAccess,
    events: EventBus,
  ) {
    events.on((event) => {
      if (event.type === 'schema') this.forgetAll();
      else if (this.registry.find(event.collectionId)?.type === 'auth') this.forget(`${event.collectionId}/${event.record.id}`);
    });
  }

  /** Bumped on every forget, so a lookup that raced a change is not cached. */
  private generation = 0;

  private forgetAll(): void {
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

  private async loadRecord(c: Collection, id: string): Promise<RecordData | undefined> {
    const d = this.engine.dialect;
    const row = await this.engine.get<Row>(
      `SELECT ${selectList(c, d)} FROM ${d.ident(c.name)} ${RECORD_ALIAS} WHERE ${RECORD_ALIAS}.${d.ident('id')} = $1`,
      [id],
    );
    return row ? decodeRow(c, row, d) : undefined;
  }

  /** The key a record's tokens of one kind are signed with. */
  private key(c: Collection, record: RecordData, kind: 'authToken' = 'authToken'): string | null {
    const secret = c.auth?.[kind].secret;
    const tokenKey = record.tokenKey;
    if (!secret || typeof tokenKey !== 'string' || tokenKey === '') return null;
    return `${tokenKey}${secret}`;
  }

  /** Resolves a bearer token to its caller, or null for any token that is not a valid, current session. */
  async authenticate(token: string): Promise<AuthState | null> {
    const hit = this.cache.get(token);
    if (hit) {
      if (hit.until > Date.now()) return hit.auth;
      this.cache.delete(token);
    }
    const generation = this.generation;
    try {
      const claims = peekToken(token);
      if (!claims || claims.type !== AUTH_TOKEN_TYPE) return null;
      const c = this.registry.find(claims.collectionId);
      if (c?.type !== 'auth' || c.id !== claims.collectionId) return null;
      const record = await this.loadRecord(c, claims.id);
      if (!record) return null;
      const key = this.key(c, record);
      if (!key || !verifyToken(token, key)) return null;
      const auth = { collection: c, record };
      if (generation === this.generation) this.remember(token, auth, claims.exp);
      return auth;
    } catch {
      return null;
    }
  }

  /** A new session token for an auth record. */
  newToken(c: Collection, record: RecordData): string {
    const key = this.key(c, record);
    if (!key || !c.auth) throw Errors.internal();
    const exp = Math.floor(Date.now() / 1000) + c.auth.authToken.duration;
    return signToken({ id: record.id, type: AUTH_TOKEN_TYPE, collectionId: c.id, refreshable: true, exp }, key);
  }

  /** `{token, record}` for a signed-in record; it sees itself, email included. */
  response(c: Collection, record: RecordData): AuthResponse {
    const self: RequestInfo = { auth: { collection: c, record }, method: 'POST', context: 'password', query: {}, headers: {}, body: {} };
    return { token: this.newToken(c, record), record: publicRecord(c, record, self) };
  }

  /**
   * `auth-with-password`: finds the record by one of the identity fields and
   * checks the password. Unknown identity, wrong password and a record the
   * authRule refuses all answer the same 400, after the same bcrypt work.
   */
  async withPassword(c: Collection, identity: unknown, password: unknown, identityField?: unknown): Promise<{ record: RecordData }> {
    if (c.type !== 'auth' || !c.auth) throw Errors.badRequest('The collection is not an auth collection.');
    if (!c.auth.passwordAuth.enabled) throw Errors.forbidden('The collection is not configured to allow password authentication.');
    if (typeof identity !== 'string' || identity === '' || identity.length > 255 || typeof password !== 'string') {
      throw Errors.validation('An error occurred while validating the submitted data.', {
        ...(typeof identity !== 'string' || identity === ''
          ? { identity: { code: 'validation_required', message: 'Cannot be blank.' } }
          : {}),
        ...(typeof password !== 'string' ? { password: { code: 'validation_required', message: 'Cannot be blank.' } } : {}),
      });
    }
    let fields = c.auth.passwordAuth.identityFields;
    if (identityField !== undefined && identityField !== '') {
      if (typeof identityField !== 'string' || !fields.includes(identityField)) {
        throw Errors.validation('An error occurred while validating the submitted data.', {
          identityField: { code: 'validation_in_invalid', message: 'Must be a valid value.' },
        });
      }
      fields = [identityField];
    }
    const record = await this.findByIdentity(c, fields, identity);
    const ok = await verifyPassword(password, String(record?.password ?? ''));
    if (!record || !ok) throw Errors.authFailed();
    if (!(await this.passesAuthRule(c, record))) throw Errors.authFailed();
    return { record };
  }

  private async findByIdentity(c: Collection, fields: string[], identity: string): Promise<RecordData | undefined> {
    const d = this.engine.dialect;
    for (const name of fields) {
      const field = c.fields.find((f) => f.name === name);
      if (!field) continue;
      const col = `${RECORD_ALIAS}.${d.ident(name)}`;
      const cond = field.type === 'email' ? `LOWER(${col}) = LOWER($1)` : `${col} = $1`;
      const row = await this.engine.get<Row>(`SELECT ${selectList(c, d)} FROM ${d.ident(c.name)} ${RECORD_ALIAS} WHERE ${cond} LIMIT 1`, [
        identity,
      ]);
      if (row) return decodeRow(c, row, d);
    }
    return undefined;
  }

  /** The collection's authRule, evaluated with the record itself as `@request.auth`. */
  private async passesAuthRule(c: Collection, record: RecordData): Promise<boolean> {
    const rule = c.auth?.authRule;
    if (rule === null || rule === undefined) return false;
    if (rule === '') return true;
    const info: RequestInfo = { auth: { collection: c, record }, method: 'POST', context: 'password', query: {}, headers: {}, body: {} };
    try {
      return await this.access.admits(this.engine, c, record.id, info, rule);
    } catch {
      return false;
    }
  }

  /** `auth-refresh`: a fresh token for the caller's still-valid session. */
  async refresh(c: Collection, auth: AuthState | null): Promise<RecordData> {
    if (!auth || auth.collection.id !== c.id) throw Errors.unauthorized();
    if (!(await this.passesAuthRule(c, auth.record))) throw Errors.forbidden('The request requires valid record authorization token.');
    return auth.record;
  }
}
