import type { Collection, Field } from '../../core/collections/model.js';
import { isMultiple } from '../../core/collections/model.js';
import { EXTERNAL_AUTHS, isAuthRefCollection } from '../../core/collections/system.js';
import { isFile, isPrimaryKey, kindOf, REFERS } from '../../core/fields/index.js';
import { type Audience, type Json, type SchemaContext, STRING_LIST, string } from './parts.js';

/** A collection's record schemas: as answered, as created and updated in JSON, and as multipart. */

/** The schema of one stored value of a field, as the API answers it. */
const valueSchema = (f: Field, ctx: SchemaContext): Json => kindOf(f).openApi.value(f, ctx);

/** The fields of the auth flows' system collections that name an auth collection or record (checked by core/collections/system.ts). */
function authRefSchema(c: Collection, f: Field, ctx: SchemaContext): Json | undefined {
  if (!isAuthRefCollection(c)) return undefined;
  if (f.name === 'collectionRef') {
    return { ...string, description: 'The id of an auth collection.', examples: [ctx.superusersId], [REFERS]: 'authCollection' };
  }
  if (f.name === 'recordRef') {
    return { ...string, description: 'The id of a record of the auth collection `collectionRef` names.', [REFERS]: 'authRecord' };
  }
  if (c.name === EXTERNAL_AUTHS && f.name === 'provider') {
    return { ...string, description: "One of PocketBase's OAuth2 provider names (`google`, `github`, `apple`…).", examples: ['google'] };
  }
  return undefined;
}

/** What a field accepts in a JSON body: its value, with the limits checked on write and an example that passes them. */
function inputSchema(c: Collection, f: Field, ctx: SchemaContext): Json {
  return authRefSchema(c, f, ctx) ?? kindOf(f).openApi.input(f, ctx);
}

/** The fields a caller of this audience gets back. */
function outputFields(c: Collection, audience: Audience): Field[] {
  return c.fields.filter(
    (f) => kindOf(f).output !== 'never' && !(c.type === 'auth' && f.name === 'tokenKey') && (audience === 'superuser' || !f.hidden),
  );
}

/** The fields a caller may write (autodate and the auth record's token key are the system's). */
function inputFields(c: Collection, audience: Audience): Field[] {
  return c.fields.filter(
    (f) =>
      kindOf(f).write !== 'system' &&
      !(c.type === 'auth' && f.name === 'tokenKey') &&
      (audience === 'superuser' || !f.hidden || kindOf(f).write === 'secret'),
  );
}

export function recordSchema(c: Collection, audience: Audience, ctx: SchemaContext): Json {
  const properties: Json = {
    collectionId: { type: 'string', const: c.id },
    collectionName: { type: 'string', const: c.name },
  };
  const required = ['collectionId', 'collectionName'];
  for (const f of outputFields(c, audience)) {
    properties[f.name] = valueSchema(f, ctx);
    // an auth record's email is left out when it is not the caller's to see
    if (!(c.type === 'auth' && f.name === 'email')) required.push(f.name);
  }
  properties.expand = {
    type: 'object',
    description: 'The related records asked for with `expand`, by relation field (or `{collection}_via_{field}`).',
    additionalProperties: true,
  };
  return { type: 'object', title: `${c.name} record`, properties, required };
}

/** Modifiers a field takes in updates: `n+`/`n-` for numbers, `f+`/`+f`/`f-` for multiple values, `f-` for files. */
function modifiers(f: Field): Json {
  const either = { oneOf: [string, STRING_LIST] };
  switch (kindOf(f).modifiers) {
    case 'add':
      return { [`${f.name}+`]: { type: 'number' }, [`${f.name}-`]: { type: 'number' } };
    case 'list':
      return isMultiple(f) ? { [`${f.name}+`]: either, [`+${f.name}`]: either, [`${f.name}-`]: either } : {};
    case 'files':
      return { [`${f.name}-`]: either };
    case null:
      return {};
  }
}

export function writeSchema(c: Collection, audience: Audience, mode: 'create' | 'update', ctx: SchemaContext): Json {
  const properties: Json = {};
  const required: string[] = [];
  for (const f of inputFields(c, audience)) {
    // a record's id is given at its creation or never
    if (mode === 'update' && isPrimaryKey(f)) continue;
    properties[f.name] = inputSchema(c, f, ctx);
    if (mode === 'create' && kindOf(f).mustSend(f)) required.push(f.name);
    if (mode === 'update') Object.assign(properties, modifiers(f));
  }
  if (c.type === 'auth') {
    properties.passwordConfirm = { type: 'string', description: 'Must equal `password`.', examples: ['password-123'] };
    if (mode === 'create') required.push('passwordConfirm');
    else
      properties.oldPassword = {
        type: 'string',
        description: "The current password, when a user changes their own (superusers and managers don't need it).",
      };
  }
  return { type: 'object', title: `${c.name} ${mode}`, properties, ...(required.length > 0 ? { required } : {}) };
}

/** A multipart body: the JSON fields as parts (or `@jsonPayload`) and file fields as file parts. */
export function multipartSchema(c: Collection, audience: Audience, mode: 'create' | 'update'): Json {
  const properties: Json = {
    '@jsonPayload': { type: 'string', contentMediaType: 'application/json', description: 'Every non-file value as one JSON object.' },
  };
  for (const f of inputFields(c, audience)) {
    if (mode === 'update' && isPrimaryKey(f)) continue;
    if (isFile(f)) {
      const file = { type: 'string', contentMediaType: 'application/octet-stream' };
      properties[f.name] = isMultiple(f) ? { type: 'array', items: file, maxItems: f.maxSelect } : file;
      if (mode === 'update' && isMultiple(f)) properties[`${f.name}+`] = { type: 'array', items: file };
    } else properties[f.name] = { type: 'string', description: `${f.type} value as text` };
  }
  return { type: 'object', properties };
}
