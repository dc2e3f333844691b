/**
 * The attacker's uploads (SECURITY.md #1, #2, #4, #6; OWASP API4 for the
 * resource bounds): file names that try to leave their folder, bytes that
 * lie about their type, a part past its size that must be refused before
 * the rest is read, ten thousand tiny parts, bodies that stall or are cut
 * off, files where none are taken, and values that pretend to be uploads.
 * After each: a clear 4xx in PocketBase's shape, no record written, no
 * temporary file left, nothing stored outside the record's folder.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isStoredName } from '../../src/core/files/keys.js';
import { type Answer, expectApiError, rawCall } from '../helpers/hostile.js';
import { startServer, superuserToken, type TestServer } from '../helpers/server.js';
import {
  BOUNDARY,
  expectNoTempFiles,
  MULTIPART_TYPE,
  multipart,
  type Part,
  partHead,
  storedFiles,
  streamRequest,
} from '../helpers/uploads.js';

let s: TestServer;
let su: string;
let docsId: string;

const EXE = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(1022, 0x90)]);

/** Sends a hand-made multipart body. */
function send(path: string, parts: Part[], opts: { token?: string; method?: string } = {}): Promise<Answer> {
  const body = multipart(parts);
  const headers: Record<string, string> = { 'content-type': MULTIPART_TYPE, 'content-length': String(body.length) };
  if (opts.token) headers.authorization = opts.token;
  return rawCall(s.url, opts.method ?? 'POST', path, { headers, body });
}

const RECORDS = '/api/collections/docs/records';
const countDocs = async () => Number((await s.app.engine.get<{ n: number }>('SELECT COUNT(*) AS n FROM "docs"'))?.n);

/** Nothing written: the record count, the stored files and .uploads are as before. */
async function expectNothingWritten(records: number, files: string[]): Promise<void> {
  expect(await countDocs()).toBe(records);
  expect(storedFiles(s)).toEqual(files);
  await expectNoTempFiles(s);
}

beforeAll(async () => {
  s = await startServer({ uploadIdleTimeoutMs: 400 });
  su = await superuserToken(s);
  const res = await s.request('POST', '/api/collections', {
    token: su,
    body: {
      name: 'docs',
      listRule: '',
      viewRule: '',
      createRule: '',
      updateRule: '',
      deleteRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'meta', type: 'json' },
        { name: 'documents', type: 'file', maxSelect: 3, maxSize: 1 << 20 },
        { name: 'avatar', type: 'file', maxSelect: 1, mimeTypes: ['image/png', 'image/jpeg', 'image/gif'] },
      ],
    },
  });
  expect(res.status).toBe(200);
  docsId = res.body.id;
});
afterAll(() => s?.close());

