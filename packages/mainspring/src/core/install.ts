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
 * without a superuser replaces it, so only the newest printed link works.
 */

const INSTALL_KEY = 'ms_install';
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

  /** A new install token (replacing any earlier one) when no superuser exists, else null. */
  async newToken(now = Date.now()): Promise<string | null> {
    if (!(await this.needed())) return null;
    const token = randomBytes(32).toString('base64url');
    const value = this.engine.dialect.encode('json', { hash: sha256(token).toString('hex'), expires: now + INSTALL_TOKEN_TTL_MS });
    const stamp = nowString();
    await this.engine.transaction(async (tx) => {
      await tx.run(`DELETE FROM ${PARAMS_TABLE} WHERE id = $1`, [INSTALL_KEY]);
      await tx.run(`INSERT INTO ${PARAMS_TABLE} (id, value, created, updated) VALUES ($1, $2, $3, $3)`, [INSTALL_KEY, value, stamp]);
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
    const claimed = await this.engine.transaction(async (tx) => {
      const row = await tx.get<{ value: string; created: unknown }>(`SELECT value, created FROM ${PARAMS_TABLE} WHERE id = $1`, [
        INSTALL_KEY,
      ]);
      if (!row) return null;
      const stored = JSON.parse(typeof row.value === 'string' ? row.value : JSON.stringify(row.value)) as { hash: string; expires: number };
      const given = sha256(token);
      const expected = Buffer.from(stored.hash, 'hex');
      if (expected.length !== given.length || !timingSafeEqual(expected, given) || stored.expires < now) return null;
      await tx.run(`DELETE FROM ${PARAMS_TABLE} WHERE id = $1`, [INSTALL_KEY]);
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
      return { token: this.auth.newToken(c, full), record: created as RecordData };
    } catch (err) {
      // the token was not used up: put it back, unless another one replaced it meanwhile
      await this.engine
        .run(`INSERT INTO ${PARAMS_TABLE} (id, value, created, updated) VALUES ($1, $2, $3, $3) ON CONFLICT (id) DO NOTHING`, [
          INSTALL_KEY,
          claimed as string,
          nowString(),
        ])
        .catch(() => {});
      throw err;
    }
  }
}
