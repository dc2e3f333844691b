import type { Collection } from '../../core/collections/model.js';
import { type Audience, type Json, json, jsonBody, OPTIONAL_AUTH, REQUIRED_AUTH, ref, responseRef, ruleText, string } from './parts.js';

/** Mainspring's routes beside the dialect that belong to a collection: its CSV export, and for superusers its import. */
export function csvPaths(c: Collection, audience: Audience): Json {
  const su = audience === 'superuser';
  const base = `/api/ms/collections/${encodeURIComponent(c.name)}`;
  const paths: Json = {};
  const refused = { 400: responseRef('BadRequest'), 403: responseRef('Forbidden') };
  if (su || c.listRule !== null) {
    paths[`${base}/export.csv`] = {
      get: {
        operationId: `exportCsv_${c.name}`,
        summary: `Export ${c.name} records as CSV`,
        description: `${ruleText('listRule', c.listRule)} Streamed in order of id, any size. Relations as ids, files as names, multi-valued fields as a JSON list or joined by \`separator\`.`,
        tags: [c.name],
        security: OPTIONAL_AUTH,
        parameters: [
          { name: 'filter', in: 'query', schema: string, description: 'A filter expression, as a list takes.' },
          { name: 'fields', in: 'query', schema: string, description: 'The columns: field names, comma-separated.' },
          { name: 'separator', in: 'query', schema: { type: 'string', maxLength: 5 }, description: 'Join multi-valued fields with this.' },
        ],
        responses: {
          200: { description: 'The CSV: a header row of field names, then one row a record.', content: { 'text/csv': { schema: string } } },
          ...refused,
        },
      },
    };
  }
  if (su && c.type !== 'view') {
    paths[`${base}/import`] = {
      post: {
        operationId: `import_${c.name}`,
        summary: `Import ${c.name} records from CSV or JSON lines`,
        description:
          'Superusers only. Written to a file as it arrives, then read and written in batches; `mode=all` writes every row or none, `mode=batch` commits each batch without a failed row. `dryRun` reports without writing. An import with failed rows answers 400 with the report in `data`.',
        tags: [c.name],
        security: REQUIRED_AUTH,
        parameters: [
          { name: 'mode', in: 'query', schema: { type: 'string', enum: ['all', 'batch'], default: 'all' } },
          { name: 'batchSize', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 10000, default: 500 } },
          { name: 'dryRun', in: 'query', schema: { type: 'boolean' } },
          {
            name: 'upsert',
            in: 'query',
            schema: string,
            description: 'Update the record matched by `id` or by a field with a unique index.',
          },
          { name: 'format', in: 'query', schema: { type: 'string', enum: ['csv', 'jsonl'] }, description: 'Else from the Content-Type.' },
          {
            name: 'separator',
            in: 'query',
            schema: { type: 'string', maxLength: 5 },
            description: 'Split multi-valued CSV cells on this.',
          },
        ],
        requestBody: {
          required: true,
          content: { 'text/csv': { schema: string }, 'application/x-ndjson': { schema: string } },
        },
        responses: { 200: json(ref('ImportReport'), 'What the import did.'), ...refused, 401: responseRef('Unauthorized') },
      },
    };
  }
  return paths;
}

/** `POST /api/ms/sql`: superusers only, so in their document alone. */
export function sqlConsolePaths(): Json {
  return {
    '/api/ms/sql': {
      post: {
        operationId: 'sqlConsole',
        summary: 'Run one SQL statement (superusers)',
        description:
          'Read-only unless the settings allow writes (`sqlConsole.allowWrites`) and `write` is true; every write is audited in the logs. Stopped after `sqlConsole.timeoutMs`.',
        tags: ['system'],
        security: REQUIRED_AUTH,
        requestBody: jsonBody({
          type: 'object',
          properties: {
            sql: { type: 'string', examples: ['SELECT 1 AS one'] },
            page: { type: 'integer', minimum: 1, default: 1 },
            perPage: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            write: { type: 'boolean', default: false },
          },
          required: ['sql'],
        }),
        responses: {
          200: json(ref('SqlConsoleResult'), 'A page of the answer.'),
          400: responseRef('BadRequest'),
          401: responseRef('Unauthorized'),
          403: responseRef('Forbidden'),
        },
      },
    },
  };
}

/** The schemas the routes above answer with. */
export function msSchemas(): Json {
  const rowError = {
    type: 'object',
    properties: {
      row: { type: 'integer', description: 'The row, as a spreadsheet counts (a CSV header is row 1); a JSON line its line.' },
      line: { type: 'integer' },
      data: { type: 'object', additionalProperties: true, description: 'Per-field errors, as a create answers them.' },
      message: string,
    },
    required: ['row', 'line'],
  };
  return {
    ImportReport: {
      type: 'object',
      properties: {
        dryRun: { type: 'boolean' },
        mode: { type: 'string', enum: ['all', 'batch'] },
        rows: { type: 'integer' },
        created: { type: 'integer' },
        updated: { type: 'integer' },
        skipped: { type: 'integer' },
        errors: { type: 'array', items: rowError },
        errorsTruncated: { type: 'boolean' },
        stopped: { type: ['object', 'null'], properties: { line: { type: 'integer' }, message: string } },
      },
      required: ['dryRun', 'mode', 'rows', 'created', 'updated', 'skipped', 'errors', 'errorsTruncated', 'stopped'],
    },
    SqlConsoleResult: {
      type: 'object',
      properties: {
        columns: { type: 'array', items: string },
        rows: { type: 'array', items: { type: 'array', items: {} } },
        page: { type: 'integer' },
        perPage: { type: 'integer' },
        more: { type: 'boolean' },
        changes: { type: ['integer', 'null'] },
        write: { type: 'boolean' },
        ms: { type: 'integer' },
      },
      required: ['columns', 'rows', 'page', 'perPage', 'more', 'changes', 'write', 'ms'],
    },
  };
}
