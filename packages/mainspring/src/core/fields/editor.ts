import type { EditorField } from '../collections/model.js';
import { fieldError } from '../errors.js';
import type { FieldKind } from './kind.js';
import { DEFAULT_EDITOR_MAX_SIZE, noDeclarations, option, PLAIN_STRING, REQUIRED_OPTION, required, STRING } from './values.js';

/** Rich text: HTML, limited in bytes. */
export const editor: FieldKind<EditorField> = {
  options: (base, r) => ({
    ...base,
    required: r.bool('required'),
    maxSize: r.int('maxSize', 0),
    convertURLs: r.bool('convertURLs'),
  }),
  ...PLAIN_STRING,
  validate: (f, v) => {
    const value = v as string;
    if (value === '') return f.required ? required() : null;
    const max = f.maxSize > 0 ? f.maxSize : DEFAULT_EDITOR_MAX_SIZE;
    if (Buffer.byteLength(value) > max) {
      return fieldError('validation_content_size_limit', `The maximum allowed content size is ${max} bytes.`, { maxSize: max });
    }
    return null;
  },
  output: 'stored',
  write: 'value',
  mustSend: (f) => f.required,
  identity: null,
  openApi: {
    value: () => ({ ...STRING }),
    input: () => ({ ...STRING, examples: ['<p>Hello</p>'] }),
  },
  typescript: { value: () => 'HTMLString', input: () => 'HTMLString', declarations: noDeclarations },
  editor: { label: 'Rich text', options: [REQUIRED_OPTION, option('maxSize', 'number', 0), option('convertURLs', 'bool', false)] },
};
