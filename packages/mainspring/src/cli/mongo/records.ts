import type { Document } from 'bson';
import type { Collection, Field } from '../../core/collections/model.js';
import { formatDate, nowString } from '../../core/dates.js';
import { Invalid, kindOf } from '../../core/fields/index.js';
import { newTokenKey } from '../../core/records/writes.js';
import type { CollectionPlan, KeyPlan, Target } from './plan.js';
import { MONGO_EXTRA, MONGO_ID } from './plan.js';
import type { CollectionStats } from './stats.js';
import {
  bcryptOf,
  dateOf,
  idKey,
  idText,
  looksLikeEmail,
  kindOf as mongoKind,
  numberOf,
  objectIdHex,
  plain,
  recordIdOf,
  TooDeep,
} from './values.js';

/**
 * A document turned into a record of its collection: each key's value
 * converted for its field, then put through the field type's own
 * conversion and checks (those of a create through the API), so a record
 * holds nothing the API would refuse. A value that does not fit is left
 * out and counted against its key; an auth document without a usable email
 * is left out whole.
 */

/** What did not fit, per key: how often, the first few documents, and the first reason. */
export interface Misfit {
  key: string;
  count: number;
  ids: string[];
  reason: string;
}

/** The problems of one collection's documents. */
export class Misfits {
  readonly byKey = new Map<string, Misfit>();
  /** Documents not imported at all. */
  skipped = 0;

  add(key: string, id: string, reason: string): void {
    let m = this.byKey.get(key);
    if (!m) {
      m = { key, count: 0, ids: [], reason };
      this.byKey.set(key, m);
    }
    m.count++;
    if (m.ids.length < 3) m.ids.push(id);
  }
}

/** What converting needs beyond the document: the collections by MongoDB name, for references. */
export interface RecordContext {
  plan: CollectionPlan;
  collection: Collection;
  /** MongoDB collection name → its stats (ids) and its record ids' collection name. */
  byMongoName: Map<string, CollectionStats>;
  /** Emails taken in this auth collection (lowercased) → the record id holding each. */
  emails: Map<string, string>;
  /** An account without a bcrypt hash gets this one, of a secret thrown away: no password signs in until a reset sets one. */
  lockedHash: string;
  misfits: Misfits;
}

/** A reference's record id when it names a document of `target`, else null. */
function referenced(ctx: RecordContext, target: string, v: unknown): string | null {
  const stats = ctx.byMongoName.get(target);
  if (!stats || mongoKind(v) !== 'objectId' || !stats.ids.has(idKey(v))) return null;
  return recordIdOf(target, v);
}

/** The value a field of each type is given, before the type's own conversion; undefined when it cannot hold it. */
function valueFor(ctx: RecordContext, field: Field, target: Target & { to: 'field' }, v: unknown, misfit: (why: string) => void): unknown {
  switch (field.type) {
    case 'text':
    case 'email':
    case 'url':
    case 'editor':
      if (typeof v === 'string') return v;
      if (mongoKind(v) === 'objectId') return objectIdHex(v);
      return typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
    case 'number':
      return numberOf(v);
    case 'bool':
      return typeof v === 'boolean' ? v : undefined;
    case 'date':
      return dateOf(v);
    case 'select':
      return Array.isArray(v) ? v : typeof v === 'string' ? [v] : undefined;
    case 'relation': {
      const list = Array.isArray(v) ? v : [v];
      const ids: string[] = [];
      for (const item of list) {
        const id = target.refers ? referenced(ctx, target.refers, item) : null;
        if (id) ids.push(id);
        else misfit(`names no document of ${target.refers ?? 'an imported collection'} (left out)`);
      }
      return field.maxSelect > 1 ? ids : ids[0];
    }
    case 'json':
      return plain(v);
    default:
      return undefined;
  }
}

/** Puts one key's value into the record, through its field type's checks; a misfit is counted. */
function putField(ctx: RecordContext, data: Record<string, unknown>, plan: KeyPlan, v: unknown, mongoId: string): void {
  const target = plan.target as Target & { to: 'field' };
  const field = ctx.collection.fields.find((f) => f.name === target.field.name);
  if (!field) return;
  const misfit = (why: string) => ctx.misfits.add(plan.key, mongoId, why);
  let value: unknown;
  try {
    value = valueFor(ctx, field, target, v, misfit);
  } catch (err) {
    if (!(err instanceof TooDeep)) throw err;
    misfit(err.message);
    return;
  }
  if (value === undefined) {
    if (field.type !== 'relation') misfit(`a ${mongoKind(v)} does not fit a ${field.type} field`);
    return;
  }
  const kind = kindOf(field);
  const prepared = kind.prepare(field, value, 'json');
  if (prepared instanceof Invalid) {
    misfit(prepared.error.message);
    return;
  }
  const error = kind.validate(field, prepared);
  if (error) {
    misfit(error.message);
    return;
  }
  data[field.name] = prepared;
}

