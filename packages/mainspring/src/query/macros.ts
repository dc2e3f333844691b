import type { SqlValue } from './compile.js';

/**
 * The date macros of the filter language (`@now`, `@todayStart`, …), all in
 * UTC. Dates are PocketBase's text form `YYYY-MM-DD HH:MM:SS.sssZ`; the
 * parts (`@hour`, `@weekday`, …) are numbers.
 */

const format = (d: Date) => d.toISOString().replace('T', ' ');
const utc = (y: number, m: number, d: number, h = 0, mi = 0, s = 0, ms = 0) => new Date(Date.UTC(y, m, d, h, mi, s, ms));

const MACROS: Record<string, (now: Date) => SqlValue> = {
  '@now': (n) => format(n),
  '@yesterday': (n) => format(new Date(n.getTime() - 86_400_000)),
  '@tomorrow': (n) => format(new Date(n.getTime() + 86_400_000)),
  '@second': (n) => n.getUTCSeconds(),
  '@minute': (n) => n.getUTCMinutes(),
  '@hour': (n) => n.getUTCHours(),
  '@day': (n) => n.getUTCDate(),
  '@month': (n) => n.getUTCMonth() + 1,
  '@weekday': (n) => n.getUTCDay(),
  '@year': (n) => n.getUTCFullYear(),
  '@todayStart': (n) => format(utc(n.getUTCFullYear(), n.getUTCMonth(), n.getUTCDate())),
  '@todayEnd': (n) => format(utc(n.getUTCFullYear(), n.getUTCMonth(), n.getUTCDate(), 23, 59, 59, 999)),
  '@monthStart': (n) => format(utc(n.getUTCFullYear(), n.getUTCMonth(), 1)),
  '@monthEnd': (n) => format(utc(n.getUTCFullYear(), n.getUTCMonth() + 1, 0, 23, 59, 59, 999)),
  '@yearStart': (n) => format(utc(n.getUTCFullYear(), 0, 1)),
  '@yearEnd': (n) => format(utc(n.getUTCFullYear(), 11, 31, 23, 59, 59, 999)),
};

/** The value of a date macro at `now`, or undefined when `name` is not one. */
export function macroValue(name: string, now: Date = new Date()): SqlValue | undefined {
  // own keys only: `__proto__` or `constructor` in a filter must not reach Object.prototype
  const fn = Object.hasOwn(MACROS, name) ? MACROS[name] : undefined;
  return fn ? fn(now) : undefined;
}
