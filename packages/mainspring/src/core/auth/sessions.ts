import { createHash, randomBytes } from 'node:crypto';
import type { Collection } from '../collections/model.js';
import { Errors } from '../errors.js';
import { newRecordId } from '../ids.js';
import type { AuthState, RecordData } from '../rules/request-info.js';
import { type AuthDeps, type AuthService, SESSIONS_TABLE } from './service.js';

/** Refresh tokens, stored as SHA-256 only. */
export const REFRESH_TOKENS_TABLE = '_ms_refresh_tokens';

const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

/** What a session remembers of the record's tokenKey: rotating the key ends the session. */
const keyFingerprint = (record: RecordData) => hashOf(`session:${String(record.tokenKey ?? '')}`).slice(0, 32);

/** A session as its owner sees it. */
export interface SessionInfo {
  id: string;
  created: string;
  lastUsed: string;
  expires: string;
  ip: string;
  userAgent: string;
  current: boolean;
}

interface SessionRow {
  id: string;
  collection_ref: string;
  record_ref: string;
  created: number | string;
  last_used: number | string;
  expires: number | string;
  revoked: unknown;
  ip: string;
  user_agent: string;
  key_fp: string | null;
}

/**
 * Mainspring's refresh-token sessions (beside PocketBase's dialect). A
 * session is a family of opaque refresh tokens: each may be used once and is
 * replaced by the next. A token used again after a short grace window (which
 * covers a client's concurrent refreshes) means it was stolen: the whole
 * family is revoked, and so are the access tokens it issued (they carry its id).
 */
export class SessionService {
  constructor(
    private readonly d: AuthDeps,
    private readonly auth: AuthService,
  ) {}

  private newRefreshToken(sessionId: string): string {
    return `msr_${sessionId}_${randomBytes(32).toString('base64url')}`;
  }

  private async storeToken(sessionId: string): Promise<string> {
    const token = this.newRefreshToken(sessionId);
    await this.d.engine.run(`INSERT INTO ${REFRESH_TOKENS_TABLE} (hash, session, created, used_at) VALUES ($1, $2, $3, 0)`, [
      hashOf(token),
      sessionId,
      Date.now(),
    ]);
    return token;
  }

  /** Starts a session for a signed-in caller: a refresh token and an access token bound to it. */
  async create(
    auth: AuthState,
    meta: { ip: string; userAgent: string },
  ): Promise<{ token: string; refreshToken: string; session: SessionInfo }> {
    const now = Date.now();
    const id = newRecordId();
    const expires = now + this.d.settings.get().sessions.refreshTokenDuration * 1000;
    await this.d.engine.run(
      `INSERT INTO ${SESSIONS_TABLE} (id, collection_ref, record_ref, created, last_used, expires, revoked, ip, user_agent, key_fp) VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9)`,
      [
        id,
        auth.collection.id,
        auth.record.id,
        now,
        expires,
        this.d.engine.dialect.encode('bool', false),
        meta.ip.slice(0, 100),
        meta.userAgent.slice(0, 300),
        keyFingerprint(auth.record),
      ],
    );
    const refreshToken = await this.storeToken(id);
    const token = this.auth.newToken(auth.collection, auth.record, { sid: id });
    const row = await this.row(id);
    return { token, refreshToken, session: this.info(row as SessionRow, id) };
  }

  private async row(id: string): Promise<SessionRow | undefined> {
    return this.d.engine.get<SessionRow>(`SELECT * FROM ${SESSIONS_TABLE} WHERE id = $1`, [id]);
  }

  private info(r: SessionRow, currentId?: string): SessionInfo {
    const iso = (v: number | string) => new Date(Number(v)).toISOString().replace('T', ' ');
    return {
      id: r.id,
      created: iso(r.created),
      lastUsed: iso(r.last_used),
      expires: iso(r.expires),
      ip: r.ip,
      userAgent: r.user_agent,
      current: r.id === currentId,
    };
  }

