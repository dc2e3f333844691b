import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Validator } from '@seriousme/openapi-schema-validator';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createEveryFieldCollections } from './helpers/every-field.js';
import { signedUpUser, startServer, superuserToken, type TestServer } from './helpers/server.js';

/**
 * `GET /api/ms/openapi.json` for an app with every field type: valid
 * OpenAPI 3.1 (checked by @seriousme/openapi-schema-validator against the
 * official schema), shown whole to superusers and trimmed for everyone else,
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

async function expectValid(doc: unknown) {
  const validator = new Validator();
  const result = await validator.validate(doc as Parameters<Validator['validate']>[0]);
  expect(result.errors ?? []).toEqual([]);
  expect(result.valid).toBe(true);
  expect(validator.version).toBe('3.1');
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
