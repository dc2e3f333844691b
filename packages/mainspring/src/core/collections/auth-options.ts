import { mergeOAuth2, publicOAuth2 } from '../auth/oauth2/options.js';
import type { ErrorData } from '../errors.js';
import { fieldError } from '../errors.js';
import { randomString } from '../ids.js';
import { isObject } from '../json.js';
import type { AuthOptions, EmailTemplate, TokenConfig } from './model.js';
import { defaultPasskeyOptions, mergePasskeyOptions, passkeyOptionsOf } from './passkey-options.js';

/**
 * Auth collection options: their defaults (PocketBase's durations) and how a
 * submitted collection's options are read. Secrets are generated here and
 * never leave the server.
 */

const SECRET_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const newSecret = () => randomString(50, SECRET_ALPHABET);

const template = (subject: string, lines: string[]): EmailTemplate => ({
  subject,
  body: lines.map((l) => `<p>${l}</p>`).join('\n'),
});

/** Mainspring's default mail templates ({APP_NAME}, {APP_URL}, {TOKEN}, {OTP} are replaced). */
export const DEFAULT_TEMPLATES = {
  verification: template('Confirm your email for {APP_NAME}', [
    'Hi,',
    'Please confirm this email address for your {APP_NAME} account:',
    '<a href="{APP_URL}/_/#/auth/confirm-verification/{TOKEN}">Confirm my email</a>',
    'If you did not create an account, you can ignore this message.',
  ]),
  resetPassword: template('Choose a new {APP_NAME} password', [
    'Hi,',
    'Someone asked to reset the password of your {APP_NAME} account. To choose a new one, open:',
    '<a href="{APP_URL}/_/#/auth/confirm-password-reset/{TOKEN}">Choose a new password</a>',
    'If it was not you, ignore this message: your password stays as it is.',
  ]),
  confirmEmailChange: template('Confirm your new email for {APP_NAME}', [
    'Hi,',
    'To use this address for your {APP_NAME} account from now on, confirm it:',
    '<a href="{APP_URL}/_/#/auth/confirm-email-change/{TOKEN}">Confirm the new address</a>',
    'If you did not ask for this change, ignore this message.',
  ]),
  otp: template('Your {APP_NAME} sign-in code', [
    'Hi,',
    'Your one-time sign-in code is <strong>{OTP}</strong>.',
    'If you did not try to sign in, you can ignore this message.',
  ]),
  authAlert: template('New sign-in to your {APP_NAME} account', [
    'Hi,',
    'Your {APP_NAME} account was just used to sign in from a device we had not seen before: {ALERT_INFO}.',
    'If that was not you, change your password now: that signs out every other device.',
  ]),
} as const;

/** Default auth options; `authTokenDuration` differs for superusers (1 day). */
export function defaultAuthOptions(authTokenDuration = 604_800): AuthOptions {
  return {
    authRule: '',
    manageRule: null,
    authAlert: { enabled: true, emailTemplate: DEFAULT_TEMPLATES.authAlert },
    oauth2: { enabled: false, mappedFields: { id: '', name: '', username: '', avatarURL: '' }, providers: [] },
    passwordAuth: { enabled: true, identityFields: ['email'] },
    mfa: { enabled: false, duration: 1800, rule: '' },
    otp: { enabled: false, duration: 180, length: 8, emailTemplate: DEFAULT_TEMPLATES.otp },
    authToken: { duration: authTokenDuration, secret: newSecret() },
    passwordResetToken: { duration: 1800, secret: newSecret() },
    emailChangeToken: { duration: 1800, secret: newSecret() },
    verificationToken: { duration: 259_200, secret: newSecret() },
    fileToken: { duration: 180, secret: newSecret() },
    verificationTemplate: DEFAULT_TEMPLATES.verification,
    resetPasswordTemplate: DEFAULT_TEMPLATES.resetPassword,
    confirmEmailChangeTemplate: DEFAULT_TEMPLATES.confirmEmailChange,
    passkeys: defaultPasskeyOptions(),
  };
}

/** The keys of {@link AuthOptions} as they appear flat on a collection's JSON. */
export const AUTH_OPTION_KEYS = Object.keys(defaultAuthOptions()) as (keyof AuthOptions)[];

const TOKEN_KEYS = ['authToken', 'passwordResetToken', 'emailChangeToken', 'verificationToken', 'fileToken'] as const;
const TEMPLATE_KEYS = ['verificationTemplate', 'resetPasswordTemplate', 'confirmEmailChangeTemplate'] as const;

/**
 * Merges submitted auth options over `current`, checking each value's type.
 * Secrets can be rotated by submitting a new one but are never required.
 */
