import type { Logger } from 'pino';
import { FilterError } from '../../query/index.js';
import type { Engine } from '../../storage/engine.js';
import { claimsFor, issueToken, tokenValid } from '../auth/token-kinds.js';
import { peekToken } from '../auth/tokens.js';
import { type Collection, type Field, type FileField, isMultiple } from '../collections/model.js';
import type { CollectionRegistry } from '../collections/registry.js';
import { viewFileSource } from '../collections/views.js';
import { isFile } from '../fields/index.js';
import type { RecordService } from '../records/service.js';
import { type AuthState, isSuperuser, type RecordData, type RequestInfo } from '../rules/request-info.js';
import { THUMB_SOURCE_TYPES } from './content-type.js';
import { type FileKey, keySegments } from './keys.js';
import { detectStoredType } from './sniff.js';
import type { FileStore } from './store.js';
import { type ThumbnailOptions, Thumbnails } from './thumbs.js';

/**
 * Which stored file a download names, and whether the caller may have it,
 * as PocketBase decides: the file must be a value of one of the record's
 * file fields; a field that is not `protected` is public to whoever has the
 * URL (its name carries a random suffix); a protected one is served only
 * when the collection's view rule admits the record for the caller of the
 * `?token=` file token. Every refusal is the same "not found".
 */

/** PocketBase's thumb size that every file field allows. */
const DEFAULT_THUMB = '100x100';

/** Auth records that can hold a file token. */
export interface AuthRecords {
  /** An auth record read without rules. */
  loadRecord(c: Collection, id: string): Promise<RecordData | undefined>;
}

/** What {@link FileServing} works with. */
export interface FileServingDeps {
  /** Where the files are. */
  store: FileStore;
  engine: Engine;
  registry: CollectionRegistry;
  records: RecordService;
  auth: AuthRecords;
  logger: Logger;
  thumbs?: ThumbnailOptions;
}

/** A stored file a download resolved to. */
export interface LocatedFile {
  collection: Collection;
  record: RecordData;
  field: FileField;
  /** The stored name (as in the URL). */
  filename: string;
  /** Its key in the store: in the record's own folder, or for a view's record in that of the record of the collection the view reads. */
  key: FileKey;
}

/** The file to send: the original or one of its thumbs, and the name it is served under. */
export interface ServedFile {
  key: FileKey;
  name: string;
}

/** What a download asks for, besides its path. */
export interface DownloadQuery {
  /** The `?token=` file token (protected files). */
  token?: string;
  /** What rules see of the request (asked for protected files only); its `auth` is replaced by the file token's caller. */
  info: () => RequestInfo | Promise<RequestInfo>;
}

function fieldHolding(c: Collection, record: RecordData, filename: string): FileField | undefined {
  for (const f of c.fields) {
    if (!isFile(f)) continue;
    const v = record[f.name];
    if (v === filename || (Array.isArray(v) && v.includes(filename))) return f;
  }
  return undefined;
}

/** Downloads and file tokens. */
export class FileServing {
  readonly thumbnails: Thumbnails;

  constructor(private readonly d: FileServingDeps) {
    this.thumbnails = new Thumbnails(d.store, d.logger, d.thumbs);
  }

  /** A short-lived file token for an authenticated caller (superusers too), the collection's `fileToken` duration. */
  newToken(auth: AuthState): string {
    return issueToken(auth.collection, auth.record, 'file');
  }

  /** The caller a file token stands for, or null for anything that is not a current file token. */
  async tokenCaller(token: string | undefined): Promise<AuthState | null> {
    if (typeof token !== 'string') return null;
    const trimmed = token.trim();
    if (trimmed === '') return null;
    try {
      const claims = peekToken(trimmed);
      if (!claims) return null;
      const c = this.d.registry.find(claims.collectionId);
      if (c?.type !== 'auth' || !claimsFor(trimmed, c, 'file')) return null;
      const record = await this.d.auth.loadRecord(c, claims.id);
      if (!record || !tokenValid(trimmed, c, record, 'file')) return null;
      return { collection: c, record };
    } catch {
      return null;
    }
  }

