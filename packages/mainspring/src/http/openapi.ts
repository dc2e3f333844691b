import type { Collection, Field } from '../core/collections/model.js';
import { isMultiple } from '../core/collections/model.js';
import { EXTERNAL_AUTHS, isAuthRefCollection } from '../core/collections/system.js';
import { typeNames } from '../core/collections/typegen.js';
import { type SchemaContext as FieldSchemaContext, isFile, isPrimaryKey, type JsonSchema, kindOf, REFERS } from '../core/fields/index.js';
import { passkeyPaths } from './openapi-passkeys.js';

/**
 * The OpenAPI 3.1 document of an app's live schema: every collection's
 * record routes with request and response schemas by field type, the auth
 * routes of auth collections, files, batch, realtime, health and
 * Mainspring's sessions. It describes what Mainspring answers (the tests pin
 * those answers), PocketBase's dialect first. The Postman export is built
 * from this document, so the two never disagree.
 */

/** A JSON Schema (OpenAPI 3.1's dialect) or any OpenAPI object: plain JSON. */
export type Json = JsonSchema;

export { REFERS };

/** Who the document is for: superusers see every collection and hidden field; others what they could reach. */
export type Audience = 'superuser' | 'public';

export interface OpenApiOptions {
  audience: Audience;
  /** The API's title (the app's name). */
  title?: string;
  /** Where the API is served; relative (`/backend`) or absolute. Default: the origin the document is fetched from. */
  serverUrl?: string;
  version?: string;
}

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const responseRef = (name: string): Json => ({ $ref: `#/components/responses/${name}` });
const json = (schema: Json, description: string): Json => ({ description, content: { 'application/json': { schema } } });
const jsonBody = (schema: Json, required = true): Json => ({ required, content: { 'application/json': { schema } } });
const noContent: Json = { description: 'Done; no body.' };
const string: Json = { type: 'string' };
const STRING_LIST: Json = { type: 'array', items: string };

/** What the schemas of a document need to know beyond one field: the names of the collections it shows. */
interface SchemaContext extends FieldSchemaContext {
  /** The `_superusers` collection's id: an auth collection every app has. */
  superusersId: string;
}

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

