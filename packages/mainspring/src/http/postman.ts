import { type Json, REFERS } from './openapi.js';

/**
 * A Postman collection (format v2.1) made from the OpenAPI document, so the
 * two describe the same routes, and made to run top to bottom (Newman, the
 * Runner) signed in as a superuser, every request checking the status it
 * should get in that run:
 *
 * - "Sign in" stores the token (`token`, which every request sends as
 *   `Authorization`), the signed-in record's id and its collection's id.
 * - A folder per collection, after the collections its required relations
 *   point at: list, create (the record's id goes into `{{postsId}}`), view,
 *   update, and for an auth collection its flows, as the record just made
 *   (its token in `{{usersToken}}`). Bodies are the schemas' examples for the
 *   fields a write needs, relations the ids of records the run made.
 * - The system and session routes, then "Clean up", which deletes what the
 *   run made (dependents first), then the sign-out of every session.
 *
 * A request that needs something only a mailbox holds (a verification
 * token, a one-time code) or a file uploaded beforehand expects its refusal
 * until its variable is set. The realtime routes are left out: the stream
 * never ends, and subscribing needs its client id.
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

type Operation = Json & {
  operationId: string;
  summary?: string;
  description?: string;
  parameters?: Json[];
  requestBody?: Json;
  responses?: Json;
};

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** Operation ids of the per-collection routes, by the prefix the document gives them (`createPosts`). */
const KINDS = [
  'list',
  'create',
  'get',
  'update',
  'delete',
  'authMethods',
  'authWithPassword',
  'authRefresh',
  'requestOtp',
  'authWithOtp',
  'requestVerification',
  'confirmVerification',
  'requestPasswordReset',
  'confirmPasswordReset',
  'requestEmailChange',
  'confirmEmailChange',
  'impersonate',
] as const;
type Kind = (typeof KINDS)[number];

function kindOf(operationId: string): Kind | null {
  const kind = KINDS.filter((k) => operationId.startsWith(k) && /^[A-Z]/.test(operationId.slice(k.length)))
    .sort((a, b) => b.length - a.length)
    .at(0);
  return kind ?? null;
}

/** What a request expects in the run: its status, or, until `variables` are set, `otherwise` (with the reason). */
interface Expectation {
  status: number;
  unless?: { variables: string[]; otherwise: number; why: string };
}

/** One request as planned: its body's values and headers, what it checks and what it keeps for later requests. */
interface Plan {
  expect: Expectation;
  /** Values for body properties by name (over the schema's examples), and properties to add. */
  values: Record<string, unknown>;
  /** Body properties to send beyond the required ones. */
  extra: string[];
  /** The variable whose token goes in `Authorization` (default `token`). */
  token: string;
  /** Path parameters' values. */
  path: Record<string, string>;
  /** Test-script lines that keep values for later requests. */
  keep: string[];
  /** Pre-request script lines. */
  before: string[];
}

function resolveRef(doc: Json, schema: unknown): Json | undefined {
  const s = schema as Json | undefined;
  if (s && typeof s.$ref === 'string') {
    const name = s.$ref.split('/').pop() as string;
    return ((doc.components as Json).schemas as Json)[name] as Json;
  }
  return s;
}

/** The JSON body schema of an operation, resolved. */
function bodySchema(doc: Json, op: Operation | undefined): Json | undefined {
  const content = (op?.requestBody as Json | undefined)?.content as Json | undefined;
  return resolveRef(doc, (content?.['application/json'] as Json | undefined)?.schema);
}

/** A Postman value for a schema property: the record it refers to, its example (an address made up anew each run), or an empty value. */
function sampleValue(property: Json): unknown {
  const refers = property[REFERS];
  if (typeof refers === 'string') {
    const value =
      refers === 'authCollection'
        ? '{{authCollectionId}}'
        : refers === 'authRecord'
          ? '{{authRecordId}}'
          : `{{${refers.slice('record:'.length)}Id}}`;
    return property.type === 'array' ? [value] : value;
  }
  const example = Array.isArray(property.examples) ? property.examples[0] : undefined;
  if (typeof example === 'string' && /^[^@]+@example\.com$/.test(example)) return '{{$randomEmail}}';
  if (example !== undefined) return example;
  return property.type === 'array' ? [] : property.type === 'integer' || property.type === 'number' ? 0 : '';
}

