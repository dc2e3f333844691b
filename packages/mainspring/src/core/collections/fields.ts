import { crc32 } from 'node:zlib';
import type { ColumnKind } from '../../storage/engine.js';
import { asPoint } from '../../storage/values.js';
import { parseDateInput } from '../dates.js';
import { type ErrorData, type FieldError, fieldError } from '../errors.js';
import { parseThumbSize } from '../files/thumbs.js';
import { parseAutogeneratePattern } from '../ids.js';
import { type Field, type FieldBase, type FieldType, isMultiple, RESERVED_FIELD_NAMES } from './model.js';

/**
 * What each field type does: its options and their defaults, the column that
 * stores it, how a submitted value is converted, and how it is validated.
 */

/** Where a submitted value came from: typed JSON, or a multipart form string. */
export type ValueSource = 'json' | 'form';

/** A conversion or validation failure of one value. */
export class Invalid {
  constructor(readonly error: FieldError) {}
}

const invalidType = (expected: string) => new Invalid(fieldError('validation_invalid_type', `Invalid value type: expected ${expected}.`));
const required = () => fieldError('validation_required', 'Cannot be blank.');

/** Default size limits, as PocketBase's. */
export const DEFAULT_TEXT_MAX = 5000;
export const DEFAULT_JSON_MAX_SIZE = 1 << 20;
export const DEFAULT_EDITOR_MAX_SIZE = 5 << 20;
export const DEFAULT_FILE_MAX_SIZE = 5 << 20;
/** bcrypt reads at most 72 bytes; longer passwords are refused, never silently cut. */
export const MAX_PASSWORD_BYTES = 72;

// ---------------------------------------------------------------- options

type Raw = Record<string, unknown>;

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

class OptionReader {
  constructor(
    private readonly raw: Raw,
    readonly errors: ErrorData,
  ) {}

  private fail(key: string, message: string) {
    this.errors[key] = fieldError('validation_invalid_value', message);
  }

  bool(key: string, def = false): boolean {
    const v = this.raw[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') {
      this.fail(key, 'Must be a boolean.');
      return def;
    }
    return v;
  }

  int(key: string, def: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.raw[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(key, `Must be an integer between ${min} and ${max}.`);
      return def;
    }
    return v;
  }

  numberOrNull(key: string): number | null {
    const v = this.raw[key];
    if (v === undefined || v === null || v === '') return null;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      this.fail(key, 'Must be a number or null.');
      return null;
    }
    return v;
  }

  string(key: string, def = '', maxLength = 1000): string {
    const v = this.raw[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'string' || v.length > maxLength) {
      this.fail(key, `Must be a string of at most ${maxLength} characters.`);
      return def;
    }
    return v;
  }

  stringList(key: string, maxItems = 1000): string[] | null {
    const v = this.raw[key];
    if (v === undefined || v === null) return null;
    if (!Array.isArray(v) || v.length > maxItems || v.some((s) => typeof s !== 'string' || s.length > 500)) {
      this.fail(key, `Must be a list of at most ${maxItems} strings.`);
      return null;
    }
    return [...new Set(v as string[])];
  }

  regex(key: string): string {
    const pattern = this.string(key, '', 500);
    if (pattern) {
      try {
        new RegExp(pattern, 'u');
      } catch {
        this.fail(key, 'Must be a valid regular expression.');
        return '';
      }
    }
    return pattern;
  }

  date(key: string): string {
    const v = this.string(key, '');
    const parsed = parseDateInput(v);
    if (parsed === null) {
      this.fail(key, 'Must be a valid date.');
      return '';
    }
    return parsed;
  }
}

// ---------------------------------------------------------------- values

const asString = (raw: unknown, source: ValueSource): string | Invalid => {
  if (raw === null || raw === undefined) return '';
  if (typeof raw === 'string') return raw;
  if (source === 'form') return String(raw);
  return invalidType('a string');
};

const NUMBER_TEXT = /^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

