import { createReadStream, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import { BSON, type Document, EJSON } from 'bson';

/**
 * Reading what `mongodump` and `mongoexport` write, without a MongoDB
 * server: a folder of `<collection>.bson` files (each a run of BSON
 * documents) with their `<collection>.metadata.json`, or `<collection>.json`
 * files of Extended JSON (canonical or relaxed), one document per line or
 * one array. Gzipped files (`--gzip`) are read through zlib. Anything
 * malformed is a {@link DumpError} naming the file and where in it.
 */

/** A dump that cannot be read: the message names the file and the byte or line. */
export class DumpError extends Error {}

/** MongoDB refuses documents over 16 MiB; its own dumps hold none bigger (with a little room for its headers). */
export const MAX_BSON_DOCUMENT = 16 * 1024 * 1024 + 16 * 1024;
/** A line of Extended JSON: a 16 MiB document written as text with type wrappers can take a few times its size. */
export const MAX_JSON_LINE = 64 * 1024 * 1024;
/** A `--jsonArray` file is parsed whole; past this, export one document per line instead. */
export const MAX_JSON_ARRAY_FILE = 256 * 1024 * 1024;

/** One collection of the dump: its documents' file and, from mongodump, its metadata (indexes). */
export interface DumpSource {
  /** The collection's name in MongoDB. */
  collection: string;
  file: string;
  format: 'bson' | 'json';
  metadata: string | null;
}

/** What a dump folder holds: the collections to import, and the files left aside with the reason. */
export interface DumpListing {
  sources: DumpSource[];
  ignored: { file: string; reason: string }[];
}

const DOCUMENTS = /^(.+?)\.(bson|json|jsonl|ndjson)(\.gz)?$/;
const METADATA = /^(.+)\.metadata\.json(\.gz)?$/;

/** What is at a path: a file, a folder, or neither (a broken link, a socket, gone). */
function entryKind(path: string): 'file' | 'folder' | null {
  try {
    const st = statSync(path);
    return st.isFile() ? 'file' : st.isDirectory() ? 'folder' : null;
  } catch {
    return null;
  }
}

/** mongodump percent-escapes characters a file name cannot hold; a name it did not escape is kept as it is. */
function collectionName(stem: string): string {
  try {
    return decodeURIComponent(stem);
  } catch {
    return stem;
  }
}

/**
 * The collections in `dir`: every documents file beside its metadata. A
 * folder holding only database folders (`mongodump --out=dump` writes
 * `dump/<db>/`) is refused with their names, so one database is imported
 * at a time.
 */
export function listDump(dir: string): DumpListing {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) {
      throw new DumpError(`${dir} is not a folder (a mongodump --archive file is not read: dump with --out=DIR instead)`);
    }
    names = readdirSync(dir).sort();
  } catch (err) {
    if (err instanceof DumpError) throw err;
    throw new DumpError(`cannot read ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const metadata = new Map<string, string>();
  for (const n of names) {
    const m = METADATA.exec(n);
    if (m) metadata.set(collectionName(m[1] as string), join(dir, n));
  }
  const sources: DumpSource[] = [];
  const ignored: DumpListing['ignored'] = [];
  const seen = new Map<string, string>();
  for (const n of names) {
    if (METADATA.test(n)) continue;
    const path = join(dir, n);
    const m = DOCUMENTS.exec(n);
    if (!m || entryKind(path) !== 'file') continue;
    const collection = collectionName(m[1] as string);
    if (n === 'prelude.json' || n === 'oplog.bson') {
      ignored.push({ file: n, reason: "mongodump's own file, not a collection" });
      continue;
    }
    if (collection.startsWith('system.')) {
      ignored.push({ file: n, reason: "MongoDB's system collection" });
      continue;
    }
    const other = seen.get(collection);
    if (other) throw new DumpError(`both ${other} and ${n} hold the collection "${collection}"; keep one of them`);
    seen.set(collection, n);
    sources.push({ collection, file: path, format: m[2] === 'bson' ? 'bson' : 'json', metadata: metadata.get(collection) ?? null });
  }
  for (const [collection, file] of metadata) {
    if (!seen.has(collection)) ignored.push({ file: basename(file), reason: 'metadata without documents (a view, or an empty dump)' });
  }
  if (sources.length === 0) {
    const folders = names.filter((n) => !n.startsWith('.') && entryKind(join(dir, n)) === 'folder');
    const hint = folders.length > 0 ? `; it holds the folders ${folders.join(', ')}: point --from at one database's folder` : '';
    throw new DumpError(`no .bson or .json files in ${dir}${hint}`);
  }
  return { sources, ignored };
}

