import type { JsonField } from '../collections/model.js';
import { fieldError } from '../errors.js';
import type { FieldKind } from './kind.js';
import { DEFAULT_JSON_MAX_SIZE, noDeclarations, option, REQUIRED_OPTION, required } from './values.js';

/** PocketBase's empty JSON values: null, "", [] and {} (false and 0 are values). */
const isEmptyJson = (v: unknown) =>
  v === null || v === '' || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0);

/** Any JSON value, limited in size; null when unset. */
export const json: FieldKind<JsonField> = {
  options: (base, r) => ({ ...base, required: r.bool('required'), maxSize: r.int('maxSize', 0) }),
  column: () => 'json',
  empty: () => null,
  prepare: (_f, raw, source) => {
    if (source === 'form' && typeof raw === 'string') {
      // a form sends JSON as text; text that is not JSON is kept as a string
      if (raw === '') return null;
      try {
        return JSON.parse(raw);
      } catch {
        return raw;
      }
    }
    return raw === undefined ? null : raw;
  },
  validate: (f, v) => {
    const size = v === null ? 0 : Buffer.byteLength(JSON.stringify(v));
    const max = f.maxSize > 0 ? f.maxSize : DEFAULT_JSON_MAX_SIZE;
    if (size > max) {
      return fieldError('validation_json_size_limit', `The maximum allowed JSON size is ${max} bytes.`, { maxSize: max });
    }
    return f.required && isEmptyJson(v) ? required() : null;
  },
  output: 'stored',
  write: 'value',
  modifiers: null,
  mustSend: (f) => f.required,
  filter: { valueType: 'json', list: false, json: 'document' },
  identity: null,
  openApi: {
    value: () => ({ description: 'Any JSON value; null when unset.' }),
    input: () => ({ examples: [{ any: 'JSON' }] }),
  },
  typescript: { value: () => 'unknown', input: () => 'unknown', declarations: noDeclarations },
  editor: { label: 'JSON', options: [REQUIRED_OPTION, option('maxSize', 'number', 0)] },
};
