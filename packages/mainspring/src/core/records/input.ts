import { isDeepStrictEqual } from 'node:util';
import { type Collection, type Field, isMultiple } from '../collections/model.js';
import { nowString } from '../dates.js';
import { type ErrorData, fieldError } from '../errors.js';
import { Invalid, isAutodate, isFile, isRelation, kindOf, type ValueSource } from '../fields/index.js';
import { holdsUpload } from '../files/uploads.js';
import { newRecordId, parseAutogeneratePattern, randomString } from '../ids.js';
import type { RecordData } from '../rules/request-info.js';
import { applyFileInput, type FieldUpload, type FileEntry, fileNames, settleFileField } from './files.js';

/**
 * Turns submitted data into a record: strict per-field conversion, the
 * `field+` / `+field` / `field-` modifiers, system fields, defaults, and
 * validation of the whole result. Nothing here touches the database.
 */

/** Who is writing, which decides what they may set. */
export interface WriteAccess {
  /** Superusers may set hidden fields and skip every rule. */
  superuser: boolean;
  /** Superusers, and callers the auth collection's manageRule admits, may set `verified`, change `email` and set passwords without `oldPassword`. */
  manage: boolean;
}

/** The outcome of applying input to a record. */
export interface PreparedInput {
  /** The record as it would be written (passwords still as stored hashes). */
  data: RecordData;
  /** Per-field problems; empty when the input is valid. */
  errors: ErrorData;
  /** A new plain password to hash and store. */
  newPassword?: string;
  /** The `oldPassword` the caller gave, to check against the stored hash. */
  oldPassword?: string;
  /** What rules see as `@request.body`: the submitted fields after modifiers. */
  body: Record<string, unknown>;
  /** Names of fields whose value was submitted. */
  submitted: Set<string>;
  /** Uploads the record keeps, to put in place when it is written. */
  uploads: FieldUpload[];
}

type Modifier = '' | 'append' | 'prepend' | 'remove';

/** Splits `name+`, `+name`, `name-` into the field name and its modifier. */
function splitKey(key: string): { name: string; mod: Modifier } {
  if (key.endsWith('+')) return { name: key.slice(0, -1), mod: 'append' };
  if (key.startsWith('+')) return { name: key.slice(1), mod: 'prepend' };
  if (key.endsWith('-')) return { name: key.slice(0, -1), mod: 'remove' };
  return { name: key, mod: '' };
}

const asList = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : v ? [v as string] : []);

/** What applying input builds up, step by step (see {@link applyInput}). */
interface InputState {
  c: Collection;
  current: RecordData | null;
  isNew: boolean;
  isAuth: boolean;
  access: WriteAccess;
  data: Record<string, unknown>;
  errors: ErrorData;
  body: Record<string, unknown>;
  submitted: Set<string>;
  /** File fields' entries (names and uploads) while keys apply, settled after. */
  files: Map<string, FileEntry[]>;
  uploads: FieldUpload[];
  newPassword?: string;
  passwordConfirm?: string;
  oldPassword?: string;
}

/**
 * Applies `input` to `current` (null for a new record) and validates the
 * result. Unknown keys are ignored, as PocketBase does; hidden fields are
 * ignored for non-superusers (the password of an auth record excepted).
 */
export function applyInput(
  c: Collection,
  current: RecordData | null,
  input: Record<string, unknown>,
  source: ValueSource,
  access: WriteAccess,
): PreparedInput {
  const data: Record<string, unknown> = {};
  for (const f of c.fields) data[f.name] = current ? current[f.name] : kindOf(f).empty(f);
  const st: InputState = {
    c,
    current,
    isNew: current === null,
    isAuth: c.type === 'auth',
    access,
    data,
    errors: {},
    body: {},
    submitted: new Set(),
    files: new Map(),
    uploads: [],
  };
  applyKeys(st, input, source);
  settleFiles(st);
  fillSystemValues(st);
  if (st.isAuth) checkAuthInput(st);
  validateFields(st);

  const prepared: PreparedInput = {
    data: data as RecordData,
    errors: st.errors,
    body: st.body,
    submitted: st.submitted,
    uploads: st.uploads,
  };
  if (st.newPassword !== undefined) prepared.newPassword = st.newPassword;
  if (st.oldPassword !== undefined) prepared.oldPassword = st.oldPassword;
  return prepared;
}

