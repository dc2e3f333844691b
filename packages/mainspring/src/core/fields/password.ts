import type { PasswordField } from '../collections/model.js';
import { fieldError } from '../errors.js';
import type { FieldKind } from './kind.js';
import {
  lengthOf,
  MAX_PASSWORD_BYTES,
  matches,
  noDeclarations,
  option,
  PLAIN_STRING,
  REQUIRED_OPTION,
  required,
  STRING,
  textInputSchema,
} from './values.js';

/** A password: taken in plain text, checked, stored as its bcrypt hash, never answered. */
export const password: FieldKind<PasswordField> = {
  options: (base, r) => ({
    ...base,
    hidden: true,
    required: r.bool('required'),
    // 0 is no minimum (PocketBase's `_otps` has none; a password must still not be empty)
    min: r.int('min', 8, 0, MAX_PASSWORD_BYTES),
    max: r.int('max', 0, 0, MAX_PASSWORD_BYTES),
    pattern: r.regex('pattern'),
    cost: r.int('cost', 0, 0, 14),
  }),
  ...PLAIN_STRING,
  // checks the plain password; the stored value is its bcrypt hash
  validate: (f, v) => {
    const plain = v as string;
    if (plain === '') return f.required ? required() : null;
    if (lengthOf(plain) < f.min) {
      return fieldError('validation_min_text_constraint', `Must be at least ${f.min} character(s).`, { min: f.min });
    }
    const max = f.max > 0 ? f.max : MAX_PASSWORD_BYTES;
    if (Buffer.byteLength(plain) > MAX_PASSWORD_BYTES || lengthOf(plain) > max) {
      return fieldError('validation_max_text_constraint', `Must be no more than ${max} character(s) (${MAX_PASSWORD_BYTES} bytes).`, {
        max,
      });
    }
    if (f.pattern && !matches(f.pattern, plain)) return fieldError('validation_invalid_format', 'Invalid value format.');
    return null;
  },
  output: 'never',
  write: 'secret',
  mustSend: (f) => f.required,
  identity: null,
  openApi: {
    value: () => ({ ...STRING }),
    // bcrypt reads 72 bytes, and a password field refuses more
    input: (f) => textInputSchema(f, MAX_PASSWORD_BYTES - 1, 'password-123'),
  },
  typescript: { value: () => 'string', input: () => 'string', declarations: noDeclarations },
  editor: {
    label: 'Password',
    options: [
      REQUIRED_OPTION,
      option('min', 'number', 8),
      option('max', 'number', 0),
      option('pattern', 'text', ''),
      option('cost', 'number', 0),
    ],
  },
};