function recordSchema(c: Collection, audience: Audience, ctx: SchemaContext): Json {
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

function writeSchema(c: Collection, audience: Audience, mode: 'create' | 'update', ctx: SchemaContext): Json {
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
function multipartSchema(c: Collection, audience: Audience, mode: 'create' | 'update'): Json {
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

const LIST_PARAMETERS: Json[] = [
  { name: 'page', in: 'query', schema: { type: 'integer', minimum: 1, default: 1 }, description: 'The page, from 1.' },
  { name: 'perPage', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 30 }, description: 'Records per page.' },
  { name: 'sort', in: 'query', schema: string, description: 'Fields to sort by: `-created,title`; `@random`.', example: '-created' },
  { name: 'filter', in: 'query', schema: string, description: 'A filter expression: `title ~ "hello" && created > "2024-01-01"`.' },
  { name: 'skipTotal', in: 'query', schema: { type: 'boolean' }, description: 'Skip counting: `totalItems` and `totalPages` are -1.' },
];
const EXPAND: Json = { name: 'expand', in: 'query', schema: string, description: 'Relations to expand: `author,comments_via_post.user`.' };
const FIELDS: Json = {
  name: 'fields',
  in: 'query',
  schema: string,
  description: 'Fields to return: `id,title,expand.author.name`; `*` for all.',
};
/** A sign-in's `fields` picks from the whole answer, as PocketBase's. */
const AUTH_FIELDS: Json = {
  name: 'fields',
  in: 'query',
  schema: string,
  description: 'Keys of the answer to return: `token,record.id,record.email`; `*` for all.',
};
const idParameter = (what: string): Json => ({ name: 'id', in: 'path', required: true, schema: string, description: `The ${what}'s id.` });

const OPTIONAL_AUTH: Json[] = [{}, { authToken: [] }];
const REQUIRED_AUTH: Json[] = [{ authToken: [] }];

/** The record routes of a collection: those whose rule lets someone other than a superuser in, or all for superusers. */
function recordPaths(c: Collection, name: string, audience: Audience): Json {
  const paths: Json = {};
  const base = `/api/collections/${encodeURIComponent(c.name)}/records`;
  const tags = [c.name];
  const su = audience === 'superuser';
  const allowed = (rule: string | null) => su || rule !== null;
  // a view's records are read only
  const writable = (rule: string | null) => c.type !== 'view' && allowed(rule);
  const hasFiles = c.fields.some(isFile);
  const writeBody = (mode: 'create' | 'update') => ({
    required: mode === 'create',
    content: {
      'application/json': { schema: ref(`${name}${mode === 'create' ? 'Create' : 'Update'}`) },
      ...(hasFiles || c.type === 'auth' ? { 'multipart/form-data': { schema: multipartSchema(c, audience, mode) } } : {}),
    },
  });
  const collectionPath: Json = {};
  if (allowed(c.listRule)) {
    collectionPath.get = {
      operationId: `list${name}`,
      summary: `List ${c.name} records`,
      description: ruleText('listRule', c.listRule),
      tags,
      security: OPTIONAL_AUTH,
      parameters: [...LIST_PARAMETERS, EXPAND, FIELDS],
      responses: {
        200: json(ref(`${name}List`), 'A page of records.'),
        400: responseRef('BadRequest'),
        403: responseRef('Forbidden'),
      },
    };
  }
  if (writable(c.createRule)) {
    collectionPath.post = {
      operationId: `create${name}`,
      summary: `Create a ${c.name} record`,
      description: ruleText('createRule', c.createRule),
      tags,
      security: OPTIONAL_AUTH,
      parameters: [EXPAND, FIELDS, IDEMPOTENCY_KEY],
      requestBody: writeBody('create'),
      responses: {
        200: json(ref(`${name}Record`), 'The record created.'),
        400: responseRef('BadRequest'),
        403: responseRef('Forbidden'),
      },
    };
  }
  if (Object.keys(collectionPath).length > 0) paths[base] = collectionPath;

  const recordPath: Json = {};
  if (allowed(c.viewRule)) {
    recordPath.get = {
      operationId: `get${name}`,
      summary: `View a ${c.name} record`,
      description: ruleText('viewRule', c.viewRule),
      tags,
      security: OPTIONAL_AUTH,
      parameters: [idParameter('record'), EXPAND, FIELDS],
      responses: { 200: json(ref(`${name}Record`), 'The record.'), 403: responseRef('Forbidden'), 404: responseRef('NotFound') },
    };
  }
  if (writable(c.updateRule)) {
    recordPath.patch = {
      operationId: `update${name}`,
      summary: `Update a ${c.name} record`,
      description: ruleText('updateRule', c.updateRule),
      tags,
      security: OPTIONAL_AUTH,
      parameters: [idParameter('record'), EXPAND, FIELDS, IDEMPOTENCY_KEY],
      requestBody: writeBody('update'),
      responses: {
        200: json(ref(`${name}Record`), 'The record as updated.'),
        400: responseRef('BadRequest'),
        403: responseRef('Forbidden'),
        404: responseRef('NotFound'),
      },
    };
  }
  if (writable(c.deleteRule)) {
    recordPath.delete = {
      operationId: `delete${name}`,
      summary: `Delete a ${c.name} record`,
      description: ruleText('deleteRule', c.deleteRule),
      tags,
      security: OPTIONAL_AUTH,
      parameters: [idParameter('record'), IDEMPOTENCY_KEY],
      responses: { 204: noContent, 400: responseRef('BadRequest'), 403: responseRef('Forbidden'), 404: responseRef('NotFound') },
    };
  }
  if (Object.keys(recordPath).length > 0) paths[`${base}/{id}`] = recordPath;
  return paths;
}

function ruleText(name: string, rule: string | null): string {
  if (rule === null) return `\`${name}\`: superusers only.`;
  if (rule === '') return `\`${name}\`: anyone.`;
  return `\`${name}\`: \`${rule}\` (records it does not admit are left out, or a 404).`;
}

const IDEMPOTENCY_KEY: Json = {
  name: 'Idempotency-Key',
  in: 'header',
  schema: { type: 'string', minLength: 1, maxLength: 255 },
  description: 'A retry with the same key gets the first answer again (`Idempotent-Replayed: true`) instead of writing twice.',
};

function authPaths(c: Collection, name: string): Json {
  const base = `/api/collections/${encodeURIComponent(c.name)}`;
  const tags = [c.name];
  const signedIn = json(ref(`${name}AuthResponse`), 'Signed in: a token and the record.');
  const post = (id: string, summary: string, body: Json | null, responses: Json, security = OPTIONAL_AUTH, parameters: Json[] = []) => ({
    post: {
      operationId: `${id}${name}`,
      summary,
      tags,
      security,
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(body ? { requestBody: jsonBody(body) } : {}),
      responses,
    },
  });
  const obj = (properties: Json, required: string[]): Json => ({ type: 'object', properties, required });
  const accepted = { 204: noContent, 400: responseRef('BadRequest'), 429: responseRef('TooManyRequests') };
  const routes: Json = {
    [`${base}/auth-methods`]: {
      get: {
        operationId: `authMethods${name}`,
        summary: `How ${c.name} can sign in`,
        tags,
        security: OPTIONAL_AUTH,
        responses: { 200: json(ref('AuthMethods'), 'The enabled sign-in methods.'), 404: responseRef('NotFound') },
      },
    },
    [`${base}/auth-with-password`]: post(
      'authWithPassword',
      `Sign in to ${c.name} with a password`,
      obj(
        {
          identity: { ...string, description: 'A value of one of the identity fields (email by default).' },
          password: string,
          identityField: {
            ...string,
            enum: [...(c.auth?.passwordAuth.identityFields ?? [])],
            description: 'Which identity field `identity` is.',
          },
        },
        ['identity', 'password'],
      ),
      {
        200: signedIn,
        400: responseRef('BadRequest'),
        401: json(ref('Error'), "MFA required: the answer's `mfaId` (beside the error) goes with the second sign-in."),
        429: responseRef('TooManyRequests'),
      },
      OPTIONAL_AUTH,
      [EXPAND, AUTH_FIELDS],
    ),
    [`${base}/auth-refresh`]: post(
      'authRefresh',
      `A fresh token for the signed-in ${c.name} record`,
      null,
      { 200: signedIn, 401: responseRef('Unauthorized'), 403: responseRef('Forbidden'), 404: responseRef('NotFound') },
      REQUIRED_AUTH,
      [EXPAND, AUTH_FIELDS],
    ),
    [`${base}/request-otp`]: post('requestOtp', 'Mail a one-time code', obj({ email: string }, ['email']), {
      200: json(obj({ otpId: string }, ['otpId']), 'The code was sent if the address is known (the answer is the same either way).'),
      400: responseRef('BadRequest'),
      429: responseRef('TooManyRequests'),
    }),
    [`${base}/auth-with-otp`]: post(
      'authWithOtp',
      'Sign in with a one-time code',
      obj({ otpId: string, password: { ...string, description: 'The code.' } }, ['otpId', 'password']),
      { 200: signedIn, 400: responseRef('BadRequest'), 429: responseRef('TooManyRequests') },
    ),
    [`${base}/auth-with-oauth2`]: post(
      'authWithOAuth2',
      'Sign in (or up) with an OAuth2 provider',
      obj(
        {
          provider: { ...string, description: 'A provider name of auth-methods.' },
          code: { ...string, description: 'The code the provider sent back.' },
          codeVerifier: { ...string, description: "The provider's codeVerifier from auth-methods (the signed sign-in ticket)." },
          redirectURL: {
            ...string,
            description:
              'The redirect URL given to the provider: this server’s /api/oauth2-redirect or one of settings oauth2.redirectURLs.',
          },
          state: { ...string, description: 'Optional: the state the provider sent back, checked against the ticket.' },
          createData: {
            type: 'object',
            description: 'Values of a new account (the create rule applies, with @request.context = "oauth2").',
          },
        },
        ['provider', 'code', 'codeVerifier', 'redirectURL'],
      ),
      {
        200: signedIn,
        400: responseRef('BadRequest'),
        401: json(ref('Error'), "MFA required: the answer's `mfaId` (beside the error) goes with the second sign-in."),
        403: responseRef('Forbidden'),
        429: responseRef('TooManyRequests'),
      },
      OPTIONAL_AUTH,
      [EXPAND, AUTH_FIELDS],
    ),
    [`${base}/request-verification`]: post('requestVerification', 'Mail a verification link', obj({ email: string }, ['email']), accepted),
    [`${base}/confirm-verification`]: post(
      'confirmVerification',
      'Verify with the mailed token',
      obj({ token: string }, ['token']),
      accepted,
    ),
    [`${base}/request-password-reset`]: post(
      'requestPasswordReset',
      'Mail a password reset link',
      obj({ email: string }, ['email']),
      accepted,
    ),
    [`${base}/confirm-password-reset`]: post(
      'confirmPasswordReset',
      'Set a new password with the mailed token',
      obj({ token: string, password: string, passwordConfirm: string }, ['token', 'password', 'passwordConfirm']),
      accepted,
    ),
    [`${base}/request-email-change`]: post(
      'requestEmailChange',
      'Mail a confirmation link to a new address',
      obj({ newEmail: string }, ['newEmail']),
      { ...accepted, 401: responseRef('Unauthorized'), 403: responseRef('Forbidden') },
      REQUIRED_AUTH,
    ),
    [`${base}/confirm-email-change`]: post(
      'confirmEmailChange',
      'Change the address with the mailed token and the password',
      obj({ token: string, password: string }, ['token', 'password']),
      accepted,
    ),
    [`${base}/impersonate/{id}`]: post(
      'impersonate',
      `A token of a ${c.name} record, for a superuser (not refreshable)`,
      obj({ duration: { type: 'integer', minimum: 0, description: 'Seconds; 0 for the collection default.' } }, []),
      {
        200: signedIn,
        400: responseRef('BadRequest'),
        401: responseRef('Unauthorized'),
        403: responseRef('Forbidden'),
        404: responseRef('NotFound'),
      },
      REQUIRED_AUTH,
      [idParameter('record')],
    ),
  };
  // a sign-in method the collection has switched off answers 400 or 403: the document, like auth-methods, leaves it out
  if (!c.auth?.passwordAuth.enabled) {
    for (const route of ['auth-with-password', 'request-password-reset', 'confirm-password-reset']) delete routes[`${base}/${route}`];
  }
  if (!c.auth?.otp.enabled) for (const route of ['request-otp', 'auth-with-otp']) delete routes[`${base}/${route}`];
  if (!c.auth?.oauth2.enabled) delete routes[`${base}/auth-with-oauth2`];
  return routes;
}

/** The paths that belong to no collection: health, batch, realtime, files, sessions. */
function sharedPaths(): Json {
  const tags = ['system'];
  return { ...healthPaths(tags), ...batchPaths(tags), ...realtimePaths(tags), ...filePaths(tags), ...sessionPaths() };
}

/** The shared paths: `/api/health`. */
function healthPaths(tags: string[]): Json {
  return {
    '/api/health': {
      get: {
        operationId: 'health',
        summary: 'Health check',
        description: '`data` is empty, except for a superuser (PocketBase).',
        tags,
        security: OPTIONAL_AUTH,
        responses: {
          200: json(
            {
              type: 'object',
              properties: {
                message: string,
                code: { type: 'integer' },
                data: {
                  type: 'object',
                  properties: {
                    canBackup: { type: 'boolean', description: 'Whether a backup may start now (false while a backup or restore runs).' },
                    realIP: { ...string, description: 'The client IP as the server reads it (trusted proxy headers applied).' },
                    possibleProxyHeader: { ...string, description: "The first proxy header the request carries, or ''." },
                  },
                },
              },
              required: ['message', 'code', 'data'],
            },
            'Healthy.',
          ),
        },
      },
    },
  };
}

/** The shared paths: `/api/batch`. */
function batchPaths(tags: string[]): Json {
  return {
    '/api/batch': {
      post: {
        operationId: 'batch',
        summary: 'Several record writes in one transaction',
        description:
          'Each request is a records route (`/api/collections/{c}/records[/{id}]`) with its method; all commit or none. Files go as multipart parts named `requests.N.field`.',
        tags,
        security: OPTIONAL_AUTH,
        requestBody: jsonBody({
          type: 'object',
          properties: {
            requests: {
              type: 'array',
              minItems: 1,
              items: {
                type: 'object',
                properties: {
                  method: { type: 'string', enum: ['POST', 'PATCH', 'PUT', 'DELETE'] },
                  url: { ...string, examples: ['/api/collections/posts/records'] },
                  body: { type: 'object', additionalProperties: true },
                  headers: { type: 'object', additionalProperties: string },
                },
                required: ['method', 'url'],
              },
            },
          },
          required: ['requests'],
        }),
        responses: {
          200: json(
            {
              type: 'array',
              items: { type: 'object', properties: { status: { type: 'integer' }, body: {} }, required: ['status', 'body'] },
            },
            "Every request's answer, in order.",
          ),
          400: responseRef('BadRequest'),
          403: responseRef('Forbidden'),
        },
      },
    },
  };
}

/** The shared paths: `/api/realtime`: the SSE stream and its subscriptions. */
function realtimePaths(tags: string[]): Json {
  const redirectPage = {
    200: {
      description:
        'A page telling the person whether the code went to a waiting client (no waiting client, no code, or the provider’s error: it did not).',
      content: { 'text/plain': { schema: { type: 'string' } } },
    },
  };
  const redirectQuery = ['state', 'code', 'error'].map((name) => ({ name, in: 'query', required: false, schema: { type: 'string' } }));
  return {
    '/api/oauth2-redirect': {
      get: {
        operationId: 'oauth2Redirect',
        summary: 'Where a provider sends the user back in the all-in-one OAuth2 flow',
        description: 'Sends `{state, code, error?}` once to the realtime client whose id is `state`, if it subscribed to `@oauth2`.',
        tags,
        parameters: redirectQuery,
        responses: redirectPage,
      },
      post: {
        operationId: 'oauth2RedirectFormPost',
        summary: 'The same, for `response_mode=form_post` (Apple)',
        tags,
        responses: redirectPage,
      },
    },
    '/api/realtime': {
      get: {
        operationId: 'realtimeConnect',
        summary: 'The realtime stream (Server-Sent Events)',
        description:
          'The first event is `PB_CONNECT` with `{"clientId": …}`; then one event per subscribed topic (`{collection}/*` or `{collection}/{id}`) carrying `{"action": "create"|"update"|"delete", "record": {…}}`, sent only when the rule admits the record for the subscriber.',
        tags,
        responses: {
          200: { description: 'An open event stream.', content: { 'text/event-stream': { schema: { type: 'string' } } } },
        },
      },
      post: {
        operationId: 'realtimeSubscribe',
        summary: "Set a realtime client's subscriptions",
        tags,
        security: OPTIONAL_AUTH,
        requestBody: jsonBody({
          type: 'object',
          properties: {
            clientId: string,
            subscriptions: {
              type: 'array',
              items: { ...string, description: '`posts/*`, `posts/RECORD_ID`, optionally `?options={"query":{"filter":…}}`.' },
            },
          },
          required: ['clientId'],
        }),
        responses: { 204: noContent, 400: responseRef('BadRequest'), 403: responseRef('Forbidden'), 404: responseRef('NotFound') },
      },
    },
  };
}

/** The shared paths: File tokens and downloads. */
function filePaths(tags: string[]): Json {
  return {
    '/api/files/token': {
      post: {
        operationId: 'fileToken',
        summary: 'A short-lived token for protected files',
        tags,
        security: REQUIRED_AUTH,
        responses: {
          200: json({ type: 'object', properties: { token: string }, required: ['token'] }, 'The token.'),
          401: responseRef('Unauthorized'),
        },
      },
    },
    '/api/files/{collection}/{recordId}/{filename}': {
      get: {
        operationId: 'fileDownload',
        summary: 'A file of a record',
        description: 'Streams the file, with `Range` (one range, 206), `ETag` and `If-None-Match`/`If-Modified-Since` (304).',
        tags,
        parameters: [
          { name: 'collection', in: 'path', required: true, schema: string, description: 'Collection id or name.' },
          { name: 'recordId', in: 'path', required: true, schema: string },
          { name: 'filename', in: 'path', required: true, schema: string },
          { name: 'thumb', in: 'query', schema: string, description: 'A thumb size the field lists (`100x100`, `0x50`, `300x200f`).' },
          { name: 'download', in: 'query', schema: { type: 'boolean' }, description: 'Send as an attachment.' },
          { name: 'token', in: 'query', schema: string, description: 'A file token, for protected fields.' },
          { name: 'Range', in: 'header', schema: string, description: '`bytes=0-99`, `bytes=100-`, `bytes=-100`.' },
        ],
        responses: {
          200: {
            description: 'The file.',
            content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } },
          },
          206: {
            description: 'The range asked for.',
            content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } },
          },
          304: { description: 'Not modified.' },
          404: responseRef('NotFound'),
          416: { description: 'The range is past the end of the file.' },
        },
      },
    },
  };
}

