import { Readable } from 'node:stream';
import { FileTypeParser } from 'file-type';
import type { FileKey } from './keys.js';
import type { FileStore } from './store.js';

/**
 * A file's content type from its bytes, never from its name or what the
 * client declared: file-type's magic numbers for binary formats, and a small
 * sniffer of our own for the text formats it leaves out (plain text, HTML,
 * SVG, XML, JSON), which PocketBase's detector (Go's `mimetype`) tells
 * apart too. It reads the first bytes of a stream, so a file is typed the
 * same wherever it is (a temporary upload, any file driver).
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

/** The first chunks of a stream, up to just past {@link HEAD_BYTES}; `whole` when the stream ended within them. */
async function readHead(source: AsyncIterator<Buffer>): Promise<{ chunks: Buffer[]; whole: boolean }> {
  const chunks: Buffer[] = [];
  let length = 0;
  while (length <= HEAD_BYTES) {
    const next = await source.next();
    if (next.done) return { chunks, whole: true };
    chunks.push(next.value);
    length += next.value.length;
  }
  return { chunks, whole: false };
}

/** The head's chunks again, then the rest of the stream: what file-type reads, as far as its format needs. */
async function* replay(head: Buffer[], rest: AsyncIterator<Buffer> | null): AsyncGenerator<Buffer> {
  yield* head;
  for (let next = await rest?.next(); next && !next.done; next = await rest?.next()) yield next.value;
}

/**
 * file-type's parser, told the size of the stream it reads: formats whose
 * detection walks the file (PNG chunks, ID3 tags, ZIP entries) then know
 * where it ends, as they do reading a file, instead of giving up at a limit
 * meant for streams of unknown length. `getTokenizerOptions` is file-type's
 * own (not in its typings; the version is pinned, and sniff.test.ts's cut
 * PNG fails if it stops being asked).
 */
class SizedParser extends FileTypeParser {
  constructor(private readonly size: number) {
    super();
  }

  override getTokenizerOptions(): Record<string, unknown> {
    return { ...super.getTokenizerOptions(), fileInfo: { size: this.size } };
  }
}

declare module 'file-type' {
  interface FileTypeParser {
    /** What file-type makes its tokenizers with. */
    getTokenizerOptions(): Record<string, unknown>;
  }
}

/**
 * The content type of the `size` bytes `stream` carries, from their head;
 * `application/octet-stream` when nothing matches. Reads only as far as the
 * format needs, then destroys the stream.
 */
export async function detectFileType(stream: Readable, size: number): Promise<DetectedType> {
  const source = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  try {
    const { chunks, whole } = await readHead(source);
    const replayed = Readable.from(replay(chunks, whole ? null : source), { objectMode: false });
    const found = await new SizedParser(size).fromStream(replayed).catch(() => undefined);
    // file-type calls every XML `application/xml`, SVG included: look closer
    if (found && found.mime !== 'application/xml') return { mime: found.mime, ext: found.ext };
    const head = Buffer.concat(chunks);
    return textType(head.subarray(0, HEAD_BYTES), head.length <= HEAD_BYTES) ?? { mime: 'application/octet-stream', ext: '' };
  } finally {
    stream.destroy();
  }
}

/** The content type of a stored file, from its bytes; null when there is no such file. */
export async function detectStoredType(store: FileStore, key: FileKey): Promise<DetectedType | null> {
  const read = await store.openRead(key);
  return read?.stream ? detectFileType(read.stream, read.file.size) : null;
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
