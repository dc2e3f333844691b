import { crc32 } from 'node:zlib';
import { type ErrorData, fieldError } from '../errors.js';
import { FIELD_KINDS, isFieldType, kindOf, OptionReader } from '../fields/index.js';
import { type Field, type FieldBase, RESERVED_FIELD_NAMES } from './model.js';

/**
 * A field from the JSON a superuser submitted: its name, id and the options
 * every field has here; its type's options by its kind (core/fields/).
 */

const FIELD_NAME = /^[A-Za-z_]\w{0,99}$/;

/** The default id of a field: its type and the CRC-32 of its name, as PocketBase makes it. */
export function defaultFieldId(type: string, name: string): string {
  return `${type}${crc32(name)}`;
}

/** The `id` field every collection leads with: 15 characters of `[a-z0-9]`, made when not given (PocketBase's). */
export function idField(): Field {
  return {
    id: defaultFieldId('text', 'id'),
    name: 'id',
    type: 'text',
    system: true,
    hidden: false,
    presentable: false,
    required: true,
    min: 15,
    max: 15,
    pattern: '^[a-z0-9]+$',
    autogeneratePattern: '[a-z0-9]{15}',
    primaryKey: true,
  };
}

/**
 * Builds a complete field from submitted JSON: known type, valid name, every
 * option filled with its default. Problems are recorded in `errors`.
 */
export function buildField(raw: unknown, errors: ErrorData): Field | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    errors.type = fieldError('validation_invalid_value', 'Each field must be an object.');
    return null;
  }
  const r = raw as Record<string, unknown>;
  const read = new OptionReader(r, errors);
  const type = r.type;
  if (typeof type !== 'string' || !isFieldType(type)) {
    errors.type = fieldError('validation_invalid_value', `Unknown field type; expected one of ${Object.keys(FIELD_KINDS).join(', ')}.`);
    return null;
  }
  const name = read.string('name', '', 200);
  if (!FIELD_NAME.test(name)) {
    errors.name = fieldError(
      'validation_match_invalid',
      'Must start with a letter or _ and hold only letters, digits and _ (at most 100).',
    );
  } else if (RESERVED_FIELD_NAMES.has(name.toLowerCase()) || name.toLowerCase().includes('_via_')) {
    errors.name = fieldError('validation_not_in_invalid', `The name "${name}" is reserved.`);
  }
  const id = read.string('id', '', 100) || defaultFieldId(type, name);
  if (!/^\w+$/.test(id)) errors.id = fieldError('validation_match_invalid', 'Invalid field id.');
  const base: FieldBase = {
    id,
    name,
    type,
    system: read.bool('system'),
    hidden: read.bool('hidden'),
    presentable: read.bool('presentable'),
  };
  return kindOf(base).options(base, read);
}
