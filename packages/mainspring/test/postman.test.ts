import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openApiDocument } from '../src/http/openapi.js';
import { POSTMAN_SCHEMA, postmanCollection, postmanEnvironment } from '../src/http/postman.js';
import { createEveryFieldCollections } from './helpers/every-field.js';
import { startServer, superuserToken, TEST_ENGINE, type TestServer } from './helpers/server.js';

/**
 * `mainspring export-postman`: a Postman collection (v2.1) of an app with
 * every field type, checked against the format's rules and read by Postman's
 * own library, then run by Newman against a live server: the sign-in stores
 * the token, every request answers without a server error, and the record
 * requests of each folder succeed in order (create, view, update, delete).
 */

const PACKAGE = resolve(import.meta.dirname, '..');
const run = promisify(execFile);
const newman = createRequire(import.meta.url)('newman') as {
  run(options: Record<string, unknown>, done: (err: Error | null, summary: NewmanSummary) => void): void;
};
/** Postman's own library (what the app and Newman read collections with). */
const { Collection } = createRequire(import.meta.url)('postman-collection') as {
  Collection: new (json: unknown) => { forEachItem(fn: (item: { name: string }) => void): void; toJSON(): { info?: { schema?: string } } };
};
interface NewmanSummary {
  run: {
    stats: { requests: { total: number; failed: number }; assertions: { total: number; failed: number } };
    failures: { error: { message: string }; source?: { name?: string } }[];
    executions: { item: { name: string }; response?: { code: number } }[];
  };
}

/**
 * The rules of the Postman Collection Format v2.1 that apply to what we
 * write (our transcription of its published schema, which no npm package
 * ships): the info block with the v2.1 schema URL, items that are requests
 * or folders of items, requests with a method, headers, a URL object and a
 * raw or form body, test/prerequest scripts, variables.
 */
const V21 = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  required: ['info', 'item'],
  properties: {
    info: {
      type: 'object',
      required: ['name', 'schema'],
      properties: {
        name: { type: 'string' },
        description: { type: 'string' },
        schema: { const: POSTMAN_SCHEMA },
        _postman_id: { type: 'string' },
      },
    },
    item: { type: 'array', items: { $ref: '#/definitions/entry' } },
    variable: { $ref: '#/definitions/variables' },
    event: { $ref: '#/definitions/events' },
  },
  definitions: {
    entry: { oneOf: [{ $ref: '#/definitions/item' }, { $ref: '#/definitions/folder' }] },
    folder: {
      type: 'object',
      required: ['item'],
      not: { required: ['request'] },
      properties: {
        name: { type: 'string' },
        description: { type: 'string' },
        item: { type: 'array', items: { $ref: '#/definitions/entry' } },
      },
    },
    item: {
      type: 'object',
      required: ['request'],
      properties: { name: { type: 'string' }, request: { $ref: '#/definitions/request' }, event: { $ref: '#/definitions/events' } },
    },
    request: {
      type: 'object',
      required: ['url'],
      properties: {
        method: {
          enum: [
            'GET',
            'PUT',
            'POST',
            'PATCH',
            'DELETE',
            'COPY',
            'HEAD',
            'OPTIONS',
            'LINK',
            'UNLINK',
            'PURGE',
            'LOCK',
            'UNLOCK',
            'PROPFIND',
            'VIEW',
          ],
        },
        url: { $ref: '#/definitions/url' },
        header: {
          type: 'array',
          items: { type: 'object', required: ['key', 'value'], properties: { key: { type: 'string' }, value: { type: 'string' } } },
        },
        body: {
          type: 'object',
          properties: {
            mode: { enum: ['raw', 'urlencoded', 'formdata', 'file', 'graphql'] },
            raw: { type: 'string' },
            options: { type: 'object' },
          },
        },
        description: { type: 'string' },
      },
    },
    url: {
      type: 'object',
      properties: {
        raw: { type: 'string' },
        host: { type: 'array', items: { type: 'string' } },
        path: { type: 'array', items: { type: 'string' } },
        query: {
          type: 'array',
          items: {
            type: 'object',
            required: ['key'],
            properties: { key: { type: ['string', 'null'] }, value: { type: ['string', 'null'] }, disabled: { type: 'boolean' } },
          },
        },
        variable: { $ref: '#/definitions/variables' },
      },
    },
    variables: {
      type: 'array',
      items: { type: 'object', properties: { key: { type: 'string' }, value: {}, type: { enum: ['string', 'boolean', 'any', 'number'] } } },
    },
    events: {
      type: 'array',
      items: {
        type: 'object',
        required: ['listen'],
        properties: {
          listen: { enum: ['test', 'prerequest'] },
          script: { type: 'object', properties: { type: { type: 'string' }, exec: { type: 'array', items: { type: 'string' } } } },
        },
      },
    },
  },
};