const asNumber = (raw: unknown, source: ValueSource): number | Invalid => {
  if (raw === null || raw === undefined || raw === '') return 0;
  if (typeof raw === 'number') {
    return Number.isFinite(raw)
      ? raw === 0
        ? 0 // no -0
        : raw
      : new Invalid(fieldError('validation_not_a_number', 'The submitted number is not properly formatted.'));
  }
  if (typeof raw === 'string' && source === 'form') {
    if (!NUMBER_TEXT.test(raw)) return invalidType('a number');
    const n = Number(raw);
    if (!Number.isFinite(n)) {
      return new Invalid(fieldError('validation_not_a_number', 'The submitted number is not properly formatted.'));
    }
    return n === 0 ? 0 : n;
  }
  return invalidType('a number');
};

const FORM_BOOLS: Record<string, boolean> = { '': false, true: true, false: false, '1': true, '0': false, on: true, off: false };

const asBool = (raw: unknown, source: ValueSource): boolean | Invalid => {
  if (raw === null || raw === undefined) return false;
  if (typeof raw === 'boolean') return raw;
  if (typeof raw === 'string' && source === 'form' && raw.toLowerCase() in FORM_BOOLS) {
    return FORM_BOOLS[raw.toLowerCase()] as boolean;
  }
  return invalidType('a boolean');
};

/** Single or multiple string values; a lone string is accepted for a multi field. */
const asStringList = (raw: unknown): string[] | Invalid => {
  if (raw === null || raw === undefined || raw === '') return [];
  if (typeof raw === 'string') return [raw];
  if (Array.isArray(raw)) {
    if (raw.some((v) => typeof v !== 'string')) return invalidType('a list of strings');
    return [...new Set((raw as string[]).filter((v) => v !== ''))];
  }
  return invalidType('a string or a list of strings');
};

const lengthOf = (s: string) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

const EMAIL =
  /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$/;

function validateDomains(host: string, only: string[] | null, except: string[] | null, code: string, label: string) {
  if (only && only.length > 0 && !only.includes(host)) return fieldError(code, `${label} domain is not allowed.`);
  if (except && except.length > 0 && except.includes(host)) return fieldError(code, `${label} domain is not allowed.`);
  return null;
}

const regexCache = new Map<string, RegExp>();
function matches(pattern: string, value: string): boolean {
  let re = regexCache.get(pattern);
  if (!re) {
    re = new RegExp(pattern, 'u');
    if (regexCache.size > 500) regexCache.clear();
    regexCache.set(pattern, re);
  }
  return re.test(value);
}

function checkText(value: string, opts: { required: boolean; min: number; max: number; pattern: string }) {
  if (value === '') return opts.required ? required() : null;
  const length = lengthOf(value);
  if (opts.min > 0 && length < opts.min) {
    return fieldError('validation_min_text_constraint', `Must be at least ${opts.min} character(s).`, { min: opts.min });
  }
  const max = opts.max > 0 ? opts.max : DEFAULT_TEXT_MAX;
  if (length > max) {
    return fieldError('validation_max_text_constraint', `Must be no more than ${max} character(s).`, { max });
  }
  if (opts.pattern && !matches(opts.pattern, value)) {
    return fieldError('validation_invalid_format', 'Invalid value format.');
  }
  return null;
}

/**
 * A submitted point: an object whose `lon` and `lat` (each optional, 0 when
 * left out) are numbers, or from a form its JSON text; nothing, '' and `{}`
 * are the empty point. Other keys are dropped.
 */
function preparePoint(raw: unknown, source: ValueSource): unknown {
  let value = raw;
  if (source === 'form' && typeof raw === 'string') {
    if (raw.trim() === '') return asPoint(null);
    try {
      value = JSON.parse(raw);
    } catch {
      return invalidType('an object with numeric lon and lat');
    }
  }
  if (value === undefined || value === null || value === '') return asPoint(null);
  if (typeof value !== 'object' || Array.isArray(value)) return invalidType('an object with numeric lon and lat');
  const point = value as { lon?: unknown; lat?: unknown };
  const bad = (v: unknown) => v !== undefined && !(typeof v === 'number' && Number.isFinite(v));
  if (bad(point.lon) || bad(point.lat)) return invalidType('an object with numeric lon and lat');
  return asPoint(point);
}

// ---------------------------------------------------------------- types

