import type { Collection } from '../collections/model.js';
import { ApiError, Errors, type FieldError, fieldError } from '../errors.js';
import { isPassword, kindOf } from '../fields/index.js';
import { newTokenKey } from '../records/writes.js';
import type { RecordData } from '../rules/request-info.js';
import { consumeToken } from './one-time.js';
import { hashPassword, verifyPassword } from './passwords.js';
import type { AuthDeps, AuthService } from './service.js';
import { claimsFor, issueToken, type TokenKind, tokenValid } from './token-kinds.js';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * Account recovery and proof of email: verification, password reset and
 * email change, each through a single-use, short-lived token sent by mail.
 * Requests always answer 204 at once and do their work afterwards, so
 * neither the answer nor its timing says whether an account exists.
 */
export class RecoveryService {
  constructor(
    private readonly d: AuthDeps,
    private readonly auth: AuthService,
  ) {}

  /** Runs mail work after the response, logging (never throwing) failures. */
  private later(what: string, fn: () => Promise<void>): void {
    setImmediate(() => {
      fn().catch((err) => this.d.logger.error({ err: { message: (err as Error).message } }, `${what} failed`));
    });
  }

  private email(raw: unknown, key = 'email'): string {
    if (typeof raw !== 'string' || raw.trim() === '') {
      throw Errors.validation('An error occurred while validating the submitted data.', {
        [key]: fieldError('validation_required', 'Cannot be blank.'),
      });
    }
    if (raw.length > 255 || !EMAIL.test(raw.trim())) {
      throw Errors.validation('An error occurred while validating the submitted data.', {
        [key]: fieldError('validation_is_email', 'Must be a valid email address.'),
      });
    }
    return raw.trim();
  }

  /** Checks a mailed token of `kind` for `c`; returns its record and claims, or throws PocketBase's 400. */
  private async checkToken(c: Collection, token: unknown, kind: TokenKind, message: string) {
    const invalid = () => Errors.validation(message, { token: fieldError('validation_invalid_token', 'Invalid or expired token.') });
    if (typeof token !== 'string' || token === '') {
      throw Errors.validation(message, { token: fieldError('validation_required', 'Cannot be blank.') });
    }
    const claims = claimsFor(token, c, kind);
    if (!claims) throw invalid();
    const record = await this.auth.loadRecord(c, claims.id);
    if (!record || !tokenValid(token, c, record, kind)) throw invalid();
    // a token is for the address it was sent to
    if (typeof claims.email !== 'string' || claims.email.toLowerCase() !== String(record.email).toLowerCase()) throw invalid();
    return { record, claims, invalid };
  }

  /**
   * The token's field error, or null when it is good: a confirm route that
   * refuses other values names the token's fault beside theirs, as
   * PocketBase validates every value of the form at once.
   */
  private async tokenError(c: Collection, token: unknown, kind: TokenKind, message: string): Promise<FieldError | null> {
    try {
      await this.checkToken(c, token, kind, message);
      return null;
    } catch (err) {
      const found = err instanceof ApiError ? err.data.token : undefined;
      if (found && typeof found.code === 'string') return found as FieldError;
      throw err;
    }
  }

  // ---------------------------------------------------------- verification

  requestVerification(c: Collection, rawEmail: unknown): void {
    const email = this.email(rawEmail);
    this.later('verification mail', async () => {
      const record = await this.auth.findByEmail(c, email);
      if (!record || record.verified === true) return;
      const token = issueToken(c, record, 'verification', { email: record.email });
      await this.d.mail.sendTemplate(String(record.email), (c.auth as NonNullable<Collection['auth']>).verificationTemplate, {
        TOKEN: token,
      });
    });
  }

  async confirmVerification(c: Collection, token: unknown): Promise<void> {
    const message = 'Invalid or expired verification token.';
    const { record, claims, invalid } = await this.checkToken(c, token, 'verification', message);
    await this.d.engine.transaction(async (tx) => {
      if (!(await consumeToken(tx, token as string, claims.exp))) throw invalid();
      if (record.verified !== true) await this.d.records.systemUpdate(c, record.id, { verified: true }, tx);
    });
  }

  // -------------------------------------------------------- password reset

