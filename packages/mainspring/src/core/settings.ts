import type { Engine, Executor } from '../storage/engine.js';
import { parseCronExpression } from './crons.js';
import { nowString } from './dates.js';
import { type ErrorData, Errors, fieldError } from './errors.js';
import type { EventBus } from './events.js';
import { DEFAULT_FAIR_SHARE, type FairShareLimits } from './fair-share.js';
import { ipEntryProblem, MAX_IP_LIST } from './ip-lists.js';
import { isObject } from './json.js';
import { DEFAULT_QUERY_LIMITS, type QueryLimits } from './records/limits.js';

/**
 * Application settings (PocketBase's shape, plus Mainspring's own keys which
 * PocketBase clients ignore), stored in `_params` under `settings`.
 */

/** A request-rate rule: at most `maxRequests` per `duration` seconds per client IP. */
export interface RateLimitRule {
  /** `collection:tag`, `*:tag`, or a path prefix such as `/api/`. */
  label: string;
  maxRequests: number;
  duration: number;
  /** '' everyone, '@guest' unauthenticated only, '@auth' authenticated only. */
  audience: '' | '@guest' | '@auth';
}

/** An S3 connection, PocketBase's shape: where record files go (`s3`), or backups (`backups.s3`). */
export interface S3Settings {
  enabled: boolean;
  bucket: string;
  /** '' is S3's default, `us-east-1` (R2 takes `auto`). */
  region: string;
  /** The service's URL. */
  endpoint: string;
  accessKey: string;
  /** Stored, never sent back. */
  secret: string;
  /** `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key` (MinIO, and most services on an IP). */
  forcePathStyle: boolean;
}

export interface Settings {
  meta: { appName: string; appURL: string; senderName: string; senderAddress: string; hideControls: boolean };
  smtp: {
    enabled: boolean;
    host: string;
    port: number;
    username: string;
    password: string;
    authMethod: '' | 'PLAIN' | 'LOGIN';
    tls: boolean;
    localName: string;
  };
  /** Where record files go: S3 when enabled, else `<dataDir>/storage` (the environment's `MS_S3_*` win: core/files/drivers.ts). */
  s3: S3Settings;
  /** PocketBase's automatic backups: a cron, how many of its backups to keep, where (core/backups). */
  backups: { cron: string; cronMaxKeep: number; s3: S3Settings };
  batch: { enabled: boolean; maxRequests: number; timeout: number; maxBodySize: number };
  /** `excludedIPs`: addresses and CIDR networks no rate limit counts (core/ip-lists.ts), read as `trustedProxy` says. */
  rateLimits: { enabled: boolean; rules: RateLimitRule[]; excludedIPs: string[] };
  trustedProxy: { headers: string[]; useLeftmostIP: boolean };
  /**
   * PocketBase's superuser IP allow-list: when not empty, superusers may
   * sign in and act only from these addresses and CIDR networks (the client
   * address as `trustedProxy` says). The CLI works on the database, not
   * through HTTP, so a wrong list never locks it out (`mainspring superuser ips`).
   */
  superuserIPs: string[];
  /** Mainspring: refresh-token sessions under /api/ms/sessions. */
  sessions: { refreshTokenDuration: number; reuseGraceSeconds: number };
  /**
   * Mainspring: failed sign-ins lock an identity out, for a time that doubles
   * with each lock: from one client IP after `maxFailures`, from every IP
   * after `maxFailuresPerIdentity` (a guess spread over many addresses).
   */
  loginProtection: { maxFailures: number; maxFailuresPerIdentity: number; lockSeconds: number; maxLockSeconds: number };
  /**
   * The request log (PocketBase's keys): kept `maxDays` days, 0 turns it off;
   * requests whose level (0 info, 4 warn for a 4xx, 8 error for a 5xx) is
   * below `minLevel` are not kept; IPs and caller ids only when asked.
   */
  logs: { maxDays: number; minLevel: number; logIP: boolean; logAuthId: boolean };
  /**
   * Mainspring: what a client's filter and sort may ask of the database
   * (core/records/limits.ts), with overrides per collection (by name or id).
   */
  queryLimits: QueryLimits & { collections: ({ collection: string } & Partial<QueryLimits>)[] };
  /** Mainspring: lists one caller (an auth record, else an IP) may have running and waiting at once (core/fair-share.ts). */
  fairShare: FairShareLimits;
  /**
   * Mainspring: OAuth2 sign-in (core/auth/oauth2/). `redirectURLs`: where a
   * provider may send users back besides `{appURL}/api/oauth2-redirect`
   * (exact, or a prefix ending in `*`); `trustedHosts`: `host[:port]`
   * OAuth2 may reach on private or loopback addresses (an identity server
   * on the internal network).
   */
  oauth2: { redirectURLs: string[]; trustedHosts: string[] };
  /**
   * Mainspring: the superusers' SQL console (core/sql-console.ts). Statements
   * run read-only unless `allowWrites` is on and the request asks to write;
   * each is stopped after `timeoutMs`.
   */
  sqlConsole: { allowWrites: boolean; timeoutMs: number };
}

