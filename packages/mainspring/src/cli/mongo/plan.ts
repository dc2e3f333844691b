import type { Collection, FieldType } from '../../core/collections/model.js';
import { RESERVED_FIELD_NAMES } from '../../core/collections/model.js';
import { CliError } from '../errors.js';
import { indexesOf, type MongoIndex } from './dump.js';
import { type CollectionStats, type KeyStats, MAX_OPTIONS } from './stats.js';
import type { ValueKind } from './values.js';

/**
 * From what the first pass counted to a schema: one collection per MongoDB
 * collection, one typed field per top-level key, relations where ObjectIds
 * name documents of an imported collection, auth collections for users,
 * and the indexes of the dump's metadata that a collection can have. Pure:
 * the database is only consulted through `existing` (a collection already
 * there under the name).
 */

/** Where a key's values go. */
export type Target =
  /** a field of the collection: its JSON as the collections API takes it; `refers` is the MongoDB collection a relation names */
  | { to: 'field'; field: Record<string, unknown> & { name: string; type: FieldType }; refers?: string }
  /** an auth collection's own fields, and the record's dates */
  | { to: 'email' | 'password' | 'verified' | 'created' | 'updated' }
  | { to: 'skip'; reason: string }
  /** one of the rarest keys of a collection with more than {@link MAX_KEY_FIELDS}: kept in {@link MONGO_EXTRA} */
  | { to: 'extra' };

/** One top-level key and what it becomes. */
export interface KeyPlan {
  key: string;
  /** What it held: its kinds, most common first ("string", "objectId ×3, string ×1"). */
  seen: string;
  present: number;
  target: Target;
  /** Why this type, or what will not fit. */
  note?: string;
}

/** One MongoDB collection and the collection it becomes. */
export interface CollectionPlan {
  stats: CollectionStats;
  /** The collection's name here. */
  name: string;
  type: 'base' | 'auth';
  /** A collection of that name exists: the import adds its fields to it. */
  existing: Collection | undefined;
  keys: KeyPlan[];
  /** Index SQL as the collections API takes it. */
  indexes: string[];
  /** What of the metadata's indexes could not be kept, and why. */
  notes: string[];
}

/** The field every imported collection gets: the document's original `_id`. */
export const MONGO_ID = 'mongo_id';
/** The JSON field that holds, per record, the keys past {@link MAX_KEY_FIELDS}. */
export const MONGO_EXTRA = 'mongo_extra';
/** Top-level keys that get a field of their own (a collection holds at most 1,000 fields); the rarer ones share one. */
export const MAX_KEY_FIELDS = 900;

/** Choices given on the command line. */
export interface PlanOptions {
  /** Collections to import as auth collections; undefined to recognise them (an email and a password key). */
  auth?: string[] | undefined;
  /** Put before each collection's name. */
  prefix?: string | undefined;
}

const EMAIL_KEY = /^e-?mail(_?address)?$/i;
const PASSWORD_KEY = /^(password|passwordhash|password_hash|hashedpassword|hashed_password|hash|pass)$/i;
const VERIFIED_KEY = /^(verified|emailverified|email_verified|isverified|is_verified)$/i;
const CREATED_KEY = /^(createdat|created_at|created)$/i;
const UPDATED_KEY = /^(updatedat|updated_at|updated|modifiedat|modified_at)$/i;
/** Names an auth collection's own fields take, and those of every record. */
const AUTH_NAMES = ['password', 'tokenkey', 'email', 'emailvisibility', 'verified', 'passwordconfirm', 'oldpassword'];
const RECORD_NAMES = ['id', 'created', 'updated', MONGO_ID, MONGO_EXTRA];
/** Past PocketBase's default text limit a text field gets room for what the dump holds. */
const DEFAULT_TEXT_MAX = 5000;
const DEFAULT_JSON_MAX = 1024 * 1024;

/** The kinds a key held, most common first. */
function seenOf(kinds: Map<ValueKind, number>, present: number): string {
  if (present === 0) return 'null';
  const list = [...kinds].sort((a, b) => b[1] - a[1]);
  return list.length === 1 ? (list[0]?.[0] as string) : list.map(([k, n]) => `${k} ×${n}`).join(', ');
}

