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

function hooks(ms: Mainspring): void {
  ms.onFileDownloadRequest(async (e) => {
    downloads.push(`${e.auth?.record.email ?? 'guest'} ${e.fileField}`);
    if (e.fileField === 'notes') throw new ms.ForbiddenError('Notes are not for download.');
    if (e.request.url.includes('renamed=1')) e.servedName = 'report.txt';
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