/** The behaviour of one field type. */
export interface FieldKind {
  /** Fills the type's options from what a superuser submitted, recording problems in `errors`. */
  options(base: FieldBase, read: OptionReader): Field;
  /** How the value is stored. */
  column(field: Field): ColumnKind;
  /** The value of an unset field. */
  empty(field: Field): unknown;
  /** Converts a submitted value, or says why it cannot be. */
  prepare(field: Field, raw: unknown, source: ValueSource): unknown;
  /** Checks a converted value against the field's options. */
  validate(field: Field, value: unknown): FieldError | null;
}

const multiColumn = (f: Field): ColumnKind => (isMultiple(f) ? 'array' : 'text');
const multiEmpty = (f: Field) => (isMultiple(f) ? [] : '');

function prepareList(f: Field, raw: unknown): unknown {
  const list = asStringList(raw);
  if (list instanceof Invalid) return list;
  return isMultiple(f) ? list : (list[list.length - 1] ?? '');
}

function validateList(f: Field & { required: boolean; maxSelect: number }, value: unknown): FieldError | null {
  const list = Array.isArray(value) ? (value as string[]) : value ? [value as string] : [];
  if (list.length === 0) return f.required ? required() : null;
  const max = Math.max(f.maxSelect, 1);
  if (list.length > max) {
    return fieldError('validation_too_many_values', `Select no more than ${max}.`, { maxSelect: max });
  }
  return null;
}

