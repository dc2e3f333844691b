import type { SchemaContext as FieldSchemaContext, JsonSchema } from '../../core/fields/index.js';

/** The pieces every part of the OpenAPI document is made of: references, bodies, parameters, security. */

/** A JSON Schema (OpenAPI 3.1's dialect) or any OpenAPI object: plain JSON. */
export type Json = JsonSchema;

/** Who the document is for: superusers see every collection and hidden field; others what they could reach. */
export type Audience = 'superuser' | 'public';

/** What the schemas of a document need to know beyond one field: the names of the collections it shows. */
export interface SchemaContext extends FieldSchemaContext {
  /** The `_superusers` collection's id: an auth collection every app has. */
  superusersId: string;
}

export const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
export const responseRef = (name: string): Json => ({ $ref: `#/components/responses/${name}` });
export const json = (schema: Json, description: string): Json => ({ description, content: { 'application/json': { schema } } });
export const jsonBody = (schema: Json, required = true): Json => ({ required, content: { 'application/json': { schema } } });
export const noContent: Json = { description: 'Done; no body.' };
export const string: Json = { type: 'string' };
export const STRING_LIST: Json = { type: 'array', items: string };
export const errorResponse = (description: string): Json => json(ref('Error'), description);

export const LIST_PARAMETERS: Json[] = [
  { name: 'page', in: 'query', schema: { type: 'integer', minimum: 1, default: 1 }, description: 'The page, from 1.' },
  { name: 'perPage', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 30 }, description: 'Records per page.' },
  { name: 'sort', in: 'query', schema: string, description: 'Fields to sort by: `-created,title`; `@random`.', example: '-created' },
  { name: 'filter', in: 'query', schema: string, description: 'A filter expression: `title ~ "hello" && created > "2024-01-01"`.' },
  { name: 'skipTotal', in: 'query', schema: { type: 'boolean' }, description: 'Skip counting: `totalItems` and `totalPages` are -1.' },
];
export const EXPAND: Json = {
  name: 'expand',
  in: 'query',
  schema: string,
  description: 'Relations to expand: `author,comments_via_post.user`.',
};
export const FIELDS: Json = {
  name: 'fields',
  in: 'query',
  schema: string,
  description: 'Fields to return: `id,title,expand.author.name`; `*` for all.',
};
/** A sign-in's `fields` picks from the whole answer, as PocketBase's. */
export const AUTH_FIELDS: Json = {
  name: 'fields',
  in: 'query',
  schema: string,
  description: 'Keys of the answer to return: `token,record.id,record.email`; `*` for all.',
};
export const idParameter = (what: string): Json => ({
  name: 'id',
  in: 'path',
  required: true,
  schema: string,
  description: `The ${what}'s id.`,
});

export const OPTIONAL_AUTH: Json[] = [{}, { authToken: [] }];
export const REQUIRED_AUTH: Json[] = [{ authToken: [] }];

/** What a rule means for a route, in its description. */
export function ruleText(name: string, rule: string | null): string {
  if (rule === null) return `\`${name}\`: superusers only.`;
  if (rule === '') return `\`${name}\`: anyone.`;
  return `\`${name}\`: \`${rule}\` (records it does not admit are left out, or a 404).`;
}

export const IDEMPOTENCY_KEY: Json = {
  name: 'Idempotency-Key',
  in: 'header',
  schema: { type: 'string', minLength: 1, maxLength: 255 },
  description: 'A retry with the same key gets the first answer again (`Idempotent-Replayed: true`) instead of writing twice.',
};
