import type { ColumnKind } from '../../storage/engine.js';
import { type FileField, isMultiple, type RelationField, type SelectField } from '../collections/model.js';
import { type FieldError, fieldError } from '../errors.js';
import { Invalid, type JsonSchema, type OptionHint, type ValueSource } from './kind.js';

/**
 * What several field types share: value conversions, checks, and the pieces
 * of their OpenAPI schemas and editor hints. A type's own module uses them;
 * nothing outside `core/fields/` needs them.
 */

/** Default size limits, as PocketBase's. */
export const DEFAULT_TEXT_MAX = 5000;
export const DEFAULT_JSON_MAX_SIZE = 1 << 20;
export const DEFAULT_EDITOR_MAX_SIZE = 5 << 20;
export const DEFAULT_FILE_MAX_SIZE = 5 << 20;
/** bcrypt reads at most 72 bytes; longer passwords are refused, never silently cut. */
export const MAX_PASSWORD_BYTES = 72;

/** A field holding ids or names: one, or a list when its `maxSelect` is over 1. */
export type ListField = SelectField | RelationField | FileField;

export const invalidType = (expected: string) =>
  new Invalid(fieldError('validation_invalid_type', `Invalid value type: expected ${expected}.`));
export const required = () => fieldError('validation_required', 'Cannot be blank.');

// ---------------------------------------------------------------- conversions

export const asString = (raw: unknown, source: ValueSource): string | Invalid => {
  if (raw === null || raw === undefined) return '';
  if (typeof raw === 'string') return raw;
  if (source === 'form') return String(raw);
  return invalidType('a string');
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

/** The value of a select, relation or file field: one string, or a list when the field holds several. */
export function prepareList(f: ListField, raw: unknown): unknown {
  const list = asStringList(raw);
  if (list instanceof Invalid) return list;
  return isMultiple(f) ? list : (list[list.length - 1] ?? '');
}

/** A list field's column: one string, or a JSON array when it holds several. */
export const listColumn = (f: ListField): ColumnKind => (isMultiple(f) ? 'array' : 'text');
export const listEmpty = (f: ListField) => (isMultiple(f) ? [] : '');

/** A list field's value as a list. */
export const listOf = (value: unknown): string[] => (Array.isArray(value) ? (value as string[]) : value ? [value as string] : []);

// ---------------------------------------------------------------- checks

/** Length in code points, as PocketBase counts (`utf8.RuneCountInString`). */
export const lengthOf = (s: string) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

const regexCache = new Map<string, RegExp>();
/** Whether `value` matches a field's pattern (compiled once, in Unicode mode). */
export function matches(pattern: string, value: string): boolean {
  let re = regexCache.get(pattern);
  if (!re) {
    re = new RegExp(pattern, 'u');
    if (regexCache.size > 500) regexCache.clear();
    regexCache.set(pattern, re);
  }
  return re.test(value);
}

export function checkText(value: string, opts: { required: boolean; min: number; max: number; pattern: string }): FieldError | null {
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

/** A domain refused by a field's `onlyDomains` or `exceptDomains`. */
export function checkDomain(
  host: string,
  f: { onlyDomains: string[] | null; exceptDomains: string[] | null },
  code: string,
  label: string,
) {
  const { onlyDomains: only, exceptDomains: except } = f;
  if (only && only.length > 0 && !only.includes(host)) return fieldError(code, `${label} domain is not allowed.`);
  if (except && except.length > 0 && except.includes(host)) return fieldError(code, `${label} domain is not allowed.`);
  return null;
}

/** The count check of a select or relation value. */
export function checkCount(f: { required: boolean; maxSelect: number }, value: unknown): FieldError | null {
  const list = listOf(value);
  if (list.length === 0) return f.required ? required() : null;
  const max = Math.max(f.maxSelect, 1);
  if (list.length > max) {
    return fieldError('validation_too_many_values', `Select no more than ${max}.`, { maxSelect: max });
  }
  return null;
}

// ---------------------------------------------------------------- schemas and hints

export const STRING: JsonSchema = { type: 'string' };
export const STRING_LIST: JsonSchema = { type: 'array', items: STRING };

/** A string, or a list of at most `maxSelect` when the field holds several. */
export const listSchema = (f: ListField): JsonSchema => (isMultiple(f) ? { ...STRING_LIST, maxItems: f.maxSelect } : { ...STRING });

/** Text of a usual shape that passes a pattern and the length limits, if one of them does: a pattern's own example. */
export function textExample(pattern: string, min: number, max: number, base: string): string | undefined {
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch {
    return undefined;
  }
  const shapes = [base, 'text', 'abc', 'abc-123', 'abc_123', 'abc123', 'ABC', 'Abc', '123', 'a1', 'a', '1', 'ann@example.com'];
  for (const shape of shapes) {
    const value = shape.padEnd(Math.max(min, shape.length), shape.at(-1)).slice(0, max);
    if (value.length >= min && re.test(value)) return value;
  }
  return undefined;
}

/** A text or password field's input schema: its length limits and pattern, with an example that passes them. */
export function textInputSchema(f: { min: number; max: number; pattern: string }, defaultMax: number, base: string): JsonSchema {
  const schema: JsonSchema = { ...STRING };
  if (f.min > 0) schema.minLength = f.min;
  if (f.max > 0) schema.maxLength = f.max;
  if (f.pattern) schema.pattern = f.pattern;
  const example = textExample(f.pattern || '', f.min, f.max || defaultMax, base);
  if (example !== undefined) schema.examples = [example];
  return schema;
}

export const DATE_SCHEMA: JsonSchema = { type: 'string', description: "A UTC date as 'YYYY-MM-DD HH:MM:SS.sssZ', or '' when unset." };

/** An option hint. */
export const option = (name: string, kind: OptionHint['kind'], def: unknown): OptionHint => ({ name, kind, default: def });
export const REQUIRED_OPTION = option('required', 'bool', false);

/** The kind's TypeScript declarations when it declares none. */
export const noDeclarations = (): string[] => [];

/**
 * What every field holding one plain string shares (text, email, url,
 * editor, password): a text column, '' when empty, set as a whole (no
 * modifiers), compared as text by filters. Each kind spreads it and says
 * the rest.
 */
export const PLAIN_STRING = {
  column: () => 'text' as const,
  empty: () => '',
  prepare: (_f: unknown, raw: unknown, source: ValueSource) => asString(raw, source),
  modifiers: null,
  filter: { valueType: 'text', list: false, json: null } as const,
};
