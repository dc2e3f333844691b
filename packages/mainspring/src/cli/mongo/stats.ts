import { type DumpSource, documentsOf } from './dump.js';
import { bcryptOf, idKey, kindOf, looksLikeEmail, plain, TooDeep, type ValueKind } from './values.js';

/**
 * The first pass over a dump: every document of every collection read once,
 * counting for each top-level key the kinds of its values, and keeping
 * every `_id` (as {@link idKey}) so references can be matched to the
 * collection they name. A dump is read in full rather than sampled: the ids
 * must be read anyway, and counting every value means no value meets a type
 * chosen from documents that did not show it.
 */

/** Distinct strings kept per array field: past this, it is not a set of options (a multi-select) but data (JSON). */
export const MAX_OPTIONS = 50;
/** The longest string that can be an option of a select. */
const MAX_OPTION_LENGTH = 100;
/** Referenced ids kept per field to find the collection they name. */
const MAX_REF_SAMPLES = 1000;

/** What one top-level key holds across a collection's documents. */
export interface KeyStats {
  /** Documents where the key holds a value (not null, not absent). */
  present: number;
  kinds: Map<ValueKind, number>;
  /** The kinds of array items. */
  itemKinds: Map<ValueKind, number>;
  /** Distinct strings among array items; null once past {@link MAX_OPTIONS} or a long one. */
  options: Set<string> | null;
  /** The most items one array held. */
  longestArray: number;
  /** The longest string, as a value or an array item. */
  longestText: number;
  /** The largest value as JSON, in bytes (objects, arrays and other BSON types). */
  largestJson: number;
  /** Ids (idKey) of referenced documents: ObjectId values and items, up to {@link MAX_REF_SAMPLES}. */
  refs: Set<string>;
  emails: number;
  bcrypt: number;
}

/** A collection as the first pass saw it. */
export interface CollectionStats {
  source: DumpSource;
  documents: number;
  /** Every `_id`, as {@link idKey}. */
  ids: Set<string>;
  /** Documents whose `_id` another document had already, or that had none. */
  badIds: number;
  /** Top-level keys in the order first seen (a Map: a key such as "__proto__" is just a key). */
  keys: Map<string, KeyStats>;
}

function newKeyStats(): KeyStats {
  return {
    present: 0,
    kinds: new Map(),
    itemKinds: new Map(),
    options: new Set(),
    longestArray: 0,
    longestText: 0,
    largestJson: 0,
    refs: new Set(),
    emails: 0,
    bcrypt: 0,
  };
}

const bump = (m: Map<ValueKind, number>, k: ValueKind) => m.set(k, (m.get(k) ?? 0) + 1);

/** Size of a value as JSON; a value nested past MongoDB's limit counts as too large to keep. */
function jsonSize(v: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(plain(v)) ?? '');
  } catch (err) {
    if (err instanceof TooDeep) return Number.POSITIVE_INFINITY;
    throw err;
  }
}

function countItems(s: KeyStats, items: unknown[]): void {
  s.longestArray = Math.max(s.longestArray, items.length);
  for (const item of items) {
    const kind = kindOf(item);
    bump(s.itemKinds, kind);
    if (kind === 'objectId' && s.refs.size < MAX_REF_SAMPLES) s.refs.add(idKey(item));
    if (kind === 'string') {
      const text = item as string;
      s.longestText = Math.max(s.longestText, text.length);
      if (s.options && (text.length > MAX_OPTION_LENGTH || text === '')) s.options = null;
      else if (s.options && !s.options.has(text)) {
        s.options.add(text);
        if (s.options.size > MAX_OPTIONS) s.options = null;
      }
    } else {
      s.options = null;
    }
  }
}

/** Counts one value of a key. */
function countValue(s: KeyStats, v: unknown): void {
  const kind = kindOf(v);
  if (kind === 'null') return;
  s.present++;
  bump(s.kinds, kind);
  if (kind === 'string') {
    const text = v as string;
    s.longestText = Math.max(s.longestText, text.length);
    if (looksLikeEmail(text)) s.emails++;
    if (bcryptOf(text)) s.bcrypt++;
  } else if (kind === 'objectId') {
    if (s.refs.size < MAX_REF_SAMPLES) s.refs.add(idKey(v));
  } else if (kind === 'array') {
    countItems(s, v as unknown[]);
  }
  if (kind === 'array' || kind === 'object' || kind === 'other' || kind === 'long' || kind === 'decimal') {
    s.largestJson = Math.max(s.largestJson, jsonSize(v));
  }
}

/** Reads a collection's documents once and counts them. */
export async function gatherCollection(source: DumpSource): Promise<CollectionStats> {
  const stats: CollectionStats = { source, documents: 0, ids: new Set(), badIds: 0, keys: new Map() };
  for await (const { doc } of documentsOf(source)) {
    stats.documents++;
    const id = doc._id;
    if (id === undefined || stats.ids.has(idKey(id))) stats.badIds++;
    else stats.ids.add(idKey(id));
    for (const key of Object.keys(doc)) {
      if (key === '_id') continue;
      let s = stats.keys.get(key);
      if (!s) {
        s = newKeyStats();
        stats.keys.set(key, s);
      }
      countValue(s, doc[key]);
    }
  }
  return stats;
}
