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

/**
 * The field a record of `collection` is shown by where another record points at it: its presentable
 * field (PocketBase's `presentable` option), else an account's email, else its first visible text field;
 * none (undefined) means its id.
 */
export function labelField(collection) {
  return (
    collection?.fields.find((f) => f.presentable && !f.hidden) ??
    (collection?.type === 'auth' ? collection.fields.find((f) => f.name === 'email') : undefined) ??
    collection?.fields.find((f) => f.type === 'text' && f.name !== 'id' && !f.hidden)
  );
}

/** How a related record reads: its label field's value, else its id. */
export function recordLabel(record, field) {
  const v = field ? record?.[field.name] : '';
  return v === undefined || v === null || v === '' ? (record?.id ?? '') : cellText(v, field);
}