/** The shared paths: Mainspring's refresh-token sessions (`/api/ms/sessions`, `logout-all`). */
function sessionPaths(): Json {
  return {
    '/api/ms/sessions': {
      get: {
        operationId: 'listSessions',
        summary: "The caller's refresh sessions",
        tags: ['sessions'],
        security: REQUIRED_AUTH,
        responses: {
          200: json(
            { type: 'object', properties: { items: { type: 'array', items: { type: 'object' } } }, required: ['items'] },
            'The sessions.',
          ),
          401: responseRef('Unauthorized'),
        },
      },
      post: {
        operationId: 'createSession',
        summary: 'Start a session: a rotating refresh token',
        tags: ['sessions'],
        security: REQUIRED_AUTH,
        responses: {
          200: json(
            {
              type: 'object',
              properties: { token: string, refreshToken: string, session: { type: 'object' } },
              required: ['token', 'refreshToken', 'session'],
            },
            'The session.',
          ),
          401: responseRef('Unauthorized'),
          403: responseRef('Forbidden'),
        },
      },
    },
    '/api/ms/sessions/refresh': {
      post: {
        operationId: 'refreshSession',
        summary: 'Trade a refresh token for new tokens (each works once)',
        tags: ['sessions'],
        requestBody: jsonBody({ type: 'object', properties: { refreshToken: string }, required: ['refreshToken'] }),
        responses: {
          200: json(
            {
              type: 'object',
              properties: { token: string, refreshToken: string, record: { type: 'object' } },
              required: ['token', 'refreshToken', 'record'],
            },
            'New tokens.',
          ),
          400: responseRef('BadRequest'),
          401: responseRef('Unauthorized'),
          429: responseRef('TooManyRequests'),
        },
      },
    },
    '/api/ms/sessions/{id}': {
      delete: {
        operationId: 'deleteSession',
        summary: 'End one of the caller’s sessions',
        tags: ['sessions'],
        security: REQUIRED_AUTH,
        parameters: [idParameter('session')],
        responses: { 204: noContent, 401: responseRef('Unauthorized'), 404: responseRef('NotFound') },
      },
    },
    '/api/ms/logout-all': {
      post: {
        operationId: 'logoutAll',
        summary: 'End every session and token of the caller',
        tags: ['sessions'],
        security: REQUIRED_AUTH,
        responses: { 204: noContent, 401: responseRef('Unauthorized') },
      },
    },
  };
}

