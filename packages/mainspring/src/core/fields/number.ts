import type { NumberField } from '../collections/model.js';
import { fieldError } from '../errors.js';
import { type FieldKind, Invalid, type ValueSource } from './kind.js';
import { invalidType, noDeclarations, option, REQUIRED_OPTION, required } from './values.js';

const NUMBER_TEXT = /^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;
const notANumber = () => new Invalid(fieldError('validation_not_a_number', 'The submitted number is not properly formatted.'));

/** A finite number from JSON, or from a form's decimal text; never -0. */
function asNumber(raw: unknown, source: ValueSource): number | Invalid {
  if (raw === null || raw === undefined || raw === '') return 0;
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw)) return notANumber();
    return raw === 0 ? 0 : raw;
  }
  if (typeof raw === 'string' && source === 'form') {
    if (!NUMBER_TEXT.test(raw)) return invalidType('a number');
    const n = Number(raw);
    if (!Number.isFinite(n)) return notANumber();
    return n === 0 ? 0 : n;
  }
  return invalidType('a number');
}

/** A number, with bounds and integers only if asked; 0 is its empty value. */
export const number: FieldKind<NumberField> = {
  options: (base, r) => ({
    ...base,
    required: r.bool('required'),
    min: r.numberOrNull('min'),
    max: r.numberOrNull('max'),
    onlyInt: r.bool('onlyInt'),
  }),
  column: () => 'number',
  empty: () => 0,
  prepare: (_f, raw, source) => asNumber(raw, source),
  validate: (f, v) => {
    const n = v as number;
    if (n === 0) return f.required ? required() : null;
    if (f.onlyInt && !Number.isInteger(n)) return fieldError('validation_only_int_constraint', 'Decimal numbers are not allowed.');
    if (f.min !== null && n < f.min) {
      return fieldError('validation_min_number_constraint', `Must be greater or equal than ${f.min}.`, { min: f.min });
    }
    if (f.max !== null && n > f.max) {
      return fieldError('validation_max_number_constraint', `Must be less or equal than ${f.max}.`, { max: f.max });
    }
    return null;
  },
  output: 'stored',
  write: 'value',
  modifiers: 'add',
  mustSend: (f) => f.required,
  filter: { valueType: 'number', list: false, json: null },
  identity: null,
  openApi: {
    value: (f) => ({ type: f.onlyInt ? 'integer' : 'number' }),
    input: (f) => ({
      type: f.onlyInt ? 'integer' : 'number',
      ...(f.min !== null ? { minimum: f.min } : {}),
      ...(f.max !== null ? { maximum: f.max } : {}),
      examples: [f.min ?? (f.max !== null && f.max < 1 ? f.max : 1)],
    }),
  },
  typescript: { value: () => 'number', input: () => 'number', declarations: noDeclarations },
  editor: {
    label: 'Number',
    options: [REQUIRED_OPTION, option('min', 'number', null), option('max', 'number', null), option('onlyInt', 'bool', false)],
  },
};