/** Whether every value's kind is one of `allowed` (and there is at least one). */
function only(kinds: Map<ValueKind, number>, ...allowed: ValueKind[]): boolean {
  return kinds.size > 0 && [...kinds.keys()].every((k) => allowed.includes(k));
}

/** A name fit for a collection or field: letters, digits and _, led by a letter (or _ for a field), at most 100 characters. */
function cleanName(raw: string, lead: RegExp, fallback: string): string {
  let n = raw.replace(/[^A-Za-z0-9_]/g, '_').replace(/_via_/gi, '_by_');
  if (!lead.test(n)) n = `${fallback}${n}`;
  return n.slice(0, 90);
}

/** Hands out field names, each once (case aside), none reserved. */
class Names {
  private readonly taken = new Set<string>();
  constructor(reserved: string[]) {
    for (const n of reserved) this.taken.add(n.toLowerCase());
  }
  take(key: string): string {
    let n = cleanName(key, /^[A-Za-z_]/, 'f_');
    if (RESERVED_FIELD_NAMES.has(n.toLowerCase()) || this.taken.has(n.toLowerCase())) n = `${n}_mongo`;
    for (let i = 2; this.taken.has(n.toLowerCase()); i++) n = `${n.replace(/_\d+$/, '')}_${i}`;
    this.taken.add(n.toLowerCase());
    return n;
  }
}

/** The collection of `collections` whose ids most of `refs` are, when most of them are (a relation), else null. */
function referredCollection(refs: Set<string>, collections: CollectionStats[]): { name: string; share: number } | null {
  let best: { name: string; share: number } | null = null;
  for (const c of collections) {
    let hits = 0;
    for (const r of refs) if (c.ids.has(r)) hits++;
    const share = refs.size === 0 ? 0 : hits / refs.size;
    if (hits > 0 && (!best || share > best.share)) best = { name: c.source.collection, share };
  }
  return best && best.share >= 0.5 ? best : null;
}

/** The field a key's values fit, with why; relations are found against the other collections' ids. */
function fieldFor(s: KeyStats, name: string, all: CollectionStats[]): { target: Target; note?: string } {
  const field = (type: FieldType, options: Record<string, unknown> = {}, refers?: string): Target => ({
    to: 'field',
    field: { name, type, ...options },
    ...(refers ? { refers } : {}),
  });
  const { kinds } = s;
  if (s.present === 0) return { target: field('json'), note: 'always null or absent' };
  if (only(kinds, 'bool')) return { target: field('bool') };
  if (only(kinds, 'int', 'double', 'decimal')) {
    return { target: field('number'), ...(kinds.has('decimal') ? { note: 'Decimal128 values read as the nearest double' } : {}) };
  }
  if (only(kinds, 'date')) return { target: field('date') };
  if (only(kinds, 'string')) {
    const max = s.longestText > DEFAULT_TEXT_MAX ? s.longestText * 2 : 0;
    if (s.emails === s.present && EMAIL_KEY.test(name)) return { target: field('email') };
    return { target: field('text', { max }) };
  }
  if (only(kinds, 'objectId') || (only(kinds, 'array') && only(s.itemKinds, 'objectId'))) {
    const multiple = kinds.has('array');
    const ref = referredCollection(s.refs, all);
    if (ref && s.longestArray <= 10_000) {
      const maxSelect = multiple ? Math.min(10_000, Math.max(100, s.longestArray)) : 1;
      const share = Math.round(ref.share * 100);
      return {
        target: field('relation', { maxSelect, collectionId: '' }, ref.name),
        note: `${share}% of the ids seen name ${ref.name} documents`,
      };
    }
    if (!multiple) return { target: field('text', { max: 0 }), note: 'ObjectIds of no imported collection, kept as hex text' };
    return { target: field('json'), note: 'ObjectIds of no imported collection' };
  }
  if (only(kinds, 'array') && only(s.itemKinds, 'string') && s.options && s.options.size >= 2) {
    const values = [...s.options].sort();
    return { target: field('select', { values, maxSelect: values.length }) };
  }
  const maxSize = s.largestJson > DEFAULT_JSON_MAX ? Math.min(64 * 1024 * 1024, s.largestJson * 2) : 0;
  let note: string | undefined;
  if (kinds.size > 1) note = 'mixed types, kept as JSON';
  else if (kinds.has('array'))
    note = s.options === null && s.itemKinds.has('string') ? `more than ${MAX_OPTIONS} distinct values` : undefined;
  else if (kinds.has('long')) note = 'integers past 2^53, kept as exact text in JSON';
  return { target: field('json', { maxSize }), ...(note ? { note } : {}) };
}

