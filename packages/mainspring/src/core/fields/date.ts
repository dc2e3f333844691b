import type { DateField } from '../collections/model.js';
import { parseDateInput } from '../dates.js';
import { fieldError } from '../errors.js';
import { type FieldKind, Invalid } from './kind.js';
import { asString, DATE_SCHEMA, noDeclarations, option, REQUIRED_OPTION, required } from './values.js';

/** A date: RFC 3339 or PocketBase's form in, `YYYY-MM-DD HH:MM:SS.sssZ` (UTC) stored; '' when unset. */
export const date: FieldKind<DateField> = {
  options: (base, r) => ({ ...base, required: r.bool('required'), min: r.date('min'), max: r.date('max') }),
  column: () => 'date',
  empty: () => '',
  prepare: (_f, raw, source) => {
    const s = asString(raw, source);
    if (s instanceof Invalid) return s;
    const parsed = parseDateInput(s);
    return parsed === null ? new Invalid(fieldError('validation_invalid_date', 'Must be a valid date.')) : parsed;
  },
  validate: (f, v) => {
    const value = v as string;
    if (value === '') return f.required ? required() : null;
    if (f.min && value < f.min) return fieldError('validation_min_date_constraint', `Must be no earlier than ${f.min}.`);
    if (f.max && value > f.max) return fieldError('validation_max_date_constraint', `Must be no later than ${f.max}.`);
    return null;
  },
  output: 'stored',
  write: 'value',
  modifiers: null,
  mustSend: (f) => f.required,
  filter: { valueType: 'date', list: false, json: null },
  identity: null,
  openApi: {
    value: () => ({ ...DATE_SCHEMA }),
    input: (f) => {
      // within the field's bounds: dates in this form compare as text
      const usual = '2024-01-31 12:00:00.000Z';
      const example = f.min && f.min > usual ? f.min : f.max && f.max < usual ? f.max : usual;
      return { type: 'string', description: "A date: 'YYYY-MM-DD HH:MM:SS.sssZ', RFC 3339, or '' to clear.", examples: [example] };
    },
  },
  typescript: { value: () => 'IsoDateString', input: () => 'IsoDateString', declarations: noDeclarations },
  editor: { label: 'Date', options: [REQUIRED_OPTION, option('min', 'text', ''), option('max', 'text', '')] },
};
