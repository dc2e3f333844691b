import PocketBase from 'pocketbase';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Mainspring } from '../src/core/hooks/api.js';
import { signedUpUser, startServer, superuserToken, type TestServer } from './helpers/server.js';

/**
 * PocketBase's file hooks: `onFileDownloadRequest` sees a download after
 * access was checked and may refuse it or serve something else of the
 * record; `onFileTokenRequest` may refuse or change a file token.
 */

let s: TestServer;
let pb: PocketBase;
let record: { id: string; collectionId: string; doc: string; notes: string };
const downloads: string[] = [];
const servedPaths: string[] = [];

function hooks(ms: Mainspring): void {
  ms.onFileDownloadRequest(async (e) => {
    downloads.push(`${e.auth?.record.email ?? 'guest'} ${e.fileField}`);
    servedPaths.push(e.servedPath);
    if (e.fileField === 'notes') throw new ms.ForbiddenError('Notes are not for download.');
    if (e.request.url.includes('renamed=1')) e.servedName = 'report.txt';
    const other = new URL(e.request.url, 'http://x').searchParams.get('other');
    if (other !== null) e.servedPath = other;
    await e.next();
  }, 'papers');
  ms.onFileTokenRequest(async (e) => {
    if (e.auth.record.email === 'no-files@example.com') throw new ms.ForbiddenError('No file tokens for you.');
    await e.next();
  });
}

beforeAll(async () => {
  s = await startServer({ hooks: [hooks] });
  const su = await superuserToken(s);
  const made = await s.request('POST', '/api/collections', {
    token: su,
    body: {
      name: 'papers',
      listRule: '',
      viewRule: '',
      createRule: '',
      fields: [
        { name: 'doc', type: 'file' },
        { name: 'notes', type: 'file' },
      ],
    },
  });
  expect(made.status).toBe(200);
  pb = new PocketBase(s.url);
  record = await pb.collection('papers').create({
    doc: new File(['the document'], 'doc.txt'),
    notes: new File(['private notes'], 'notes.txt'),
  });
});
afterAll(() => s.close());

test('a download hook sees the file and may refuse it', async () => {
  const doc = await fetch(pb.files.getURL(record, record.doc));
  expect(doc.status).toBe(200);
  expect(await doc.text()).toBe('the document');
  const notes = await fetch(pb.files.getURL(record, record.notes));
  expect(notes.status).toBe(403);
  expect(await notes.json()).toEqual({ status: 403, message: 'Notes are not for download.', data: {} });
  expect(downloads).toEqual(['guest doc', 'guest notes']);
});

test('a download hook may change the name a file is served under', async () => {
  const res = await fetch(`${pb.files.getURL(record, record.doc, { download: true })}&renamed=1`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-disposition')).toContain('report.txt');
});

test("a download hook sees the file's path in the store (PocketBase's), and may serve another stored file by its path", async () => {
  servedPaths.length = 0;
  const base = `${record.collectionId}/${record.id}`;
  expect((await fetch(pb.files.getURL(record, record.doc))).status).toBe(200);
  expect(servedPaths).toEqual([`${base}/${record.doc}`]);
  const other = await fetch(`${pb.files.getURL(record, record.doc)}?other=${encodeURIComponent(`${base}/${record.notes}`)}`);
  expect(other.status).toBe(200);
  expect(await other.text()).toBe('private notes');
});

test('a served path that is no stored file is a 404, never a file elsewhere', async () => {
  const base = `${record.collectionId}/${record.id}`;
  for (const path of [
    '/etc/passwd',
    '../../data.db',
    `${base}/../${record.id}/${record.notes}`,
    `${base}//${record.notes}`,
    `/${base}/${record.notes}`,
    `${base}/missing_0123456789.txt`,
    `${base}/thumbs_${record.doc}/100x100_${record.doc}`,
    'data.db',
    '',
  ]) {
    const res = await fetch(`${pb.files.getURL(record, record.doc)}?other=${encodeURIComponent(path)}`);
    expect(res.status, path).toBe(404);
    expect(await res.json()).toEqual({ status: 404, message: "The requested resource wasn't found.", data: {} });
  }
});

test('a token hook may refuse a file token', async () => {
  const ann = await signedUpUser(s, 'ann@example.com');
  const ok = await s.request('POST', '/api/files/token', { token: ann.token });
  expect(ok.status).toBe(200);
  expect(typeof ok.body.token).toBe('string');
  const no = await signedUpUser(s, 'no-files@example.com');
  const refused = await s.request('POST', '/api/files/token', { token: no.token });
  expect(refused.status).toBe(403);
  expect(refused.body.token).toBeUndefined();
});
