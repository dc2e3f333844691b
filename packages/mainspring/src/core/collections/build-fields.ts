import { type ErrorData, fieldError } from '../errors.js';
import { isPassword, isPrimaryKey, isRelation } from '../fields/index.js';
import { buildField, defaultFieldId, idField } from './fields.js';
import { type Collection, type Field, RESERVED_AUTH_FIELD_NAMES } from './model.js';
import type { CollectionRegistry } from './registry.js';

/**
 * A collection's fields from submitted JSON: each field read by its type
 * (`buildField`, fields.ts), the system fields put in and first, then the
 * checks across the whole list and against the collection's saved fields.
 */

/** The fields every auth collection has, in PocketBase's order and with its options. */
function authSystemFields(): Field[] {
  const base = { system: true, hidden: false, presentable: false };
  return [
    {
      ...base,
      id: defaultFieldId('password', 'password'),
      name: 'password',
      type: 'password',
      hidden: true,
      required: true,
      min: 8,
      max: 0,
      pattern: '',
      cost: 0,
    },
    {
      ...base,
      id: defaultFieldId('text', 'tokenKey'),
      name: 'tokenKey',
      type: 'text',
      hidden: true,
      required: true,
      min: 30,
      max: 60,
      pattern: '',
      autogeneratePattern: '[a-zA-Z0-9]{50}',
      primaryKey: false,
    },
    { ...base, id: defaultFieldId('email', 'email'), name: 'email', type: 'email', required: true, exceptDomains: null, onlyDomains: null },
    { ...base, id: defaultFieldId('bool', 'emailVisibility'), name: 'emailVisibility', type: 'bool', required: false },
    { ...base, id: defaultFieldId('bool', 'verified'), name: 'verified', type: 'bool', required: false },
  ];
}

function autodate(name: 'created' | 'updated', system: boolean): Field {
  return {
    id: defaultFieldId('autodate', name),
    name,
    type: 'autodate',
    system,
    hidden: false,
    presentable: false,
    onCreate: true,
    onUpdate: name === 'updated',
  };
}

/** Options a user may tune on system fields, as in PocketBase; the rest are fixed. */
const TUNABLE: Record<string, string[]> = {
  password: ['presentable', 'min', 'max', 'pattern', 'cost'],
  email: ['presentable', 'onlyDomains', 'exceptDomains'],
  emailVisibility: ['presentable'],
  verified: ['presentable'],
};

/** `sys` with the tunable options taken from what the user submitted. */
function withTunable(submitted: Field, sys: Field): Field {
  const out: Record<string, unknown> = { ...sys };
  for (const key of TUNABLE[sys.name] ?? []) {
    if (key in submitted) out[key] = (submitted as unknown as Record<string, unknown>)[key];
  }
  return out as unknown as Field;
}

/**
 * The fields of a collection being built: the submitted list (or the
 * current fields when none is sent) with the system fields enforced, each
 * error set under `errors.fields`. `system` allows a password field on a
 * base collection (a system one).
 */
export function buildFields(
  registry: CollectionRegistry,
  input: Record<string, unknown>,
  current: Collection | undefined,
  isAuth: boolean,
  system: boolean,
  errors: ErrorData,
): Field[] {
  let fields: Field[] = current ? structuredClone(current.fields) : [];
  if (input.fields !== undefined) {
    const submitted = readFieldList(input.fields, isAuth, errors);
    if (!submitted) return fields;
    fields = submitted;
  }
  const ordered = withSystemFields(fields, current === undefined, isAuth, errors);
  if (!ordered) return fields;
  fields = ordered;
  checkFieldList(fields, isAuth, system, errors);
  if (current) checkFieldChanges(registry, current, fields, errors);
  if (fields.filter((f) => isPassword(f)).length > 1) {
    errors.fields = fieldError('validation_invalid_value', 'A collection has at most one password field.');
  }
  return fields;
}

/**
 * The submitted fields, each read and checked by its type (the per-type
 * rules live in fields.ts); null, with `errors.fields` set per position,
 * when any is wrong.
 */
