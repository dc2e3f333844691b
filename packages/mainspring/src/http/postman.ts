import type { Json } from './openapi.js';

/**
 * A Postman collection (format v2.1) made from the OpenAPI document, so the
 * two describe the same routes: a folder per collection (its record routes,
 * then its auth routes) after a "Sign in" folder whose request stores the
 * token in the `token` variable (environment and collection), which every
 * other request sends as `Authorization`. Creates store the new record's id
 * (`{{postsId}}`), which the view, update and delete after them use, so the
 * collection runs top to bottom (Newman, the Runner). The realtime stream
 * is left out: it never ends.
 */

export const POSTMAN_SCHEMA = 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json';

export interface PostmanOptions {
  /** Where the API is: the `baseUrl` variable's value. */
  baseUrl: string;
  /** The auth collection the "Sign in" request uses (default `_superusers`). */
  authCollection?: string;
  identity?: string;
  password?: string;
}

type Operation = Json & { operationId: string; summary?: string; description?: string; parameters?: Json[]; security?: Json[] };

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** `posts` → `postsId`: the variable a create stores its record's id in. */
const idVariable = (collection: string) => `${collection}Id`;

function resolve(doc: Json, schema: unknown): Json | undefined {
  const s = schema as Json | undefined;
  if (s && typeof s.$ref === 'string') {
    const name = s.$ref.split('/').pop() as string;
    return ((doc.components as Json).schemas as Json)[name] as Json;
  }
  return s;
}

/** A body a request can send as it is: required fields with their examples (an address Postman makes up for sign-ups). */
function exampleBody(doc: Json, schema: unknown, mode: 'create' | 'update' | 'other'): unknown {
  const s = resolve(doc, schema);
  if (!s) return {};
  const properties = (s.properties ?? {}) as Record<string, Json>;
  const required = new Set((s.required ?? []) as string[]);
  const out: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(properties)) {
    const example = Array.isArray(property.examples) ? property.examples[0] : undefined;
    const wanted = mode === 'update' ? example !== undefined && !/password|email/i.test(name) : required.has(name);
    if (!wanted) continue;
    if (typeof example === 'string' && example.endsWith('@example.com')) out[name] = '{{$randomEmail}}';
    else if (example !== undefined) out[name] = example;
    else out[name] = property.type === 'array' ? [] : property.type === 'integer' || property.type === 'number' ? 0 : '';
  }
  return out;
}

function script(lines: string[]): Json[] {
  return [{ listen: 'test', script: { type: 'text/javascript', exec: lines } }];
}

const NO_SERVER_ERROR = "pm.test('answers without a server error', () => pm.expect(pm.response.code).to.be.below(500));";
const STORE_TOKEN = [
  'if (pm.response.code === 200) {',
  '  const token = pm.response.json().token;',
  "  pm.environment.set('token', token);",
  "  pm.collectionVariables.set('token', token);",
  '}',
];

/** The Postman request of one operation. */
function request(doc: Json, path: string, method: string, op: Operation, collection: string | null): Json {
  const pathVariables: Json[] = [];
  const postmanPath = path
    .split('/')
    .filter(Boolean)
    .map((segment) => {
      const m = /^\{(.+)\}$/.exec(segment);
      if (!m) return decodeURIComponent(segment);
      const name = m[1] as string;
      pathVariables.push({ key: name, value: name === 'id' && collection ? `{{${idVariable(collection)}}}` : '' });
      return `:${name}`;
    });
  const query = (op.parameters ?? [])
    .filter((p) => p.in === 'query')
    .map((p) => ({ key: p.name, value: '', disabled: true, description: p.description ?? '' }));
  const headers: Json[] = [{ key: 'Authorization', value: '{{token}}', type: 'text' }];
  const content = (op.requestBody as Json | undefined)?.content as Json | undefined;
  const json = content?.['application/json'] as Json | undefined;
  let body: Json | undefined;
  if (json) {
    headers.push({ key: 'Content-Type', value: 'application/json', type: 'text' });
    const mode = op.operationId.startsWith('create') ? 'create' : op.operationId.startsWith('update') ? 'update' : 'other';
    let value = exampleBody(doc, json.schema, mode);
    if (op.operationId.startsWith('authWithPassword')) value = { identity: '{{identity}}', password: '{{password}}' };
    body = { mode: 'raw', raw: JSON.stringify(value, null, 2), options: { raw: { language: 'json' } } };
  }
  const raw = `{{baseUrl}}/${postmanPath.join('/')}`;
  const tests = [NO_SERVER_ERROR];
  if (op.operationId.startsWith('authWithPassword')) tests.push(...STORE_TOKEN);
  if (op.operationId.startsWith('create') && collection) {
    tests.push(`if (pm.response.code === 200) pm.collectionVariables.set('${idVariable(collection)}', pm.response.json().id);`);
  }
  return {
    name: op.summary ?? `${method.toUpperCase()} ${path}`,
    event: script(tests),
    request: {
      method: method.toUpperCase(),
      header: headers,
      ...(body ? { body } : {}),
      url: {
        raw,
        host: ['{{baseUrl}}'],
        path: postmanPath,
        ...(query.length > 0 ? { query } : {}),
        ...(pathVariables.length > 0 ? { variable: pathVariables } : {}),
      },
      description: op.description ?? '',
    },
  };
}

