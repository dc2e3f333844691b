import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Engine } from '../storage/engine.js';
import type { AuthService } from './auth/service.js';
import type { CollectionRegistry } from './collections/registry.js';
import { nowString } from './dates.js';
import { Errors } from './errors.js';
import type { RecordService } from './records/service.js';
import { type RecordData, SUPERUSERS, SYSTEM_REQUEST } from './rules/request-info.js';
import { PARAMS_TABLE } from './settings.js';

/**
 * The first superuser of a fresh install. PocketBase prints a one-time link
 * holding a short-lived superuser token; ours holds a random install token
 * instead, stored only as its SHA-256 in `_params` with an expiry, good for
 * one thing: creating the first superuser while there is none. Each start
 * without a superuser adds one (a row of its own, keyed by the start of its
 * hash), so every printed link works until it expires or a superuser exists:
 * several instances sharing a database each print one, and any of them works.
 */

/** The `_params` ids of install tokens: this prefix and the first 16 hex digits of the token's hash. */
const INSTALL_PREFIX = 'ms_install_';
const installKey = (hash: Buffer) => `${INSTALL_PREFIX}${hash.toString('hex').slice(0, 16)}`;
/** How long a printed link works. */
export const INSTALL_TOKEN_TTL_MS = 60 * 60_000;

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** Creating the first superuser through a one-time link. */
export class InstallService {
  constructor(
    private readonly engine: Engine,
    private readonly registry: CollectionRegistry,
    private readonly records: RecordService,
    private readonly auth: AuthService,
  ) {}

  /** True while no superuser exists. */
  async needed(): Promise<boolean> {
    const d = this.engine.dialect;
    const row = await this.engine.get(`SELECT id FROM ${d.ident(SUPERUSERS)} LIMIT 1`);
    return row === undefined;
  }

  /** A new install token, beside any earlier unexpired ones, when no superuser exists; else null. */
  async newToken(now = Date.now()): Promise<string | null> {
    if (!(await this.needed())) return null;
    const token = randomBytes(32).toString('base64url');
    const hash = sha256(token);
    const value = this.engine.dialect.encode('json', { hash: hash.toString('hex'), expires: now + INSTALL_TOKEN_TTL_MS });
    const stamp = nowString();
    await this.engine.transaction(async (tx) => {
      for (const row of await tx.all<{ id: string; value: unknown }>(`SELECT id, value FROM ${PARAMS_TABLE} WHERE id LIKE $1`, [
        `${INSTALL_PREFIX}%`,
      ])) {
        if (storedToken(row.value).expires < now) await tx.run(`DELETE FROM ${PARAMS_TABLE} WHERE id = $1`, [row.id]);
      }
      await tx.run(`INSERT INTO ${PARAMS_TABLE} (id, value, created, updated) VALUES ($1, $2, $3, $3)`, [installKey(hash), value, stamp]);
    });
    return token;
  }

  /**
   * Creates the first superuser with a valid install token and signs it in.
   * The token is claimed (deleted) before the record is written, so two
   * requests cannot both use it; a refused record (a short password) puts it
   * back. Every failure of the token itself is the same 400.
   */
  async complete(token: unknown, data: Record<string, unknown>, now = Date.now()): Promise<{ token: string; record: RecordData }> {
    const invalid = () => Errors.badRequest('The install link is invalid or has expired. Restart `mainspring serve` for a new one.');
    if (typeof token !== 'string' || token.length < 20 || token.length > 200) throw invalid();
    const given = sha256(token);
    const key = installKey(given);
    const claimed = await this.engine.transaction(async (tx) => {
      const row = await tx.get<{ value: unknown }>(`SELECT value FROM ${PARAMS_TABLE} WHERE id = $1`, [key]);
      if (!row) return null;
      const stored = storedToken(row.value);
      const expected = Buffer.from(stored.hash, 'hex');
      if (expected.length !== given.length || !timingSafeEqual(expected, given) || stored.expires < now) return null;
      await tx.run(`DELETE FROM ${PARAMS_TABLE} WHERE id = $1`, [key]);
      return row.value;
    });
    if (claimed === null || !(await this.needed())) throw invalid();
    const c = this.registry.find(SUPERUSERS);
    if (!c) throw Errors.notFound();
    try {
      const input = { email: data.email, password: data.password, passwordConfirm: data.passwordConfirm };
      const created = await this.records.create(c, { data: input, source: 'json' }, {}, SYSTEM_REQUEST);
      const full = await this.records.findById(c, created.id as string);
      if (!full) throw Errors.notFound();
      // the other links (other starts, other instances) are good for nothing now
      await this.engine.run(`DELETE FROM ${PARAMS_TABLE} WHERE id LIKE $1`, [`${INSTALL_PREFIX}%`]);
      return { token: this.auth.newToken(c, full), record: created as RecordData };
    } catch (err) {
      // the token was not used up: put it back
      await this.engine
        .run(`INSERT INTO ${PARAMS_TABLE} (id, value, created, updated) VALUES ($1, $2, $3, $3) ON CONFLICT (id) DO NOTHING`, [
          key,
          claimed as string,
          nowString(),
        ])
        .catch(() => {});
      throw err;
    }
  }
}

/** An install token's row value: JSON text on SQLite, an object on PostgreSQL. */
function storedToken(value: unknown): { hash: string; expires: number } {
  return JSON.parse(typeof value === 'string' ? value : JSON.stringify(value)) as { hash: string; expires: number };
}
