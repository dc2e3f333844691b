import { randomBytes } from 'node:crypto';

/** The alphabet of record ids: lowercase letters and digits. */
export const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** Length of generated record ids, as in PocketBase. */
export const ID_LENGTH = 15;

/** `length` characters drawn uniformly (rejection sampling) from `alphabet`, from a CSPRNG. */
export function randomString(length: number, alphabet: string = ID_ALPHABET): string {
  const n = alphabet.length;
  const limit = 256 - (256 % n);
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < limit) {
        out += alphabet[b % n];
        if (out.length === length) break;
      }
    }
  }
  return out;
}

/** A new record id. */
export function newRecordId(): string {
  return randomString(ID_LENGTH);
}

const CHARSET_PATTERN = /^\[((?:[a-zA-Z0-9]-[a-zA-Z0-9]|[a-zA-Z0-9_-])+)\]\{(\d{1,3})\}$/;

/**
 * Expands an autogenerate pattern of the form `[charset]{n}` (ranges and
 * single characters), the only form PocketBase's defaults use. Returns the
 * alphabet and length, or null for any other pattern.
 */
export function parseAutogeneratePattern(pattern: string): { alphabet: string; length: number } | null {
  const m = CHARSET_PATTERN.exec(pattern);
  if (!m) return null;
  const spec = m[1] as string;
  const length = Number(m[2]);
  const chars = new Set<string>();
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i] as string;
    if (spec[i + 1] === '-' && i + 2 < spec.length) {
      const end = spec.charCodeAt(i + 2);
      for (let code = c.charCodeAt(0); code <= end; code++) chars.add(String.fromCharCode(code));
      i += 2;
    } else {
      chars.add(c);
    }
  }
  if (chars.size === 0 || length < 1) return null;
  return { alphabet: [...chars].join(''), length };
}
