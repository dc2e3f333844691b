import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { typescriptTypes } from '../src/core/collections/typegen.js';
import { createEveryFieldCollections } from './helpers/every-field.js';
import { signedUpUser, startServer, superuserToken, TEST_ENGINE, type TestServer } from './helpers/server.js';

/**
 * `mainspring typegen`: the types of an app with every field type compile
 * under `tsc --strict`, type the official SDK (`TypedPocketBase`) and the
 * hooks (`TypedMainspring`), and refuse a wrong field at compile time, in a
 * client file and in a hooks file alike.
 */

const run = promisify(execFile);
const PACKAGE = resolve(import.meta.dirname, '..');
const REPO = resolve(PACKAGE, '../..');
const TSC = join(REPO, 'node_modules/typescript/bin/tsc');
/**
 * In the repository `mainspring`'s types are its sources, as for the hooks' type check: the declarations
 * the package ships are built only when it is packed (first-use.test.ts compiles typegen's output against them).
 */
const MAINSPRING_TYPES = { mainspring: [join(PACKAGE, 'src/index.ts')] };
// inside the repository, so `pocketbase` resolves from node_modules
const tmpRoot = join(REPO, '.vitest-tmp');

let s: TestServer;
let dir: string;
let types: string;

beforeAll(async () => {
  s = await startServer();
  await createEveryFieldCollections(s, await superuserToken(s));
  types = typescriptTypes(s.app.collections.registry.all());
  mkdirSync(tmpRoot, { recursive: true });
  dir = mkdtempSync(join(tmpRoot, 'typegen-'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  writeFileSync(join(dir, 'types.ts'), types);
});
afterAll(async () => {
  await s?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Type errors of `files` (in `dir`), as `file:line TScode`, compiled strict. */
function typeErrors(files: string[]): string[] {
  const program = ts.createProgram(
    files.map((f) => join(dir, f)),
    {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      skipLibCheck: true,
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
      types: [],
      paths: MAINSPRING_TYPES,
    },
  );
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file ? `${d.file.fileName.slice(dir.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : '';
    return `${where} TS${d.code}`;
  });
}

const CLIENT = `import PocketBase from 'pocketbase';
import type { AggregatePage, PostsCreate, PostsResponse, PostsUpdate, TypedPocketBase, UsersResponse } from './types.js';

export async function demo(url: string): Promise<string> {
  const pb = new PocketBase(url) as TypedPocketBase;
  const create: PostsCreate = { title: 'Hello', status: 'live', flags: ['hot', 'new'], score: 1, tags: [], meta: { any: 'thing' } };
  const post: PostsResponse = await pb.collection('posts').create(create);
  const update: PostsUpdate = { 'score+': 1, 'flags-': 'hot', 'tags+': ['x'] };
  await pb.collection('posts').update(post.id, update);
  const page = await pb.collection('posts').getList(1, 10, { expand: 'author' });
  const first = page.items[0];
  const author: UsersResponse | undefined = first?.expand?.author;
  const status: 'draft' | 'live' | '' = post.status;
  const flags: ('hot' | 'new' | 'old')[] = post.flags;
  const member = await pb.collection('members').authWithPassword('a@example.com', 'password-123');
  const level: 'bronze' | 'silver' | 'gold' | '' = member.record.level;
  const query = { groupBy: "strftime('%Y-%m', published) as month", fields: 'sum(score) as total' };
  const months = await pb.send<AggregatePage<{ month: string; total: number }>>('/api/ms/collections/posts/aggregate', { query });
  const total: number = months.items[0]?.total ?? 0;
  return [post.title.toUpperCase(), status, flags.join(), author?.name ?? '', level, post.collectionName, total].join(' ');
}
`;

/** A strict compile of the SDK's types and lib.dom takes seconds, and far longer with the CI machine's other test file beside it. */
const TSC_TIMEOUT_MS = 120_000;

describe('typegen', { timeout: TSC_TIMEOUT_MS }, () => {
  test('the command prints the same module', async () => {
    if (TEST_ENGINE === 'postgres') return; // the CLI reads the test server's SQLite file; one engine is enough here
    const { stdout } = await run(process.execPath, [join(PACKAGE, 'bin/mainspring.js'), 'typegen', `--dir=${s.dir}`]);
    expect(stdout).toBe(types);
  });

  test('names every collection and types fields by kind', () => {
    // system collections too (PocketBase's auth-flow collections are listable through the SDK), system ones first
    expect(types).toContain(
      "export type CollectionName = '_authOrigins' | '_externalAuths' | '_mfas' | '_otps' | '_superusers' | 'members' | 'posts' | 'secrets' | 'tags' | 'users';".replaceAll(
        "'",
        '"',
      ),
    );
    expect(types).toContain('export type PostsStatusOptions = "draft" | "live";');
    expect(types).toContain('  id: RecordIdString;');
    const posts = types.slice(types.indexOf('export type PostsRecord = {'), types.indexOf('export type PostsExpand'));
    for (const field of [
      'title: string;',
      'score: number;',
      'public: boolean;',
      'published: IsoDateString;',
      'status: PostsStatusOptions | "";',
      'flags: PostsFlagsOptions[];',
      'meta: unknown;',
      'place: { lon: number; lat: number };',
      'author: RecordIdString;',
      'tags: RecordIdString[];',
      'cover: FilenameString;',
      'attachments: FilenameString[];',
      'body: HTMLString;',
    ]) {
      expect(posts).toContain(`  ${field}\n`);
    }
    expect(types).toContain('author?: UsersResponse;\n  tags?: TagsResponse[];');
    const members = types.slice(types.indexOf('export type MembersRecord = {'), types.indexOf('export type MembersExpand'));
    expect(members).toContain('email?: string;');
    expect(members).not.toMatch(/password|tokenKey/);
    // _otps: the code's hash is never answered; a superuser's create gives the code
    const otps = types.slice(types.indexOf('export type OtpsRecord = {'), types.indexOf('export type OtpsExpand'));
    expect(otps).toContain('  recordRef: string;\n');
    expect(otps).not.toContain('password');
    const otpCreate = types.slice(types.indexOf('export type OtpsCreate = {'), types.indexOf('export type OtpsUpdate'));
    expect(otpCreate).toContain('  password: string;\n');
    expect(types).toContain('  collection(idOrName: "_authOrigins"): RecordService<AuthOriginsResponse>;');
    expect(types).toContain('export type AggregatePage<Row extends AggregateRow = AggregateRow> = {');
  });

  test('compiles with tsc --strict, with a client of the official SDK', async () => {
    writeFileSync(join(dir, 'client.ts'), CLIENT);
    const compilerOptions = {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      module: 'nodenext',
      moduleResolution: 'nodenext',
      target: 'es2022',
      lib: ['es2022', 'dom'],
      paths: MAINSPRING_TYPES,
    };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['types.ts', 'client.ts'] }));
    const { stdout } = await run(process.execPath, [TSC, '-p', dir]).catch((err: { stdout: string }) => ({ stdout: err.stdout }));
    expect(stdout).toBe('');
  });

  test('a wrong field, select value or type does not compile', () => {
    writeFileSync(
      join(dir, 'wrong.ts'),
      `import type { PostsCreate, PostsResponse, TypedPocketBase } from './types.js';
export const a: PostsCreate = { titel: 'typo', status: 'live' };
export const b: PostsCreate = { title: 'x', status: 'published' };
export const c: PostsCreate = { title: 'x', status: 'live', score: '3' };
export const d: PostsCreate = { status: 'live' };
export async function e(pb: TypedPocketBase) {
  const post = await pb.collection('posts').getOne('id');
  return post.titel;
}
export const f = (p: PostsResponse) => p.internal.toFixed();
`,
    );
    expect(typeErrors(['wrong.ts']).sort()).toEqual(
      // 2561/2551: "does not exist … Did you mean 'title'?"; 2322: not assignable; 2741: missing
      [
        'wrong.ts:2 TS2561',
        'wrong.ts:3 TS2322',
        'wrong.ts:4 TS2322',
        'wrong.ts:5 TS2741',
        'wrong.ts:8 TS2551',
        'wrong.ts:10 TS2551',
      ].sort(),
    );
  });
});

describe('typed hooks', () => {
  const hooksFile = (body: string) => `import type { TypedMainspring } from './_types';

export default (ms: TypedMainspring) => {
${body}
};
`;

  async function withHooks(body: string) {
    const hooksDir = mkdtempSync(join(dir, 'ms_hooks-'));
    writeFileSync(join(hooksDir, '_types.ts'), types);
    writeFileSync(join(hooksDir, 'tsconfig.json'), '{ "compilerOptions": { "strict": true } }');
    writeFileSync(join(hooksDir, 'posts.ts'), hooksFile(body));
    return startServer({ hooksDir });
  }

  test('hooks typed with the generated types load and run', async () => {
    const h = await withHooks(`  ms.onRecordCreate(async (e) => {
    const title: string = e.record.title;
    e.record.title = title.toUpperCase();
    e.record.flags = [...e.record.flags, 'new'];
    await e.next();
  }, 'posts');`);
    try {
      await createEveryFieldCollections(h, await superuserToken(h));
      const { token } = await signedUpUser(h, 'typed@example.com');
      const made = await h.request('POST', '/api/collections/posts/records', { token, body: { title: 'quiet', status: 'live' } });
      expect(made.body).toMatchObject({ title: 'QUIET', flags: ['new'] });
    } finally {
      await h.close();
    }
  });

  test('a hook that reads a field the collection does not have stops the start', async () => {
    await expect(
      withHooks(`  ms.onRecordCreate(async (e) => {
    e.record.titel = 'typo';
    await e.next();
  }, 'posts');`),
    ).rejects.toThrow(/posts\.ts:\d+:\d+ - error TS2551: Property 'titel' does not exist/);
  });
});
