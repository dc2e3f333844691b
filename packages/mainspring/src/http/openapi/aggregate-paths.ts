import type { Collection } from '../../core/collections/model.js';
import { kindOf } from '../../core/fields/index.js';
import { AGGREGATE_PAGE_LIMITS } from '../../core/records/aggregate.js';
import { AGGREGATE_FUNCTIONS } from '../../core/records/aggregate-spec.js';
import { type Audience, type Json, json, OPTIONAL_AUTH, ref, responseRef, ruleText, string } from './parts.js';

/**
 * `GET /api/ms/collections/{c}/aggregate` in the OpenAPI document: one path
 * per collection whose list a non-superuser may reach (all of them for
 * superusers), its parameters naming the fields it can group and sum, and
 * its answer as the shared `AggregatePage`. The keys of a row are the
 * aliases the request gives, so the row is typed by its values.
 */

/** The schemas every aggregate answer shares. */
export const aggregateSchemas = (): Json => ({
  AggregateRow: {
    type: 'object',
    description: 'One group: its `groupBy` keys and its `fields` values, each under its alias (`sum_amount`, or the `as` name).',
    additionalProperties: { type: ['string', 'number', 'boolean', 'null'] },
  },
  AggregatePage: {
    type: 'object',
    properties: {
      page: { type: 'integer' },
      perPage: { type: 'integer' },
      totalItems: { type: 'integer', description: 'How many groups; -1 with skipTotal.' },
      totalPages: { type: 'integer', description: '-1 with skipTotal.' },
      items: { type: 'array', items: ref('AggregateRow') },
    },
    required: ['page', 'perPage', 'totalItems', 'totalPages', 'items'],
  },
});

/** The fields of `c` the audience may name, by what they can take part in. */
function namesOf(c: Collection, audience: Audience): { groupable: string[]; numbers: string[]; dates: string[] } {
  const shown = c.fields.filter(
    (f) => kindOf(f).output !== 'never' && !(c.type === 'auth' && f.name === 'tokenKey') && (audience === 'superuser' || !f.hidden),
  );
  const column = (f: (typeof shown)[0]) => kindOf(f).column(f);
  return {
    groupable: shown.filter((f) => ['text', 'number', 'bool', 'date'].includes(column(f))).map((f) => f.name),
    numbers: shown.filter((f) => column(f) === 'number').map((f) => f.name),
    dates: shown.filter((f) => column(f) === 'date').map((f) => f.name),
  };
}

/** The aggregate path of `c`, when the audience may list it. */
export function aggregatePaths(c: Collection, name: string, audience: Audience): Json {
  if (audience !== 'superuser' && c.listRule === null) return {};
  const { groupable, numbers, dates } = namesOf(c, audience);
  const list = (names: string[]) => (names.length > 0 ? names.map((n) => `\`${n}\``).join(', ') : 'none');
  const parameters: Json[] = [
    {
      name: 'groupBy',
      in: 'query',
      schema: string,
      description: `Keys to group by, with \`as alias\`: fields (${list(groupable)}), paths through single relations (\`account.name\`), or \`strftime('%Y-%m', date)\` buckets of a date field (${list(dates)}).`,
      example: dates[0] ? `strftime('%Y-%m', ${dates[0]}) as month` : groupable[0],
    },
    {
      name: 'fields',
      in: 'query',
      schema: string,
      description: `What to compute, with \`as alias\`: ${AGGREGATE_FUNCTIONS.map((f) => `\`${f}()\``).join(', ')}; \`sum\` and \`avg\` take number fields (${list(numbers)}). Default \`count()\`.`,
      example: numbers[0] ? `count(),sum(${numbers[0]}) as total` : 'count()',
    },
    { name: 'filter', in: 'query', schema: string, description: 'Which records to count, as for a list (the list rule applies too).' },
    { name: 'sort', in: 'query', schema: string, description: 'Aliases to sort the groups by: `-total,month`. Then by every key.' },
    { name: 'page', in: 'query', schema: { type: 'integer', minimum: 1, default: 1 } },
    {
      name: 'perPage',
      in: 'query',
      schema: { type: 'integer', minimum: 1, maximum: AGGREGATE_PAGE_LIMITS.maxPerPage, default: AGGREGATE_PAGE_LIMITS.defaultPerPage },
      description: 'Groups per page.',
    },
    { name: 'skipTotal', in: 'query', schema: { type: 'boolean' }, description: 'Skip counting the groups.' },
  ];
  return {
    [`/api/ms/collections/${encodeURIComponent(c.name)}/aggregate`]: {
      get: {
        operationId: `aggregate${name}`,
        summary: `Group and total ${c.name} records`,
        description: `Over the records the caller could list. ${ruleText('listRule', c.listRule)}`,
        tags: [c.name],
        security: OPTIONAL_AUTH,
        parameters,
        responses: {
          200: json(ref('AggregatePage'), 'A page of groups.'),
          400: responseRef('BadRequest'),
          403: responseRef('Forbidden'),
          404: responseRef('NotFound'),
        },
      },
    },
  };
}