  /**
   * The stored file `filename` of record `recordId`, if the caller may have
   * it; null for a missing collection, record or file, a name that is not
   * one of the record's files, and a protected file the view rule refuses.
   */
  async locate(collectionIdOrName: string, recordId: string, filename: string, q: DownloadQuery): Promise<LocatedFile | null> {
    const c = this.d.registry.find(collectionIdOrName);
    if (!c) return null;
    if (!keySegments({ collectionId: c.id, recordId, name: filename })) return null;
    const record = await this.d.records.findById(c, recordId);
    if (!record) return null;
    const field = fieldHolding(c, record, filename);
    if (!field) return null;
    if (field.protected && !(await this.mayView(c, record, q))) return null;
    const storedIn = c.type === 'view' ? await this.viewFileRecord(c, field, filename) : { collectionId: c.id, recordId };
    const key = storedIn && { ...storedIn, name: filename };
    if (!key || !keySegments(key)) return null;
    return { collection: c, record, field, filename, key };
  }

  /** Which field of which collection a view's file field reads, per view collection object (a schema change replaces it). */
  private readonly viewSources = new WeakMap<Collection, Map<string, Promise<{ collection: Collection; field: Field } | null>>>();

  /**
   * Where a file of a view's record is stored (PocketBase's
   * FindRecordByViewFile): the first record of the collection the view's
   * field reads that holds a file of that name.
   */
  private async viewFileRecord(
    view: Collection,
    field: FileField,
    filename: string,
  ): Promise<{ collectionId: string; recordId: string } | null> {
    const d = this.d.engine.dialect;
    let byField = this.viewSources.get(view);
    if (!byField) {
      byField = new Map();
      this.viewSources.set(view, byField);
    }
    let found = byField.get(field.name);
    if (!found) {
      const lookup = (table: string) => this.d.registry.all().find((o) => d.storedName(o.name).toLowerCase() === table.toLowerCase());
      const map = byField;
      found = viewFileSource(this.d.engine, d, view, field.name, lookup);
      // a failure (the database away) is not remembered
      found.catch(() => map.delete(field.name));
      map.set(field.name, found);
    }
    const source = await found.catch(() => null);
    if (!source) return null;
    const col = d.ident(source.field.name);
    const where = isMultiple(source.field) ? d.jsonArrayContains(col, '$1') : `${col} = $1`;
    const row = await this.d.engine.get<{ id: string }>(
      `SELECT ${d.ident('id')} AS id FROM ${d.ident(source.collection.name)} WHERE ${where} LIMIT 1`,
      [filename],
    );
    return row ? { collectionId: source.collection.id, recordId: String(row.id) } : null;
  }

  /** Whether the view rule admits the record for the file token's caller (PocketBase's protected-file check). */
  private async mayView(c: Collection, record: RecordData, q: DownloadQuery): Promise<boolean> {
    const auth = await this.tokenCaller(q.token);
    const info: RequestInfo = { ...(await q.info()), auth, context: 'protectedFile' };
    if (isSuperuser(info)) return true;
    if (c.viewRule === null) return false;
    try {
      return await this.d.records.access.admits(this.d.engine, c, record.id, info, c.viewRule);
    } catch (err) {
      // a rule that cannot compile (a field since removed) denies
      if (err instanceof FilterError) return false;
      throw err;
    }
  }

  /**
   * What to send for `thumb`: the thumb when the size is one the field
   * allows (or 100x100) and the original is a jpg/png/gif/webp image, made
   * now if missing; the original otherwise, and when the thumb cannot be
   * made.
   */
  async served(file: LocatedFile, thumb: string | undefined): Promise<ServedFile> {
    const original = { key: file.key, name: file.filename };
    if (!thumb || (thumb !== DEFAULT_THUMB && !file.field.thumbs.includes(thumb))) return original;
    // the original's bytes must be an image thumbs are made of (a missing original is the 404 of sending it)
    const type = await detectStoredType(this.d.store, file.key).then(
      (t) => t?.mime,
      () => undefined,
    );
    if (!type || !THUMB_SOURCE_TYPES.has(type)) return original;
    const key = await this.thumbnails.ensure(file.key, thumb, type);
    return key ? { key, name: `${thumb}_${file.filename}` } : original;
  }
}
