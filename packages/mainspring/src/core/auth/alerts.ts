import { createHash } from 'node:crypto';
import type { Collection } from '../collections/model.js';
import { nowString } from '../dates.js';
import type { RecordData } from '../rules/request-info.js';
import type { AuthDeps } from './service.js';

/** Where each auth record has signed in from (a fingerprint of IP and user agent). */
export const AUTH_ORIGINS_TABLE = '_ms_auth_origins';
/** Origins kept per record; the least recently used go first. */
const MAX_ORIGINS = 50;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * Login alerts, as PocketBase sends them: when an account with `authAlert`
 * enabled signs in (password, OTP) from a device it has not used before, and
 * it has signed in before, its owner gets the collection's `authAlert` mail,
 * with the time, IP and user agent as `{ALERT_INFO}`.
 */
export class AuthAlerts {
  constructor(private readonly d: AuthDeps) {}

  /** Records the origin of a sign-in, mailing an alert for a new one. */
  async signedIn(c: Collection, record: RecordData, ip: string, userAgent: string): Promise<void> {
    if (!c.auth?.authAlert.enabled) return;
    const agent = userAgent.length > 200 ? `${userAgent.slice(0, 200)}...` : userAgent;
    const fingerprint = sha256(`${ip}\n${agent}`);
    const e = this.d.engine;
    const t = e.dialect.ident(AUTH_ORIGINS_TABLE);
    const origins = await e.all<{ id: string; fingerprint: string }>(
      `SELECT id, fingerprint FROM ${t} WHERE collection_ref = $1 AND record_ref = $2 ORDER BY updated DESC`,
      [c.id, record.id],
    );
    const now = Date.now();
    const known = origins.find((o) => o.fingerprint === fingerprint);
    if (known) {
      await e.run(`UPDATE ${t} SET updated = $1 WHERE id = $2`, [now, known.id]);
      return;
    }
    await e.run(
      `INSERT INTO ${t} (id, collection_ref, record_ref, fingerprint, updated) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
      [sha256(`${c.id}/${record.id}/${fingerprint}`), c.id, record.id, fingerprint, now],
    );
    for (const old of origins.slice(MAX_ORIGINS - 1)) await e.run(`DELETE FROM ${t} WHERE id = $1`, [old.id]);
    // the first sign-in is no news
    if (origins.length > 0 && typeof record.email === 'string' && record.email !== '') {
      await this.d.mail.sendTemplate(record.email, c.auth.authAlert.emailTemplate, { ALERT_INFO: `${nowString()} - ${ip} ${agent}` });
    }
  }
}