/** Whether a collection looks like a users collection: a key of emails and one of password strings in (almost) every document. */
function looksLikeUsers(c: CollectionStats): boolean {
  let email = false;
  let password = false;
  for (const [key, s] of c.keys) {
    if (EMAIL_KEY.test(key) && s.present >= c.documents * 0.9 && s.emails >= s.present * 0.9) email = true;
    if (PASSWORD_KEY.test(key) && only(s.kinds, 'string') && s.present >= c.documents * 0.5) password = true;
  }
  return c.documents > 0 && email && password;
}

/** What an auth collection's own keys and the record's dates take; null for an ordinary key. */
function specialTarget(key: string, s: KeyStats, auth: boolean, used: Set<string>): Target | null {
  const pick = (to: 'email' | 'password' | 'verified' | 'created' | 'updated'): Target | null => {
    if (used.has(to)) return null;
    used.add(to);
    return { to };
  };
  if (key === '__v' && only(s.kinds, 'int')) return { to: 'skip', reason: "Mongoose's version key" };
  if (auth && EMAIL_KEY.test(key)) return pick('email');
  if (auth && PASSWORD_KEY.test(key)) return pick('password') ?? { to: 'skip', reason: 'a second password key' };
  if (auth && VERIFIED_KEY.test(key) && only(s.kinds, 'bool')) return pick('verified');
  if (CREATED_KEY.test(key) && only(s.kinds, 'date')) return pick('created');
  if (UPDATED_KEY.test(key) && only(s.kinds, 'date')) return pick('updated');
  return null;
}

/** An existing field of the same name and type is reused (its options kept); another type gets a new name. */
function reuseExisting(target: Target, existing: Collection | undefined, names: Names): Target {
  if (target.to !== 'field' || !existing) return target;
  const same = existing.fields.find((f) => f.name.toLowerCase() === target.field.name.toLowerCase());
  if (!same) return target;
  if (same.type === target.field.type && !same.system) return { ...target, field: { ...same } as unknown as typeof target.field };
  return { ...target, field: { ...target.field, name: names.take(`${target.field.name}_mongo`) } };
}

/** The keys of a collection and where each goes. */
function planKeys(c: CollectionStats, auth: boolean, existing: Collection | undefined, all: CollectionStats[]): KeyPlan[] {
  const reserved = [...RECORD_NAMES, ...(auth ? AUTH_NAMES : [])];
  const names = new Names(reserved);
  const used = new Set<string>();
  const plans: KeyPlan[] = [];
  // the most common keys get fields (a stable sort: among equals, the first seen)
  const byUse = [...c.keys].sort((a, b) => b[1].present - a[1].present);
  const own = new Set(byUse.slice(0, MAX_KEY_FIELDS).map(([key]) => key));
  for (const [key, s] of c.keys) {
    const seen = seenOf(s.kinds, s.present);
    const special = specialTarget(key, s, auth, used);
    if (special || !own.has(key)) {
      plans.push({ key, seen, present: s.present, target: special ?? { to: 'extra' } });
      continue;
    }
    const { target, note } = fieldFor(s, names.take(key), all);
    if (PASSWORD_KEY.test(key) && target.to === 'field') {
      // what looks like a password (or its hash) is for superusers' eyes only
      target.field.hidden = true;
      plans.push({ key, seen, present: s.present, target, note: 'hidden: it looks like a password' });
      continue;
    }
    plans.push({ key, seen, present: s.present, target: reuseExisting(target, existing, names), ...(note ? { note } : {}) });
  }
  return plans;
}

