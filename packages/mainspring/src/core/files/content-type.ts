import { extname } from 'node:path';

/**
 * How a stored file may be served, given the type its bytes show (sniff.ts,
 * the detector uploads use too): only types the bytes confirm are shown
 * inline, the extension only names text formats the bytes cannot tell
 * apart, and types a browser would run (HTML, XML, scripts) are never
 * served as what they are, so an upload cannot become a page or a script of
 * this origin (stored XSS, SECURITY.md #8).
 */

/** PocketBase's list of types served inline; anything else is an attachment. */
const INLINE: ReadonlySet<string> = new Set([
  // image
  'image/png',
  'image/jpg',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/x-icon',
  'image/bmp',
  // video
  'video/webm',
  'video/mp4',
  'video/3gpp',
  'video/quicktime',
  'video/x-ms-wmv',
  // audio
  'audio/basic',
  'audio/aiff',
  'audio/mpeg',
  'audio/midi',
  'audio/mp3',
  'audio/wave',
  'audio/wav',
  'audio/x-wav',
  'audio/x-mpeg',
  'audio/x-m4a',
  'audio/aac',
  // document
  'application/pdf',
  'application/x-pdf',
]);

/** The images thumbnails are made of (PocketBase's list). */
export const THUMB_SOURCE_TYPES: ReadonlySet<string> = new Set(['image/png', 'image/jpg', 'image/jpeg', 'image/gif', 'image/webp']);

/** Text formats the bytes cannot tell, by extension. Binary formats are recognised by their bytes instead. */
const BY_EXTENSION: Readonly<Record<string, string>> = {
  '.txt': 'text/plain',
  '.log': 'text/plain',
  '.csv': 'text/csv',
  '.tsv': 'text/tab-separated-values',
  '.md': 'text/markdown',
  '.json': 'application/json',
  '.yaml': 'application/yaml',
  '.yml': 'application/yaml',
  '.ics': 'text/calendar',
  '.vtt': 'text/vtt',
  '.srt': 'application/x-subrip',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.html': 'text/html',
  '.htm': 'text/html',
  '.xhtml': 'application/xhtml+xml',
  '.xml': 'application/xml',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.cjs': 'text/javascript',
};

const OCTET_STREAM = 'application/octet-stream';
const SVG = 'image/svg+xml';

/** True for a type a browser would run or render as a document of the serving origin. */
export function isActiveType(type: string): boolean {
  const t = type.toLowerCase();
  if (t === SVG) return false; // kept (an <img> needs it) but always an attachment, under a sandboxing CSP
  return (
    t === 'text/html' ||
    t === 'application/xhtml+xml' ||
    t === 'application/xml' ||
    t === 'text/xml' ||
    t === 'text/xsl' ||
    t.endsWith('+xml') ||
    t.includes('javascript') ||
    t.includes('ecmascript') ||
    t === 'application/x-shockwave-flash' ||
    t === 'text/vnd.wap.wml' ||
    t === 'application/vnd.ms-htmlhelp'
  );
}

/** How a file is served: its Content-Type, and whether a browser may show it inline. */
export interface ServedType {
  contentType: string;
  /** True only for types of {@link INLINE} that the bytes confirm. */
  inline: boolean;
  /** The type the bytes show, if any (thumbnails are made only of confirmed images). */
  sniffed: string | undefined;
}

/**
 * How to serve a file named `name` whose bytes show the type `sniffed`
 * (undefined when they show nothing). The extension only names text formats
 * the bytes cannot tell apart; it never makes a file inline.
 */
export function servedType(name: string, sniffed: string | undefined): ServedType {
  const ext = extname(name).toLowerCase();
  const vague = sniffed === undefined || sniffed === OCTET_STREAM || sniffed === 'text/plain';
  let type = (vague ? BY_EXTENSION[ext] : undefined) ?? sniffed ?? OCTET_STREAM;
  // an SVG with an XML prolog reads as XML; its extension says what it is (as PocketBase)
  if (ext === '.svg' && (sniffed === 'application/xml' || sniffed === 'text/xml')) type = SVG;
  if (isActiveType(type)) return { contentType: OCTET_STREAM, inline: false, sniffed };
  const inline = sniffed !== undefined && INLINE.has(sniffed);
  if (type.startsWith('text/') || type === 'application/json') type += '; charset=utf-8';
  return { contentType: type, inline, sniffed };
}