/** One of the rarer keys, into the record's {@link MONGO_EXTRA} object (a key such as "__proto__" stays a key). */
function putExtra(ctx: RecordContext, extra: Record<string, unknown>, key: string, v: unknown, mongoId: string): void {
  try {
    Object.defineProperty(extra, key, { value: plain(v), enumerable: true, writable: true, configurable: true });
  } catch (err) {
    if (!(err instanceof TooDeep)) throw err;
    ctx.misfits.add(key, mongoId, err.message);
  }
}

/** An auth document's own values (email, password hash, verified); false when the document cannot be an account. */
function putAuth(ctx: RecordContext, data: Record<string, unknown>, plan: KeyPlan, v: unknown, mongoId: string): boolean {
  const { misfits } = ctx;
  if (plan.target.to === 'email') {
    const email = typeof v === 'string' ? v.trim() : '';
    const field = ctx.collection.fields.find((f) => f.name === 'email');
    if (!looksLikeEmail(email) || (field && kindOf(field).validate(field, email) !== null)) {
      misfits.add(plan.key, mongoId, 'not an email address: the document is not imported');
      return false;
    }
    const holder = ctx.emails.get(email.toLowerCase());
    if (holder !== undefined && holder !== data.id) {
      misfits.add(plan.key, mongoId, 'an email another account has (case aside): the document is not imported');
      return false;
    }
    ctx.emails.set(email.toLowerCase(), data.id as string);
    data.email = email;
  } else if (plan.target.to === 'password') {
    const hash = bcryptOf(v);
    if (hash) data.password = hash;
    else misfits.add(plan.key, mongoId, 'not a bcrypt hash: the account has no password until it is reset');
  } else if (plan.target.to === 'verified') {
    data.verified = v === true;
  }
  return true;
}

/** The record of a document, or null when it is left out (counted in the misfits). */
export function recordOf(ctx: RecordContext, doc: Document): Record<string, unknown> | null {
  const { plan, collection } = ctx;
  const data: Record<string, unknown> = {};
  for (const f of collection.fields) data[f.name] = kindOf(f).empty(f);
  const mongoId = idText(doc._id);
  data.id = recordIdOf(plan.stats.source.collection, doc._id);
  data[MONGO_ID] = mongoId;
  // an ObjectId holds the second it was made: the record's creation date unless the document says otherwise
  const made = mongoKind(doc._id) === 'objectId' ? formatDate((doc._id as { getTimestamp(): Date }).getTimestamp()) : nowString();
  data.created = made;
  data.updated = made;
  if (collection.type === 'auth') {
    data.tokenKey = newTokenKey();
    data.password = ctx.lockedHash;
  }
  let emailSeen = false;
  const extra: Record<string, unknown> = {};
  for (const keyPlan of plan.keys) {
    const v = Object.hasOwn(doc, keyPlan.key) ? doc[keyPlan.key] : undefined;
    if (mongoKind(v) === 'null') continue;
    const to = keyPlan.target.to;
    if (to === 'field') putField(ctx, data, keyPlan, v, mongoId);
    else if (to === 'extra') putExtra(ctx, extra, keyPlan.key, v, mongoId);
    else if (to === 'created' || to === 'updated') {
      const date = dateOf(v);
      if (date) data[to] = date;
      else ctx.misfits.add(keyPlan.key, mongoId, 'a date outside years 0–9999');
    } else if (to === 'email' || to === 'password' || to === 'verified') {
      emailSeen ||= to === 'email';
      if (!putAuth(ctx, data, keyPlan, v, mongoId)) return null;
    }
  }
  if (collection.type === 'auth' && !emailSeen) {
    ctx.misfits.add('email', mongoId, 'no email: the document is not imported');
    return null;
  }
  if (Object.keys(extra).length > 0) data[MONGO_EXTRA] = extra;
  if (data.updated === made && data.created !== made) data.updated = data.created;
  return data;
}