/**
 * Defaults. Unlike PocketBase, batch and the auth rate limits are on: SDK
 * users expect batches to work, and sign-in endpoints must not be open to
 * brute force on a fresh install.
 */
export function defaultSettings(): Settings {
  return {
    meta: {
      appName: 'Mainspring',
      appURL: 'http://127.0.0.1:8090',
      senderName: 'Support',
      senderAddress: 'support@example.com',
      hideControls: false,
    },
    smtp: { enabled: false, host: 'smtp.example.com', port: 587, username: '', password: '', authMethod: '', tls: false, localName: '' },
    s3: defaultS3(),
    backups: { cron: '', cronMaxKeep: 3, s3: defaultS3() },
    batch: { enabled: true, maxRequests: 50, timeout: 3, maxBodySize: 0 },
    rateLimits: {
      enabled: true,
      rules: [
        { label: '*:auth', maxRequests: 10, duration: 10, audience: '' },
        { label: '*:request', maxRequests: 5, duration: 60, audience: '' },
        { label: '*:confirm', maxRequests: 10, duration: 60, audience: '' },
        // writes: sign-ups per address, creates per caller (a batch's count one each), batches (PocketBase's 3/s)
        { label: '*:signup', maxRequests: 20, duration: 60, audience: '' },
        { label: '*:create', maxRequests: 60, duration: 10, audience: '' },
        { label: '/api/batch', maxRequests: 3, duration: 1, audience: '' },
        // mails to one address (verification, reset, OTP, email change, alerts), whoever asks for them
        { label: '*:mail', maxRequests: 5, duration: 3600, audience: '' },
      ],
      excludedIPs: [],
    },
    trustedProxy: { headers: [], useLeftmostIP: false },
    superuserIPs: [],
    sessions: { refreshTokenDuration: 30 * 86_400, reuseGraceSeconds: 10 },
    loginProtection: { maxFailures: 5, maxFailuresPerIdentity: 50, lockSeconds: 30, maxLockSeconds: 900 },
    logs: { maxDays: 5, minLevel: 0, logIP: true, logAuthId: true },
    queryLimits: { ...DEFAULT_QUERY_LIMITS, collections: [] },
    fairShare: { ...DEFAULT_FAIR_SHARE },
    oauth2: { redirectURLs: [], trustedHosts: [] },
    sqlConsole: { allowWrites: false, timeoutMs: 5000 },
  };
}

/** The query limits in force for a collection: its override, else the settings'. */
export function queryLimitsFor(s: Settings, c: { id: string; name: string }): QueryLimits {
  const { collections, ...all } = s.queryLimits;
  const own = collections.find((o) => o.collection === c.id || o.collection.toLowerCase() === c.name.toLowerCase());
  return own ? { ...all, ...own } : all;
}

/** PocketBase's S3 defaults: off, nothing set. */
function defaultS3(): S3Settings {
  return { enabled: false, bucket: '', region: '', endpoint: '', accessKey: '', secret: '', forcePathStyle: false };
}

/** The table of key/value system parameters. */
export const PARAMS_TABLE = '_params';
const SETTINGS_KEY = 'settings';

/**
 * Merges `patch` over `base`, key by key, keeping each value's type: a
 * submitted value of another type, or a key that does not exist, is an error.
 */
