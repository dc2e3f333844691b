import { randomString } from '../ids.js';

/**
 * The name an upload is stored under, PocketBase's way: the original base
 * name in snake case, a random part, and the extension, e.g.
 * `Holiday Photo.JPG` → `holiday_photo_k3j9x0a1bq.jpg`. What a client sends
 * as a file name is only a hint: separators, dots, control characters and
 * anything outside `[a-z0-9_]` never reach the stored name, so it always
 * satisfies `isStoredName` (keys.ts).
 */

/** Length of the random part of a stored name. */
export const RANDOM_PART = 10;
/** Longest base kept from the original name (PocketBase's). */
const MAX_BASE = 100;
/** Longest extension kept, dot included (PocketBase's). */
const MAX_EXT = 20;

/** The extension of a name with its dot, double ones included (`.tar.gz`), as PocketBase reads it; '' when there is none. */
function extensionOf(name: string): string {
  const primary = name.lastIndexOf('.');
  if (primary === -1) return '';
  const secondary = name.lastIndexOf('.', primary - 1);
  return name.slice(secondary >= 0 ? secondary : primary);
}

/** Only lower-case letters and digits in each part of an extension; '' when nothing is left. */
function cleanExtension(ext: string): string {
  const parts = ext
    .toLowerCase()
    .split('.')
    .map((p) => p.replace(/[^a-z0-9]/g, ''))
    .filter((p) => p !== '');
  if (parts.length === 0) return '';
  let out = `.${parts.join('.')}`;
  // keep the end, where the type is
  if (out.length > MAX_EXT) out = `.${out.slice(out.length - MAX_EXT + 1).replace(/^\.+/, '')}`;
  return out === '.' ? '' : out;
}

/** Snake case of letters and digits: accents dropped, `fooBar` → `foo_bar`, everything else one `_`. */
function snakeCase(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toLowerCase();
}

/**
 * A new stored name for an upload called `original` (any text, even
 * hostile); `fallbackExt` (from the file's bytes, without the dot) is used
 * when the name has no usable extension.
 */
export function storedName(original: string, fallbackExt = ''): string {
  // only the last path segment, without control characters
  const last = String(original)
    .replace(/[\p{Cc}\p{Cf}]/gu, '')
    .replace(/^.*[\\/]/, '');
  const rawExt = extensionOf(last);
  const ext = cleanExtension(rawExt) || cleanExtension(fallbackExt ? `.${fallbackExt}` : '');
  let base = snakeCase(last.slice(0, last.length - rawExt.length));
  if (base.length < 3) base += randomString(RANDOM_PART);
  else if (base.length > MAX_BASE) base = base.slice(0, MAX_BASE).replace(/_+$/, '');
  return `${base}_${randomString(RANDOM_PART)}${ext}`;
}