/** The body of a write: its required properties and `plan.extra`, from `plan.values` or the schema; for an update, what has an example. */
function sampleBody(schema: Json | undefined, mode: 'create' | 'update' | 'other', plan: Plan): Json {
  const properties = (schema?.properties ?? {}) as Record<string, Json>;
  const required = new Set((schema?.required ?? []) as string[]);
  const out: Json = {};
  for (const [name, property] of Object.entries(properties)) {
    // an update changes what has an example (not a relation: its target may be deleted or not made yet), never a password or address
    const wanted =
      mode === 'update'
        ? Array.isArray(property.examples) && !/password|email/i.test(name)
        : required.has(name) || plan.extra.includes(name);
    if (wanted) out[name] = name in plan.values ? plan.values[name] : sampleValue(property);
  }
  return out;
}

/** The password a run gives the records it creates in an auth collection: its create schema's example. */
function samplePassword(doc: Json, create: Operation | undefined): string {
  const example = ((bodySchema(doc, create)?.properties as Json | undefined)?.password as Json | undefined)?.examples;
  return Array.isArray(example) && typeof example[0] === 'string' ? example[0] : 'password-123';
}

/** The identity field the run signs in with: email when it is one, else the first. */
function identityField(doc: Json, signIn: Operation | undefined): string {
  const fields = ((bodySchema(doc, signIn)?.properties as Json | undefined)?.identityField as Json | undefined)?.enum;
  const list = Array.isArray(fields) ? (fields as string[]) : [];
  return list.includes('email') || list.length === 0 ? 'email' : (list[0] as string);
}

/** The collections a schema's properties refer to (relations). */
function referred(schema: Json | undefined): string[] {
  return Object.values((schema?.properties ?? {}) as Record<string, Json>)
    .map((p) => p[REFERS])
    .filter((r): r is string => typeof r === 'string' && r.startsWith('record:'))
    .map((r) => r.slice('record:'.length));
}

/** The lowest 2xx status an operation documents. */
function successStatus(op: Operation): number {
  const codes = Object.keys(op.responses ?? {})
    .map(Number)
    .filter((c) => c >= 200 && c < 300);
  return codes.length > 0 ? Math.min(...codes) : 200;
}

const jsString = (value: string) => JSON.stringify(value);
const keep = (name: string, expression: string) =>
  `if (pm.response.code < 300) pm.collectionVariables.set(${jsString(name)}, ${expression});`;

/** What a pre-request script puts in a path variable that is not set, so that the URL names nothing rather than another route. */
const UNSET = 'unset';

/** The test script of an expectation. */
function expectationScript(e: Expectation): string[] {
  if (!e.unless) return [`pm.test('answers ${e.status}', () => pm.response.to.have.status(${e.status}));`];
  const { variables, otherwise, why } = e.unless;
  return [
    `const ready = ${JSON.stringify(variables)}.every((name) => ![undefined, '', '${UNSET}'].includes(pm.variables.get(name)));`,
    `pm.test(ready ? 'answers ${e.status}' : ${jsString(`answers ${otherwise} until ${variables.join(', ')} ${variables.length > 1 ? 'are' : 'is'} set (${why})`)}, () =>`,
    `  pm.response.to.have.status(ready ? ${e.status} : ${otherwise}));`,
  ];
}

/**
 * What one operation of collection `c` (null for the shared routes) sends,
 * expects and keeps, in a run signed in as a superuser.
 */
function planOf(doc: Json, op: Operation, c: string | null, ops: Map<string, Operation>, used: Set<string>): Plan {
  const plan: Plan = { expect: { status: successStatus(op) }, values: {}, extra: [], token: 'token', path: {}, keep: [], before: [] };
  if (c === null) planShared(plan, op, used);
  else planRecords(plan, doc, op, c, ops, used);
  return plan;
}

const ref = (name: string) => `{{${name}}}`;
/** A request that needs what a mail carried: `status` once the variable is set, a 400 until then. */
const mailed = (status: number, variable: string, why: string): Expectation => ({
  status,
  unless: { variables: [variable], otherwise: 400, why },
});