  private async revokeSession(r: SessionRow): Promise<void> {
    await this.d.engine.run(`UPDATE ${SESSIONS_TABLE} SET revoked = $1 WHERE id = $2`, [this.d.engine.dialect.encode('bool', true), r.id]);
    this.d.events.emit({ type: 'sessions', collectionId: r.collection_ref, recordId: r.record_ref });
  }

  /** Trades a refresh token for a new access token and a new refresh token. */
  async refresh(refreshToken: unknown): Promise<{ collection: Collection; record: RecordData; token: string; refreshToken: string }> {
    const denied = () => Errors.unauthorized('Invalid or expired refresh token.');
    if (typeof refreshToken !== 'string' || !/^msr_[a-z0-9]{15}_[A-Za-z0-9_-]{43}$/.test(refreshToken)) throw denied();
    const hash = hashOf(refreshToken);
    // used_at is 0 until the token is spent
    const stored = await this.d.engine.get<{ session: string; used_at: number | string }>(
      `SELECT session, used_at FROM ${REFRESH_TOKENS_TABLE} WHERE hash = $1`,
      [hash],
    );
    if (!stored) throw denied();
    const session = await this.row(stored.session);
    const now = Date.now();
    if (!session || this.d.engine.dialect.decode('bool', session.revoked) || Number(session.expires) <= now) throw denied();

    const grace = this.d.settings.get().sessions.reuseGraceSeconds * 1000;
    if (Number(stored.used_at) !== 0) {
      if (now - Number(stored.used_at) > grace) {
        // a spent token came back: someone else has it; end the whole family
        this.d.logger.warn({ session: session.id }, 'refresh token reused: session revoked');
        await this.revokeSession(session);
        throw denied();
      }
    } else {
      const marked = await this.d.engine.run(`UPDATE ${REFRESH_TOKENS_TABLE} SET used_at = $1 WHERE hash = $2 AND used_at = 0`, [
        now,
        hash,
      ]);
      if (marked === 0 && grace === 0) {
        await this.revokeSession(session);
        throw denied();
      }
    }
    const c = this.d.registry.find(session.collection_ref);
    const record = c ? await this.auth.loadRecord(c, session.record_ref) : undefined;
    if (!c || !record || session.key_fp !== keyFingerprint(record) || !(await this.auth.passesAuthRule(c, record, 'refresh'))) {
      throw denied();
    }
    await this.d.engine.run(`UPDATE ${SESSIONS_TABLE} SET last_used = $1 WHERE id = $2`, [now, session.id]);
    await this.d.engine.run(`DELETE FROM ${REFRESH_TOKENS_TABLE} WHERE session = $1 AND used_at <> 0 AND used_at < $2`, [
      session.id,
      now - grace - 60_000,
    ]);
    return {
      collection: c,
      record,
      token: this.auth.newToken(c, record, { sid: session.id }),
      refreshToken: await this.storeToken(session.id),
    };
  }

  /** The caller's active sessions, newest first. */
  async list(auth: AuthState, currentSessionId?: string): Promise<SessionInfo[]> {
    const rows = await this.d.engine.all<SessionRow>(
      `SELECT * FROM ${SESSIONS_TABLE} WHERE collection_ref = $1 AND record_ref = $2 AND revoked = $3 AND expires > $4 AND key_fp = $5 ORDER BY last_used DESC LIMIT 200`,
      [auth.collection.id, auth.record.id, this.d.engine.dialect.encode('bool', false), Date.now(), keyFingerprint(auth.record)],
    );
    return rows.map((r) => this.info(r, currentSessionId));
  }

  /** Ends one of the caller's sessions (404 for anyone else's). */
  async revoke(auth: AuthState, sessionId: string): Promise<void> {
    const r = await this.row(sessionId);
    if (!r || r.collection_ref !== auth.collection.id || r.record_ref !== auth.record.id) throw Errors.notFound();
    await this.revokeSession(r);
  }
}
