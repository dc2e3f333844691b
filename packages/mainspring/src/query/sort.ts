import { FilterError } from './errors.js';

/** One key of a `sort` parameter. */
export interface SortKey {
  /** The field path as written, without the `-`/`+` prefix; `@random` for random order, `@rank` for the rank of the filter's `search()`. */
  readonly name: string;
  readonly desc: boolean;
}

/** The most sort keys one request may give. */
export const MAX_SORT_KEYS = 8;

const SORT_NAME = /^(@random|@rowid|@rank|[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*(:(length|lower))?)$/;

/**
 * Parses PocketBase's `sort` parameter (`-created,title`, `@random`) into keys.
 * Names are checked for shape only; the resolver decides whether they exist.
 */
export function parseSort(raw: string): SortKey[] {
  if (typeof raw !== 'string') throw new FilterError('sort must be a string');
  const keys: SortKey[] = [];
  for (const part of raw.split(',')) {
    let name = part.trim();
    if (name === '') continue;
    let desc = false;
    if (name.startsWith('-') || name.startsWith('+')) {
      desc = name[0] === '-';
      name = name.slice(1);
    }
    if (!SORT_NAME.test(name)) throw new FilterError(`invalid sort field "${name.slice(0, 100)}"`);
    keys.push({ name, desc });
    if (keys.length > MAX_SORT_KEYS) throw new FilterError(`sort takes at most ${MAX_SORT_KEYS} fields`);
  }
  return keys;
}
