import { createHash } from 'node:crypto';
import type { Collection } from '../collections/model.js';
import { AUTH_ORIGINS } from '../collections/system.js';
import { nowString } from '../dates.js';
import { newRecordId } from '../ids.js';
import type { RecordData } from '../rules/request-info.js';
import type { AuthDeps } from './service.js';

/** Origins kept per record; the least recently used go first. */
const MAX_ORIGINS = 50;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * Login alerts, as PocketBase sends them: when an account with `authAlert`
 * enabled signs in (password, OTP) from a device it has not used before, and
 * it has signed in before, its owner gets the collection's `authAlert` mail,
 * with the time, IP and user agent as `{ALERT_INFO}`. Origins are records
 * of `_authOrigins` (a fingerprint of IP and user agent per auth record),
 * written with direct SQL after the answer.
 */
export class AuthAlerts {
  private readonly sql: { list: string; touch: string; insert: string; delete: string };

  constructor(private readonly d: AuthDeps) {
    const q = (name: string) => d.engine.dialect.ident(name);
    const t = q(AUTH_ORIGINS);
    this.sql = {
      list: `SELECT id, fingerprint FROM ${t} WHERE ${q('collectionRef')} = $1 AND ${q('recordRef')} = $2 ORDER BY updated DESC`,
      touch: `UPDATE ${t} SET updated = $1 WHERE id = $2`,
      // the unique index on the three settles two sign-ins from one new origin at once
      insert: `INSERT INTO ${t} (id, ${q('collectionRef')}, ${q('recordRef')}, fingerprint, created, updated) VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING`,
      delete: `DELETE FROM ${t} WHERE id = $1`,
    };
  }

  /** Records the origin of a sign-in, mailing an alert for a new one. */
  async signedIn(c: Collection, record: RecordData, ip: string, userAgent: string): Promise<void> {
    if (!c.auth?.authAlert.enabled) return;
    const agent = userAgent.length > 200 ? `${userAgent.slice(0, 200)}...` : userAgent;
    const fingerprint = sha256(`${ip}\n${agent}`);
    const e = this.d.engine;
    const origins = await e.all<{ id: string; fingerprint: string }>(this.sql.list, [c.id, record.id]);
    const now = nowString();
    const known = origins.find((o) => o.fingerprint === fingerprint);
    if (known) {
      await e.run(this.sql.touch, [now, known.id]);
      return;
    }
    // 0 rows: a sign-in from the same origin recorded it a moment ago, and alerts for it
    if ((await e.run(this.sql.insert, [newRecordId(), c.id, record.id, fingerprint, now])) === 0) return;
    for (const old of origins.slice(MAX_ORIGINS - 1)) await e.run(this.sql.delete, [old.id]);
    // the first sign-in is no news
    if (origins.length > 0 && typeof record.email === 'string' && record.email !== '') {
      await this.d.mail.sendTemplate(record.email, c.auth.authAlert.emailTemplate, { ALERT_INFO: `${now} - ${ip} ${agent}` });
    }
  }
}
