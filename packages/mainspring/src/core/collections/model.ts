import type { OAuth2Options } from '../auth/oauth2/options.js';
import type { PasskeyOptions } from './passkey-options.js';

/**
 * The shape of collections and their fields, as the API shows them
 * (PocketBase v0.23+ JSON). A collection is stored as one JSON document in
 * `_collections` and backed by a real table with one column per field.
 */

/** The field types a collection can have. */
export type FieldType =
  | 'text'
  | 'number'
  | 'bool'
  | 'email'
  | 'url'
  | 'date'
  | 'autodate'
  | 'select'
  | 'json'
  | 'relation'
  | 'file'
  | 'password'
  | 'editor'
  | 'geoPoint';

/** Options every field has. */
export interface FieldBase {
  id: string;
  name: string;
  type: FieldType;
  /** System fields cannot be removed or renamed. */
  system: boolean;
  /** Hidden fields are never returned to, nor filterable by, non-superusers. */
  hidden: boolean;
  presentable: boolean;
}

export interface TextField extends FieldBase {
  type: 'text';
  required: boolean;
  min: number;
  /** 0 means the default limit of 5000 characters. */
  max: number;
  pattern: string;
  autogeneratePattern: string;
  primaryKey: boolean;
}

export interface NumberField extends FieldBase {
  type: 'number';
  required: boolean;
  min: number | null;
  max: number | null;
  onlyInt: boolean;
}

export interface BoolField extends FieldBase {
  type: 'bool';
  required: boolean;
}

export interface EmailField extends FieldBase {
  type: 'email';
  required: boolean;
  exceptDomains: string[] | null;
  onlyDomains: string[] | null;
}

export interface UrlField extends FieldBase {
  type: 'url';
  required: boolean;
  exceptDomains: string[] | null;
  onlyDomains: string[] | null;
}

export interface DateField extends FieldBase {
  type: 'date';
  required: boolean;
  min: string;
  max: string;
}

export interface AutodateField extends FieldBase {
  type: 'autodate';
  onCreate: boolean;
  onUpdate: boolean;
}

export interface SelectField extends FieldBase {
  type: 'select';
  required: boolean;
  values: string[];
  /** ≤ 1 stores one string, > 1 an array. */
  maxSelect: number;
}

export interface JsonField extends FieldBase {
  type: 'json';
  required: boolean;
  /** 0 means the default of 1 MiB. */
  maxSize: number;
}

export interface RelationField extends FieldBase {
  type: 'relation';
  required: boolean;
  collectionId: string;
  cascadeDelete: boolean;
  minSelect: number;
  /** ≤ 1 stores one id, > 1 an array. */
  maxSelect: number;
}

export interface FileField extends FieldBase {
  type: 'file';
  required: boolean;
  maxSelect: number;
  maxSize: number;
  mimeTypes: string[];
  thumbs: string[];
  protected: boolean;
}

export interface PasswordField extends FieldBase {
  type: 'password';
  required: boolean;
  min: number;
  max: number;
  pattern: string;
  cost: number;
}

export interface EditorField extends FieldBase {
  type: 'editor';
  required: boolean;
  maxSize: number;
  convertURLs: boolean;
}

/** A point on Earth: longitude and latitude in degrees; `{lon: 0, lat: 0}` when unset. */
export interface GeoPointField extends FieldBase {
  type: 'geoPoint';
  /** The point must not be `{lon: 0, lat: 0}` ("Null Island"). */
  required: boolean;
}

/** Any field. */
export type Field =
  | TextField
  | NumberField
  | BoolField
  | EmailField
  | UrlField
  | DateField
  | AutodateField
  | SelectField
  | JsonField
  | RelationField
  | FileField
  | PasswordField
  | EditorField
  | GeoPointField;

/** An email subject and body with `{APP_NAME}`, `{APP_URL}`, `{TOKEN}` placeholders. */
export interface EmailTemplate {
  subject: string;
  body: string;
}

/** A token's lifetime in seconds; the secret is never sent to clients. */
export interface TokenConfig {
  duration: number;
  secret?: string;
}

/** The options only auth collections have. */
export interface AuthOptions {
  authRule: string | null;
  manageRule: string | null;
  authAlert: { enabled: boolean; emailTemplate: EmailTemplate };
  oauth2: OAuth2Options;
  passwordAuth: { enabled: boolean; identityFields: string[] };
  mfa: { enabled: boolean; duration: number; rule: string };
  otp: { enabled: boolean; duration: number; length: number; emailTemplate: EmailTemplate };
  authToken: TokenConfig;
  passwordResetToken: TokenConfig;
  emailChangeToken: TokenConfig;
  verificationToken: TokenConfig;
  fileToken: TokenConfig;
  verificationTemplate: EmailTemplate;
  resetPasswordTemplate: EmailTemplate;
  confirmEmailChangeTemplate: EmailTemplate;
  /** Mainspring's passkeys (WebAuthn); absent on collections saved before it existed (read through `passkeyOptionsOf`). */
  passkeys?: PasskeyOptions;
}

/** The five record rules: `null` superusers only, `""` anyone, else a filter expression. */
export interface Rules {
  listRule: string | null;
  viewRule: string | null;
  createRule: string | null;
  updateRule: string | null;
  deleteRule: string | null;
}

export type RuleName = keyof Rules | 'authRule' | 'manageRule';

/** A collection as stored and as superusers see it. */
export interface Collection extends Rules {
  id: string;
  name: string;
  /** `view`: read-only records over a SELECT ({@link Collection.viewQuery}), fields inferred from it. */
  type: 'base' | 'auth' | 'view';
  system: boolean;
  fields: Field[];
  indexes: string[];
  created: string;
  updated: string;
  /** Present on auth collections only. */
  auth?: AuthOptions;
  /** Present on view collections only: the SELECT whose rows are the records. */
  viewQuery?: string;
}

/** Names no field may take (compared lowercased): keys of every record's JSON, words of the filter language, SQL's row ids. */
export const RESERVED_FIELD_NAMES: ReadonlySet<string> = new Set([
  'expand',
  'collectionid',
  'collectionname',
  // words of the filter language, and SQLite's names for the row id
  'null',
  'true',
  'false',
  'rowid',
  'oid',
  '_rowid_',
  // never usable as keys: they are refused in every body
  '__proto__',
  'constructor',
  'prototype',
]);

/**
 * Names a field of an auth collection may not take, exactly as written
 * (PocketBase's): they are keys of an auth record's write body. A base
 * collection may use them.
 */
export const RESERVED_AUTH_FIELD_NAMES: ReadonlySet<string> = new Set(['passwordConfirm', 'oldPassword']);

/** True when a field holds several values (stored as a JSON array): a select, relation or file field whose `maxSelect` is over 1. */
export function isMultiple(field: Field): boolean {
  return 'maxSelect' in field && field.maxSelect > 1;
}

/** Looks a field up by name. */
export function fieldByName(collection: Collection, name: string): Field | undefined {
  return collection.fields.find((f) => f.name === name);
}