export function mergeAuthOptions(current: AuthOptions, input: Record<string, unknown>, errors: ErrorData): AuthOptions {
  const next: AuthOptions = structuredClone(current);
  for (const key of ['authRule', 'manageRule'] as const) {
    if (key in input) {
      const v = input[key];
      if (v !== null && typeof v !== 'string') invalid(errors, key, 'Must be a string or null.');
      else next[key] = v;
    }
  }
  for (const key of TOKEN_KEYS) {
    const raw = optionObject(key, input[key], errors);
    if (raw) next[key] = mergeToken(key, next[key], raw, errors);
  }
  for (const key of TEMPLATE_KEYS) next[key] = readTemplate(key, input[key], next[key], errors);
  const passwordAuth = optionObject('passwordAuth', input.passwordAuth, errors);
  if (passwordAuth) mergePasswordAuth(next.passwordAuth, passwordAuth, errors);
  const mfa = optionObject('mfa', input.mfa, errors);
  if (mfa) mergeMfa(next.mfa, mfa, errors);
  const otp = optionObject('otp', input.otp, errors);
  if (otp) mergeOtp(next.otp, otp, errors);
  const authAlert = optionObject('authAlert', input.authAlert, errors);
  if (authAlert) {
    if (typeof authAlert.enabled === 'boolean') next.authAlert.enabled = authAlert.enabled;
    next.authAlert.emailTemplate = readTemplate('authAlert', authAlert.emailTemplate, next.authAlert.emailTemplate, errors);
  }
  const oauth2 = optionObject('oauth2', input.oauth2, errors);
  if (oauth2) next.oauth2 = mergeOAuth2(next.oauth2, oauth2, errors);
  next.passkeys = mergePasskeyOptions(passkeyOptionsOf(next), input.passkeys, errors);
  return next;
}

function invalid(errors: ErrorData, key: string, message: string): void {
  errors[key] = fieldError('validation_invalid_value', message);
}

/** The object submitted for option `key`: null when none is sent, or when it is no object (the error set). */
function optionObject(key: string, raw: unknown, errors: ErrorData): Record<string, unknown> | null {
  if (raw === undefined) return null;
  if (!isObject(raw)) {
    invalid(errors, key, 'Must be an object.');
    return null;
  }
  return raw;
}

/** A submitted mail template, or `fallback` when none is sent or it is not `{subject, body}` (the error set under `key`). */
function readTemplate(key: string, raw: unknown, fallback: EmailTemplate, errors: ErrorData): EmailTemplate {
  if (raw === undefined) return fallback;
  if (
    !isObject(raw) ||
    typeof raw.subject !== 'string' ||
    typeof raw.body !== 'string' ||
    raw.subject.length > 500 ||
    raw.body.length > 100_000
  ) {
    invalid(errors, key, 'Must be {subject, body} strings.');
    return fallback;
  }
  return { subject: raw.subject, body: raw.body };
}

/** A submitted duration in seconds, or `fallback` when none is sent or it is out of range (the error set under `key`). */
function readDuration(key: string, raw: unknown, fallback: number, errors: ErrorData): number {
  if (raw === undefined) return fallback;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 10 || raw > 63_072_000) {
    invalid(errors, key, 'Must be a whole number of seconds between 10 and 63072000.');
    return fallback;
  }
  return raw;
}

/** A token's submitted duration and, when one of 30 to 255 characters is sent, its new secret. */
function mergeToken(key: string, current: TokenConfig, raw: Record<string, unknown>, errors: ErrorData): TokenConfig {
  const cfg: TokenConfig = { ...current, duration: readDuration(key, raw.duration, current.duration, errors) };
  if (typeof raw.secret === 'string' && raw.secret.length >= 30 && raw.secret.length <= 255) cfg.secret = raw.secret;
  return cfg;
}

/** PocketBase's shape: passwordAuth.enabled, passwordAuth.identityFields (errors nested under `passwordAuth`). */
function mergePasswordAuth(next: AuthOptions['passwordAuth'], raw: Record<string, unknown>, errors: ErrorData): void {
  const sub: ErrorData = {};
  if (raw.enabled !== undefined) {
    if (typeof raw.enabled !== 'boolean') sub.enabled = fieldError('validation_invalid_value', 'Must be a boolean.');
    else next.enabled = raw.enabled;
  }
  if (raw.identityFields !== undefined) {
    // an empty list is refused while password sign-in is on, once the whole collection is known
    const f = raw.identityFields ?? [];
    if (!Array.isArray(f) || f.length > 5 || f.some((x) => typeof x !== 'string')) {
      sub.identityFields = fieldError('validation_invalid_value', 'Must be a list of at most 5 field names.');
    } else next.identityFields = [...new Set(f as string[])];
  }
  if (Object.keys(sub).length > 0) errors.passwordAuth = sub;
}

function mergeMfa(next: AuthOptions['mfa'], raw: Record<string, unknown>, errors: ErrorData): void {
  if (typeof raw.enabled === 'boolean') next.enabled = raw.enabled;
  next.duration = readDuration('mfa', raw.duration, next.duration, errors);
  if (typeof raw.rule === 'string') next.rule = raw.rule;
}

function mergeOtp(next: AuthOptions['otp'], raw: Record<string, unknown>, errors: ErrorData): void {
  if (typeof raw.enabled === 'boolean') next.enabled = raw.enabled;
  next.duration = readDuration('otp', raw.duration, next.duration, errors);
  if (raw.length !== undefined) {
    if (typeof raw.length !== 'number' || !Number.isInteger(raw.length) || raw.length < 4 || raw.length > 32) {
      invalid(errors, 'otp', 'length must be a whole number from 4 to 32.');
    } else next.length = raw.length;
  }
  next.emailTemplate = readTemplate('otp', raw.emailTemplate, next.emailTemplate, errors);
}

/** The options as clients see them: every secret removed. */
export function publicAuthOptions(options: AuthOptions): Record<string, unknown> {
  const out: Record<string, unknown> = { ...options };
  for (const key of TOKEN_KEYS) out[key] = { duration: options[key].duration };
  out.oauth2 = publicOAuth2(options.oauth2);
  out.passkeys = passkeyOptionsOf(options);
  return out;
}
