import { createHash } from 'node:crypto';
import { type Document, EJSON } from 'bson';
import { formatDate } from '../../core/dates.js';

/**
 * MongoDB values as the import sees them: what kind each is (for the
 * inference), the record id a document's `_id` becomes, and values turned
 * into what a record's JSON holds.
 */

/** What a top-level value is, for choosing a field's type. */
export type ValueKind =
  | 'null'
  | 'bool'
  | 'int'
  | 'double'
  | 'decimal'
  | 'long'
  | 'string'
  | 'date'
  | 'objectId'
  | 'array'
  | 'object'
  | 'other';

/** A value of the bson package's own types (ObjectId, Long, Decimal128, Binary, …) names its type here. */
function bsonType(v: object): string | undefined {
  const t = (v as { _bsontype?: unknown })._bsontype;
  return typeof t === 'string' ? t : undefined;
}

/** The kind of a value as the bson package reads it (longs that fit a double are numbers already). */
export function kindOf(v: unknown): ValueKind {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'double';
  if (typeof v === 'string') return 'string';
  if (v instanceof Date) return 'date';
  if (Array.isArray(v)) return 'array';
  // a BSON regular expression reads as a RegExp, whose pattern no key holds
  if (typeof v !== 'object' || v instanceof RegExp) return 'other';
  switch (bsonType(v)) {
    case undefined:
      return 'object';
    case 'ObjectId':
      return 'objectId';
    case 'Decimal128':
      return 'decimal';
    case 'Long':
      return 'long';
    case 'Int32':
      return 'int';
    case 'Double':
      return 'double';
    default:
      return 'other';
  }
}

/** The text of an ObjectId (24 hex digits). */
export function objectIdHex(v: unknown): string {
  return (v as { toHexString(): string }).toHexString();
}

/**
 * A key that tells `_id` values apart across types (the ObjectId `5f…` and
 * the string "5f…" are two ids in MongoDB): how references are matched to
 * the documents they name.
 */
export function idKey(v: unknown): string {
  const kind = kindOf(v);
  if (kind === 'objectId') return `o:${objectIdHex(v)}`;
  if (kind === 'string') return `s:${v as string}`;
  return `j:${EJSON.stringify(v as Document, { relaxed: false })}`;
}

/** The original `_id` as text, kept in the record's `mongo_id`: an ObjectId's hex, a string as it is, else its relaxed Extended JSON (`7`, `{"a":1}`). */
export function idText(v: unknown): string {
  const kind = kindOf(v);
  if (kind === 'objectId') return objectIdHex(v);
  if (kind === 'string') return v as string;
  return EJSON.stringify(v as Document, { relaxed: true });
}

const RECORD_ID = /^[a-z0-9]{15}$/;
const ID_SPACE = 36n ** 15n;

/**
 * The record id of a document: an `_id` that is already 15 characters of
 * `[a-z0-9]` is kept; any other (an ObjectId's 96 bits do not fit in 15
 * such characters) is hashed with its collection's name into one, so the
 * same dump gives the same ids every time (references resolve without a
 * lookup table, and a second run finds the records of the first).
 */
export function recordIdOf(collection: string, id: unknown): string {
  if (typeof id === 'string' && RECORD_ID.test(id)) return id;
  const digest = createHash('sha256')
    .update(`${collection}\u0000${idKey(id)}`)
    .digest();
  return (BigInt(`0x${digest.subarray(0, 12).toString('hex')}`) % ID_SPACE).toString(36).padStart(15, '0');
}

/** MongoDB stores at most 100 levels of nesting; a deeper value is refused, not walked. */
const MAX_DEPTH = 100;

/** A value too deep to be a MongoDB value. */
export class TooDeep extends Error {}

/**
 * A nested value as plain JSON for a json field: ObjectIds as their hex,
 * dates as ISO text, numbers as numbers (a long past 2^53 and a Decimal128
 * as their exact text), any other BSON type as its relaxed Extended JSON
 * (`{"$binary": …}`), so nothing is lost.
 */
export function plain(v: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH) throw new TooDeep('nested more than 100 levels');
  switch (kindOf(v)) {
    case 'null':
      return null;
    case 'bool':
    case 'string':
      return v;
    case 'int':
    case 'double':
      return Number.isFinite(v as number) ? v : String(v);
    case 'date':
      return Number.isNaN((v as Date).getTime()) ? null : (v as Date).toISOString();
    case 'objectId':
      return objectIdHex(v);
    case 'long':
    case 'decimal':
      return String(v);
    case 'array':
      return (v as unknown[]).map((item) => plain(item, depth + 1));
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
        // a key such as "__proto__" stays a key of the JSON, never the object's prototype
        Object.defineProperty(out, k, { value: plain(item, depth + 1), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    default:
      return EJSON.serialize(v as Document, { relaxed: true });
  }
}

/** A number field's value: a JS number, or a Decimal128 read as the nearest double; undefined for anything else. */
export function numberOf(v: unknown): number | undefined {
  const kind = kindOf(v);
  if (kind === 'int' || kind === 'double') return v as number;
  if (kind === 'decimal') {
    const n = Number(String(v));
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** A date field's value in PocketBase's form; undefined for an invalid date or one outside years 0–9999. */
export function dateOf(v: unknown): string | undefined {
  if (!(v instanceof Date)) return undefined;
  if (Number.isNaN(v.getTime()) || v.getUTCFullYear() < 0 || v.getUTCFullYear() > 9999) return undefined;
  return formatDate(v);
}

/** A string of the bcrypt family: `$2a$`, `$2b$` or PHP's `$2y$` (the same algorithm), cost and 53 characters. */
const BCRYPT = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;

/** A bcrypt hash as stored here (`$2y$` written `$2b$`, which every bcrypt reads), or null for anything else. */
export function bcryptOf(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const m = BCRYPT.exec(v);
  if (!m || Number(m[1]) < 4 || Number(m[1]) > 31) return null;
  return v.startsWith('$2y$') ? `$2b$${v.slice(4)}` : v;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Whether a string looks like an email address (the field's own check decides at write time). */
export function looksLikeEmail(v: unknown): boolean {
  return typeof v === 'string' && v.length <= 254 && EMAIL.test(v);
}