/** An operation of collection `c`'s records or auth routes. */
function planRecords(plan: Plan, doc: Json, op: Operation, c: string, ops: Map<string, Operation>, used: Set<string>): void {
  const v = (what: string) => {
    const name = `${c}${what}`;
    used.add(name);
    return name;
  };
  const kind = kindOf(op.operationId);
  const suffix = op.operationId.slice((kind ?? '').length);
  const create = ops.get(`create${suffix}`);
  const password = samplePassword(doc, create);
  const identity = identityField(doc, ops.get(`authWithPassword${suffix}`));
  switch (kind) {
    case 'list':
      // a collection the run cannot write (a view) is viewed through a record it lists, if there is one
      if (!create) {
        plan.keep.push(
          `if (pm.response.code === 200 && pm.response.json().items.length > 0) pm.collectionVariables.set(${jsString(v('Id'))}, pm.response.json().items[0].id);`,
        );
      }
      break;
    case 'create':
      plan.keep.push(keep(v('Id'), 'pm.response.json().id'));
      if (ops.has(`authWithPassword${suffix}`) || ops.has(`authRefresh${suffix}`)) {
        plan.extra.push(identity);
        plan.keep.push(keep(v('Email'), 'pm.response.json().email'), keep(v('Identity'), `pm.response.json()[${jsString(identity)}]`));
        plan.values.passwordConfirm = password;
      }
      break;
    case 'get':
    case 'update':
    case 'delete':
    case 'impersonate':
      plan.path.id = ref(v('Id'));
      if (kind === 'get' && !create) {
        // nothing to view in an empty view: an id of nothing, which is the 404 it should be
        plan.before.push(`if (!pm.variables.get(${jsString(v('Id'))})) pm.variables.set(${jsString(v('Id'))}, '${UNSET}');`);
        plan.expect = { status: 200, unless: { variables: [v('Id')], otherwise: 404, why: 'the list had a record to view' } };
      }
      break;
    case 'authWithPassword':
      Object.assign(plan.values, { identity: ref(v('Identity')), password });
      plan.keep.push(keep(v('Token'), 'pm.response.json().token'));
      break;
    case 'authRefresh':
      plan.token = v('Token');
      break;
    case 'requestEmailChange':
      // as the record itself: a superuser changes an address directly
      plan.token = v('Token');
      plan.values.newEmail = '{{$randomEmail}}';
      break;
    case 'requestOtp':
      plan.values.email = ref(v('Email'));
      plan.keep.push(keep(v('OtpId'), 'pm.response.json().otpId'));
      break;
    case 'authWithOtp':
      Object.assign(plan.values, { otpId: ref(v('OtpId')), password: ref(v('OtpPassword')) });
      plan.expect = mailed(200, v('OtpPassword'), 'the code mailed to the record');
      break;
    case 'requestVerification':
    case 'requestPasswordReset':
      plan.values.email = ref(v('Email'));
      break;
    case 'confirmVerification':
      plan.values.token = ref(v('VerificationToken'));
      plan.expect = mailed(204, v('VerificationToken'), 'the token mailed to the record');
      break;
    case 'confirmPasswordReset':
      Object.assign(plan.values, { token: ref(v('PasswordResetToken')), password, passwordConfirm: password });
      plan.expect = mailed(204, v('PasswordResetToken'), 'the token mailed to the record');
      break;
    case 'confirmEmailChange':
      Object.assign(plan.values, { token: ref(v('EmailChangeToken')), password });
      plan.expect = mailed(204, v('EmailChangeToken'), 'the token mailed to the new address');
      break;
  }
}

/** An operation of the shared routes (sessions, files). */
function planShared(plan: Plan, op: Operation, used: Set<string>): void {
  switch (op.operationId) {
    case 'createSession':
      used.add('refreshToken').add('sessionId');
      plan.keep.push(keep('refreshToken', 'pm.response.json().refreshToken'), keep('sessionId', 'pm.response.json().session.id'));
      break;
    case 'refreshSession':
      plan.values.refreshToken = '{{refreshToken}}';
      plan.keep.push(keep('refreshToken', 'pm.response.json().refreshToken'));
      break;
    case 'deleteSession':
      plan.path.id = '{{sessionId}}';
      break;
    case 'fileDownload': {
      const names = ['fileCollection', 'fileRecordId', 'fileName'];
      for (const n of names) used.add(n);
      Object.assign(plan.path, { collection: '{{fileCollection}}', recordId: '{{fileRecordId}}', filename: '{{fileName}}' });
      plan.before.push(...names.map((n) => `if (!pm.variables.get('${n}')) pm.variables.set('${n}', '${UNSET}');`));
      plan.expect = { status: 200, unless: { variables: names, otherwise: 404, why: 'they name a file of a record' } };
      break;
    }
  }
}

