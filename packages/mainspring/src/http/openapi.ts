import type { Collection } from '../core/collections/model.js';
import { typeNames } from '../core/collections/typegen.js';
import { REFERS } from '../core/fields/index.js';
import { aggregatePaths, aggregateSchemas } from './openapi/aggregate-paths.js';
import { authPaths } from './openapi/auth-paths.js';
import { csvPaths, msSchemas, sqlConsolePaths } from './openapi/ms-paths.js';
import { type Audience, errorResponse, type Json, ref, type SchemaContext, STRING_LIST, string } from './openapi/parts.js';
import { passkeyPaths } from './openapi/passkey-paths.js';
import { recordPaths } from './openapi/record-paths.js';
import { recordSchema, writeSchema } from './openapi/record-schemas.js';
import { sharedPaths } from './openapi/shared-paths.js';

/**
 * The OpenAPI 3.1 document of an app's live schema: every collection's
 * record routes with request and response schemas by field type, the auth
 * routes of auth collections, files, batch, realtime, health and
 * Mainspring's sessions. It describes what Mainspring answers (the tests pin
 * those answers), PocketBase's dialect first. The Postman export is built
 * from this document, so the two never disagree.
 */

export type { Audience, Json };
export { REFERS };

export interface OpenApiOptions {
  audience: Audience;
  /** The API's title (the app's name). */
  title?: string;
  /** Where the API is served; relative (`/backend`) or absolute. Default: the origin the document is fetched from. */
  serverUrl?: string;
  version?: string;
}

/** The schemas every document has: the error shape and auth-methods' answer (new objects each time: a document is the caller's to change). */
const baseSchemas = (): Json => ({
  Error: {
    type: 'object',
    description: "PocketBase's error shape; `data` maps fields to `{code, message}`.",
    properties: {
      status: { type: 'integer' },
      message: string,
      data: { type: 'object', additionalProperties: { type: 'object', properties: { code: string, message: string } } },
    },
    required: ['status', 'message', 'data'],
  },
  AuthMethods: {
    type: 'object',
    properties: {
      password: { type: 'object', properties: { enabled: { type: 'boolean' }, identityFields: STRING_LIST } },
      oauth2: { type: 'object', properties: { enabled: { type: 'boolean' }, providers: { type: 'array', items: {} } } },
      mfa: { type: 'object', properties: { enabled: { type: 'boolean' }, duration: { type: 'integer' } } },
      otp: { type: 'object', properties: { enabled: { type: 'boolean' }, duration: { type: 'integer' } } },
      passkeys: {
        type: 'object',
        properties: { enabled: { type: 'boolean' } },
        description: "Mainspring's; present only where enabled.",
      },
    },
    required: ['password', 'oauth2', 'mfa', 'otp'],
  },
});

/** A collection's schemas: its record as answered, its create and update bodies, its list page, its sign-in's answer. */
function collectionSchemas(c: Collection, name: string, audience: Audience, ctx: SchemaContext): Json {
  const schemas: Json = {};
  schemas[`${name}Record`] = recordSchema(c, audience, ctx);
  if (c.type !== 'view') {
    schemas[`${name}Create`] = writeSchema(c, audience, 'create', ctx);
    schemas[`${name}Update`] = writeSchema(c, audience, 'update', ctx);
  }
  schemas[`${name}List`] = {
    type: 'object',
    properties: {
      page: { type: 'integer' },
      perPage: { type: 'integer' },
      totalItems: { type: 'integer', description: '-1 with skipTotal.' },
      totalPages: { type: 'integer', description: '-1 with skipTotal.' },
      items: { type: 'array', items: ref(`${name}Record`) },
    },
    required: ['page', 'perPage', 'totalItems', 'totalPages', 'items'],
  };
  if (c.type === 'auth') {
    schemas[`${name}AuthResponse`] = {
      type: 'object',
      properties: { token: string, record: ref(`${name}Record`), meta: { type: 'object', additionalProperties: true } },
      required: ['token', 'record'],
    };
  }
  return schemas;
}

/** The document for the collections given, as `audience` may see them. */
export function openApiDocument(collections: readonly Collection[], options: OpenApiOptions): Json {
  // the schemas take the names typegen gives the types: PostsRecord, PostsCreate…
  const names = typeNames(collections);
  const schemas: Json = { ...baseSchemas(), ...aggregateSchemas() };
  let paths: Json = {};
  const tags: Json[] = [];
  const visible = collections.filter(
    (c) =>
      options.audience === 'superuser' ||
      c.type === 'auth' ||
      [c.listRule, c.viewRule, c.createRule, c.updateRule, c.deleteRule].some((rule) => rule !== null),
  );
  const shownNames = new Map(visible.map((c) => [c.id, c.name]));
  const ctx: SchemaContext = {
    shown: (id) => shownNames.get(id),
    superusersId: collections.find((c) => c.name === '_superusers')?.id ?? '',
  };
  for (const c of visible) {
    const name = names.get(c.id) as string;
    Object.assign(schemas, collectionSchemas(c, name, options.audience, ctx));
    const kind = { auth: 'Auth', base: 'Base', view: 'View (read-only)' }[c.type];
    tags.push({ name: c.name, description: `${kind} collection \`${c.name}\` (id \`${c.id}\`).` });
    paths = {
      ...paths,
      ...recordPaths(c, name, options.audience),
      ...aggregatePaths(c, name, options.audience),
      ...csvPaths(c, options.audience),
    };
    if (c.type === 'auth') {
      paths = { ...paths, ...authPaths(c, name), ...passkeyPaths(c, name) };
    }
  }
  paths = { ...paths, ...sharedPaths(), ...(options.audience === 'superuser' ? sqlConsolePaths() : {}) };
  Object.assign(schemas, msSchemas());
  tags.push(
    { name: 'system', description: 'Batch, realtime, files and health.' },
    { name: 'sessions', description: "Mainspring's rotating refresh tokens." },
  );
  return {
    openapi: '3.1.0',
    info: {
      title: options.title ?? 'Mainspring',
      version: options.version ?? '0.1.0',
      description:
        'The REST API of this app, generated from its live schema. PocketBase-compatible: the `pocketbase` SDKs work unchanged. Tokens go in the `Authorization` header, with or without `Bearer `.',
    },
    servers: [{ url: options.serverUrl ?? '/' }],
    tags,
    paths,
    components: {
      schemas,
      responses: {
        BadRequest: errorResponse('Invalid input: `data` names the fields.'),
        Unauthorized: errorResponse('No valid token.'),
        Forbidden: errorResponse('Not allowed.'),
        NotFound: errorResponse('Not found (also a record the rule hides).'),
        TooManyRequests: errorResponse('Rate limited; see `Retry-After`.'),
      },
      securitySchemes: {
        authToken: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'A token from a sign-in (`token` in its answer).' },
      },
    },
  };
}