/**
 * The input of an update that can be written without reading the record
 * first: plain values of value fields (no modifier, file, password or
 * relation: their result or check needs the stored record), each valid on
 * its own, in a collection that is neither auth nor system. Answers the
 * prepared input and the columns to set (the submitted fields, then the
 * autodates that move on update), or null when the record must be read:
 * the usual update then judges the input against it, errors included. The
 * fields left as they are were judged when they were written.
 */
export function applyInputUnread(
  c: Collection,
  id: string,
  input: Record<string, unknown>,
  source: ValueSource,
  access: WriteAccess,
): { prepared: PreparedInput; columns: string[] } | null {
  // auth records and the system collections (refs to auth records checked against the database) are read first
  if (c.type === 'auth' || c.system) return null;
  const fields = new Map(c.fields.map((f) => [f.name, f]));
  for (const key of Object.keys(input)) {
    const { name, mod } = splitKey(key);
    const field = fields.get(name);
    // what the system writes (autodates) is ignored in input, as on the usual path
    const write = field && kindOf(field).write;
    if (field && (mod !== '' || write === 'files' || write === 'secret' || isRelation(field))) return null;
  }
  // the record as a stand-in holds each field's empty value: errors of fields not submitted come from it, not the input
  const stand: Record<string, unknown> = {};
  for (const f of c.fields) stand[f.name] = kindOf(f).empty(f);
  stand.id = id;
  const prepared = applyInput(c, stand as RecordData, input, source, access);
  if (prepared.submitted.size === 0) return null;
  for (const key of Object.keys(prepared.errors)) if (prepared.submitted.has(key) || !fields.has(key) || key === 'id') return null;
  const columns = [...prepared.submitted].filter((name) => name !== 'id');
  for (const f of c.fields) if (isAutodate(f) && f.onUpdate) columns.push(f.name);
  return { prepared, columns };
}

/** A string input, or undefined (null and absent alike); anything else is an error on `key`. */
function readString(st: InputState, key: string, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  st.errors[key] = fieldError('validation_invalid_type', 'Invalid value type: expected a string.');
  return undefined;
}

/** Each submitted key onto the record: plain assignments first, then modifiers, so `tags` and `tags+` compose. */
function applyKeys(st: InputState, input: Record<string, unknown>, source: ValueSource): void {
  const { c, current, isNew, isAuth, access, data, errors, body, submitted, files } = st;
  const fieldsByName = new Map(c.fields.map((f) => [f.name, f]));
  const keys = Object.keys(input).sort((a, b) => Number(splitKey(a).mod !== '') - Number(splitKey(b).mod !== ''));
  for (const key of keys) {
    const raw = input[key];
    if (isAuth && key === 'passwordConfirm') {
      st.passwordConfirm = readString(st, key, raw);
      body[key] = raw;
      continue;
    }
    if (isAuth && key === 'oldPassword') {
      st.oldPassword = readString(st, key, raw);
      body[key] = raw;
      continue;
    }
    const { name, mod } = splitKey(key);
    const field = fieldsByName.get(name);
    if (!field) {
      if (!mod) body[key] = raw;
      continue;
    }
    if (field.hidden && !access.superuser && !(isAuth && field.name === 'password')) continue;
    const { write } = kindOf(field);
    if (write === 'system') continue;
    if (field.name === 'id' && !isNew) {
      if (raw !== current?.id) errors.id = fieldError('validation_pk_change', 'The record primary key cannot be changed.');
      continue;
    }
    if (write === 'files') {
      const next = applyFileInput(files.get(field.name) ?? fileNames(data[field.name]), raw, mod);
      if (next instanceof Invalid) errors[field.name] = next.error;
      else files.set(field.name, next);
      submitted.add(field.name);
      continue;
    }
    if (write === 'secret') {
      if (mod) continue;
      const plain = readString(st, key, raw);
      if (plain !== undefined && plain !== '') st.newPassword = plain;
      submitted.add(field.name);
      continue;
    }
    // an upload means something only to a file field (a JSON field would store its description)
    if (holdsUpload(raw)) {
      errors[field.name] = fieldError('validation_invalid_type', 'Files can only be sent to a file field.');
      continue;
    }
    const value = applyField(field, data[field.name], raw, mod, source);
    if (value instanceof Invalid) {
      errors[field.name] = value.error;
      continue;
    }
    if (value === undefined) continue;
    data[field.name] = value;
    body[field.name] = value;
    submitted.add(field.name);
  }
}

