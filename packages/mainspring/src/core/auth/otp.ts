import type { Collection } from '../collections/model.js';
import { Errors, fieldError } from '../errors.js';
import { newRecordId, randomString } from '../ids.js';
import type { RecordData } from '../rules/request-info.js';
import { hashPassword, verifyPassword } from './passwords.js';
import type { AuthDeps, AuthService } from './service.js';

/** One-time passwords by mail (PocketBase's `_otps`): the code is stored as a bcrypt hash. */
export const OTPS_TABLE = '_otps';

/** Wrong codes an OTP survives before it is thrown away. */
const MAX_OTP_ATTEMPTS = 5;

/**
 * `request-otp` answers `{otpId}` at once, whether or not the email has an
 * account, and mails the code afterwards; `auth-with-otp` checks it once.
 */
export class OtpService {
  private readonly attempts = new Map<string, number>();

  constructor(
    private readonly d: AuthDeps,
    private readonly auth: AuthService,
  ) {}

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
    await this.d.engine.run(
      `INSERT INTO ${OTPS_TABLE} (id, collection_ref, record_ref, password, sent_to, created) VALUES ($1, $2, $3, $4, $5, $6)`,
      [otpId, c.id, record.id, await hashPassword(code), String(record.email), now],
    );
    await this.d.engine.run(`DELETE FROM ${OTPS_TABLE} WHERE created < $1`, [now - 86_400_000]);
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

    const row = await this.d.engine.get<{
      collection_ref: string;
      record_ref: string;
      password: string;
      sent_to: string;
      created: number | string;
    }>(`SELECT collection_ref, record_ref, password, sent_to, created FROM ${OTPS_TABLE} WHERE id = $1`, [otpId as string]);
    const live = row !== undefined && row.collection_ref === c.id && Number(row.created) + otp.duration * 1000 > Date.now();
    const ok = await verifyPassword(code as string, live ? row.password : '');
    if (!live || !ok) {
      if (live) {
        const n = (this.attempts.get(otpId as string) ?? 0) + 1;
        this.attempts.set(otpId as string, n);
        if (n >= MAX_OTP_ATTEMPTS) await this.drop(otpId as string);
      }
      throw fail();
    }
    // single use: whoever deletes it first signs in
    const deleted = await this.d.engine.run(`DELETE FROM ${OTPS_TABLE} WHERE id = $1`, [otpId as string]);
    this.attempts.delete(otpId as string);
    if (deleted === 0) throw fail();
    let record = await this.auth.loadRecord(c, row.record_ref);
    if (!record) throw fail();
    // a code that arrived at the record's address proves it
    if (record.verified !== true && String(record.email).toLowerCase() === row.sent_to.toLowerCase()) {
      record = await this.d.records.systemUpdate(c, record.id, { verified: true });
    }
    if (!(await this.auth.passesAuthRule(c, record, 'otp'))) throw Errors.authFailed();
    return record;
  }

  private async drop(otpId: string): Promise<void> {
    this.attempts.delete(otpId);
    await this.d.engine.run(`DELETE FROM ${OTPS_TABLE} WHERE id = $1`, [otpId as string]);
  }
}