/** The file's bytes as they come, gunzipped when its name ends in .gz. */
function bytesOf(path: string): AsyncIterable<Buffer> {
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  if (!path.endsWith('.gz')) return raw;
  const gunzip = createGunzip();
  // an error on either side ends the iteration with it
  pipeline(raw, gunzip, () => {});
  return gunzip;
}

/** Takes exact byte counts off a stream of chunks. */
class ByteTaker {
  private buffered: Buffer = Buffer.alloc(0);
  private readonly chunks: AsyncIterator<Buffer>;

  constructor(source: AsyncIterable<Buffer>) {
    this.chunks = source[Symbol.asyncIterator]();
  }

  /** The next `n` bytes; null at the end; a short read is an error. */
  async take(n: number, where: () => string): Promise<Buffer | null> {
    while (this.buffered.length < n) {
      const next = await this.chunks.next();
      if (next.done) {
        if (this.buffered.length === 0) return null;
        throw new DumpError(`${where()}: the file ends inside a document (truncated)`);
      }
      this.buffered = this.buffered.length === 0 ? next.value : Buffer.concat([this.buffered, next.value]);
    }
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return out;
  }

  async close(): Promise<void> {
    await this.chunks.return?.();
  }
}

/** A document and where it was read: a byte offset (BSON) or a line (JSON). */
export interface DumpDocument {
  doc: Document;
  at: string;
}

/** Why a read failed, in a line: errors of the bson package, and a stack overflow on a hostile nesting. */
function reason(err: unknown): string {
  if (err instanceof RangeError && /call stack/i.test(err.message)) return 'it nests too deeply';
  return (err as Error)?.message ?? String(err);
}

/** Every document of a `.bson` file, checked: sizes within MongoDB's limit, each document whole and valid. */
async function* bsonDocuments(file: string): AsyncGenerator<DumpDocument> {
  const taker = new ByteTaker(bytesOf(file));
  let offset = 0;
  const where = () => `${basename(file)}, byte ${offset}`;
  try {
    for (;;) {
      const head = await taker.take(4, where);
      if (!head) return;
      const size = head.readInt32LE(0);
      if (size < 5 || size > MAX_BSON_DOCUMENT) {
        throw new DumpError(
          `${where()}: a document of ${size} bytes (MongoDB's are 5 bytes to 16 MiB): the file is not BSON or is corrupt`,
        );
      }
      const body = await taker.take(size - 4, where);
      if (!body) throw new DumpError(`${where()}: the file ends inside a document (truncated)`);
      let doc: Document;
      try {
        doc = BSON.deserialize(Buffer.concat([head, body]), { validation: { utf8: true } });
      } catch (err) {
        throw new DumpError(`${where()}: not a valid BSON document: ${reason(err)}`);
      }
      yield { doc, at: `byte ${offset}` };
      offset += size;
    }
  } catch (err) {
    if (err instanceof DumpError) throw err;
    throw new DumpError(`${where()}: ${reason(err)}`);
  } finally {
    await taker.close();
  }
}

