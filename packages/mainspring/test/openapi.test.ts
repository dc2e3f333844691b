import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { REFERS } from '../src/http/openapi.js';
import { createEveryFieldCollections } from './helpers/every-field.js';
import { signedUpUser, startServer, superuserToken, type TestServer } from './helpers/server.js';

/**
 * `GET /api/ms/openapi.json` for an app with every field type: valid
 * OpenAPI 3.1, strictly (the document's structure by
 * @seriousme/openapi-schema-validator against the official schema, which
 * does not look inside Schema Objects; each Schema Object by Ajv as JSON
 * Schema 2020-12 in strict mode, and each example against its schema),
 * shown whole to superusers and trimmed for everyone else,
 * rebuilt on schema changes; a client generated from it by openapi-typescript
 * and run with openapi-fetch compiles under `strict` and makes requests;
 * `/api/ms/docs` is a self-contained page.
 */

let s: TestServer;
let admin: string;

beforeAll(async () => {
  s = await startServer();
  admin = await superuserToken(s);
  await createEveryFieldCollections(s, admin);
});
afterAll(async () => s?.close());

async function document(token?: string) {
  const res = await s.request('GET', '/api/ms/openapi.json', token ? { token } : {});
  expect(res.status).toBe(200);
  return res.body as any;
}

/**
 * What is wrong with the Schema Objects of a document, read as OpenAPI 3.1
 * reads them (JSON Schema 2020-12, with OpenAPI's own keywords and `x-`
 * extensions) by Ajv in strict mode: an unknown keyword, a keyword that does
 * not apply to the type given, a `required` property the object does not
 * describe, a schema the meta-schema refuses, or an example its schema
 * refuses. References go to the document's components.
 */
function schemaProblems(doc: any): string[] {
  const ajv = new Ajv2020({ strict: true, strictRequired: true, strictTypes: true, allowUnionTypes: true, allErrors: true });
  for (const keyword of ['discriminator', 'xml', 'externalDocs', 'example', REFERS]) ajv.addKeyword(keyword);
  const rewrite = (schema: unknown): any =>
    JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"https://openapi.local/doc#/$defs/'));
  const problems: string[] = [];
  try {
    ajv.addSchema({ $id: 'https://openapi.local/doc', $defs: rewrite(doc.components.schemas) });
  } catch (err) {
    return [`components.schemas: ${(err as Error).message}`];
  }
  const check = (where: string, schema: any) => {
    let validate: ReturnType<typeof ajv.compile>;
    try {
      validate = ajv.compile(rewrite(schema));
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
      return;
    }
    for (const example of schema.examples ?? []) {
      if (!validate(example)) problems.push(`${where}: example ${JSON.stringify(example)}: ${ajv.errorsText(validate.errors)}`);
    }
    for (const [name, property] of Object.entries(schema.properties ?? {})) check(`${where}.${name}`, property);
  };
  for (const [name, schema] of Object.entries(doc.components.schemas)) check(`components.schemas.${name}`, schema);
  for (const [path, item] of Object.entries(doc.paths as Record<string, any>)) {
    for (const [method, op] of Object.entries(item as Record<string, any>)) {
      for (const p of op.parameters ?? []) check(`${method} ${path} parameter ${p.name}`, p.schema);
      for (const [type, media] of Object.entries(op.requestBody?.content ?? {}))
        check(`${method} ${path} body ${type}`, (media as any).schema);
      for (const [status, answer] of Object.entries(op.responses ?? {})) {
        for (const [type, media] of Object.entries((answer as any).content ?? {}))
          check(`${method} ${path} ${status} ${type}`, (media as any).schema);
      }
    }
  }
  return problems;
}

async function expectValid(doc: unknown) {
  const validator = new Validator();
  const result = await validator.validate(doc as Parameters<Validator['validate']>[0]);
  expect(result.errors ?? []).toEqual([]);
  expect(result.valid).toBe(true);
  expect(validator.version).toBe('3.1');
  expect(schemaProblems(doc)).toEqual([]);
}

