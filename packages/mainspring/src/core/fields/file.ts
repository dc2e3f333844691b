import { type FileField, isMultiple } from '../collections/model.js';
import { fieldError } from '../errors.js';
import { parseThumbSize } from '../files/thumbs.js';
import type { FieldKind } from './kind.js';
import type { OptionReader } from './options.js';
import { listColumn, listEmpty, listOf, listSchema, noDeclarations, option, prepareList, REQUIRED_OPTION, required } from './values.js';

/** A file field's `thumbs`: each a size a thumbnail can be made in (`100x100`, `0x50`, `300x200f`…), never `0x0`. */
function thumbSizes(r: OptionReader): string[] {
  const sizes = r.stringList('thumbs') ?? [];
  if (sizes.some((size) => !parseThumbSize(size))) {
    r.errors.thumbs = fieldError(
      'validation_invalid_value',
      'Each thumb size must be WxH, WxHt, WxHb, WxHf, 0xH or Wx0 (up to 4 digits each, not 0x0).',
    );
  }
  return sizes;
}

/** The name of a stored file, or several when `maxSelect` is over 1; new files come as multipart parts. */
export const file: FieldKind<FileField> = {
  options: (base, r) => ({
    ...base,
    required: r.bool('required'),
    maxSelect: r.int('maxSelect', 1, 0, 10_000),
    maxSize: r.int('maxSize', 0),
    mimeTypes: r.stringList('mimeTypes') ?? [],
    thumbs: thumbSizes(r),
    protected: r.bool('protected'),
  }),
  column: listColumn,
  empty: listEmpty,
  prepare: prepareList,
  // uploads and names are checked on input (records/files.ts); this is what a stored value must hold
  validate: (f, v) => {
    const n = listOf(v).length;
    if (n === 0) return f.required ? required() : null;
    const max = Math.max(f.maxSelect, 1);
    return n > max ? fieldError('validation_too_many_files', `The maximum allowed files is ${max}`, { maxSelect: max }) : null;
  },
  output: 'stored',
  write: 'files',
  modifiers: 'files',
  // files come as multipart parts, which a JSON body cannot hold
  mustSend: () => false,
  filter: { valueType: 'text', list: true, json: null },
  identity: null,
  openApi: {
    value: listSchema,
    // JSON can only keep, reorder or clear files the record has; new ones come as multipart parts
    input: (f) => ({ ...listSchema(f), description: 'Names of files the record has (to keep or reorder); [] or "" clears.' }),
  },
  typescript: {
    value: (f) => (isMultiple(f) ? 'FilenameString[]' : 'FilenameString'),
    input: (f) => (isMultiple(f) ? 'FileInput[]' : 'FileInput'),
    declarations: noDeclarations,
  },
  editor: {
    label: 'File',
    options: [
      REQUIRED_OPTION,
      option('maxSelect', 'number', 1),
      option('maxSize', 'number', 0),
      option('mimeTypes', 'list', []),
      option('thumbs', 'list', []),
      option('protected', 'bool', false),
    ],
  },
};
