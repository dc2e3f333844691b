import { searchColumns } from '../../core/collections/indexes.js';
import type { Collection } from '../../core/collections/model.js';
import { isFile } from '../../core/fields/index.js';
import {
  type Audience,
  EXPAND,
  FIELDS,
  IDEMPOTENCY_KEY,
  idParameter,
  type Json,
  json,
  LIST_PARAMETERS,
  noContent,
  OPTIONAL_AUTH,
  ref,
  responseRef,
  ruleText,
} from './parts.js';
import { multipartSchema } from './record-schemas.js';

type RuleName = 'listRule' | 'viewRule' | 'createRule' | 'updateRule' | 'deleteRule';

/** The record routes of a collection: those whose rule lets someone other than a superuser in, or all for superusers. */
export function recordPaths(c: Collection, name: string, audience: Audience): Json {
  const paths: Json = {};
  const base = `/api/collections/${encodeURIComponent(c.name)}/records`;
  const su = audience === 'superuser';
  const allowed = (rule: RuleName) => su || c[rule] !== null;
  // a view's records are read only
  const writable = (rule: RuleName) => c.type !== 'view' && allowed(rule);
  const hasFiles = c.fields.some(isFile);
  const writeBody = (mode: 'create' | 'update') => ({
    required: mode === 'create',
    content: {
      'application/json': { schema: ref(`${name}${mode === 'create' ? 'Create' : 'Update'}`) },
      ...(hasFiles || c.type === 'auth' ? { 'multipart/form-data': { schema: multipartSchema(c, audience, mode) } } : {}),
    },
  });
  const op = (id: string, summary: string, rule: RuleName, parameters: Json[], responses: Json, requestBody?: Json): Json => ({
    operationId: `${id}${name}`,
    summary,
    description: ruleText(rule, c[rule]),
    tags: [c.name],
    security: OPTIONAL_AUTH,
    parameters,
    ...(requestBody ? { requestBody } : {}),
    responses,
  });
  const record = idParameter('record');
  const refused = { 400: responseRef('BadRequest'), 403: responseRef('Forbidden') };

  const collectionPath: Json = {};
  if (allowed('listRule')) {
    const page = json(ref(`${name}List`), 'A page of records.');
    collectionPath.get = op('list', `List ${c.name} records`, 'listRule', [...listParameters(c), EXPAND, FIELDS], {
      200: page,
      ...refused,
    });
  }
  if (writable('createRule')) {
    const created = json(ref(`${name}Record`), 'The record created.');
    const parameters = [EXPAND, FIELDS, IDEMPOTENCY_KEY];
    collectionPath.post = op(
      'create',
      `Create a ${c.name} record`,
      'createRule',
      parameters,
      { 200: created, ...refused },
      writeBody('create'),
    );
  }
  if (Object.keys(collectionPath).length > 0) paths[base] = collectionPath;

  const recordPath: Json = {};
  if (allowed('viewRule')) {
    const responses = { 200: json(ref(`${name}Record`), 'The record.'), 403: responseRef('Forbidden'), 404: responseRef('NotFound') };
    recordPath.get = op('get', `View a ${c.name} record`, 'viewRule', [record, EXPAND, FIELDS], responses);
  }
  if (writable('updateRule')) {
    const responses = { 200: json(ref(`${name}Record`), 'The record as updated.'), ...refused, 404: responseRef('NotFound') };
    const parameters = [record, EXPAND, FIELDS, IDEMPOTENCY_KEY];
    recordPath.patch = op('update', `Update a ${c.name} record`, 'updateRule', parameters, responses, writeBody('update'));
  }
  if (writable('deleteRule')) {
    const responses = { 204: noContent, ...refused, 404: responseRef('NotFound') };
    recordPath.delete = op('delete', `Delete a ${c.name} record`, 'deleteRule', [record, IDEMPOTENCY_KEY], responses);
  }
  if (Object.keys(recordPath).length > 0) paths[`${base}/{id}`] = recordPath;
  return paths;
}

/** The list parameters, where the collection has searchable fields with what `filter` and `sort` then take. */
function listParameters(c: Collection): Json[] {
  const columns = searchColumns(c);
  if (columns.size === 0) return LIST_PARAMETERS;
  const fields = [...columns.keys()].join(', ');
  // search() takes the fields of one index: the first's, as the example
  const first = [...columns.values()][0];
  const example = [...columns]
    .filter(([, index]) => index === first)
    .map(([name]) => name)
    .join(', ');
  return LIST_PARAMETERS.map((p) => {
    if (p.name === 'filter') {
      return {
        ...p,
        description: `${p.description as string} Searchable fields (${fields}): \`~\` uses their index, and \`search(${example}, "words")\` (the fields of one search index) finds the records holding every word.`,
      };
    }
    if (p.name === 'sort')
      return {
        ...p,
        description: `${p.description as string} With a \`search(…)\` in the filter, \`-@rank\` puts the best matches first.`,
      };
    return p;
  });
}