/** The collection (v2.1) of an OpenAPI document made by `openApiDocument`. */
export function postmanCollection(doc: Json, options: PostmanOptions): Json {
  const info = doc.info as Json;
  const tags = (doc.tags ?? []) as Json[];
  const folders = new Map<string, Json[]>(tags.map((t) => [t.name as string, []]));
  const recordCollections = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths as Json)) {
    for (const method of METHODS) {
      const op = (item as Json)[method] as Operation | undefined;
      if (!op) continue;
      // the SSE stream never ends: a runner would wait for ever
      if (op.operationId === 'realtimeConnect') continue;
      const tag = ((op.tags as string[] | undefined) ?? ['other'])[0] as string;
      const collection = /^\/api\/collections\/([^/]+)\//.exec(path)?.[1];
      const name = collection ? decodeURIComponent(collection) : null;
      if (name) recordCollections.add(name);
      if (!folders.has(tag)) folders.set(tag, []);
      folders.get(tag)?.push(request(doc, path, method, op, name));
    }
  }
  const signIn: Json = {
    name: 'Sign in',
    description: 'Signs in to `{{authCollection}}` as `{{identity}}`; the token goes into the `token` variable, which every request sends.',
    item: [
      {
        name: 'Sign in with a password',
        event: script([
          "pm.test('signed in', () => pm.response.to.have.status(200));",
          "pm.test('answers with a token', () => pm.expect(pm.response.json().token).to.be.a('string'));",
          ...STORE_TOKEN,
        ]),
        request: {
          method: 'POST',
          header: [{ key: 'Content-Type', value: 'application/json', type: 'text' }],
          body: {
            mode: 'raw',
            raw: JSON.stringify({ identity: '{{identity}}', password: '{{password}}' }, null, 2),
            options: { raw: { language: 'json' } },
          },
          url: {
            raw: '{{baseUrl}}/api/collections/{{authCollection}}/auth-with-password',
            host: ['{{baseUrl}}'],
            path: ['api', 'collections', '{{authCollection}}', 'auth-with-password'],
          },
        },
      },
    ],
  };
  const described = new Map(tags.map((t) => [t.name as string, (t.description as string | undefined) ?? '']));
  return {
    info: {
      name: (info.title as string | undefined) ?? 'Mainspring',
      description: `${(info.description as string | undefined) ?? ''}\n\nGenerated by \`mainspring export-postman\` from the OpenAPI document (\`/api/ms/openapi.json\`).`,
      schema: POSTMAN_SCHEMA,
    },
    item: [
      signIn,
      ...[...folders.entries()]
        .filter(([, items]) => items.length > 0)
        .map(([name, items]) => ({ name, description: described.get(name) ?? '', item: items })),
    ],
    variable: [
      { key: 'baseUrl', value: options.baseUrl, type: 'string' },
      { key: 'token', value: '', type: 'string' },
      { key: 'authCollection', value: options.authCollection ?? '_superusers', type: 'string' },
      { key: 'identity', value: options.identity ?? '', type: 'string' },
      { key: 'password', value: options.password ?? '', type: 'string' },
      ...[...recordCollections].map((c) => ({ key: idVariable(c), value: '', type: 'string' })),
    ],
  };
}

/** A Postman environment with the base URL, the sign-in and the token the sign-in request sets. */
export function postmanEnvironment(options: PostmanOptions & { name?: string }): Json {
  const value = (key: string, v: string, secret = false) => ({ key, value: v, type: secret ? 'secret' : 'default', enabled: true });
  return {
    name: options.name ?? 'Mainspring',
    values: [
      value('baseUrl', options.baseUrl),
      value('authCollection', options.authCollection ?? '_superusers'),
      value('identity', options.identity ?? ''),
      value('password', options.password ?? '', true),
      value('token', '', true),
    ],
    _postman_variable_scope: 'environment',
  };
}
