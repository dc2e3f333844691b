import { open } from 'node:fs/promises';
import { fileTypeFromFile } from 'file-type';

/**
 * A file's content type from its bytes, never from its name or what the
 * client declared: file-type's magic numbers for binary formats, and a small
 * sniffer of our own for the text formats it leaves out (plain text, HTML,
 * SVG, XML, JSON), which PocketBase's detector (Go's `mimetype`) tells
 * apart too.
 */

/** What the bytes say a file is. */
export interface DetectedType {
  /** The MIME type without parameters, e.g. `image/png`, `text/plain`. */
  mime: string;
  /** The usual extension without the dot, '' when unknown. */
  ext: string;
}

/** How much of the head the text sniffer reads. */
const HEAD_BYTES = 8192;

/** Types that go by two names; a field allowing either accepts both. */
const ALIASES: Record<string, string[]> = {
  'text/xml': ['application/xml'],
  'application/xml': ['text/xml'],
  'application/zip': ['application/x-zip-compressed'],
  'audio/mpeg': ['audio/mp3'],
  'image/x-icon': ['image/vnd.microsoft.icon'],
};

/** Bytes that never appear in text (the WHATWG MIME sniffing standard's binary bytes). */
function looksBinary(head: Uint8Array): boolean {
  for (const b of head) {
    if (b <= 0x08 || b === 0x0b || (b >= 0x0e && b <= 0x1a) || (b >= 0x1c && b <= 0x1f)) return true;
  }
  return false;
}

const HTML_START = /^\s*<(!doctype html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p|!--)[\s>]/i;
const SVG_START = /^\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*|<!doctype[^>]*>\s*)*<svg[\s>/]/i;
const XML_START = /^\s*<\?xml[\s?]/i;

/** The type of text content (a head that is valid UTF-8 without binary bytes), or null for binary. */
function textType(head: Uint8Array, whole: boolean): DetectedType | null {
  if (looksBinary(head)) return null;
  let text: string;
  try {
    // streaming mode: a character cut at the end of the head is not an error
    text = new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: !whole });
  } catch {
    return null;
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (SVG_START.test(text)) return { mime: 'image/svg+xml', ext: 'svg' };
  if (XML_START.test(text)) return { mime: 'text/xml', ext: 'xml' };
  if (HTML_START.test(text)) return { mime: 'text/html', ext: 'html' };
  const first = text.trimStart()[0];
  if (whole && (first === '{' || first === '[')) {
    try {
      JSON.parse(text);
      return { mime: 'application/json', ext: 'json' };
    } catch {
      // text that is not JSON
    }
  }
  return { mime: 'text/plain', ext: 'txt' };
}

/** Reads up to {@link HEAD_BYTES} from the start of a file; `whole` when that is all of it. */
async function readHead(path: string): Promise<{ head: Uint8Array; whole: boolean }> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(HEAD_BYTES + 1);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    return { head: buf.subarray(0, Math.min(bytesRead, HEAD_BYTES)), whole: bytesRead <= HEAD_BYTES };
  } finally {
    await handle.close();
  }
}

/** The content type of the file at `path`, from its bytes; `application/octet-stream` when nothing matches. */
export async function detectFileType(path: string): Promise<DetectedType> {
  const found = await fileTypeFromFile(path).catch(() => undefined);
  // file-type calls every XML `application/xml`, SVG included: look closer
  if (found && found.mime !== 'application/xml') return { mime: found.mime, ext: found.ext };
  const { head, whole } = await readHead(path);
  return textType(head, whole) ?? { mime: 'application/octet-stream', ext: '' };
}

/** A MIME type as compared: lower case, without parameters (`text/plain; charset=utf-8` → `text/plain`). */
export function bareMime(type: string): string {
  return (type.split(';', 1)[0] as string).trim().toLowerCase();
}

/** True when a detected type is one of `allowed` (or one of its other names), as PocketBase's `mimeTypes` check. */
export function mimeAllowed(detected: string, allowed: readonly string[]): boolean {
  const mime = bareMime(detected);
  const names = [mime, ...(ALIASES[mime] ?? [])];
  return allowed.some((a) => names.includes(bareMime(a)));
}
