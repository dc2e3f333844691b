/**
 * Dates as PocketBase shows them: UTC, `YYYY-MM-DD HH:MM:SS.sssZ`, and ''
 * for "no date".
 */

/** Formats an instant the PocketBase way. */
export function formatDate(d: Date): string {
  return d.toISOString().replace('T', ' ');
}

/** The instant (ms since the epoch) of a date in PocketBase's form; NaN for '' or anything else. */
export function parseDate(text: string): number {
  return typeof text === 'string' && text !== '' ? Date.parse(text.replace(' ', 'T')) : Number.NaN;
}

/** The current instant, formatted. */
export function nowString(): string {
  return formatDate(new Date());
}

const DATE_INPUT = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Parses a submitted date: ISO 8601 or PocketBase's form, date-only allowed,
 * UTC unless an offset is given. Returns the formatted date, '' for an empty
 * input, or null when the text is not a valid date.
 */
export function parseDateInput(input: string): string | null {
  const s = input.trim();
  if (s === '') return '';
  const m = DATE_INPUT.exec(s);
  if (!m) return null;
  const [, y, mo, d, h = '00', mi = '00', sec = '00', frac = '', zone] = m;
  // the calendar date and clock time as written must exist, whatever the offset
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59) return null;
  const ms = frac ? frac.padEnd(3, '0').slice(0, 3) : '000';
  const offset = !zone || zone.toUpperCase() === 'Z' ? 'Z' : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${sec}.${ms}${offset}`;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return null;
  const utcYear = date.getUTCFullYear();
  if (utcYear < 1 || utcYear > 9999) return null;
  return formatDate(date);
}