  requestPasswordReset(c: Collection, rawEmail: unknown): void {
    // as PocketBase: a collection without password sign-in has no password to reset
    if (!c.auth?.passwordAuth.enabled) throw Errors.badRequest('The collection is not configured to allow password authentication.');
    const email = this.email(rawEmail);
    this.later('password reset mail', async () => {
      const record = await this.auth.findByEmail(c, email);
      if (!record) return;
      const token = issueToken(c, record, 'passwordReset', { email: record.email });
      await this.d.mail.sendTemplate(String(record.email), (c.auth as NonNullable<Collection['auth']>).resetPasswordTemplate, {
        TOKEN: token,
      });
    });
  }

  async confirmPasswordReset(c: Collection, token: unknown, password: unknown, passwordConfirm: unknown): Promise<void> {
    const message = 'Invalid or expired password reset token.';
    const field = c.fields.find((f) => isPassword(f));
    const errors: Record<string, FieldError> = {};
    const blank = (v: unknown) => typeof v !== 'string' || v === '';
    if (blank(password)) errors.password = fieldError('validation_required', 'Cannot be blank.');
    else if (field) {
      const err = kindOf(field).validate(field, password);
      if (err) errors.password = err;
    }
    if (blank(passwordConfirm)) errors.passwordConfirm = fieldError('validation_required', 'Cannot be blank.');
    else if (passwordConfirm !== password) errors.passwordConfirm = fieldError('validation_values_mismatch', "Values don't match.");
    if (Object.keys(errors).length > 0) {
      const tokenErr = await this.tokenError(c, token, 'passwordReset', message);
      throw Errors.validation(message, tokenErr ? { token: tokenErr, ...errors } : errors);
    }
    const { record, claims, invalid } = await this.checkToken(c, token, 'passwordReset', message);
    const hash = await hashPassword(password as string, isPassword(field) ? field.cost : 0);
    await this.d.engine.transaction(async (tx) => {
      if (!(await consumeToken(tx, token as string, claims.exp))) throw invalid();
      // a new password means a new tokenKey (every session ends); the mail proved the address
      await this.d.records.systemUpdate(c, record.id, { password: hash, tokenKey: newTokenKey(), verified: true }, tx);
    });
    await this.auth.clearLocks(c, String(record.email));
  }

  // ---------------------------------------------------------- email change

  async requestEmailChange(c: Collection, record: RecordData, rawEmail: unknown): Promise<void> {
    const newEmail = this.email(rawEmail, 'newEmail');
    const emailField = c.fields.find((f) => f.name === 'email');
    const fieldErr = emailField ? kindOf(emailField).validate(emailField, newEmail) : null;
    if (fieldErr) throw Errors.validation('An error occurred while validating the submitted data.', { newEmail: fieldErr });
    // PocketBase's codes: the address the record has already, or another record's
    const holder = await this.auth.findByEmail(c, newEmail);
    if (holder) {
      throw Errors.validation('An error occurred while validating the submitted data.', {
        newEmail:
          holder.id === record.id
            ? fieldError('validation_not_in_invalid', 'Must be a different value.')
            : fieldError('validation_invalid_new_email', 'Invalid new email address.'),
      });
    }
    const token = issueToken(c, record, 'emailChange', { email: record.email, newEmail });
    this.later('email change mail', () =>
      this.d.mail.sendTemplate(newEmail, (c.auth as NonNullable<Collection['auth']>).confirmEmailChangeTemplate, { TOKEN: token }),
    );
  }

  async confirmEmailChange(c: Collection, token: unknown, password: unknown): Promise<void> {
    const message = 'Invalid or expired email change token.';
    if (typeof password !== 'string' || password === '') {
      const tokenErr = await this.tokenError(c, token, 'emailChange', message);
      const required = fieldError('validation_required', 'Cannot be blank.');
      throw Errors.validation(message, tokenErr ? { token: tokenErr, password: required } : { password: required });
    }
    const { record, claims, invalid } = await this.checkToken(c, token, 'emailChange', message);
    if (typeof claims.newEmail !== 'string') throw invalid();
    const ok = await verifyPassword(typeof password === 'string' ? password : '', String(record.password ?? ''));
    if (!ok)
      throw Errors.validation(message, { password: fieldError('validation_invalid_password', 'Missing or invalid auth record password.') });
    if (await this.auth.findByEmail(c, claims.newEmail)) {
      throw Errors.validation(message, {
        token: fieldError('validation_email_already_exists', 'The new email address is already in use.'),
      });
    }
    await this.d.engine.transaction(async (tx) => {
      if (!(await consumeToken(tx, token as string, claims.exp))) throw invalid();
      await this.d.records.systemUpdate(c, record.id, { email: claims.newEmail, verified: true, tokenKey: newTokenKey() }, tx);
    });
  }
}
