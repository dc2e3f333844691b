import type { ColumnKind } from './engine.js';

/**
 * Reading stored values back, the same on every engine but for how each
 * stores a boolean. Every column kind has an API value when empty: '' for
 * text and dates, 0, false, null for JSON, [] for lists.
 */

/** A JSON column's text as a value; text that is not JSON comes back as it is. */
export function parseJson(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw ?? null;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** A point as stored and shown: `{lon, lat}`, each a finite number (0 when missing or not one). */
export function asPoint(value: unknown): { lon: number; lat: number } {
  const p = (typeof value === 'object' && value !== null ? value : {}) as { lon?: unknown; lat?: unknown };
  const coordinate = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  return { lon: coordinate(p.lon), lat: coordinate(p.lat) };
}

/** A stored value of `kind` as the API shows it; `isTrue` reads the engine's booleans. */
export function decodeStored(kind: ColumnKind, raw: unknown, isTrue: (raw: unknown) => boolean): unknown {
  switch (kind) {
    case 'text':
    case 'date':
      return raw == null ? '' : String(raw);
    case 'number': {
      const n = Number(raw);
      return Number.isFinite(n) ? n : 0;
    }
    case 'bool':
      return isTrue(raw);
    case 'json':
      return parseJson(raw);
    case 'array': {
      const v = parseJson(raw);
      return Array.isArray(v) ? v : [];
    }
    case 'point':
      return asPoint(parseJson(raw));
  }
}