/** The column a MongoDB key went to, for its indexes, and whether an unset value is stored as '' there. */
function columnOf(keys: KeyPlan[], key: string): { name: string; text: boolean } | null {
  const plan = keys.find((k) => k.key === key);
  if (!plan) return null;
  const t = plan.target;
  if (t.to === 'field') return t.field.type === 'json' ? null : { name: t.field.name, text: ['text', 'email'].includes(t.field.type) };
  return t.to === 'email' || t.to === 'created' || t.to === 'updated' ? { name: t.to, text: true } : null;
}

/** The dump's indexes as index SQL: B-tree indexes on mapped top-level keys; unique only where every document has the keys. */
function planIndexes(plan: CollectionPlan, mongo: MongoIndex[]): void {
  const table = plan.name;
  plan.indexes.push(`CREATE UNIQUE INDEX \`${`idx_${table}`.slice(0, 90)}_${MONGO_ID}\` ON \`${table}\` (\`${MONGO_ID}\`)`);
  for (const ix of mongo) {
    if (ix.name === '_id_') continue;
    const entries = Object.entries(ix.key);
    const columns: string[] = [];
    let text = true;
    let why = '';
    for (const [key, dir] of entries) {
      if (dir !== 1 && dir !== -1) why = `a ${String(dir)} index`;
      else if (key.includes('.')) why = 'on a nested field';
      const column = columnOf(plan.keys, key);
      if (!column) why ||= `"${key}" is not a field of its own here`;
      else {
        columns.push(`\`${column.name}\`${dir === -1 ? ' DESC' : ''}`);
        text &&= column.text;
      }
    }
    if (why) {
      plan.notes.push(`index ${ix.name} not kept: ${why}`);
      continue;
    }
    if (plan.type === 'auth' && columns.length === 1 && columns[0] === '`email`') continue;
    const complete = entries.every(([key]) => (plan.stats.keys.get(key)?.present ?? 0) === plan.stats.documents);
    let unique = ix.unique && !ix.partial && complete;
    let where = '';
    if (ix.unique && !unique && columns.length === 1 && text && !ix.partial) {
      // a sparse unique index: missing values are stored empty, and only non-empty ones must differ
      where = ` WHERE ${columns[0]?.replace(' DESC', '')} != ''`;
      unique = true;
    } else if (ix.unique && !unique) {
      plan.notes.push(`index ${ix.name} kept, but not unique: some documents lack its fields`);
    }
    const name = cleanName(`idx_${table}_${ix.name}`, /^[A-Za-z]/, 'idx_').slice(0, 100);
    plan.indexes.push(`CREATE ${unique ? 'UNIQUE ' : ''}INDEX \`${name}\` ON \`${table}\` (${columns.join(', ')})${where}`);
  }
}

/**
 * The plan of the whole import. `existing` finds a collection by name;
 * names are given in the dump's order, each once (case aside).
 */
export function planImport(
  all: CollectionStats[],
  options: PlanOptions,
  existing: (name: string) => Collection | undefined,
): CollectionPlan[] {
  const auth = options.auth;
  for (const name of auth ?? []) {
    if (!all.some((c) => c.source.collection === name)) throw new CliError(`--auth names "${name}", which the dump does not hold`);
  }
  const taken = new Set<string>();
  return all.map((c) => {
    let name = cleanName(`${options.prefix ?? ''}${c.source.collection}`, /^[A-Za-z]/, 'c_');
    if (/^(sqlite|pg)_/i.test(name)) name = `mongo_${name}`;
    for (let i = 2; taken.has(name.toLowerCase()); i++) name = `${name.replace(/_\d+$/, '')}_${i}`;
    taken.add(name.toLowerCase());
    const isAuth = auth ? auth.includes(c.source.collection) : looksLikeUsers(c);
    const current = existing(name);
    const plan: CollectionPlan = {
      stats: c,
      name,
      type: isAuth ? 'auth' : 'base',
      existing: current,
      keys: planKeys(c, isAuth, current, all),
      indexes: [],
      notes: [],
    };
    if (isAuth && !plan.keys.some((k) => k.target.to === 'email'))
      throw new CliError(`${c.source.collection} has no email key to sign in with`);
    planIndexes(plan, indexesOf(c.source));
    return plan;
  });
}