let s: TestServer;
let collection: Record<string, any>;
const identity = 'newman@example.com';
const password = 'newman-password-1';

beforeAll(async () => {
  s = await startServer();
  await superuserToken(s, identity, password);
  await createEveryFieldCollections(s, await superuserToken(s));
  collection = postmanCollection(openApiDocument(s.app.collections.registry.all(), { audience: 'superuser' }), { baseUrl: s.url });
});
afterAll(async () => s?.close());

describe('the Postman collection', () => {
  test('follows the v2.1 format and is read by the Postman library', () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    const valid = ajv.validate(V21, collection);
    expect(ajv.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    // the rules bite: a request without a URL is refused
    const broken = structuredClone(collection);
    delete broken.item[0].item[0].request.url;
    expect(ajv.validate(V21, broken)).toBe(false);

    const read = new Collection(collection);
    const names: string[] = [];
    read.forEachItem((item) => void names.push(item.name));
    expect(names).toContain('Sign in with a password');
    expect(names).toContain('Create a posts record');
    expect(read.toJSON().info?.schema).toBe(POSTMAN_SCHEMA);
  });

  test('the command writes the same collection, and an environment', async () => {
    if (TEST_ENGINE === 'postgres') return; // the CLI reads the test server's SQLite file; one engine is enough here
    const dir = mkdtempSync(join(tmpdir(), 'ms-postman-'));
    try {
      const env = join(dir, 'app.postman_environment.json');
      const { stdout } = await run(process.execPath, [
        join(PACKAGE, 'bin/mainspring.js'),
        'export-postman',
        `--dir=${s.dir}`,
        `--url=${s.url}`,
        `--environment=${env}`,
        `--identity=${identity}`,
      ]);
      const exported = JSON.parse(stdout);
      expect(exported.item.map((f: { name: string }) => f.name)).toEqual(collection.item.map((f: { name: string }) => f.name));
      expect(JSON.parse(readFileSync(env, 'utf8'))).toEqual(postmanEnvironment({ baseUrl: s.url, identity, name: 'Mainspring' }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('Newman runs it against a live server and passes', async () => {
    const environment = postmanEnvironment({ baseUrl: s.url, identity, password });
    const summary = await new Promise<NewmanSummary>((done, fail) =>
      newman.run({ collection, environment, reporters: [], timeoutRequest: 10_000 }, (err, result) => (err ? fail(err) : done(result))),
    );
    expect(summary.run.failures.map((f) => `${f.source?.name}: ${f.error.message}`)).toEqual([]);
    expect(summary.run.stats.requests.failed).toBe(0);
    expect(summary.run.stats.assertions.total).toBeGreaterThan(summary.run.stats.requests.total);
    const code = (name: string) => summary.run.executions.find((e) => e.item.name === name)?.response?.code;
    // signed in as the superuser, the record requests of a folder succeed in order
    expect(code('Sign in with a password')).toBe(200);
    for (const c of ['posts', 'tags', 'members', 'secrets']) {
      expect([c, code(`List ${c} records`)]).toEqual([c, 200]);
      expect([c, code(`Create a ${c} record`)]).toEqual([c, 200]);
      expect([c, code(`View a ${c} record`)]).toEqual([c, 200]);
      expect([c, code(`Update a ${c} record`)]).toEqual([c, 200]);
      expect([c, code(`Delete a ${c} record`)]).toEqual([c, 204]);
    }
    expect(code('Health check')).toBe(200);
  });
});