function errorResponse(description: string): Json {
  return json(ref('Error'), description);
}

/** The document for the collections given, as `audience` may see them. */
export function openApiDocument(collections: readonly Collection[], options: OpenApiOptions): Json {
  // the schemas take the names typegen gives the types: PostsRecord, PostsCreate…
  const names = typeNames(collections);
  const schemas: Json = {
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
  };
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
    schemas[`${name}Record`] = recordSchema(c, options.audience, ctx);
    if (c.type !== 'view') {
      schemas[`${name}Create`] = writeSchema(c, options.audience, 'create', ctx);
      schemas[`${name}Update`] = writeSchema(c, options.audience, 'update', ctx);
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
    const kind = { auth: 'Auth', base: 'Base', view: 'View (read-only)' }[c.type];
    tags.push({ name: c.name, description: `${kind} collection \`${c.name}\` (id \`${c.id}\`).` });
    paths = { ...paths, ...recordPaths(c, name, options.audience) };
    if (c.type === 'auth') {
      schemas[`${name}AuthResponse`] = {
        type: 'object',
        properties: { token: string, record: ref(`${name}Record`), meta: { type: 'object', additionalProperties: true } },
        required: ['token', 'record'],
      };
      paths = { ...paths, ...authPaths(c, name), ...passkeyPaths(c, name) };
    }
  }
  paths = { ...paths, ...sharedPaths() };
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
