import type { TextField } from '../collections/model.js';
import { fieldError } from '../errors.js';
import { parseAutogeneratePattern } from '../ids.js';
import type { FieldKind } from './kind.js';
import { checkText, DEFAULT_TEXT_MAX, noDeclarations, option, PLAIN_STRING, REQUIRED_OPTION, STRING, textInputSchema } from './values.js';

/** Plain text, with length limits, a pattern, and a pattern its empty value is generated from. */
export const text: FieldKind<TextField> = {
  options: (base, r) => {
    const primaryKey = r.bool('primaryKey');
    const field: TextField = {
      ...base,
      required: r.bool('required') || primaryKey,
      min: r.int('min', 0),
      max: r.int('max', 0, 0),
      pattern: r.regex('pattern'),
      autogeneratePattern: r.string('autogeneratePattern', '', 100),
      primaryKey,
    };
    if (field.autogeneratePattern && !parseAutogeneratePattern(field.autogeneratePattern)) {
      r.errors.autogeneratePattern = fieldError(
        'validation_invalid_value',
        'Only patterns of the form [charset]{length} are supported, e.g. [a-z0-9]{15}.',
      );
    }
    return field;
  },
  ...PLAIN_STRING,
  validate: (f, v) => checkText(v as string, f),
  output: 'stored',
  write: 'value',
  // a generated value fills an empty one
  mustSend: (f) => f.required && f.autogeneratePattern === '',
  identity: 'exact',
  openApi: {
    value: () => ({ ...STRING }),
    input: (f) => textInputSchema(f, DEFAULT_TEXT_MAX, 'text'),
  },
  typescript: {
    value: (f) => (f.name === 'id' ? 'RecordIdString' : 'string'),
    input: (f) => (f.name === 'id' ? 'RecordIdString' : 'string'),
    declarations: noDeclarations,
  },
  editor: {
    label: 'Text',
    options: [
      REQUIRED_OPTION,
      option('min', 'number', 0),
      option('max', 'number', 0),
      option('pattern', 'text', ''),
      option('autogeneratePattern', 'text', ''),
    ],
  },
};