function readFieldList(raw: unknown, isAuth: boolean, errors: ErrorData): Field[] | null {
  if (!Array.isArray(raw) || raw.length > 1000) {
    errors.fields = fieldError('validation_invalid_value', 'Must be a list of at most 1000 fields.');
    return null;
  }
  const fieldErrors: ErrorData = {};
  const built: Field[] = [];
  raw.forEach((item, i) => {
    const e: ErrorData = {};
    const f = buildField(item, e);
    // keys of an auth record's write body (PocketBase's check, on auth collections only)
    if (f && isAuth && RESERVED_AUTH_FIELD_NAMES.has(f.name) && !e.name) {
      e.name = fieldError('validation_reserved_field_name', 'The field name is reserved and cannot be used.');
    }
    if (Object.keys(e).length > 0) fieldErrors[i] = e;
    else if (f) built.push(f);
  });
  if (Object.keys(fieldErrors).length > 0) {
    errors.fields = fieldErrors;
    return null;
  }
  return built;
}

/**
 * The fields in their order with the system ones enforced: the id field
 * leads, an auth collection's fields follow with their fixed options over
 * what was submitted, and a new collection gets created/updated unless
 * fields of those names are given. Null, with the error set, when a system
 * field was submitted with another type (`fields` is then left as far as it got).
 */
function withSystemFields(fields: Field[], isNew: boolean, isAuth: boolean, errors: ErrorData): Field[] | null {
  const byName = (n: string) => fields.find((f) => f.name === n);
  const required: Field[] = [idField()];
  if (isAuth) required.push(...authSystemFields());
  for (const sys of required) {
    const existing = byName(sys.name);
    if (!existing) fields.push(sys);
    else if (existing.type !== sys.type) {
      errors.fields = fieldError('validation_system_field_change', `The "${sys.name}" field must be of type ${sys.type}.`);
      return null;
    } else {
      // system options win over what was submitted
      fields[fields.indexOf(existing)] = withTunable(existing, sys);
    }
  }
  if (isNew) {
    for (const n of ['created', 'updated'] as const) if (!byName(n)) fields.push(autodate(n, false));
  }
  // id first, then the auth system fields, then the rest as given
  const leading = required.map((r) => fields.find((f) => f.name === r.name) as Field);
  return [...leading, ...fields.filter((f) => !leading.includes(f))];
}

/** Names and ids unique; no primary key but id; a password field only where it belongs. */
function checkFieldList(fields: Field[], isAuth: boolean, system: boolean, errors: ErrorData): void {
  const names = new Set<string>();
  const ids = new Set<string>();
  for (const [i, f] of fields.entries()) {
    const lower = f.name.toLowerCase();
    if (names.has(lower))
      errors.fields = { [i]: { name: fieldError('validation_duplicated_field_name', `Duplicated field name "${f.name}".`) } };
    if (ids.has(f.id)) errors.fields = { [i]: { id: fieldError('validation_duplicated_field_id', `Duplicated field id "${f.id}".`) } };
    if (isPrimaryKey(f) && f.name !== 'id') {
      errors.fields = { [i]: { primaryKey: fieldError('validation_invalid_value', 'Only the id field is the primary key.') } };
    }
    // a system collection may have one (PocketBase's `_otps` keeps its codes hashed in one)
    if (isPassword(f) && !isAuth && !system) {
      errors.fields = { [i]: { type: fieldError('validation_invalid_value', 'Password fields belong to auth collections.') } };
    }
    names.add(lower);
    ids.add(f.id);
  }
}

/** What may not change between the saved fields and the new ones: system fields, a field's type, a relation's collection. */
function checkFieldChanges(registry: CollectionRegistry, current: Collection, fields: Field[], errors: ErrorData): void {
  for (const old of current.fields) {
    const i = fields.findIndex((f) => f.id === old.id);
    const now = fields[i];
    if (old.system && (!now || now.name !== old.name)) {
      errors.fields = fieldError('validation_system_field_change', `System field "${old.name}" cannot be deleted or renamed.`);
    }
    if (now && now.type !== old.type) {
      errors.fields = {
        [i]: { type: fieldError('validation_field_type_change', `The type of field "${old.name}" cannot be changed.`) },
      };
    }
    if (isRelation(now) && isRelation(old) && now.collectionId !== old.collectionId) {
      const target = registry.find(now.collectionId);
      if (target?.id !== old.collectionId) {
        errors.fields = {
          [i]: {
            collectionId: fieldError('validation_field_relation_change', 'The related collection of a relation field cannot be changed.'),
          },
        };
      }
    }
  }
}
