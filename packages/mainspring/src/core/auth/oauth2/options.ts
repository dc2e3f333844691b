import { type ErrorData, fieldError } from '../../errors.js';
import { isObject } from '../../json.js';
import { providerModule } from './providers/index.js';

/**
 * An auth collection's `oauth2` option, PocketBase's shape: which providers
 * sign in to it, with what credentials, and which fields of a new record
 * the provider's profile fills. The client secret is stored and never
 * answered (as the token secrets).
 */

/** One provider as the collection configures it. */
export interface OAuth2ProviderConfig {
  /** A name PocketBase knows (`google`, `github`, `oidc`…): picks the module. */
  name: string;
  clientId: string;
  /** Stored, never sent back. */
  clientSecret: string;
  /** Overrides of the module's endpoints ('' keeps the module's). */
  authURL: string;
  tokenURL: string;
  userInfoURL: string;
  displayName: string;
  /** null: the module's default (on, except where a provider refuses it). */
  pkce: boolean | null;
  /** What a module needs beyond the above (OIDC's `issuer`, Apple's `teamId`…), strings only. */
  extra: Record<string, string>;
}

export interface OAuth2Options {
  enabled: boolean;
  /** Record fields a sign-up fills from the profile: `id`, `name`, `username`, `avatarURL` → field name ('' none). */
  mappedFields: { id: string; name: string; username: string; avatarURL: string };
  providers: OAuth2ProviderConfig[];
}

const MAPPED_KEYS = ['id', 'name', 'username', 'avatarURL'] as const;
const URL_KEYS = ['authURL', 'tokenURL', 'userInfoURL'] as const;
const MAX_PROVIDERS = 40;

/** Merges a submitted `oauth2` option over `current`; errors go under `oauth2`. */
export function mergeOAuth2(current: OAuth2Options, raw: Record<string, unknown>, errors: ErrorData): OAuth2Options {
  const next: OAuth2Options = structuredClone(current);
  const sub: ErrorData = {};
  if (raw.enabled !== undefined) {
    if (typeof raw.enabled !== 'boolean') sub.enabled = fieldError('validation_invalid_value', 'Must be a boolean.');
    else next.enabled = raw.enabled;
  }
  if (raw.mappedFields !== undefined) {
    const m = raw.mappedFields;
    if (!isObject(m)) sub.mappedFields = fieldError('validation_invalid_value', 'Must be an object.');
    else {
      for (const key of MAPPED_KEYS) {
        const v = m[key];
        if (v === undefined) continue;
        if (typeof v !== 'string' || v.length > 100)
          sub.mappedFields = fieldError('validation_invalid_value', `${key} must be a field name.`);
        else next.mappedFields[key] = v;
      }
    }
  }
  if (raw.providers !== undefined) {
    if (!Array.isArray(raw.providers) || raw.providers.length > MAX_PROVIDERS) {
      sub.providers = fieldError('validation_invalid_value', `Must be a list of at most ${MAX_PROVIDERS} providers.`);
    } else {
      const perItem: ErrorData = {};
      const seen = new Set<string>();
      next.providers = raw.providers.flatMap((item, i) => {
        const e: ErrorData = {};
        const p = readProvider(item, current.providers, e);
        if (p && seen.has(p.name)) e.name = fieldError('validation_duplicated_provider', 'The provider is listed twice.');
        if (p) seen.add(p.name);
        if (Object.keys(e).length > 0) perItem[String(i)] = e;
        return p ? [p] : [];
      });
      if (Object.keys(perItem).length > 0) sub.providers = perItem;
    }
  }
  if (Object.keys(sub).length > 0) errors.oauth2 = sub;
  return next;
}

/** One submitted provider; a secret not sent keeps the stored one of the same name. */
function readProvider(item: unknown, stored: OAuth2ProviderConfig[], e: ErrorData): OAuth2ProviderConfig | null {
  if (!isObject(item)) {
    e.name = fieldError('validation_invalid_value', 'Must be an object.');
    return null;
  }
  const name = item.name;
  if (typeof name !== 'string' || !providerModule(name)) {
    e.name = fieldError('validation_invalid_provider', 'Must be the name of a known provider.');
    return null;
  }
  const before = stored.find((p) => p.name === name);
  const str = (key: string, max: number, fallback: string): string => {
    const v = item[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string' || v.length > max) {
      e[key] = fieldError('validation_invalid_value', `Must be a string of at most ${max} characters.`);
      return fallback;
    }
    return v;
  };
  const p: OAuth2ProviderConfig = {
    name,
    clientId: str('clientId', 1000, ''),
    clientSecret: str('clientSecret', 10_000, before?.clientSecret ?? ''),
    authURL: '',
    tokenURL: '',
    userInfoURL: '',
    displayName: str('displayName', 100, ''),
    pkce: null,
    extra: {},
  };
  // a secret sent as '' is not a change: answers never carry it, so a form sends back none
  if (p.clientSecret === '' && before) p.clientSecret = before.clientSecret;
  for (const key of URL_KEYS) {
    p[key] = str(key, 2000, '');
    if (p[key] !== '' && !isHttpUrl(p[key])) e[key] = fieldError('validation_is_url', 'Must be an http(s) URL.');
  }
  if (item.pkce !== undefined && item.pkce !== null && typeof item.pkce !== 'boolean') {
    e.pkce = fieldError('validation_invalid_value', 'Must be a boolean or null.');
  } else p.pkce = (item.pkce as boolean | null | undefined) ?? null;
  if (item.extra !== undefined && item.extra !== null) {
    const x = item.extra;
    if (!isObject(x) || Object.keys(x).length > 20 || Object.values(x).some((v) => typeof v !== 'string' || v.length > 10_000)) {
      e.extra = fieldError('validation_invalid_value', 'Must be an object of at most 20 strings.');
    } else p.extra = { ...(x as Record<string, string>) };
  }
  // a secret of `extra` (Apple's signing key) comes back from no answer either: not sent, the stored one stays
  for (const key of SECRET_EXTRA_KEYS) {
    const kept = before?.extra[key];
    if (!p.extra[key] && kept) p.extra[key] = kept;
  }
  if (p.clientId === '') e.clientId = fieldError('validation_required', 'Cannot be blank.');
  const missing = providerModule(name)?.check?.(p);
  if (missing) Object.assign(e, missing);
  return p;
}

/** True for an absolute http: or https: URL. */
export function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

/** The keys of a provider's `extra` that are secrets, kept as the client secret is: Apple's ES256 signing key. */
const SECRET_EXTRA_KEYS = ['privateKey'] as const;

/** The option as answers show it: every provider without its client secret or the secrets of its `extra`. */
export function publicOAuth2(o: OAuth2Options): Record<string, unknown> {
  return {
    ...o,
    providers: o.providers.map(({ clientSecret: _secret, extra, ...rest }) => {
      const shown = { ...extra };
      for (const key of SECRET_EXTRA_KEYS) delete shown[key];
      return { ...rest, extra: shown };
    }),
  };
}

/** Checks that need the collection's fields: each mapped field must exist (PocketBase's rule). */
export function checkMappedFields(o: OAuth2Options, fieldNames: ReadonlySet<string>, errors: ErrorData): void {
  const bad: ErrorData = {};
  for (const key of MAPPED_KEYS) {
    const name = o.mappedFields[key];
    if (name !== '' && !fieldNames.has(name)) bad[key] = fieldError('validation_missing_field', `Missing collection field "${name}".`);
  }
  if (Object.keys(bad).length > 0) errors.oauth2 = { mappedFields: bad };
}
