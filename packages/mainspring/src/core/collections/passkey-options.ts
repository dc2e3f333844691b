import { type ErrorData, fieldError } from '../errors.js';
import { isObject } from '../json.js';

/**
 * An auth collection's `passkeys` option (Mainspring's, beside PocketBase's
 * options): whether its records may register and sign in with passkeys
 * (WebAuthn), the relying party they are bound to, and the web origins
 * allowed to use them. Collections saved before the option existed have
 * none stored: {@link passkeyOptionsOf} reads them as disabled.
 */
export interface PasskeyOptions {
  enabled: boolean;
  /** The relying party id: the site's domain (`example.com`, `localhost`), which every origin must be or sit under. */
  rpID: string;
  /** The name the browser shows; empty: the app's name. */
  rpName: string;
  /** The exact origins (`https://app.example.com`) whose pages may register and sign in. */
  origins: string[];
}

export const defaultPasskeyOptions = (): PasskeyOptions => ({ enabled: false, rpID: '', rpName: '', origins: [] });

/** The stored options, or the defaults for a collection saved before they existed. */
export function passkeyOptionsOf(auth: { passkeys?: PasskeyOptions } | undefined): PasskeyOptions {
  return auth?.passkeys ?? defaultPasskeyOptions();
}

const MAX_ORIGINS = 10;
// a DNS name: labels of letters, digits and inner hyphens (lowercase; the browser lowercases hosts too)
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Whether `id` may be a relying party id: a domain name, not an IP address (WebAuthn takes none). */
export function validRpId(id: string): boolean {
  if (id.length === 0 || id.length > 253) return false;
  const labels = id.split('.');
  if (!labels.every((l) => LABEL.test(l))) return false;
  // an IPv4 address is four numeric labels; a name ends in a label with a letter
  return !/^[0-9]+$/.test(labels[labels.length - 1] as string);
}

/**
 * Why `origin` cannot serve relying party `rpID`, or '' when it can: an
 * origin exactly as the browser writes it (scheme, host, port; no path),
 * https, or http on localhost (browsers count it a secure context), whose
 * host is the rp id or under it.
 */
export function originProblem(origin: string, rpID: string): string {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return 'is not a URL';
  }
  if (url.origin !== origin) return `must be written as its origin (${url.origin.slice(0, 100)})`;
  const host = url.hostname;
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && (host === 'localhost' || host.endsWith('.localhost')))) {
    return 'must be https (or http on localhost)';
  }
  if (rpID !== '' && host !== rpID && !host.endsWith(`.${rpID}`)) return `must be ${rpID} or a subdomain of it`;
  return '';
}

/**
 * Merges a submitted `passkeys` object over `current`, each value's type and
 * form checked; errors go under `errors.passkeys.<key>`. When enabled, an rp
 * id and at least one origin under it are required.
 */
export function mergePasskeyOptions(current: PasskeyOptions, raw: unknown, errors: ErrorData): PasskeyOptions {
  if (raw === undefined) return current;
  if (!isObject(raw)) {
    errors.passkeys = fieldError('validation_invalid_value', 'Must be an object.');
    return current;
  }
  const next: PasskeyOptions = { ...current, origins: [...current.origins] };
  const sub: ErrorData = {};
  const bad = (key: string, message: string) => {
    sub[key] = fieldError('validation_invalid_value', message);
  };
  if (raw.enabled !== undefined) {
    if (typeof raw.enabled !== 'boolean') bad('enabled', 'Must be a boolean.');
    else next.enabled = raw.enabled;
  }
  if (raw.rpID !== undefined) {
    if (typeof raw.rpID !== 'string' || (raw.rpID !== '' && !validRpId(raw.rpID))) {
      bad('rpID', 'Must be a domain name in lowercase (example.com, localhost), not a URL or an IP address.');
    } else next.rpID = raw.rpID;
  }
  if (raw.rpName !== undefined) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    if (typeof raw.rpName !== 'string' || raw.rpName.length > 100 || /[\u0000-\u001f\u007f]/.test(raw.rpName)) {
      bad('rpName', 'Must be text of at most 100 characters.');
    } else next.rpName = raw.rpName.trim();
  }
  if (raw.origins !== undefined) {
    const list = raw.origins ?? [];
    if (!Array.isArray(list) || list.length > MAX_ORIGINS || list.some((o) => typeof o !== 'string' || o.length > 300)) {
      bad('origins', `Must be a list of at most ${MAX_ORIGINS} origins.`);
    } else next.origins = [...new Set(list as string[])];
  }
  if (!sub.rpID && !sub.origins) {
    for (const origin of next.origins) {
      const problem = originProblem(origin, next.rpID);
      if (problem) {
        bad('origins', `${origin.slice(0, 100)} ${problem}.`);
        break;
      }
    }
  }
  if (next.enabled && !sub.rpID && next.rpID === '') bad('rpID', 'Required when passkeys are enabled.');
  if (next.enabled && !sub.origins && next.origins.length === 0)
    bad('origins', 'At least one origin is required when passkeys are enabled.');
  if (Object.keys(sub).length > 0) errors.passkeys = sub;
  return next;
}
