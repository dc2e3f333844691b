import type { BoolField } from '../collections/model.js';
import type { FieldKind, Invalid, ValueSource } from './kind.js';
import { invalidType, noDeclarations, REQUIRED_OPTION, required } from './values.js';

const FORM_BOOLS: Record<string, boolean> = { '': false, true: true, false: false, '1': true, '0': false, on: true, off: false };

/** A boolean from JSON, or from a form's `true`/`false`/`1`/`0`/`on`/`off`/''. */
function asBool(raw: unknown, source: ValueSource): boolean | Invalid {
  if (raw === null || raw === undefined) return false;
  if (typeof raw === 'boolean') return raw;
  if (typeof raw === 'string' && source === 'form' && raw.toLowerCase() in FORM_BOOLS) {
    return FORM_BOOLS[raw.toLowerCase()] as boolean;
  }
  return invalidType('a boolean');
}

/** True or false; a required one must be true (PocketBase's). */
export const bool: FieldKind<BoolField> = {
  options: (base, r) => ({ ...base, required: r.bool('required') }),
  column: () => 'bool',
  empty: () => false,
  prepare: (_f, raw, source) => asBool(raw, source),
  validate: (f, v) => (f.required && v !== true ? required() : null),
  output: 'stored',
  write: 'value',
  modifiers: null,
  // false is a value: leaving it out sends false
  mustSend: () => false,
  filter: { valueType: 'bool', list: false, json: null },
  identity: null,
  openApi: {
    value: () => ({ type: 'boolean' }),
    input: () => ({ type: 'boolean', examples: [true] }),
  },
  typescript: { value: () => 'boolean', input: () => 'boolean', declarations: noDeclarations },
  editor: { label: 'Bool', options: [REQUIRED_OPTION] },
};
