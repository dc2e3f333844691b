import type { Executor } from '../../storage/engine.js';
import { type Collection, type FileField, isMultiple } from '../collections/model.js';
import { type FieldError, fieldError } from '../errors.js';
import { DEFAULT_FILE_MAX_SIZE, Invalid, isFile } from '../fields/index.js';
import { bareMime, mimeAllowed } from '../files/sniff.js';
import { deleteFiles, type FileStore } from '../files/store.js';
import { isUpload, type UploadedFile } from '../files/uploads.js';
import type { RecordData } from '../rules/request-info.js';

/**
 * The `file` field's input and its files' lifecycle, PocketBase's way. A
 * value is a list of stored names; a request adds uploads (multipart parts),
 * keeps or reorders names the record already has, and removes names with
 * `field-` or by leaving them out. A plain name the record does not have is
 * refused, so a client can never point a record at a file it did not upload.
 */

/** One element of a file field while input is applied: a stored name, or an upload that will get its name. */
export type FileEntry = string | UploadedFile;

/** An upload kept in a record's value, and its field. */
export interface FieldUpload {
  field: string;
  file: UploadedFile;
}

const nameOf = (e: FileEntry): string => (typeof e === 'string' ? e : e.name);

/** The stored names of a file field's value ('' or a name, or a list). */
export function fileNames(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string' && v !== '');
  return typeof value === 'string' && value !== '' ? [value] : [];
}

/** A submitted value as entries: a name, an upload, or a list of them; '' and null clear. */
function entriesOf(raw: unknown): FileEntry[] | Invalid {
  if (raw === null || raw === undefined || raw === '') return [];
  if (typeof raw === 'string' || isUpload(raw)) return [raw];
  if (Array.isArray(raw)) {
    const out: FileEntry[] = [];
    for (const v of raw) {
      if (v === '') continue;
      if (typeof v !== 'string' && !isUpload(v)) {
        return new Invalid(fieldError('validation_invalid_type', 'Invalid value type: expected file names or uploaded files.'));
      }
      out.push(v);
    }
    return out;
  }
  return new Invalid(fieldError('validation_invalid_type', 'Invalid value type: expected file names or uploaded files.'));
}

/** Entries without repeated names, the first kept. */
function unique(entries: FileEntry[]): FileEntry[] {
  const seen = new Set<string>();
  return entries.filter((e) => {
    const n = nameOf(e);
    if (seen.has(n)) return false;
    seen.add(n);
    return true;
  });
}

/** Applies a plain set (`mod` '') or `field+` / `+field` / `field-` to a file field's entries. */
export function applyFileInput(state: FileEntry[], raw: unknown, mod: '' | 'append' | 'prepend' | 'remove'): FileEntry[] | Invalid {
  const given = entriesOf(raw);
  if (given instanceof Invalid) return given;
  switch (mod) {
    case '':
      return unique(given);
    case 'append':
      return unique([...state, ...given]);
    case 'prepend':
      return unique([...given, ...state]);
    case 'remove': {
      const names = new Set(given.filter((g): g is string => typeof g === 'string'));
      return state.filter((e) => !names.has(nameOf(e)));
    }
  }
}

/** The largest file a field takes: its `maxSize`, else PocketBase's 5 MB. */
export function maxFileSize(field: FileField): number {
  return field.maxSize > 0 ? field.maxSize : DEFAULT_FILE_MAX_SIZE;
}

/**
 * Settles a file field after input: its stored value, the uploads it keeps,
 * and the first problem, in PocketBase's order and codes (required, names
 * the record does not have, too many, then each upload's size and type).
 */
export function settleFileField(
  field: FileField,
  entries: FileEntry[],
  before: readonly string[],
): { value: string | string[]; uploads: UploadedFile[]; error: FieldError | null } {
  // a single file field keeps the last one given, as PocketBase
  const kept = isMultiple(field) ? entries : entries.slice(-1);
  const names = kept.map(nameOf);
  const value = isMultiple(field) ? names : (names[0] ?? '');
  const uploads = kept.filter(isUpload);
  const settle = (error: FieldError | null) => ({ value, uploads, error });
  if (kept.length === 0) return settle(field.required ? fieldError('validation_required', 'Cannot be blank.') : null);
  const unknown = kept.filter((e): e is string => typeof e === 'string' && !before.includes(e));
  if (unknown.length > 0) {
    const shown = unknown.map((n) => n.slice(0, 250));
    return settle(fieldError('validation_invalid_file', `Invalid new files: ${shown.join(', ')}.`, { invalidFiles: shown }));
  }
  const max = Math.max(field.maxSelect, 1);
  if (kept.length > max) {
    return settle(fieldError('validation_too_many_files', `The maximum allowed files is ${max}`, { maxSelect: max }));
  }
  const maxSize = maxFileSize(field);
  for (const u of uploads) {
    if (u.size > maxSize) return settle(fileTooLarge(u.originalName, maxSize));
    if (field.mimeTypes.length > 0 && !mimeAllowed(u.type, field.mimeTypes)) {
      return settle(
        fieldError('validation_invalid_mime_type', `"${u.name}" mime type must be one of: ${field.mimeTypes.join(', ')}.`, {
          type: bareMime(u.type),
        }),
      );
    }
  }
  return settle(null);
}

/** PocketBase's error for a file over its field's size. */
export function fileTooLarge(originalName: string, maxSize: number): FieldError {
  const shown = originalName.slice(0, 250);
  return fieldError('validation_file_size_limit', `Failed to upload "${shown}" - the maximum allowed file size is ${maxSize} bytes.`, {
    file: shown,
    maxSize,
  });
}

/**
 * What a record write does with files: puts its uploads in the store before
 * its transaction and claims them inside it (`uploads.ts`), and deletes the
 * files it let go once the transaction commits.
 */
export class RecordFiles {
  constructor(
    readonly store: FileStore,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /**
   * Before the transaction: puts the uploads a write keeps, as files of record
   * `recordId`. One after another: a request's files share its bandwidth, and
   * a failure stops the rest.
   */
  async put(c: Collection, recordId: string, uploads: readonly FieldUpload[]): Promise<void> {
    for (const { file } of uploads) await file.put(c.id, recordId);
  }

  /** Inside the transaction: claims the uploads the written record kept (a hook may have dropped some, or moved the record). */
  async place(tx: Executor, c: Collection, record: RecordData, uploads: readonly FieldUpload[]): Promise<void> {
    for (const { field, file } of uploads) {
      if (fileNames(record[field]).includes(file.name)) await file.place(tx, c.id, record.id);
    }
  }

  /** After commit: deletes the files `before` had and `after` does not. */
  forgetRemoved(tx: Executor, c: Collection, before: RecordData, after: RecordData): void {
    const gone: string[] = [];
    for (const f of c.fields) {
      if (!isFile(f)) continue;
      const now = new Set(fileNames(after[f.name]));
      for (const name of fileNames(before[f.name])) if (!now.has(name)) gone.push(name);
    }
    if (gone.length === 0) return;
    tx.afterCommit(() => {
      deleteFiles(this.store, c.id, before.id, gone).catch(this.onError);
    });
  }

  /**
   * After commit: deletes a deleted record's files, by name, never its whole
   * folder: a record made again with this id meanwhile keeps its own.
   */
  forgetRecord(tx: Executor, c: Collection, record: RecordData): void {
    const names = c.fields.flatMap((f) => (isFile(f) ? fileNames(record[f.name]) : []));
    if (!c.fields.some((f) => isFile(f))) return;
    tx.afterCommit(() => {
      deleteFiles(this.store, c.id, record.id, names).catch(this.onError);
    });
  }
}