describe('file names', () => {
  const hostile: [string, string][] = [
    ['traversal', '../../etc/passwd'],
    ['deeper traversal', '../../../../../../../../tmp/ms-escape.txt'],
    ['backslashes', '..\\..\\x'],
    ['short backslash', '..\\x'],
    ['absolute', '/etc/cron.d/evil'],
    ['windows absolute', 'C:\\Windows\\evil.dll'],
    ['dot file', '.htaccess'],
    ['dots only', '..'],
    ['encoded NUL', 'shell.php%00.png'],
    ['very long', `${'a'.repeat(4000)}.txt`],
    ['very long extension', `a.${'b'.repeat(4000)}`],
    ['unicode', '写真 😀 été.txt'],
    ['right-to-left override', 'invoice\u202etxt.exe'],
    ['CRLF', 'a\r\nContent-Type: text/html.txt'],
    ['quotes', 'a"b\'c.txt'],
    ['empty', ''],
  ];

  test.each(hostile)('%s: stored under a safe name inside the record folder', async (_label, filename) => {
    const quoted = filename.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
    const res = await send(RECORDS, [{ name: 'documents', filename: quoted, data: 'payload' }], { token: su });
    expect(res.status, res.text).toBe(200);
    const names: string[] = res.body.documents;
    // an empty file name with bytes is still a file
    expect(names).toHaveLength(1);
    const name = names[0] as string;
    expect(isStoredName(name)).toBe(true);
    expect(name).toMatch(/^[a-z0-9_]+_[a-z0-9]{10}(\.[a-z0-9]+)*$/);
    expect(name.length).toBeLessThanOrEqual(132);
    expect(storedFiles(s)).toContain(`${docsId}/${res.body.id}/${name}`);
  });

  test.each([
    ['NUL', 'a\u0000b.txt'],
    ['NUL extension', 'shell.php\u0000.png'],
  ])('%s in a header: the body is refused as malformed, nothing kept', async (_label, filename) => {
    const records = await countDocs();
    const files = storedFiles(s);
    const res = await send(RECORDS, [{ name: 'documents', filename, data: 'payload' }], { token: su });
    expectApiError(res, 400);
    await expectNothingWritten(records, files);
  });

  test('RFC 5987 file names (filename*=) are only hints too', async () => {
    const head =
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="documents"; filename*=UTF-8''..%2F..%2F..%2Ftmp%2Fms-evil.sh\r\n` +
      'Content-Type: text/plain\r\n\r\n';
    const body = Buffer.concat([Buffer.from(head), Buffer.from('x\r\n'), Buffer.from(`--${BOUNDARY}--\r\n`)]);
    const res = await rawCall(s.url, 'POST', RECORDS, {
      headers: { 'content-type': MULTIPART_TYPE, authorization: su },
      body,
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.documents[0]).toMatch(/^ms_evil_[a-z0-9]{10}\.sh$/);
  });

  test('nothing was ever written outside the storage folder', () => {
    expect(existsSync('/tmp/ms-escape.txt')).toBe(false);
    expect(existsSync('/tmp/ms-evil.sh')).toBe(false);
    expect(readdirSync(s.app.dataDir).sort()).toEqual(expect.not.arrayContaining(['etc', 'passwd', 'x']));
    for (const path of storedFiles(s)) expect(path.split('/')).toHaveLength(3);
  });

  test('removing or keeping names that are paths touches nothing outside the record', async () => {
    const sentinel = join(s.app.dataDir, 'storage', 'sentinel.txt');
    mkdirSync(join(s.app.dataDir, 'storage'), { recursive: true });
    writeFileSync(sentinel, 'keep me');
    const created = await send(RECORDS, [{ name: 'documents', filename: 'a.txt', data: 'a' }], { token: su });
    const id = created.body.id;
    for (const name of ['../../sentinel.txt', '../sentinel.txt', '..', '.', '/', `../${id}`, '']) {
      const res = await s.request('PATCH', `${RECORDS}/${id}`, { token: su, body: { 'documents-': [name] } });
      expect(res.status).toBe(200);
      const keep = await s.request('PATCH', `${RECORDS}/${id}`, { token: su, body: { documents: [...created.body.documents, name] } });
      if (name !== '') expectApiError({ ...keep, text: JSON.stringify(keep.body) }, 400, name);
    }
    expect(existsSync(sentinel)).toBe(true);
    expect(storedFiles(s)).toContain(`${docsId}/${id}/${created.body.documents[0]}`);
  });
});

describe('bytes that lie', () => {
  test.each([
    ['an .exe named photo.png, declared image/png', EXE, 'photo.png', 'image/png'],
    ['an .exe named photo.jpg', EXE, 'photo.jpg', 'image/jpeg'],
    ['HTML named image.gif', '<!doctype html><script>alert(document.cookie)</script>', 'image.gif', 'image/gif'],
    ['an SVG with a script named avatar.png', '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', 'avatar.png', 'image/png'],
    ['a PNG header with nothing after it', Buffer.from('89504e47', 'hex'), 'x.png', 'image/png'],
  ])('%s: 400 naming the field, nothing kept', async (_label, data, filename, type) => {
    const records = await countDocs();
    const files = storedFiles(s);
    const res = await send(RECORDS, [
      { name: 'title', value: 'liar' },
      { name: 'avatar', filename, data, type },
    ]);
    expectApiError(res, 400);
    expect(res.body.data.avatar.code).toBe('validation_invalid_mime_type');
    await expectNothingWritten(records, files);
  });
});

describe('resource bounds', () => {
  test('a file past maxSize is refused while it streams: 400 long before the body is sent, nothing left', async () => {
    const records = await countDocs();
    const files = storedFiles(s);
    const total = 64 << 20;
    const chunk = Buffer.alloc(64 << 10, 'z');
    function* body(): Generator<Buffer> {
      yield Buffer.from(`${partHead({ name: 'title', value: '' })}big\r\n`);
      yield Buffer.from(partHead({ name: 'documents', filename: 'big.bin', data: '' }));
      for (let sent = 0; sent < total; sent += chunk.length) yield chunk;
      yield Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
    }
    const res = await streamRequest(s.url, RECORDS, { 'content-type': MULTIPART_TYPE, 'transfer-encoding': 'chunked' }, body());
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ status: 400, data: { documents: { code: 'validation_file_size_limit' } } });
    expect(res.sentWhenAnswered, `sent ${res.sentWhenAnswered} of ${total}`).toBeLessThan(total / 4);
    // the rest is drained within a bound (http/refusals.ts), so the client reads the answer instead of a reset
    expect(res.headers.connection).not.toBe('close');
    await expectNothingWritten(records, files);
    expect((await s.request('GET', '/api/health')).status).toBe(200);
  });

  test('ten thousand tiny files in one request: a quick 400, no temporary files', async () => {
    const records = await countDocs();
    const files = storedFiles(s);
    const parts: Part[] = Array.from({ length: 10_000 }, (_, i) => ({ name: 'documents', filename: `f${i}.txt`, data: 'x' }));
    const started = performance.now();
    const res = await send(RECORDS, parts, { token: su });
    expect(performance.now() - started).toBeLessThan(3000);
    expectApiError(res, 400);
    expect(res.body.data.documents.code).toBe('validation_too_many_files');
    await expectNothingWritten(records, files);
    // spread over every name the route knows, and over batch requests, the bound holds too
    const spread = await send(
      '/api/batch',
      Array.from({ length: 10_000 }, (_, i) => ({ name: `requests.${i % 50}.documents`, filename: `f${i}.txt`, data: 'x' })),
      { token: su },
    );
    expectApiError(spread, 400);
    await expectNothingWritten(records, files);
  });

  test('a body that stalls is answered 408 and dropped within the idle timeout, leaving nothing', async () => {
    const records = await countDocs();
    const files = storedFiles(s);
    function* stalled(): Generator<Buffer> {
      yield Buffer.from(partHead({ name: 'documents', filename: 'slow.bin', data: '' }));
      yield Buffer.alloc(100 << 10, 's');
    }
    const res = await streamRequest(s.url, RECORDS, { 'content-type': MULTIPART_TYPE, 'transfer-encoding': 'chunked' }, stalled(), {
      end: false,
      timeoutMs: 5000,
    });
    expect(res.status).toBe(408);
    expect(res.body).toMatchObject({ status: 408, data: {} });
    expect(res.ms).toBeLessThan(3000);
    expect(res.headers.connection).toBe('close');
    await expectNothingWritten(records, files);
  });

  test('a client that goes away mid-upload leaves no temporary file and no record', async () => {
    const records = await countDocs();
    const files = storedFiles(s);
    const url = new URL(s.url);
    const { request } = await import('node:http');
    await new Promise<void>((done) => {
      const req = request({
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: RECORDS,
        headers: { 'content-type': MULTIPART_TYPE, 'transfer-encoding': 'chunked' },
      });
      req.on('error', () => done());
      req.write(partHead({ name: 'documents', filename: 'cut.bin', data: '' }));
      req.write(Buffer.alloc(256 << 10, 'c'));
      setTimeout(() => {
        req.destroy();
        done();
      }, 100);
    });
    await expectNothingWritten(records, files);
  });

  test('a declared Content-Length past the limit is refused before anything is read', async () => {
    const res = await streamRequest(
      s.url,
      RECORDS,
      { 'content-type': MULTIPART_TYPE, 'content-length': String(10 * 2 ** 30) },
      [Buffer.from(partHead({ name: 'documents', filename: 'huge.bin', data: '' }))],
      { end: false, timeoutMs: 3000 },
    );
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ status: 413, data: {} });
    expect(res.ms).toBeLessThan(1000);
    await expectNoTempFiles(s);
  });
});

describe('files where none are taken, and things that are not files', () => {
  test.each([
    ['POST', '/api/collections/users/auth-with-password'],
    ['POST', '/api/collections'],
    ['PATCH', '/api/settings'],
    ['POST', '/api/collections/users/request-password-reset'],
  ])('%s %s refuses file parts', async (method, path) => {
    const res = await send(path, [{ name: 'file', filename: 'x.txt', data: 'x' }], { token: su, method });
    expectApiError(res, 400);
    await expectNoTempFiles(s);
  });

  test.each([
    ['a text field', 'title'],
    ['an unknown field', 'nope'],
    ['a removal key', 'documents-'],
    ['a prototype key', '__proto__'],
    ['a batch-style name on the records route', 'requests.0.documents'],
  ])('a file sent to %s is a 400', async (_label, name) => {
    const records = await countDocs();
    const files = storedFiles(s);
    const res = await send(RECORDS, [{ name, filename: 'x.txt', data: 'x' }], { token: su });
    expectApiError(res, 400);
    await expectNothingWritten(records, files);
  });

  test('a file for a collection that does not exist is a 404, nothing kept', async () => {
    const res = await send('/api/collections/missing/records', [{ name: 'documents', filename: 'x.txt', data: 'x' }]);
    expectApiError(res, 404);
    await expectNoTempFiles(s);
  });

  test.each([
    ['an object shaped like an upload', { path: '/etc/passwd', name: 'passwd', size: 1 }],
    ['a list with one', [{ path: '/etc/passwd' }]],
    ['a number', 5],
    ['a list with a number', ['a.txt', 1]],
  ])('JSON cannot make %s', async (_label, value) => {
    const records = await countDocs();
    const res = await s.request('POST', RECORDS, { token: su, body: { documents: value } });
    expectApiError({ ...res, text: JSON.stringify(res.body) }, 400);
    expect(res.body.data.documents.code).toMatch(/^validation_invalid_(type|file)$/);
    expect(await countDocs()).toBe(records);
  });

  test('batch file parts must name a request of the batch', async () => {
    const records = await countDocs();
    const files = storedFiles(s);
    const requests = JSON.stringify({ requests: [{ method: 'POST', url: RECORDS, body: { title: 'b' } }] });
    for (const name of ['requests.1.documents', 'requests.9999.documents', 'requests.x.documents', 'documents', 'requests..documents']) {
      const res = await send(
        '/api/batch',
        [
          { name: '@jsonPayload', value: requests },
          { name, filename: 'x.txt', data: 'x' },
        ],
        { token: su },
      );
      expectApiError(res, 400, name);
      await expectNothingWritten(records, files);
    }
    // a file to a text or JSON field of a batch request fails that request, and the batch
    for (const field of ['title', 'meta']) {
      const res = await send(
        '/api/batch',
        [
          { name: `requests.0.${field}`, filename: 'x.txt', data: 'x' },
          { name: '@jsonPayload', value: requests },
        ],
        { token: su },
      );
      expectApiError(res, 400);
      expect(res.body.data.requests['0'].response.data[field].code).toBe('validation_invalid_type');
      await expectNothingWritten(records, files);
    }
  });
});