/** The Postman request of one operation, as planned. */
function request(path: string, method: string, op: Operation, plan: Plan, body: Json | undefined): Json {
  const pathVariables: Json[] = [];
  const postmanPath = path
    .split('/')
    .filter(Boolean)
    .map((segment) => {
      const m = /^\{(.+)\}$/.exec(segment);
      if (!m) return decodeURIComponent(segment);
      const name = m[1] as string;
      pathVariables.push({ key: name, value: plan.path[name] ?? '' });
      return `:${name}`;
    });
  const query = (op.parameters ?? [])
    .filter((p) => p.in === 'query')
    .map((p) => ({ key: p.name, value: '', disabled: true, description: p.description ?? '' }));
  const headers: Json[] = [{ key: 'Authorization', value: `{{${plan.token}}}`, type: 'text' }];
  if (body) headers.push({ key: 'Content-Type', value: 'application/json', type: 'text' });
  const events: Json[] = [{ listen: 'test', script: { type: 'text/javascript', exec: [...expectationScript(plan.expect), ...plan.keep] } }];
  if (plan.before.length > 0) events.unshift({ listen: 'prerequest', script: { type: 'text/javascript', exec: plan.before } });
  return {
    name: op.summary ?? `${method.toUpperCase()} ${path}`,
    event: events,
    request: {
      method: method.toUpperCase(),
      header: headers,
      ...(body ? { body: { mode: 'raw', raw: JSON.stringify(body, null, 2), options: { raw: { language: 'json' } } } } : {}),
      url: {
        raw: `{{baseUrl}}/${postmanPath.join('/')}`,
        host: ['{{baseUrl}}'],
        path: postmanPath,
        ...(query.length > 0 ? { query } : {}),
        ...(pathVariables.length > 0 ? { variable: pathVariables } : {}),
      },
      description: op.description ?? '',
    },
  };
}

/** Collections in an order where each comes after those its records need (required relations); otherwise the document's. */
function dependencyOrder(names: string[], needs: Map<string, Set<string>>): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const other of needs.get(name) ?? []) if (names.includes(other)) visit(other);
    out.push(name);
  };
  for (const name of names) visit(name);
  return out;
}

/** The collection (v2.1) of an OpenAPI document made by `openApiDocument`. */
/** One operation of the document, and the collection whose routes it is of (null for the shared routes). */
type Entry = { path: string; method: string; op: Operation; collection: string | null };

/** Every operation a runner can call, in the document's order. */
function entriesOf(doc: Json): Entry[] {
  const entries: Entry[] = [];
  for (const [path, item] of Object.entries(doc.paths as Json)) {
    for (const method of METHODS) {
      const op = (item as Json)[method] as Operation | undefined;
      // the stream never ends (a runner would wait for ever), and subscribing needs its client id; an import needs a file
      if (!op || op.operationId.startsWith('realtime') || op.operationId.startsWith('import_')) continue;
      const collection = /^\/api\/collections\/([^/]+)\//.exec(path)?.[1];
      entries.push({ path, method, op, collection: collection ? decodeURIComponent(collection) : null });
    }
  }
  return entries;
}

/** Each write's body, sampled from its schema, and the collections each collection's new record refers to. */
function bodiesOf(doc: Json, entries: Entry[], plans: Map<Entry, Plan>, used: Set<string>) {
  const bodies = new Map<Entry, Json>();
  const needs = new Map<string, Set<string>>();
  for (const e of entries) {
    const schema = bodySchema(doc, e.op);
    if (!schema) continue;
    const plan = plans.get(e) as Plan;
    const kind = e.collection === null ? null : kindOf(e.op.operationId);
    const body = sampleBody(schema, kind === 'create' ? 'create' : kind === 'update' ? 'update' : 'other', plan);
    bodies.set(e, body);
    if (kind === 'create' && e.collection) {
      const targets = new Set(referred(schema).filter((t) => t !== e.collection && JSON.stringify(body).includes(`{{${t}Id}}`)));
      for (const t of targets) used.add(`${t}Id`);
      needs.set(e.collection, targets);
    }
  }
  return { bodies, needs };
}