export const FIELD_KINDS: Record<FieldType, FieldKind> = {
  text: {
    options: (base, r) => {
      const primaryKey = r.bool('primaryKey');
      const min = r.int('min', 0);
      return {
        ...base,
        type: 'text',
        required: r.bool('required') || primaryKey,
        min,
        max: r.int('max', 0, 0),
        pattern: r.regex('pattern'),
        autogeneratePattern: r.string('autogeneratePattern', '', 100),
        primaryKey,
      };
    },
    column: () => 'text',
    empty: () => '',
    prepare: (_f, raw, source) => asString(raw, source),
    validate: (f, v) => (f.type === 'text' ? checkText(v as string, f) : null),
  },
  editor: {
    options: (base, r) => ({
      ...base,
      type: 'editor',
      required: r.bool('required'),
      maxSize: r.int('maxSize', 0),
      convertURLs: r.bool('convertURLs'),
    }),
    column: () => 'text',
    empty: () => '',
    prepare: (_f, raw, source) => asString(raw, source),
    validate: (f, v) => {
      if (f.type !== 'editor') return null;
      const value = v as string;
      if (value === '') return f.required ? required() : null;
      const max = f.maxSize > 0 ? f.maxSize : DEFAULT_EDITOR_MAX_SIZE;
      if (Buffer.byteLength(value) > max) {
        return fieldError('validation_content_size_limit', `The maximum allowed content size is ${max} bytes.`, {
          maxSize: max,
        });
      }
      return null;
    },
  },
  password: {
    options: (base, r) => ({
      ...base,
      type: 'password',
      hidden: true,
      required: r.bool('required'),
      // 0 is no minimum (PocketBase's `_otps` has none; a password must still not be empty)
      min: r.int('min', 8, 0, MAX_PASSWORD_BYTES),
      max: r.int('max', 0, 0, MAX_PASSWORD_BYTES),
      pattern: r.regex('pattern'),
      cost: r.int('cost', 0, 0, 14),
    }),
    column: () => 'text',
    empty: () => '',
    prepare: (_f, raw, source) => asString(raw, source),
    // checks the plain password; the stored value is its bcrypt hash
    validate: (f, v) => {
      if (f.type !== 'password') return null;
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
  },
  number: {
    options: (base, r) => ({
      ...base,
      type: 'number',
      required: r.bool('required'),
      min: r.numberOrNull('min'),
      max: r.numberOrNull('max'),
      onlyInt: r.bool('onlyInt'),
    }),
    column: () => 'number',
    empty: () => 0,
    prepare: (_f, raw, source) => asNumber(raw, source),
    validate: (f, v) => {
      if (f.type !== 'number') return null;
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
  },
  bool: {
    options: (base, r) => ({ ...base, type: 'bool', required: r.bool('required') }),
    column: () => 'bool',
    empty: () => false,
    prepare: (_f, raw, source) => asBool(raw, source),
    validate: (f, v) => (f.type === 'bool' && f.required && v !== true ? required() : null),
  },
  email: {
    options: (base, r) => ({
      ...base,
      type: 'email',
      required: r.bool('required'),
      exceptDomains: r.stringList('exceptDomains'),
      onlyDomains: r.stringList('onlyDomains'),
    }),
    column: () => 'text',
    empty: () => '',
    prepare: (_f, raw, source) => {
      const s = asString(raw, source);
      return typeof s === 'string' ? s.trim() : s;
    },
    validate: (f, v) => {
      if (f.type !== 'email') return null;
      const value = v as string;
      if (value === '') return f.required ? required() : null;
      if (value.length > 255 || !EMAIL.test(value)) return fieldError('validation_is_email', 'Must be a valid email address.');
      const domain = value.slice(value.lastIndexOf('@') + 1);
      return validateDomains(domain, f.onlyDomains, f.exceptDomains, 'validation_email_domain_not_allowed', 'Email');
    },
  },
  url: {
    options: (base, r) => ({
      ...base,
      type: 'url',
      required: r.bool('required'),
      exceptDomains: r.stringList('exceptDomains'),
      onlyDomains: r.stringList('onlyDomains'),
    }),
    column: () => 'text',
    empty: () => '',
    prepare: (_f, raw, source) => asString(raw, source),
    validate: (f, v) => {
      if (f.type !== 'url') return null;
      const value = v as string;
      if (value === '') return f.required ? required() : null;
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        return fieldError('validation_invalid_url', 'Must be a valid url.');
      }
      if (!/^[a-z][a-z0-9+.-]*:$/.test(url.protocol) || url.protocol === 'javascript:' || !url.host) {
        return fieldError('validation_invalid_url', 'Must be a valid url.');
      }
      return validateDomains(url.hostname, f.onlyDomains, f.exceptDomains, 'validation_url_domain_not_allowed', 'Url');
    },
  },
  date: {
    options: (base, r) => ({ ...base, type: 'date', required: r.bool('required'), min: r.date('min'), max: r.date('max') }),
    column: () => 'date',
    empty: () => '',
    prepare: (_f, raw, source) => {
      const s = asString(raw, source);
      if (s instanceof Invalid) return s;
      const parsed = parseDateInput(s);
      return parsed === null ? new Invalid(fieldError('validation_invalid_date', 'Must be a valid date.')) : parsed;
    },
    validate: (f, v) => {
      if (f.type !== 'date') return null;
      const value = v as string;
      if (value === '') return f.required ? required() : null;
      if (f.min && value < f.min) return fieldError('validation_min_date_constraint', `Must be no earlier than ${f.min}.`);
      if (f.max && value > f.max) return fieldError('validation_max_date_constraint', `Must be no later than ${f.max}.`);
      return null;
    },
  },
  autodate: {
    options: (base, r) => {
      const onCreate = r.bool('onCreate', true);
      const onUpdate = r.bool('onUpdate', false);
      if (!onCreate && !onUpdate) {
        r.errors.onCreate = fieldError('validation_required', 'Either onCreate or onUpdate must be enabled.');
      }
      return { ...base, type: 'autodate', onCreate, onUpdate };
    },
    column: () => 'date',
    empty: () => '',
    prepare: (_f, raw, source) => asString(raw, source),
    validate: () => null,
  },
  select: {
    options: (base, r) => {
      const values = r.stringList('values') ?? [];
      if (values.length === 0) r.errors.values = required();
      return {
        ...base,
        type: 'select',
        required: r.bool('required'),
        values,
        maxSelect: r.int('maxSelect', 1, 0, Math.max(values.length, 1)),
      };
    },
    column: multiColumn,
    empty: multiEmpty,
    prepare: prepareList,
    validate: (f, v) => {
      if (f.type !== 'select') return null;
      const err = validateList(f, v);
      if (err) return err;
      const list = Array.isArray(v) ? (v as string[]) : v ? [v as string] : [];
      const bad = list.find((x) => !f.values.includes(x));
      return bad === undefined ? null : fieldError('validation_invalid_value', `Invalid value ${bad}.`, { value: bad });
    },
  },
  json: {
    options: (base, r) => ({ ...base, type: 'json', required: r.bool('required'), maxSize: r.int('maxSize', 0) }),
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
      if (f.type !== 'json') return null;
      const size = v === null ? 0 : Buffer.byteLength(JSON.stringify(v));
      const max = f.maxSize > 0 ? f.maxSize : DEFAULT_JSON_MAX_SIZE;
      if (size > max) {
        return fieldError('validation_json_size_limit', `The maximum allowed JSON size is ${max} bytes.`, { maxSize: max });
      }
      // PocketBase's empty JSON values: null, "", [] and {} (false and 0 are values)
      const empty =
        v === null ||
        v === '' ||
        (Array.isArray(v) && v.length === 0) ||
        (typeof v === 'object' && v !== null && Object.keys(v).length === 0);
      return f.required && empty ? required() : null;
    },
  },
  geoPoint: {
    options: (base, r) => ({ ...base, type: 'geoPoint', required: r.bool('required') }),
    column: () => 'point',
    empty: () => asPoint(null),
    prepare: (_f, raw, source) => preparePoint(raw, source),
    validate: (f, v) => {
      if (f.type !== 'geoPoint') return null;
      const { lon, lat } = v as { lon: number; lat: number };
      if (lon === 0 && lat === 0) return f.required ? required() : null;
      if (lat < -90 || lat > 90) return fieldError('validation_invalid_latitude', 'Latitude must be between -90 and 90 degrees.');
      if (lon < -180 || lon > 180) return fieldError('validation_invalid_longitude', 'Longitude must be between -180 and 180 degrees.');
      return null;
    },
  },
  relation: {
    options: (base, r) => {
      const collectionId = r.string('collectionId', '', 100);
      if (!collectionId) r.errors.collectionId = required();
      const minSelect = r.int('minSelect', 0);
      return {
        ...base,
        type: 'relation',
        required: r.bool('required'),
        collectionId,
        cascadeDelete: r.bool('cascadeDelete'),
        minSelect,
        maxSelect: r.int('maxSelect', 1, 0, 10_000),
      };
    },
    column: multiColumn,
    empty: multiEmpty,
    prepare: prepareList,
    validate: (f, v) => {
      if (f.type !== 'relation') return null;
      const err = validateList(f, v);
      if (err) return err;
      const n = Array.isArray(v) ? v.length : v ? 1 : 0;
      if (n > 0 && f.minSelect > 0 && n < f.minSelect) {
        return fieldError('validation_not_enough_values', `Select at least ${f.minSelect}.`, { minSelect: f.minSelect });
      }
      return null;
    },
  },
  file: {
    options: (base, r) => ({
      ...base,
      type: 'file',
      required: r.bool('required'),
      maxSelect: r.int('maxSelect', 1, 0, 10_000),
      maxSize: r.int('maxSize', 0),
      mimeTypes: r.stringList('mimeTypes') ?? [],
      thumbs: thumbSizes(r),
      protected: r.bool('protected'),
    }),
    column: multiColumn,
    empty: multiEmpty,
    prepare: prepareList,
    // uploads and names are checked on input (records/files.ts); this is what a stored value must hold
    validate: (f, v) => {
      if (f.type !== 'file') return null;
      const n = Array.isArray(v) ? v.length : v ? 1 : 0;
      if (n === 0) return f.required ? required() : null;
      const max = Math.max(f.maxSelect, 1);
      return n > max ? fieldError('validation_too_many_files', `The maximum allowed files is ${max}`, { maxSelect: max }) : null;
    },
  },
};

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
  const r = raw as Raw;
  const read = new OptionReader(r, errors);
  const type = r.type;
  if (typeof type !== 'string' || !(type in FIELD_KINDS)) {
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
    type: type as FieldType,
    system: read.bool('system'),
    hidden: read.bool('hidden'),
    presentable: read.bool('presentable'),
  };
  const field = FIELD_KINDS[type as FieldType].options(base, read);
  if (field.type === 'text' && field.autogeneratePattern && !parseAutogeneratePattern(field.autogeneratePattern)) {
    errors.autogeneratePattern = fieldError(
      'validation_invalid_value',
      'Only patterns of the form [charset]{length} are supported, e.g. [a-z0-9]{15}.',
    );
  }
  return field;
}

/** The behaviour of a field's type. */
export function kindOf(field: Field): FieldKind {
  return FIELD_KINDS[field.type];
}

export { OptionReader };