/** One Extended JSON document (canonical or relaxed: both read to plain numbers where they fit). */
function parseDocument(text: string, where: string): Document {
  let value: unknown;
  try {
    value = EJSON.parse(text, { relaxed: true });
  } catch (err) {
    throw new DumpError(`${where}: not Extended JSON: ${reason(err).slice(0, 200)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DumpError(`${where}: a document must be a JSON object`);
  }
  return value as Document;
}

/** The lines of a file as buffers, each at most {@link MAX_JSON_LINE} bytes. */
async function* linesOf(file: string): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingSize = 0;
  for await (const chunk of bytesOf(file)) {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      pending.push(chunk.subarray(start, nl));
      yield Buffer.concat(pending);
      pending = [];
      pendingSize = 0;
      start = nl + 1;
    }
    pending.push(chunk.subarray(start));
    pendingSize += chunk.length - start;
    if (pendingSize > MAX_JSON_LINE) throw new DumpError(`${basename(file)}: a line over ${MAX_JSON_LINE / 1024 / 1024} MiB`);
  }
  if (pendingSize > 0) yield Buffer.concat(pending);
}

/** The file's first byte that is not white space or a BOM: `[` for `--jsonArray`. */
async function firstByte(file: string): Promise<number | undefined> {
  for await (const chunk of bytesOf(file)) {
    const text = chunk.toString('utf8').replace(/^\uFEFF/, '');
    const m = /\S/.exec(text);
    if (m) return text.charCodeAt(m.index);
  }
  return undefined;
}

/** Every document of a mongoexport file: one per line, or one array (`--jsonArray`, pretty or not). */
async function* jsonDocuments(file: string): AsyncGenerator<DumpDocument> {
  const name = basename(file);
  if ((await firstByte(file)) === 0x5b) {
    if (statSync(file).size > MAX_JSON_ARRAY_FILE) {
      throw new DumpError(`${name}: a JSON array over ${MAX_JSON_ARRAY_FILE / 1024 / 1024} MiB; export one document per line instead`);
    }
    const raw = readFileSync(file);
    const text = (file.endsWith('.gz') ? gunzipSync(raw, { maxOutputLength: MAX_JSON_ARRAY_FILE }) : raw).toString('utf8');
    let list: unknown;
    try {
      list = EJSON.parse(text.replace(/^\uFEFF/, ''), { relaxed: true });
    } catch (err) {
      throw new DumpError(`${name}: not Extended JSON: ${reason(err).slice(0, 200)}`);
    }
    if (!Array.isArray(list)) throw new DumpError(`${name}: expected an array of documents`);
    for (const [i, doc] of list.entries()) {
      if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new DumpError(`${name}, item ${i + 1}: not an object`);
      yield { doc: doc as Document, at: `item ${i + 1}` };
    }
    return;
  }
  let line = 0;
  for await (const bytes of linesOf(file)) {
    line++;
    const text = (line === 1 ? bytes.toString('utf8').replace(/^\uFEFF/, '') : bytes.toString('utf8')).trim();
    if (text === '') continue;
    // mongoexport --pretty spreads a document over lines, which only an array (--jsonArray) reads back as one
    if (text === '{')
      throw new DumpError(`${name}, line ${line}: a document over several lines; export with --jsonArray, or without --pretty`);
    yield { doc: parseDocument(text, `${name}, line ${line}`), at: `line ${line}` };
  }
}

/** Every document of a collection's file, in the file's order; any failure to read it is a {@link DumpError}. */
export async function* documentsOf(source: DumpSource): AsyncGenerator<DumpDocument> {
  try {
    yield* source.format === 'bson' ? bsonDocuments(source.file) : jsonDocuments(source.file);
  } catch (err) {
    if (err instanceof DumpError) throw err;
    // a file that is not gzip, or cannot be read
    throw new DumpError(`${basename(source.file)}: ${reason(err)}`);
  }
}

/** An index of the collection as mongodump wrote it (`key` is its fields in order, each 1, -1, "text", …). */
export interface MongoIndex {
  name: string;
  key: Record<string, unknown>;
  unique: boolean;
  sparse: boolean;
  partial: boolean;
}

/** The indexes in a `.metadata.json` (none when there is no such file); a broken one is an error, as the dump is. */
export function indexesOf(source: DumpSource): MongoIndex[] {
  if (!source.metadata) return [];
  const raw = readFileSync(source.metadata);
  const text = (source.metadata.endsWith('.gz') ? gunzipSync(raw, { maxOutputLength: MAX_JSON_LINE }) : raw).toString('utf8');
  const meta = parseDocument(text, basename(source.metadata));
  const list = Array.isArray(meta.indexes) ? (meta.indexes as unknown[]) : [];
  const out: MongoIndex[] = [];
  for (const item of list) {
    if (typeof item !== 'object' || item === null) continue;
    const ix = item as Record<string, unknown>;
    if (typeof ix.key !== 'object' || ix.key === null) continue;
    out.push({
      name: String(ix.name ?? ''),
      key: ix.key as Record<string, unknown>,
      unique: ix.unique === true,
      sparse: ix.sparse === true,
      partial: ix.partialFilterExpression !== undefined,
    });
  }
  return out;
}
