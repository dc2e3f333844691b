import type { Collection } from '../collections/model.js';
import { OTPS } from '../collections/system.js';
import { formatDate, nowString, parseDate } from '../dates.js';
import { Errors, fieldError } from '../errors.js';
import { isPassword } from '../fields/index.js';
import { newRecordId, randomString } from '../ids.js';
import type { RecordData } from '../rules/request-info.js';
import { DEFAULT_BCRYPT_COST, hashPassword, verifyPassword } from './passwords.js';
import type { AuthDeps, AuthService } from './service.js';

/** Wrong codes an OTP survives before it is thrown away. */
const MAX_OTP_ATTEMPTS = 5;

/**
 * `request-otp` answers `{otpId}` at once, whether or not the email has an
 * account, and mails the code afterwards; `auth-with-otp` checks it once.
 * Codes are records of the `_otps` collection (the code as a bcrypt hash in
 * its hidden `password` field), written and read with direct SQL: a sign-in
 * pays no record machinery (nor hooks or realtime events) for them.
 */
export class OtpService {
  private readonly attempts = new Map<string, number>();
  private readonly sql: { insert: string; purge: string; read: string; delete: string };

  constructor(
    private readonly d: AuthDeps,
    private readonly auth: AuthService,
  ) {
    const q = (name: string) => d.engine.dialect.ident(name);
    const t = q(OTPS);
    this.sql = {
      insert: `INSERT INTO ${t} (id, ${q('collectionRef')}, ${q('recordRef')}, password, ${q('sentTo')}, created, updated) VALUES ($1, $2, $3, $4, $5, $6, $6)`,
      purge: `DELETE FROM ${t} WHERE created < $1`,
      read: `SELECT ${q('collectionRef')} AS "collectionRef", ${q('recordRef')} AS "recordRef", password, ${q('sentTo')} AS "sentTo", created FROM ${t} WHERE id = $1`,
      delete: `DELETE FROM ${t} WHERE id = $1`,
    };
  }

  /** The bcrypt cost of the codes: the `_otps` password field's (PocketBase's 8). */
  private cost(): number {
    const field = this.d.registry.find(OTPS)?.fields.find((f) => isPassword(f));
    return isPassword(field) && field.cost > 0 ? field.cost : DEFAULT_BCRYPT_COST;
  }

  requestOtp(c: Collection, rawEmail: unknown): { otpId: string } {
    const otp = c.auth?.otp;
    if (!otp?.enabled) throw Errors.forbidden('The collection is not configured to allow OTP authentication.');
    if (typeof rawEmail !== 'string' || rawEmail.trim() === '' || rawEmail.length > 255 || !/^[^\s@]+@[^\s@]+$/.test(rawEmail.trim())) {
      throw Errors.validation('An error occurred while validating the submitted data.', {
        email: fieldError(
          typeof rawEmail === 'string' && rawEmail.trim() !== '' ? 'validation_is_email' : 'validation_required',
          'Must be a valid email address.',
        ),
      });
    }
    const otpId = newRecordId();
    const email = rawEmail.trim();
    setImmediate(() => {
      this.issue(c, otpId, email).catch((err) => this.d.logger.error({ err: { message: (err as Error).message } }, 'OTP mail failed'));
    });
    return { otpId };
  }

  private async issue(c: Collection, otpId: string, email: string): Promise<void> {
    const record = await this.auth.findByEmail(c, email);
    if (!record || !c.auth) return;
    const code = randomString(c.auth.otp.length, '0123456789');
    const now = Date.now();
    await this.d.engine.run(this.sql.insert, [
      otpId,
      c.id,
      record.id,
      await hashPassword(code, this.cost()),
      String(record.email),
      nowString(),
    ]);
    await this.d.engine.run(this.sql.purge, [formatDate(new Date(now - 86_400_000))]);
    await this.d.mail.sendTemplate(String(record.email), c.auth.otp.emailTemplate, { OTP: code, OTP_ID: otpId });
  }

  /** Checks an OTP; unknown, expired and wrong all answer the same 400 after the same bcrypt work. */
  async authWithOtp(c: Collection, otpId: unknown, code: unknown): Promise<RecordData> {
    const otp = c.auth?.otp;
    if (!otp?.enabled) throw Errors.forbidden('The collection is not configured to allow OTP authentication.');
    // PocketBase's form: both required, otpId up to 255 characters, the code up to 71 (bcrypt reads 72 bytes)
    const errors: Record<string, ReturnType<typeof fieldError>> = {};
    const check = (key: string, v: unknown, max: number) => {
      if (typeof v !== 'string' || v === '') errors[key] = fieldError('validation_required', 'Cannot be blank.');
      else if (v.length > max) errors[key] = fieldError('validation_length_out_of_range', `The length must be between 1 and ${max}.`);
    };
    check('otpId', otpId, 255);
    check('password', code, 71);
    if (Object.keys(errors).length > 0) throw Errors.validation('An error occurred while validating the submitted data.', errors);
    const fail = () => Errors.badRequest('Invalid or expired OTP.');

    const row = await this.d.engine.get<{ collectionRef: string; recordRef: string; password: string; sentTo: string; created: string }>(
      this.sql.read,
      [otpId as string],
    );
    const live = row !== undefined && row.collectionRef === c.id && parseDate(row.created) + otp.duration * 1000 > Date.now();
    // an unknown or expired code costs what a wrong one costs
    const ok = await verifyPassword(code as string, live ? row.password : '', undefined, this.cost());
    if (!live || !ok) {
      if (live) {
        const n = (this.attempts.get(otpId as string) ?? 0) + 1;
        this.attempts.set(otpId as string, n);
        if (n >= MAX_OTP_ATTEMPTS) await this.drop(otpId as string);
      }
      throw fail();
    }
    // single use: whoever deletes it first signs in
    const deleted = await this.d.engine.run(this.sql.delete, [otpId as string]);
    this.attempts.delete(otpId as string);
    if (deleted === 0) throw fail();
    let record = await this.auth.loadRecord(c, row.recordRef);
    if (!record) throw fail();
    // a code that arrived at the record's address proves it
    if (record.verified !== true && String(record.email).toLowerCase() === row.sentTo.toLowerCase()) {
      record = await this.d.records.systemUpdate(c, record.id, { verified: true });
    }
    if (!(await this.auth.passesAuthRule(c, record, 'otp'))) throw Errors.authFailed();
    return record;
  }

  private async drop(otpId: string): Promise<void> {
    this.attempts.delete(otpId);
    await this.d.engine.run(this.sql.delete, [otpId]);
  }
}