/** File fields' final names: kept, removed and uploaded, within the field's limits. */
function settleFiles(st: InputState): void {
  for (const [name, entries] of st.files) {
    const field = st.c.fields.find((f) => f.name === name);
    if (!isFile(field) || st.errors[name]) continue;
    const settled = settleFileField(field, entries, fileNames(st.current?.[name]));
    st.data[name] = settled.value;
    st.body[name] = settled.value;
    if (settled.error) st.errors[name] = settled.error;
    for (const file of settled.uploads) st.uploads.push({ field: name, file });
  }
}

/** The id and autogenerated values of a new record, and the autodates of every write. */
function fillSystemValues({ c, isNew, data }: InputState): void {
  if (isNew) {
    if (data.id === '' || data.id === undefined) data.id = newRecordId();
    for (const f of c.fields) {
      if ('autogeneratePattern' in f && f.name !== 'id' && f.autogeneratePattern && data[f.name] === '') {
        const spec = parseAutogeneratePattern(f.autogeneratePattern);
        if (spec) data[f.name] = randomString(spec.length, spec.alphabet);
      }
    }
  }
  const now = nowString();
  for (const f of c.fields) {
    if (isAutodate(f) && ((isNew && f.onCreate) || (!isNew && f.onUpdate))) data[f.name] = now;
  }
}

/** An auth record's email, verified state and password trio, as only managers may change them. */
function checkAuthInput({ current, isNew, access, data, errors, newPassword, passwordConfirm, oldPassword }: InputState): void {
  if (!access.manage) {
    if (!isNew && data.email !== current?.email) {
      errors.email = fieldError(
        'validation_values_mismatch',
        'Only a superuser or a manager can change the email directly; use request-email-change.',
      );
    }
    if (data.verified !== (isNew ? false : current?.verified)) {
      errors.verified = fieldError('validation_values_mismatch', 'Only a superuser or a manager can change the verified state.');
    }
  }
  // PocketBase's rules (forms/record_upsert.go), an empty string counting as not sent: each of the three
  // is required once another is given (or, for the first two, on create), and the confirmation must match
  const password = newPassword ?? '';
  const confirm = passwordConfirm ?? '';
  const old = oldPassword ?? '';
  const blank = () => fieldError('validation_required', 'Cannot be blank.');
  if (!password && (isNew || confirm || old)) errors.password = blank();
  if (!confirm && (isNew || password || old)) errors.passwordConfirm = blank();
  else if (confirm !== password) errors.passwordConfirm = fieldError('validation_values_mismatch', "Values don't match.");
  if (!old && !isNew && !access.manage && (password || confirm)) errors.oldPassword = blank();
}

/** Every field of the result validated by its kind (a password as the plain text given). */
function validateFields({ c, isAuth, data, errors, newPassword }: InputState): void {
  for (const f of c.fields) {
    if (errors[f.name]) continue;
    if (kindOf(f).write === 'secret') {
      if (newPassword !== undefined) {
        const err = kindOf(f).validate(f, newPassword);
        if (err) errors[f.name] = err;
      } else if (!isAuth && 'required' in f && f.required && data[f.name] === '') {
        // an auth record's is checked above; elsewhere (`_otps`) a required password is one given or kept
        errors[f.name] = fieldError('validation_required', 'Cannot be blank.');
      }
      continue;
    }
    if (f.name === 'tokenKey' && isAuth) continue;
    const err = kindOf(f).validate(f, data[f.name]);
    if (err) errors[f.name] = err;
  }
}

