import type { AutodateField, Field, FieldType, FileField, PasswordField, RelationField } from '../collections/model.js';
import { autodate } from './autodate.js';
import { bool } from './bool.js';
import { date } from './date.js';
import { editor } from './editor.js';
import { email } from './email.js';
import { file } from './file.js';
import { geoPoint } from './geo-point.js';
import { json } from './json.js';
import type { EditorHints, FieldKind, FieldKinds } from './kind.js';
import { number } from './number.js';
import { password } from './password.js';
import { relation } from './relation.js';
import { select } from './select.js';
import { text } from './text.js';
import { url } from './url.js';

/**
 * The field-type registry: one kind per type, each declared in its own
 * module. Its type (`FieldKinds`) makes a type without a kind, or a kind
 * without one of its members, a compile error. Code outside `core/fields/`
 * asks a field's kind what to do, never its `type`.
 */
export const FIELD_KINDS: FieldKinds = {
  text,
  number,
  bool,
  email,
  url,
  editor,
  date,
  autodate,
  select,
  file,
  relation,
  json,
  password,
  geoPoint,
};

/** The behaviour of a field's type. */
export function kindOf(field: { readonly type: FieldType }): FieldKind {
  return FIELD_KINDS[field.type];
}

/** Whether a string names a field type. */
export const isFieldType = (type: string): type is FieldType => Object.hasOwn(FIELD_KINDS, type);

/** Every type's editor hints, in the registry's order: what `GET /api/ms/field-types` answers. */
export function fieldTypeHints(): ({ type: FieldType } & EditorHints)[] {
  return (Object.keys(FIELD_KINDS) as FieldType[]).map((type) => ({ type, ...FIELD_KINDS[type].editor }));
}

// A behaviour tied to one type's own options, named rather than spelled as `field.type === '…'`.

/** A field that links to records of another collection (followed by filters, expand, cascades). */
export const isRelation = (f: Field | undefined): f is RelationField => f?.type === 'relation';
/** A field whose values are stored files (moved, served and released with the record). */
export const isFile = (f: Field | undefined): f is FileField => f?.type === 'file';
/** A field that holds a password's hash (never answered, set through its plain text). */
export const isPassword = (f: Field | undefined): f is PasswordField => f?.type === 'password';
/** A field the write sets to its time. */
export const isAutodate = (f: Field | undefined): f is AutodateField => f?.type === 'autodate';
/** The record's primary key (the `id` text field). */
export const isPrimaryKey = (f: Field): boolean => 'primaryKey' in f && f.primaryKey;

export { type FieldKind, Invalid, type JsonSchema, REFERS, type SchemaContext, type TypeContext, type ValueSource } from './kind.js';
export { OptionReader } from './options.js';
export { DEFAULT_FILE_MAX_SIZE, MAX_PASSWORD_BYTES } from './values.js';
