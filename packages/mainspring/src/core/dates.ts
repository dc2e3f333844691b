/**
 * Dates as PocketBase shows them: UTC, `YYYY-MM-DD HH:MM:SS.sssZ`, and ''
 * for "no date".
 */

/** Formats an instant the PocketBase way. */
export function formatDate(d: Date): string {
  return d.toISOString().replace('T', ' ');
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
  const ms = frac ? frac.padEnd(3, '0').slice(0, 3) : '000';
  const offset = !zone || zone.toUpperCase() === 'Z' ? 'Z' : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${sec}.${ms}${offset}`;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return null;
  // reject rollovers such as 2024-02-31 that Date silently normalizes
  if (offset === 'Z' && formatDate(date).slice(0, 10) !== `${y}-${mo}-${d}`) return null;
  const year = date.getUTCFullYear();
  if (year < 1 || year > 9999) return null;
  return formatDate(date);
}
