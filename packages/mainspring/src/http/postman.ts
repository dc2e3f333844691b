import type { Json } from './openapi.js';
import {
  bodySchema,
  expectationScript,
  kindOf,
  METHODS,
  type Operation,
  type Plan,
  planOf,
  referred,
  resolveRef,
  sampleBody,
} from './postman-plans.js';

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
