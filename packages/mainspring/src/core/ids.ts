import { randomFillSync } from 'node:crypto';

/** The alphabet of record ids: lowercase letters and digits. */
export const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** Length of generated record ids, as in PocketBase. */
export const ID_LENGTH = 15;

/**
 * CSPRNG bytes drawn 4 KiB at a time and handed out once each: one call
 * into OpenSSL per ~130 ids instead of one per id (it showed in the profile
 * of every write and every logged request).
 */
const pool = Buffer.allocUnsafe(4096);
let used = pool.length;

function randomByte(): number {
  if (used === pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  return pool[used++] as number;
}

/** `length` characters drawn uniformly (rejection sampling) from `alphabet` (at most 256 characters), from a CSPRNG. */
export function randomString(length: number, alphabet: string = ID_ALPHABET): string {
  const n = alphabet.length;
  if (n === 0 || n > 256) throw new RangeError('the alphabet must have 1 to 256 characters');
  const limit = 256 - (256 % n);
  let out = '';
  while (out.length < length) {
    const b = randomByte();
    if (b < limit) out += alphabet[b % n];
  }
  return out;
}

/** A new record id. */
export function newRecordId(): string {
  return randomString(ID_LENGTH);
}

/** This process's tag in {@link timeOrderedId}: 4 random characters, drawn once. */
const PROCESS_TAG = randomString(4);
/** The millisecond of the last time-ordered id, and how many were made in it. */
let lastMs = Number.NEGATIVE_INFINITY;
let inMs = 0;
/** Ids per millisecond that the 2-character sequence numbers (36²). */
const PER_MS = 36 * 36;

/**
 * A record id (15 characters of the same alphabet) that sorts after the ids
 * made before it: 9 characters of the time in ms, 2 of a sequence within
 * that millisecond, 4 that tag the process. For append-only tables written
 * at a high rate (the request log): rows with random ids land on random
 * pages of the primary-key index, and each dirties a page of its own;
 * ordered ids fill the last page. Measured on SQLite, 200-row inserts: 51
 * µs a row with random ids, 14 with these. Not for records a client may
 * see: the time it was made is readable.
 *
 * A process's ids only grow: a time before the last id's (the clock set
 * back, rows queued out of order) takes the last id's millisecond, and a
 * millisecond past 1,296 ids the next one, so a process never makes an id
 * twice; across processes they meet only if two drew the same tag (1 in
 * 1.7 million), and the log writes such a row again with a fresh id
 * (core/logs.ts). The 6 random characters these ids ended with before met
 * within one millisecond about once an hour at 13k requests/s (13 ids a
 * millisecond: 78 pairs, each 1 in 36⁶), and one such pair failed a whole
 * flush of the request log: 6,878 rows.
 */
export function timeOrderedId(ms: number = Date.now()): string {
  const t = Math.floor(ms);
  if (t > lastMs) {
    lastMs = t;
    inMs = 0;
  } else if (++inMs >= PER_MS) {
    lastMs++;
    inMs = 0;
  }
  return lastMs.toString(36).padStart(9, '0').slice(-9) + inMs.toString(36).padStart(2, '0') + PROCESS_TAG;
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
