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
import { MAIL, Mailbox } from './helpers/mailbox.js';
import { startServer, superuserToken, TEST_ENGINE, type TestServer } from './helpers/server.js';

/**
 * `mainspring export-postman`: a Postman collection (v2.1) of an app with
 * every field type, a collection with a required relation and a pattern,
 * and a view, checked against the format's rules and read by Postman's own
 * library, then run by Newman against a live server: every request gets the
 * status its test expects, which is its success except where the run cannot
 * have what it needs (a mailed token, a file); those expect their refusal
 * until the variable is set, and with it set (a token read from the mail)
 * succeed.
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
    executions: { item: { name: string }; response?: { code: number }; assertions?: { assertion: string; error?: unknown }[] }[];
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
  const admin = await superuserToken(s, identity, password);
  await createEveryFieldCollections(s, admin);
  const posts = (await s.request('GET', '/api/collections/posts', { token: admin })).body;
  // created before what it needs, so the export must order them: comments need a post, which they do not let go of
  for (const body of [
    {
      name: 'comments',
      fields: [
        { name: 'post', type: 'relation', collectionId: posts.id, maxSelect: 1, required: true },
        { name: 'text', type: 'text', required: true, min: 3, max: 500 },
        { name: 'code', type: 'text', required: true, pattern: '^[a-z0-9-]+$', min: 6 },
      ],
    },
    {
      name: 'tag_labels',
      type: 'view',
      listRule: '',
      viewRule: '',
      viewQuery: 'SELECT t.id AS id, t.id AS tag, t.label AS label FROM tags t',
    },
  ]) {
    const made = await s.request('POST', '/api/collections', { token: admin, body });
    expect(made.status, JSON.stringify(made.body)).toBe(200);
  }
  collection = postmanCollection(openApiDocument(s.app.collections.registry.all(), { audience: 'superuser' }), { baseUrl: s.url });
});
afterAll(async () => s?.close());

/** Runs a collection with Newman, signed in as the test's superuser; `variables` go into the environment. */
function newmanRun(what: Record<string, any>, variables: Record<string, string> = {}): Promise<NewmanSummary> {
  const environment = postmanEnvironment({ baseUrl: s.url, identity, password });
  for (const [key, value] of Object.entries(variables))
    environment.values = [...(environment.values as object[]), { key, value, enabled: true }];
  return new Promise<NewmanSummary>((done, fail) =>
    newman.run({ collection: what, environment, reporters: [], timeoutRequest: 10_000 }, (err, result) => (err ? fail(err) : done(result))),
  );
}

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

  test('Newman runs it against a live server: every request gets the status its test expects', async () => {
    const summary = await newmanRun(collection);
    expect(summary.run.failures.map((f) => `${f.source?.name}: ${f.error.message}`)).toEqual([]);
    expect(summary.run.stats.requests.failed).toBe(0);
    const executions = summary.run.executions;
    // one status check per request, and it held
    for (const e of executions) {
      const checks = (e.assertions ?? []).filter((a) => /^answers \d{3}/.test(a.assertion));
      expect([e.item.name, checks.length, checks[0]?.error]).toEqual([e.item.name, 1, undefined]);
    }
    // the refusals are exactly those that wait for a mailed token or a file, and say so
    const refused = executions.filter((e) => (e.response?.code ?? 0) >= 400);
    expect(refused.map((e) => `${e.item.name}: ${e.assertions?.[0]?.assertion}`)).toEqual(
      refused.map((e) => expect.stringMatching(new RegExp(`^${e.item.name}: answers \\d{3} until \\w+`))),
    );
    expect(refused.map((e) => e.item.name).sort()).toEqual(
      [
        ...['_superusers', 'members', 'users'].flatMap(() => [
          'Change the address with the mailed token and the password',
          'Set a new password with the mailed token',
          'Verify with the mailed token',
        ]),
        'A file of a record',
      ].sort(),
    );
    const codes = (name: string) => executions.filter((e) => e.item.name === name).map((e) => e.response?.code);
    expect(codes('Sign in with a password')).toEqual([200]);
    for (const c of ['posts', 'tags', 'members', 'secrets', 'comments', '_authOrigins', '_externalAuths', '_mfas', '_otps']) {
      for (const [name, status] of [
        [`List ${c} records`, 200],
        [`Create a ${c} record`, 200],
        [`View a ${c} record`, 200],
        [`Update a ${c} record`, 200],
        [`Delete a ${c} record`, 204],
      ] as const) {
        expect([name, codes(name)]).toEqual([name, [status]]);
      }
    }
    // the view: listed, and its one record viewed
    expect(codes('View a tag_labels record')).toEqual([200]);
    // comments come after the posts they need, and go before them
    const order = executions.map((e) => e.item.name);
    expect(order.indexOf('Create a comments record')).toBeGreaterThan(order.indexOf('Create a posts record'));
    expect(order.indexOf('Delete a comments record')).toBeLessThan(order.indexOf('Delete a posts record'));
    // the auth flows of the records the run made: signed in as them, mails asked for
    expect(codes('Sign in to members with a password')).toEqual([200]);
    expect(codes('Mail a verification link')).toEqual([204, 204, 204]);
    expect(codes('Mail a confirmation link to a new address')).toEqual([204, 204, 204]);
    expect(codes('End every session and token of the caller')).toEqual([204]);
    expect(order.at(-1)).toBe('End every session and token of the caller');
    // and it leaves nothing behind
    const admin = await superuserToken(s, identity, password);
    for (const c of ['posts', 'tags', 'members', 'comments', 'secrets']) {
      expect([c, (await s.request('GET', `/api/collections/${c}/records`, { token: admin })).body.totalItems]).toEqual([c, 0]);
    }
  });

  test('a request waiting for a mailed token succeeds once its variable holds one', async () => {
    const admin = await superuserToken(s, identity, password);
    const email = 'verify-me@example.com';
    const made = await s.request('POST', '/api/collections/members/records', {
      token: admin,
      body: { email, password: 'password-123', passwordConfirm: 'password-123' },
    });
    expect(made.status).toBe(200);
    expect((await s.request('POST', '/api/collections/members/request-verification', { body: { email } })).status).toBe(204);
    const token = await new Mailbox(s.dir).take(email, MAIL.verification);
    const members = collection.item.find((f: { name: string }) => f.name === 'members');
    const verify = members.item.find((i: { name: string }) => i.name === 'Verify with the mailed token');
    const summary = await newmanRun({ ...collection, item: [collection.item[0], verify] }, { membersVerificationToken: token });
    expect(summary.run.failures).toEqual([]);
    expect(summary.run.executions.map((e) => [e.item.name, e.response?.code, e.assertions?.[0]?.assertion])).toEqual([
      ['Sign in with a password', 200, 'answers 200'],
      ['Verify with the mailed token', 204, 'answers 204'],
    ]);
    expect((await s.request('GET', `/api/collections/members/records/${made.body.id}`, { token: admin })).body.verified).toBe(true);
  });
});
