import type { ValueType } from '../../query/index.js';
import type { ColumnKind } from '../../storage/engine.js';
import type { Field, FieldBase, FieldType } from '../collections/model.js';
import type { FieldError } from '../errors.js';
import type { OptionReader } from './options.js';

/**
 * What a field type is, declared once per type (`core/fields/<type>.ts`) and
 * collected in the registry (`index.ts`): everything the server does with a
 * field that depends on its type is asked of its kind, never of `field.type`.
 */

/** Where a submitted value came from: typed JSON, or a multipart form string. */
export type ValueSource = 'json' | 'form';

/** A conversion or validation failure of one value. */
export class Invalid {
  constructor(readonly error: FieldError) {}
}

/** A JSON Schema (OpenAPI 3.1's dialect): plain JSON. */
export type JsonSchema = { [key: string]: unknown };

/**
 * What a value refers to, on the schema of a field that holds an id (an
 * OpenAPI specification extension): `record:{collection}` for a relation, and
 * for the auth flows' system collections `authCollection` (`collectionRef`)
 * and `authRecord` (`recordRef`). A generator that must send a real id (the
 * Postman export) reads it; a reader has the description.
 */
export const REFERS = 'x-ms-refers';

/** What a field's OpenAPI schema needs to know beyond the field. */
export interface SchemaContext {
  /** The name of a collection the document shows, by id; undefined for one it leaves out. */
  shown(id: string): string | undefined;
}

/** What a field's TypeScript type needs to know beyond the field. */
export interface TypeContext {
  /** The name of a type declared for this field: the collection's type name, the field's in PascalCase, then `suffix`. */
  named(field: Field, suffix: string): string;
}

/** How a filter or rule compares a field. */
export interface FilterKind {
  /** The type of the value compared (of each item, for a multi-valued field). */
  readonly valueType: ValueType;
  /**
   * The field holds ids or names, several when its `maxSelect` is over 1:
   * `:length` and `:each` apply, and the `?` operators compare its items.
   */
  readonly list: boolean;
  /**
   * A path into the value (`field.key.0`): `document` for any JSON (whose
   * `?` operators compare an array's items, and whose top level compares as
   * a value, not as JSON text), `point` for `lon` and `lat` only; null for none.
   */
  readonly json: 'document' | 'point' | null;
}

/**
 * What a write does with a submitted value: `value` converts and checks it;
 * `files` takes uploads and file names; `secret` takes a plain password, hashed
 * before it is stored; `system` ignores it (the write sets it).
 */
export type WriteKind = 'value' | 'files' | 'secret' | 'system';

/**
 * The `field+` / `+field` / `field-` modifiers an update takes: `add` adds to
 * or subtracts from a number, `list` appends, prepends or removes items,
 * `files` appends uploads or removes file names; null for none.
 */
export type ModifierKind = 'add' | 'list' | 'files' | null;

/** One option a superuser sets on a field of a type, as the dashboard shows it. */
export interface OptionHint {
  readonly name: string;
  /** `text` is a string, `list` a list of strings, `collection` a collection's id. */
  readonly kind: 'bool' | 'number' | 'text' | 'list' | 'collection';
  /** The value the server fills in when it is left out. */
  readonly default: unknown;
}

/** The dashboard's editor hints of a type: serialisable, served at `GET /api/ms/field-types`. */
export interface EditorHints {
  /** The type's name for people. */
  readonly label: string;
  /** The options of the type beyond those every field has (`name`, `hidden`, `presentable`, `system`). */
  readonly options: readonly OptionHint[];
}

/** The behaviour of one field type; `F` is the field of that type. Members are methods so each type's kind is a `FieldKind`. */
export interface FieldKind<F extends Field = Field> {
  /** Fills the type's options from what a superuser submitted, recording problems in `read.errors`. */
  options(base: FieldBase & { type: F['type'] }, read: OptionReader): F;
  /** How the value is stored: an engine-neutral kind each dialect maps to its column type. */
  column(field: F): ColumnKind;
  /** The value of an unset field. */
  empty(field: F): unknown;
  /** Converts a submitted value, or says why it cannot be (an {@link Invalid}). */
  prepare(field: F, raw: unknown, source: ValueSource): unknown;
  /** Checks a converted value against the field's options. */
  validate(field: F, value: unknown): FieldError | null;
  /** What a record's answer holds: the stored value, or never the field (a password's hash). */
  readonly output: 'stored' | 'never';
  readonly write: WriteKind;
  readonly modifiers: ModifierKind;
  /** Whether a create body must hold the field: required, and not filled by the server or sent as a file part. */
  mustSend(field: F): boolean;
  readonly filter: FilterKind;
  /**
   * Whether the field can name an account at sign-in (an auth collection's
   * identity field), and how a name given is compared to it: exactly, or
   * without regard to case (emails); null when it cannot.
   */
  readonly identity: 'exact' | 'caseless' | null;
  /** The JSON schema of the value as answered, and of what a JSON body may send (with its limits and an example). */
  openApi: {
    value(field: F, ctx: SchemaContext): JsonSchema;
    input(field: F, ctx: SchemaContext): JsonSchema;
  };
  /** The TypeScript types `mainspring typegen` writes: of the value as answered, of what a create or update takes, and the declarations they name. */
  typescript: {
    value(field: F, ctx: TypeContext): string;
    input(field: F, ctx: TypeContext): string;
    declarations(field: F, ctx: TypeContext): string[];
  };
  readonly editor: EditorHints;
}

/** The registry's shape: one kind per field type, each typed by its field. */
export type FieldKinds = { readonly [T in FieldType]: FieldKind<Extract<Field, { type: T }>> };
