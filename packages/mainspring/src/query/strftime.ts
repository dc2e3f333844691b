import { FilterError } from './errors.js';

/**
 * PocketBase's `strftime(format, [time, modifiers…])` filter function: what
 * of it Mainspring takes, checked once here so that both engines accept
 * exactly the same filters. SQLite runs its own `strftime`; PostgreSQL
 * builds the same text from `to_char` and `extract` (storage/postgres).
 */

/** The conversions both engines produce alike (SQLite's meaning of each). */
export const STRFTIME_LETTERS = {
  Y: 'year, 0000-9999',
  m: 'month, 01-12',
  d: 'day of the month, 01-31',
  H: 'hour, 00-23',
  M: 'minute, 00-59',
  S: 'seconds, 00-59',
  f: 'seconds with milliseconds, SS.SSS',
  j: 'day of the year, 001-366',
  w: 'day of the week, 0-6 (Sunday is 0)',
  u: 'day of the week, 1-7 (Monday is 1)',
  W: 'week of the year, 00-53 (weeks start on Monday)',
  s: 'seconds since 1970-01-01',
  F: '%Y-%m-%d',
  T: '%H:%M:%S',
  R: '%H:%M',
} as const;
export type StrftimeLetter = keyof typeof STRFTIME_LETTERS;

export type StrftimePart = { readonly text: string } | { readonly letter: StrftimeLetter };

export type StrftimeUnit = 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second';

/** A modifier, in the one spelling both engines read (`+1.5 days`, `start of month`). */
export type StrftimeModifier =
  | { readonly kind: 'shift'; readonly amount: number; readonly unit: StrftimeUnit; readonly text: string }
  | { readonly kind: 'start'; readonly unit: 'year' | 'month' | 'day'; readonly text: string };

/** The instant: a date column's SQL, a date as PocketBase writes it (bound), or the statement's time. */
export type StrftimeTime = { readonly sql: string } | { readonly date: string } | 'now';

export interface StrftimeCall {
  /** The format as written (SQLite takes it as it is). */
  readonly format: string;
  readonly parts: readonly StrftimePart[];
  /** null: a time text that is not a date, so the result is NULL (SQLite's answer). */
  readonly time: StrftimeTime | null;
  readonly modifiers: readonly StrftimeModifier[];
}

const MAX_FORMAT = 200;

/** The format's literal text and conversions; an unknown or dangling `%` is a FilterError. */
export function parseStrftimeFormat(format: string): StrftimePart[] {
  if (format.length > MAX_FORMAT) throw new FilterError(`strftime's format is longer than ${MAX_FORMAT} characters`);
  const parts: StrftimePart[] = [];
  let text = '';
  for (let i = 0; i < format.length; i++) {
    const c = format[i] as string;
    if (c !== '%') {
      text += c;
      continue;
    }
    const next = format[i + 1];
    i++;
    if (next === '%') {
      text += '%';
      continue;
    }
    if (next === undefined || !Object.hasOwn(STRFTIME_LETTERS, next)) {
      const known = Object.keys(STRFTIME_LETTERS).map((l) => `%${l}`);
      throw new FilterError(`strftime does not know "%${next ?? ''}"; it knows ${known.join(' ')} and %%`);
    }
    if (text) parts.push({ text });
    text = '';
    parts.push({ letter: next as StrftimeLetter });
  }
  if (text) parts.push({ text });
  return parts;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?Z?)?$/;

/**
 * A time value's text: `now`, or a UTC date as PocketBase writes it
 * (`2024-01-31`, `2024-01-31 12:00:00.000Z`), written back in that form;
 * null for anything else (SQLite's strftime answers NULL for what it cannot
 * read, and so do we).
 */
export function strftimeTimeText(text: string): StrftimeTime | null {
  const s = text.trim();
  if (s.toLowerCase() === 'now') return 'now';
  const m = DATE.exec(s);
  if (!m) return null;
  const [, y, mo, d, h = '00', mi = '00', sec = '00', ms = '0'] = m;
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), Number(ms.padEnd(3, '0'))));
  date.setUTCFullYear(Number(y));
  // a day or time that does not exist (2023-02-30, 24:00) rolls over in Date.UTC
  if (
    date.getUTCMonth() !== Number(mo) - 1 ||
    date.getUTCDate() !== Number(d) ||
    date.getUTCHours() !== Number(h) ||
    date.getUTCMinutes() !== Number(mi)
  ) {
    return null;
  }
  return { date: `${date.toISOString().replace('T', ' ').slice(0, 23)}Z` };
}

const SHIFT = /^\s*([+-]?\d{1,9}(?:\.\d{1,9})?)\s+(year|month|day|hour|minute|second)s?\s*$/i;
const START = /^\s*start\s+of\s+(year|month|day)\s*$/i;

/** One modifier: `±N unit(s)` (whole years and months) or `start of year|month|day`. */
export function parseStrftimeModifier(text: string): StrftimeModifier {
  const start = START.exec(text);
  if (start) {
    const unit = (start[1] as string).toLowerCase() as 'year' | 'month' | 'day';
    return { kind: 'start', unit, text: `start of ${unit}` };
  }
  const shift = SHIFT.exec(text);
  if (shift) {
    const amount = Number(shift[1]);
    const unit = (shift[2] as string).toLowerCase() as StrftimeUnit;
    if ((unit === 'year' || unit === 'month') && !Number.isInteger(amount)) {
      throw new FilterError(`strftime shifts by whole ${unit}s only: "${text}"`);
    }
    return { kind: 'shift', amount, unit, text: `${amount >= 0 ? '+' : ''}${amount} ${unit}s` };
  }
  throw new FilterError(
    `strftime does not know the modifier "${text.slice(0, 50)}"; it knows "±N years|months|days|hours|minutes|seconds" and "start of year|month|day"`,
  );
}