describe('the OpenAPI document', () => {
  test('is valid OpenAPI 3.1 for superusers and for guests', async () => {
    await expectValid(await document(admin));
    await expectValid(await document());
    // and the validator does bite: a response without its description is refused
    const broken = await document(admin);
    delete broken.paths['/api/health'].get.responses['200'].description;
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  test('its schemas pass JSON Schema 2020-12 strictly, and so do their examples; the check bites', async () => {
    const doc = await document(admin);
    expect(schemaProblems(doc)).toEqual([]);
    // every property a create requires has an example, or is a relation the writer must fill with a real id
    for (const [name, schema] of Object.entries(doc.components.schemas as Record<string, any>)) {
      if (!name.endsWith('Create')) continue;
      for (const field of schema.required ?? []) {
        const property = schema.properties[field];
        expect([name, field, Array.isArray(property.examples) || typeof property[REFERS] === 'string']).toEqual([name, field, true]);
      }
    }
    const spoilt = (change: (d: any) => void) => {
      const copy = structuredClone(doc);
      change(copy);
      return schemaProblems(copy);
    };
    expect(spoilt((d) => (d.components.schemas.PostsRecord.properties.title.type = 'strnig'))).not.toEqual([]);
    expect(spoilt((d) => (d.components.schemas.PostsRecord.properties.title.colour = 'red'))).not.toEqual([]);
    expect(spoilt((d) => d.components.schemas.PostsCreate.required.push('nothing'))).not.toEqual([]);
    expect(spoilt((d) => (d.components.schemas.PostsCreate.properties.title.examples = ['x'.repeat(101)]))).not.toEqual([]);
    expect(spoilt((d) => (d.paths['/api/health'].get.responses['200'].content['application/json'].schema.minLength = -1))).not.toEqual([]);
  });

  test('examples pass the fields they stand for; relations and the auth flows name what they refer to', async () => {
    const doc = await document(admin);
    const create = doc.components.schemas.PostsCreate.properties;
    expect(create.slug).toMatchObject({ pattern: '^[a-z0-9-]*$', examples: ['text'] }); // an example that passes the pattern
    expect(create.author).toMatchObject({ [REFERS]: 'record:users', description: 'The id of a `users` record.' });
    expect(create.tags).toMatchObject({ type: 'array', [REFERS]: 'record:tags' });
    expect(doc.components.schemas.PostsUpdate.properties.id).toBeUndefined(); // an id is given at creation or never
    expect(doc.components.schemas.MembersCreate.properties.password.examples).toEqual(['password-123']);
    const origins = doc.components.schemas.AuthOriginsCreate.properties;
    expect(origins.collectionRef).toMatchObject({ [REFERS]: 'authCollection', examples: [expect.stringMatching(/^pbc_/)] });
    expect(origins.recordRef).toMatchObject({ [REFERS]: 'authRecord' });
    expect(doc.components.schemas.ExternalAuthsCreate.properties.provider.examples).toEqual(['google']);
    // a guest's document names no collection it does not show
    const guest = await document();
    expect(JSON.stringify(guest)).not.toContain('record:secrets');
  });

  test('leaves out the sign-in methods a collection has switched off, as auth-methods does', async () => {
    const doc = await document(admin);
    expect(doc.paths).toHaveProperty(['/api/collections/members/auth-with-password']);
    expect(doc.paths).not.toHaveProperty(['/api/collections/members/request-otp']);
    expect(
      doc.paths['/api/collections/members/auth-with-password'].post.requestBody.content['application/json'].schema.properties.identityField,
    ).toMatchObject({
      enum: ['email'],
    });
    const changed = await s.request('PATCH', '/api/collections/members', {
      token: admin,
      body: { otp: { enabled: true }, passwordAuth: { enabled: false } },
    });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    try {
      const after = await document(admin);
      for (const route of ['request-otp', 'auth-with-otp']) expect(after.paths).toHaveProperty([`/api/collections/members/${route}`]);
      for (const route of ['auth-with-password', 'request-password-reset', 'confirm-password-reset']) {
        expect(after.paths).not.toHaveProperty([`/api/collections/members/${route}`]);
      }
      await expectValid(after);
    } finally {
      await s.request('PATCH', '/api/collections/members', {
        token: admin,
        body: { otp: { enabled: false }, passwordAuth: { enabled: true } },
      });
    }
  });

  test('describes each collection by field type', async () => {
    const doc = await document(admin);
    const post = doc.components.schemas.PostsRecord;
    expect(post.properties).toMatchObject({
      collectionName: { const: 'posts' },
      title: { type: 'string' },
      score: { type: 'integer' },
      ratio: { type: 'number' },
      public: { type: 'boolean' },
      status: { type: 'string', enum: ['draft', 'live', ''] },
      flags: { type: 'array', items: { enum: ['hot', 'new', 'old'] } },
      author: { type: 'string' },
      tags: { type: 'array', items: { type: 'string' } },
      cover: { type: 'string' },
      attachments: { type: 'array' },
      internal: { type: 'string' },
    });
    expect(doc.components.schemas.MembersRecord.properties.password).toBeUndefined(); // passwords never leave
    expect(post.properties.meta).toBeDefined();
    const create = doc.components.schemas.PostsCreate;
    expect(create.required).toEqual(['title', 'status']);
    expect(create.properties.title).toMatchObject({ minLength: 1, maxLength: 100 });
    expect(create.properties.score).toMatchObject({ minimum: 0, maximum: 1000 });
    expect(create.properties.created).toBeUndefined(); // autodate is the system's
    expect(doc.components.schemas.PostsUpdate.properties).toHaveProperty(['score+']);
    expect(doc.components.schemas.PostsUpdate.properties).toHaveProperty(['tags-']);
    const postsPath = doc.paths['/api/collections/posts/records'];
    expect(Object.keys(postsPath)).toEqual(['get', 'post']);
    expect(Object.keys(postsPath.post.requestBody.content)).toEqual(['application/json', 'multipart/form-data']);
    // auth collections: their sign-in routes and the record with its email
    expect(doc.paths['/api/collections/members/auth-with-password'].post.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/MembersAuthResponse',
    });
    expect(doc.components.schemas.MembersRecord.properties).toHaveProperty('email');
    expect(doc.components.schemas.MembersRecord.properties).not.toHaveProperty('tokenKey');
    expect(doc.components.schemas.MembersCreate.required).toEqual(expect.arrayContaining(['password', 'passwordConfirm', 'email']));
    for (const path of [
      '/api/batch',
      '/api/realtime',
      '/api/files/token',
      '/api/files/{collection}/{recordId}/{filename}',
      '/api/health',
    ]) {
      expect(doc.paths).toHaveProperty([path]);
    }
    expect(doc.paths['/api/realtime'].get.responses['200'].content).toHaveProperty(['text/event-stream']);
  });

  test('guests get what they could reach, without superuser-only collections or hidden fields', async () => {
    const doc = await document();
    expect(doc.components.schemas.SecretsRecord).toBeUndefined();
    expect(Object.keys(doc.paths).some((p) => p.includes('/secrets/'))).toBe(false);
    expect(doc.components.schemas.PostsRecord.properties.internal).toBeUndefined();
    // a rule that is null leaves its route out: nobody but a superuser may delete tags
    expect(doc.paths['/api/collections/tags/records/{id}']).toEqual({ get: expect.any(Object) });
    // superusers sign in through the API too
    expect(doc.paths).toHaveProperty(['/api/collections/_superusers/auth-with-password']);
    const { token } = await signedUpUser(s, 'reader@example.com');
    expect(await document(token)).toEqual(doc);
  });

  test('follows the schema as it changes', async () => {
    const before = await document(admin);
    expect(before.components.schemas.NotesRecord).toBeUndefined();
    expect(await document(admin)).toEqual(before); // the cached copy
    const made = await s.request('POST', '/api/collections', {
      token: admin,
      body: { name: 'notes', listRule: '', fields: [{ name: 'text', type: 'text' }] },
    });
    expect(made.status).toBe(200);
    const after = await document(admin);
    expect(after.components.schemas.NotesRecord.properties.text).toEqual({ type: 'string' });
    await expectValid(after);
  });

  test('the interactive reference is one page of our own, under a strict CSP', async () => {
    const page = await fetch(`${s.url}/api/ms/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(sources).toEqual(['docs/docs.css', 'docs/docs.js', 'openapi.json']);
    for (const asset of ['docs.js', 'docs.css']) {
      const res = await fetch(`${s.url}/api/ms/docs/${asset}`);
      expect(res.status).toBe(200);
      expect(await res.text()).not.toMatch(/https?:\/\//);
    }
  });
});

describe('a client generated from it', () => {
  // inside the repository, so the generated code finds openapi-fetch in node_modules
  const root = resolve(import.meta.dirname, '../../../.vitest-tmp');
  let dir: string;
  beforeAll(() => {
    mkdirSync(root, { recursive: true });
    dir = mkdtempSync(join(root, 'openapi-client-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('openapi-typescript + openapi-fetch: compiles under strict and makes requests', async () => {
    writeFileSync(join(dir, 'api.d.ts'), astToString(await openapiTS(await document(admin))));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    writeFileSync(
      join(dir, 'client.ts'),
      `import createClient from 'openapi-fetch';
import type { paths } from './api.js';

export async function run(baseUrl: string, token: string) {
  const client = createClient<paths>({ baseUrl, headers: { Authorization: token } });
  const created = await client.POST('/api/collections/posts/records', {
    body: { title: 'From a generated client', status: 'live', score: 3, flags: ['hot'], meta: { a: 1 } },
  });
  if (!created.data) throw new Error(JSON.stringify(created.error));
  const id: string = created.data.id;
  const list = await client.GET('/api/collections/posts/records', {
    params: { query: { filter: \`id = "\${id}"\`, perPage: 5 } },
  });
  const first = list.data?.items[0];
  const title: string | undefined = first?.title;
  const score: number | undefined = first?.score;
  const status: 'draft' | 'live' | '' | undefined = first?.status;
  const missing = await client.GET('/api/collections/posts/records/{id}', { params: { path: { id: 'nope00000000000' } } });
  return { id, title, score, status, total: list.data?.totalItems, missing: missing.response.status, error: missing.error?.message };
}
`,
    );
    const program = ts.createProgram([join(dir, 'client.ts')], {
      strict: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      skipLibCheck: true,
      outDir: dir,
      types: [],
    });
    const emitted = program.emit();
    const diagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics].map((d) =>
      ts.flattenDiagnosticMessageText(d.messageText, '\n'),
    );
    expect(diagnostics).toEqual([]);
    const { run } = await import(pathToFileURL(join(dir, 'client.js')).href);
    const { token } = await signedUpUser(s, 'generated@example.com');
    const out = await run(s.url, token);
    expect(out).toMatchObject({ title: 'From a generated client', score: 3, status: 'live', total: 1, missing: 404 });
    expect(out.error).toBeTypeOf('string');
  });
});