/** The first folder: sign in, and keep the token every request sends. */
function signInFolder(): Json {
  return {
    name: 'Sign in',
    description:
      'Signs in to `{{authCollection}}` as `{{identity}}`; the token goes into the `token` variable, which every request sends. The expected statuses are those of a superuser.',
    item: [
      {
        name: 'Sign in with a password',
        event: [
          {
            listen: 'test',
            script: {
              type: 'text/javascript',
              exec: [
                ...expectationScript({ status: 200 }),
                'if (pm.response.code === 200) {',
                '  const { token, record } = pm.response.json();',
                "  pm.environment.set('token', token);",
                "  pm.collectionVariables.set('token', token);",
                "  pm.collectionVariables.set('authRecordId', record.id);",
                "  pm.collectionVariables.set('authCollectionId', record.collectionId);",
                '}',
              ],
            },
          },
        ],
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
}

export function postmanCollection(doc: Json, options: PostmanOptions): Json {
  const info = doc.info as Json;
  const tags = (doc.tags ?? []) as Json[];
  const described = new Map(tags.map((t) => [t.name as string, (t.description as string | undefined) ?? '']));
  const entries = entriesOf(doc);
  const ops = new Map(entries.map((e) => [e.op.operationId, e.op]));
  const used = new Set<string>(['token', 'authRecordId', 'authCollectionId']);
  const plans = new Map(entries.map((e) => [e, planOf(doc, e.op, e.collection, ops, used)]));

  // bodies: a write's needs from its schema; a batch updates the first record the run made
  const { bodies, needs } = bodiesOf(doc, entries, plans, used);
  // a collection the run cannot write (a view) comes after those its records are made of, so it has one to show
  for (const e of entries) {
    if (!e.collection || kindOf(e.op.operationId) !== 'get' || ops.has(`create${e.op.operationId.slice(3)}`)) continue;
    const answer = ((e.op.responses as Json | undefined)?.['200'] as Json | undefined)?.content as Json | undefined;
    const record = resolveRef(doc, (answer?.['application/json'] as Json | undefined)?.schema);
    needs.set(e.collection, new Set(referred(record).filter((t) => t !== e.collection)));
  }

  const folderOf = (e: Entry) => e.collection ?? (((e.op.tags as string[] | undefined) ?? ['other'])[0] as string);
  const folderNames = [...new Set(entries.map(folderOf))];
  const collections = dependencyOrder(
    folderNames.filter((f) => entries.some((e) => e.collection === f)),
    needs,
  );
  const order = [...collections, ...folderNames.filter((f) => !collections.includes(f))];
  const updated = entries.find((e) => e.collection && kindOf(e.op.operationId) === 'update' && collections.includes(e.collection));
  const batch = entries.find((e) => e.op.operationId === 'batch');
  if (batch && updated) {
    bodies.set(batch, {
      requests: [
        {
          method: 'PATCH',
          url: `/api/collections/${encodeURIComponent(updated.collection as string)}/records/{{${updated.collection}Id}}`,
          body: bodies.get(updated) ?? {},
        },
      ],
    });
  }

  const itemOf = (e: Entry) => request(e.path, e.method, e.op, plans.get(e) as Plan, bodies.get(e));
  const isDelete = (e: Entry) => e.collection !== null && kindOf(e.op.operationId) === 'delete';
  const isSignOut = (e: Entry) => e.op.operationId === 'logoutAll';
  const folder = (name: string, items: Json[], description = described.get(name) ?? '') => ({ name, description, item: items });
  const folders = order.map((name) =>
    folder(name, entries.filter((e) => folderOf(e) === name && !isDelete(e) && !isSignOut(e)).map(itemOf)),
  );
  const cleanUp = folder(
    'Clean up',
    [...collections]
      .reverse()
      .flatMap((c) => entries.filter((e) => e.collection === c && isDelete(e)))
      .map(itemOf),
    'Deletes the records the run made, those that need others first.',
  );
  const signOut = folder('Sign out', entries.filter(isSignOut).map(itemOf), 'Ends every session and token of the signed-in record: last.');

  const given: Record<string, string> = {
    baseUrl: options.baseUrl,
    authCollection: options.authCollection ?? '_superusers',
    identity: options.identity ?? '',
    password: options.password ?? '',
  };
  return {
    info: {
      name: (info.title as string | undefined) ?? 'Mainspring',
      description: `${(info.description as string | undefined) ?? ''}\n\nGenerated by \`mainspring export-postman\` from the OpenAPI document (\`/api/ms/openapi.json\`). Runs top to bottom signed in as a superuser; each request checks the status it should get.`,
      schema: POSTMAN_SCHEMA,
    },
    item: [signInFolder(), ...folders, cleanUp, signOut].filter((f) => (f.item as Json[]).length > 0),
    variable: [
      ...Object.entries(given).map(([key, value]) => ({ key, value, type: 'string' })),
      ...[...used].filter((key) => !(key in given)).map((key) => ({ key, value: '', type: 'string' })),
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