/** One field's new value after a plain set or a modifier; undefined when nothing changes. */
function applyField(field: Field, currentValue: unknown, raw: unknown, mod: Modifier, source: ValueSource): unknown {
  const kind = kindOf(field);
  if (!mod) return kind.prepare(field, raw, source);
  switch (kind.modifiers) {
    case 'add':
      return addTo(field, currentValue, raw, mod, source);
    case 'list':
      return applyToList(field, currentValue, raw, mod, source);
    case 'files':
    case null:
      // file modifiers are applied with the uploads (files.ts); a field without modifiers ignores them
      return undefined;
  }
}

/** `n+` adds to a number, `n-` subtracts; `+n` means nothing. */
function addTo(field: Field, currentValue: unknown, raw: unknown, mod: Modifier, source: ValueSource): unknown {
  if (mod === 'prepend') return undefined;
  const delta = kindOf(field).prepare(field, raw, source);
  if (delta instanceof Invalid) return delta;
  const next = (currentValue as number) + (mod === 'append' ? 1 : -1) * (delta as number);
  return Number.isFinite(next) ? next : new Invalid(fieldError('validation_not_a_number', 'The result is not a finite number.'));
}

/** `f+` appends items not yet there, `+f` prepends them, `f-` removes them; a single-valued field keeps the last. */
function applyToList(field: Field, currentValue: unknown, raw: unknown, mod: Modifier, source: ValueSource): unknown {
  // the submitted items read as a list, whatever the field's maxSelect
  const multi = { ...field, maxSelect: Math.max(2, (field as { maxSelect: number }).maxSelect) } as Field;
  const values = kindOf(field).prepare(multi, raw, source);
  if (values instanceof Invalid) return values;
  const existing = asList(currentValue);
  const list = values as string[];
  let next: string[];
  if (mod === 'append') next = [...existing, ...list.filter((v) => !existing.includes(v))];
  else if (mod === 'prepend') next = [...list.filter((v) => !existing.includes(v)), ...existing];
  else next = existing.filter((v) => !list.includes(v));
  return isMultiple(field) ? next : (next[next.length - 1] ?? '');
}

/**
 * The fields a record hook changed before its `next()`, converted and
 * validated as if a superuser had sent them (PocketBase validates a record
 * on save, after its create and update hooks ran): a hook that puts a
 * string in a number field, or a value past a field's bounds, fails the
 * write with the field named instead of storing it. System fields the
 * write manages are left as the hook set them: passwords (hashed before
 * the hooks), the token key, autodates and file names (whose uploads are
 * placed by the write).
 */
export function checkHookValues(
  c: Collection,
  before: RecordData,
  after: RecordData,
  isNew: boolean,
): { data: RecordData; errors: ErrorData } {
  const errors: ErrorData = {};
  const data = { ...after };
  for (const f of c.fields) {
    const value = after[f.name];
    const kind = kindOf(f);
    if (kind.write !== 'value' || (c.type === 'auth' && f.name === 'tokenKey') || isDeepStrictEqual(value, before[f.name])) continue;
    if (f.name === 'id' && !isNew) {
      errors.id = fieldError('validation_pk_change', 'The record primary key cannot be changed.');
      continue;
    }
    const prepared = value === undefined || value === null ? kind.empty(f) : kind.prepare(f, value, 'json');
    if (prepared instanceof Invalid) {
      errors[f.name] = prepared.error;
      continue;
    }
    const err = kind.validate(f, prepared);
    if (err) errors[f.name] = err;
    else data[f.name] = prepared;
  }
  return { data: data as RecordData, errors };
}
