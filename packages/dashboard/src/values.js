// How record values are shown: always as text (Svelte escapes it); links only for http(s).

/** A short text for a table cell. */
export function cellText(value, field) {
  if (value === null || value === undefined || value === '') return '';
  if (field?.type === 'bool') return value ? '✓' : '–';
  if (Array.isArray(value)) return value.join(', ').slice(0, 200);
  if (typeof value === 'object') return JSON.stringify(value).slice(0, 200);
  return String(value).slice(0, 200);
}

/** The URL when it is http(s), else null: `javascript:` and `data:` never become links. */
export function safeHref(value) {
  if (typeof value !== 'string' || value === '') return null;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

export const isImage = (name) => /\.(png|jpe?g|gif|webp)$/i.test(name);

/** PocketBase's date text `2024-01-02 03:04:05.000Z` ↔ the value of a datetime-local input, in UTC. */
export const toInputDate = (v) => (v ? v.replace(' ', 'T').slice(0, 16) : '');
export const fromInputDate = (v) => (v ? `${v.replace('T', ' ')}:00.000Z` : '');
