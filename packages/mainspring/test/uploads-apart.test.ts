import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startS3, type TestS3 } from './helpers/s3.js';
import { startServer, superuserToken, type TestServer } from './helpers/server.js';
import { BOUNDARY, eventually, MULTIPART_TYPE, multipart, partHead, refuseLate, streamRequest, tempFiles } from './helpers/uploads.js';

/**
 * A record's files are put in the file store before its transaction, not
 * inside it: a large upload to S3 holds no database writer, so other
 * clients' writes go on while it transfers; and a write that does not
 * commit (refused by its rule, by a hook, or by a validation after the put)
 * leaves nothing in the store, whichever the driver.
 */

let s: TestServer;
let s3: TestS3;
let su: string;
let docsId: string;

const call = (method: string, path: string, body?: unknown) => s.request(method, path, { body, token: su });

/** Every file of `docs` in the store, whichever driver it is. */
async function stored(): Promise<string[]> {
  const out: string[] = [];
  for await (const key of s.app.files.list({ kind: 'collection', collectionId: docsId })) out.push(`${key.recordId}/${key.name}`);
  return out.sort();
}

/** A multipart create or update of `docs` (as the SDK sends one) with one small file, by a guest (so rules apply). */
async function send(method: 'POST' | 'PATCH', path: string, title: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${s.url}${path}`, {
    method,
    headers: { 'content-type': MULTIPART_TYPE },
    body: multipart([
      { name: 'title', value: title },
      { name: 'file', filename: `${title}.txt`, data: `the file of ${title}`, type: 'text/plain' },
    ]),
  });
  return { status: res.status, body: await res.json() };
}

beforeAll(async () => {
  s3 = await startS3();
  s = await startServer({ hooks: [refuseLate('docs')] });
  su = await superuserToken(s);
  const docs = await call('POST', '/api/collections', {
    name: 'docs',
    listRule: '',
    viewRule: '',
    createRule: 'title != "refuse"',
    updateRule: '@request.body.title != "refuse"',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'file', type: 'file', maxSelect: 1, maxSize: 200 << 20 },
    ],
  });
  expect(docs.status).toBe(200);
  docsId = docs.body.id;
  const notes = await call('POST', '/api/collections', { name: 'notes', createRule: '', fields: [{ name: 'n', type: 'number' }] });
  expect(notes.status).toBe(200);
});

afterAll(async () => {
  await s?.close();
  await s3?.close();
});

describe.each(['local', 's3'] as const)('a write that does not commit leaves no file in the store (%s)', (driver) => {
  beforeAll(async () => {
    const s3Settings = driver === 's3' ? s3.settings() : { ...s3.settings(), enabled: false };
    expect((await call('PATCH', '/api/settings', { s3: s3Settings })).status).toBe(200);
  });

  test('refused by the create rule (judged on the inserted row) or by a hook after it; then an accepted one keeps its file', async () => {
    const before = await stored();
    const byRule = await send('POST', '/api/collections/docs/records', 'refuse');
    expect(byRule.status).toBe(400);
    const byHook = await send('POST', '/api/collections/docs/records', 'refuse-late');
    // a hook's own error is the server's (500); what matters is that nothing was written
    expect(byHook.status).toBeGreaterThanOrEqual(400);
    // the request's cleanup ends before its answer; eventually, so a slow one shows as itself
    await eventually(async () => expect(await stored()).toEqual(before));
    expect(tempFiles(s)).toEqual([]);
    expect((await call('GET', `/api/collections/docs/records?filter=${encodeURIComponent('title ~ "refuse"')}`)).body.totalItems).toBe(0);

    const kept = await send('POST', '/api/collections/docs/records', 'kept');
    expect(kept.status).toBe(200);
    expect(await stored()).toEqual([...before, `${kept.body.id}/${kept.body.file}`].sort());
  });

  test('an update refused by its rule, or by a hook after the write, keeps the old file and adds none', async () => {
    const rec = await send('POST', '/api/collections/docs/records', 'to update');
    expect(rec.status).toBe(200);
    const before = await stored();
    const byRule = await send('PATCH', `/api/collections/docs/records/${rec.body.id}`, 'refuse');
    expect(byRule.status).toBe(404);
    const byHook = await send('PATCH', `/api/collections/docs/records/${rec.body.id}`, 'refuse-late');
    // a hook's own error is the server's (500); what matters is that nothing was written
    expect(byHook.status).toBeGreaterThanOrEqual(400);
    await eventually(async () => expect(await stored()).toEqual(before));
    expect(tempFiles(s)).toEqual([]);
    const got = await fetch(`${s.url}/api/files/docs/${rec.body.id}/${rec.body.file}`);
    expect(await got.text()).toBe('the file of to update');
  });
});

const MiB = 1 << 20;

describe('a large upload to S3 holds no writer', () => {
  test('while 100 MiB streams in and goes up to S3, small creates keep answering; the record and its file are there afterwards', async () => {
    expect((await call('PATCH', '/api/settings', { s3: s3.settings() })).status).toBe(200);
    const size = 100 * MiB;
    const hash = createHash('sha256');
    let sentAt = 0;
    // the file's bytes are made as the socket takes them, never held whole
    function* body(): Generator<Buffer> {
      yield Buffer.from(`${partHead({ name: 'title', value: '' })}big\r\n`);
      yield Buffer.from(partHead({ name: 'file', filename: 'big.bin', data: '' }));
      for (let i = 0; i < size / MiB; i++) {
        const chunk = Buffer.alloc(MiB, i & 0xff);
        chunk.writeUInt32BE(i, 0);
        hash.update(chunk);
        yield chunk;
      }
      yield Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
      sentAt = performance.now();
    }
    const upload = streamRequest(s.url, '/api/collections/docs/records', { 'content-type': MULTIPART_TYPE, authorization: su }, body(), {
      timeoutMs: 170_000,
    });
    let done = false;
    const finished = upload.finally(() => {
      done = true;
    });

    // small creates, one after another, until the upload is answered
    const small: { startedAt: number; ms: number; status: number }[] = [];
    for (let n = 0; !done; n++) {
      const startedAt = performance.now();
      const res = await s.request('POST', '/api/collections/notes/records', { body: { n } });
      small.push({ startedAt, ms: performance.now() - startedAt, status: res.status });
    }
    const answer = await finished;
    const answeredAt = performance.now();
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);

    // the creates made after the body was all sent ran while the server put the file in S3 and wrote the record
    const whilePutting = small.filter((c) => c.startedAt >= sentAt);
    console.log(
      `upload ${Math.round(answer.ms)} ms, of which after its last byte ${Math.round(answeredAt - sentAt)} ms; ` +
        `${small.length} small creates (${whilePutting.length} after the last byte), slowest ${Math.round(Math.max(...small.map((c) => c.ms)))} ms`,
    );
    expect(small.filter((c) => c.status !== 200)).toEqual([]);
    for (const c of small) expect(c.ms).toBeLessThan(2000);
    expect(whilePutting.length).toBeGreaterThan(0);

    const rec = answer.body as { id: string; file: string; title: string };
    expect(rec.title).toBe('big');
    expect((await call('GET', `/api/collections/docs/records/${rec.id}`)).body.file).toBe(rec.file);
    const download = await fetch(`${s.url}/api/files/docs/${rec.id}/${rec.file}`);
    expect(download.status).toBe(200);
    const back = createHash('sha256');
    let length = 0;
    for await (const chunk of download.body as AsyncIterable<Uint8Array>) {
      back.update(chunk);
      length += chunk.length;
    }
    expect(length).toBe(size);
    expect(back.digest('hex')).toBe(hash.digest('hex'));
  }, 180_000);
});