function mergeTyped(base: Record<string, unknown>, patch: Record<string, unknown>, errors: ErrorData, path = ''): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const here = path ? `${path}.${key}` : key;
    if (!(key in base)) {
      errors[here] = fieldError('validation_unknown_field', 'Unknown setting.');
      continue;
    }
    const current = base[key];
    if (isObject(current)) {
      if (!isObject(value)) errors[here] = fieldError('validation_invalid_value', 'Must be an object.');
      else out[key] = mergeTyped(current, value, errors, here);
    } else if (Array.isArray(current)) {
      if (!Array.isArray(value)) errors[here] = fieldError('validation_invalid_value', 'Must be a list.');
      else out[key] = value;
    } else if (typeof value !== typeof current) {
      errors[here] = fieldError('validation_invalid_value', `Must be a ${typeof current}.`);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** `{'meta.appName': e}` as PocketBase shapes settings errors: `{meta: {appName: e}}`. */
function nested(errors: ErrorData): ErrorData {
  const out: Record<string, unknown> = {};
  for (const [path, error] of Object.entries(errors)) {
    const keys = path.split('.');
    let node = out;
    for (const key of keys.slice(0, -1)) {
      if (!isObject(node[key])) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[keys[keys.length - 1] as string] = error;
  }
  return out as ErrorData;
}

/** Each redirect URL an absolute http(s) URL (a prefix ending in `*` after its path's first `/`), each trusted host a short name. */
function checkOAuth2(o: Settings['oauth2'], errors: ErrorData): void {
  const urlOk = (u: unknown) =>
    typeof u === 'string' && u.length <= 2000 && /^https?:\/\/[^/\s*]+\/[^\s]*$/.test(u) && !u.slice(0, -1).includes('*');
  if (o.redirectURLs.length > 100 || !o.redirectURLs.every(urlOk)) {
    invalid(errors, 'oauth2.redirectURLs', 'Must be at most 100 http(s) URLs with a path; only a final * is a wildcard.');
  }
  if (o.trustedHosts.length > 100 || !o.trustedHosts.every((h) => typeof h === 'string' && /^[A-Za-z0-9.\-:[\]]{1,300}$/.test(h))) {
    invalid(errors, 'oauth2.trustedHosts', 'Must be at most 100 host or host:port names.');
  }
}

/** Checks merged settings value by value (their types are checked by {@link mergeTyped}). */
function validate(s: Settings, errors: ErrorData): void {
  checkMeta(s.meta, errors);
  if (s.smtp.enabled && s.smtp.host.trim() === '') invalid(errors, 'smtp.host', 'Cannot be blank when SMTP is enabled.');
  between(errors, 'smtp.port', s.smtp.port, 1, 65_535);
  if (!['', 'PLAIN', 'LOGIN'].includes(s.smtp.authMethod)) invalid(errors, 'smtp.authMethod', 'Must be "", "PLAIN" or "LOGIN".');
  between(errors, 'batch.maxRequests', s.batch.maxRequests, 0, 1000);
  between(errors, 'batch.timeout', s.batch.timeout, 0, 600);
  between(errors, 'batch.maxBodySize', s.batch.maxBodySize, 0, 1 << 30);
  checkRateLimits(s.rateLimits.rules, errors);
  checkIpList(s.rateLimits.excludedIPs, 'rateLimits.excludedIPs', errors);
  checkIpList(s.superuserIPs, 'superuserIPs', errors);
  checkOAuth2(s.oauth2, errors);
  if (s.trustedProxy.headers.some((h) => typeof h !== 'string' || !/^[A-Za-z0-9-]{1,100}$/.test(h)))
    invalid(errors, 'trustedProxy.headers', 'Must be header names.');
  between(errors, 'sessions.refreshTokenDuration', s.sessions.refreshTokenDuration, 60, 10 * 365 * 86_400);
  between(errors, 'sessions.reuseGraceSeconds', s.sessions.reuseGraceSeconds, 0, 300);
  between(errors, 'loginProtection.maxFailures', s.loginProtection.maxFailures, 1, 1000);
  between(errors, 'loginProtection.maxFailuresPerIdentity', s.loginProtection.maxFailuresPerIdentity, 1, 1_000_000);
  between(errors, 'loginProtection.lockSeconds', s.loginProtection.lockSeconds, 1, 86_400);
  between(errors, 'loginProtection.maxLockSeconds', s.loginProtection.maxLockSeconds, 1, 7 * 86_400);
  between(errors, 'logs.maxDays', s.logs.maxDays, 0, 100_000);
  for (const [key, [min, max]] of Object.entries(QUERY_LIMIT_RANGES) as [keyof QueryLimits, [number, number]][]) {
    between(errors, `queryLimits.${key}`, s.queryLimits[key], min, max);
  }
  if (s.queryLimits.collections.length > 1000) invalid(errors, 'queryLimits.collections', 'At most 1000 overrides.');
  between(errors, 'fairShare.perCaller', s.fairShare.perCaller, 1, 1000);
  between(errors, 'fairShare.queue', s.fairShare.queue, 0, 10_000);
  between(errors, 'fairShare.waitMs', s.fairShare.waitMs, 0, 600_000);
  checkQueryLimitOverrides(s.queryLimits.collections, errors);
  between(errors, 'logs.minLevel', s.logs.minLevel, -1000, 1000);
  checkS3AndBackups(s, errors);
  between(errors, 'sqlConsole.timeoutMs', s.sqlConsole.timeoutMs, 100, 600_000);
}

function invalid(errors: ErrorData, key: string, message: string): void {
  errors[key] = fieldError('validation_invalid_value', message);
}

function between(errors: ErrorData, key: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) invalid(errors, key, `Must be a whole number from ${min} to ${max}.`);
}

function checkMeta(meta: Settings['meta'], errors: ErrorData): void {
  if (meta.appName.trim() === '' || meta.appName.length > 255) invalid(errors, 'meta.appName', 'Must be 1 to 255 characters.');
  if (!isHttpUrl(meta.appURL)) invalid(errors, 'meta.appURL', 'Must be an http(s) URL.');
  if (!/^[^\s@]+@[^\s@]+$/.test(meta.senderAddress)) invalid(errors, 'meta.senderAddress', 'Must be an email address.');
  if (meta.senderName.length > 255) invalid(errors, 'meta.senderName', 'Must be at most 255 characters.');
}

function checkRateLimits(rules: RateLimitRule[], errors: ErrorData): void {
  rules.forEach((r, i) => {
    const ok =
      isObject(r) &&
      typeof r.label === 'string' &&
      /^(\*|\w+):\w+$|^\/[\w/.-]*$/.test(r.label) &&
      Number.isInteger(r.maxRequests) &&
      r.maxRequests > 0 &&
      Number.isInteger(r.duration) &&
      r.duration > 0 &&
      ['', '@guest', '@auth'].includes(r.audience ?? '');
    if (!ok)
      invalid(
        errors,
        `rateLimits.rules.${i}`,
        'Each rule needs a label (collection:tag or /path), maxRequests and duration > 0, and an audience of "", "@guest" or "@auth".',
      );
  });
  if (rules.length > 100) invalid(errors, 'rateLimits.rules', 'At most 100 rules.');
}

/** A list of addresses and CIDR networks: the first entry that is not one is named. */
function checkIpList(list: unknown[], key: string, errors: ErrorData): void {
  if (list.length > MAX_IP_LIST) {
    invalid(errors, key, `At most ${MAX_IP_LIST} entries.`);
    return;
  }
  const i = list.findIndex((entry) => ipEntryProblem(entry) !== null);
  if (i < 0) return;
  const entry = list[i];
  const shown = typeof entry === 'string' ? `"${entry.slice(0, 50)}"` : `Entry ${i + 1}`;
  invalid(errors, key, `${shown} ${ipEntryProblem(entry)} (such as 203.0.113.7, 10.0.0.0/8 or 2001:db8::/32).`);
}

/** The range of each query limit, in the settings and in a collection's override. */
const QUERY_LIMIT_RANGES: Record<keyof QueryLimits, [number, number]> = {
  maxRelationDepth: [0, 6],
  maxBackRelations: [0, 6],
  maxUnindexedOrTerms: [0, 1000],
};

function checkQueryLimitOverrides(overrides: Settings['queryLimits']['collections'], errors: ErrorData): void {
  overrides.forEach((o, i) => {
    const known = isObject(o) && typeof o.collection === 'string' && o.collection !== '';
    const valid =
      known &&
      Object.entries(o).every(([key, v]) => {
        if (key === 'collection') return true;
        const range = QUERY_LIMIT_RANGES[key as keyof QueryLimits];
        return range !== undefined && Number.isInteger(v) && (v as number) >= range[0] && (v as number) <= range[1];
      });
    if (!valid) {
      invalid(
        errors,
        `queryLimits.collections.${i}`,
        'Each override needs "collection" (a name or id) and any of maxRelationDepth (0-6), maxBackRelations (0-6), maxUnindexedOrTerms (0-1000).',
      );
    }
  });
}

/**
 * S3 and backups. An enabled S3 connection needs every value (PocketBase's
 * rule: endpoint, bucket, region, access key and secret); whether they work
 * is what `POST /api/settings/test/s3` tells (with `filesystem: "backups"`
 * for the backups' bucket). A backup cron must be an expression crons take.
 */
function checkS3AndBackups(s: Settings, errors: ErrorData): void {
  if (s.backups.cron.trim() !== '') {
    try {
      parseCronExpression(s.backups.cron);
    } catch {
      errors['backups.cron'] = fieldError('validation_invalid_cron', 'Invalid cron expression.');
    }
  }
  between(errors, 'backups.cronMaxKeep', s.backups.cronMaxKeep, 0, 100_000);
  for (const [key, s3] of [
    ['s3', s.s3],
    ['backups.s3', s.backups.s3],
  ] as const) {
    if (s3.endpoint !== '' && !isHttpUrl(s3.endpoint)) errors[`${key}.endpoint`] = fieldError('validation_is_url', 'Must be a valid URL.');
    if (!s3.enabled) continue;
    for (const field of ['endpoint', 'bucket', 'region', 'accessKey', 'secret'] as const) {
      if (s3[field].trim() === '') errors[`${key}.${field}`] ??= fieldError('validation_required', 'Cannot be blank.');
    }
  }
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Settings: read at start, changed by superusers through `/api/settings`, announced on the bus. */
export class SettingsService {
  private current: Settings = defaultSettings();

  constructor(
    private readonly engine: Engine,
    private readonly events: EventBus,
  ) {}

  /** The settings in force. */
  get(): Settings {
    return this.current;
  }

  /** Reads stored settings over the defaults. */
  async load(db: Executor = this.engine): Promise<void> {
    const row = await db.get<{ value: string }>(`SELECT value FROM ${PARAMS_TABLE} WHERE id = $1`, [SETTINGS_KEY]);
    const stored = row ? (JSON.parse(row.value) as Record<string, unknown>) : {};
    const errors: ErrorData = {};
    // stored settings from an older version may lack keys; unknown old keys are dropped
    const merged = mergeTyped(defaultSettings() as unknown as Record<string, unknown>, stored, errors) as unknown as Settings;
    this.current = merged;
  }

  /** Validates and stores a partial update; returns the new settings. */
  async update(patch: unknown): Promise<Settings> {
    if (!isObject(patch)) throw Errors.badRequest('Failed to load the submitted data due to invalid formatting.');
    const errors: ErrorData = {};
    const next = mergeTyped(this.current as unknown as Record<string, unknown>, patch, errors) as unknown as Settings;
    if (Object.keys(errors).length === 0) validate(next, errors);
    if (Object.keys(errors).length > 0) throw Errors.validation('An error occurred while validating the submitted data.', nested(errors));
    const now = nowString();
    await this.engine.transaction(async (tx) => {
      const changed = await tx.run(`UPDATE ${PARAMS_TABLE} SET value = $1, updated = $2 WHERE id = $3`, [
        this.engine.dialect.encode('json', next),
        now,
        SETTINGS_KEY,
      ]);
      if (changed === 0) {
        await tx.run(`INSERT INTO ${PARAMS_TABLE} (id, value, created, updated) VALUES ($1, $2, $3, $3)`, [
          SETTINGS_KEY,
          this.engine.dialect.encode('json', next),
          now,
        ]);
      }
    });
    this.current = next;
    this.events.emit({ type: 'settings' });
    return next;
  }

  /** The settings as superusers see them: the SMTP password and the S3 secrets are never sent back (PocketBase leaves them out). */
  toJSON(s: Settings = this.current): Record<string, unknown> {
    const { password: _password, ...smtp } = s.smtp;
    const { secret: _secret, ...s3 } = s.s3;
    const { secret: _backupSecret, ...backupsS3 } = s.backups.s3;
    return { ...s, smtp, s3, backups: { ...s.backups, s3: backupsS3 } };
  }
}
