import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import PocketBase, { ClientResponseError } from 'pocketbase';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, superuserToken, type TestServer } from './helpers/server.js';
import { eventually, expectNoTempFiles, refuseLate, storedFiles, tempFiles } from './helpers/uploads.js';

/**
 * Uploads through the official `pocketbase` SDK, unchanged: files on create,
 * `field+` / `+field` / `field-`, clearing, maxSelect, maxSize and mimeTypes
 * (by the bytes), single-file replacement, batch, and what is on disk after
 * each write commits or fails: the files a record names, and nothing else.
 */

let s: TestServer;
let admin: PocketBase;
let pb: PocketBase;
let docsId: string;

const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
    '1f15c4890000000d49444154789c626001000000ffff03000006000557bfabd40000000049454e44ae426082',
  'hex',
);
const EXE = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(510, 0x90)]);
const NAME = /^[a-z0-9_]+_[a-z0-9]{10}\.[a-z0-9.]+$/;

const file = (content: string | Buffer, name: string, type = '') => new File([content], name, type ? { type } : {});

/** The HTTP status and the error data of a failed SDK call. */
async function failure(p: Promise<unknown>): Promise<{ status: number; data: Record<string, any> }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ClientResponseError) return { status: err.status, data: err.response?.data ?? {} };
    throw err;
  }
  throw new Error('the call succeeded');
}

/** The stored files of one record, by name. */
function filesOf(recordId: string, collectionId = docsId): string[] {
  return storedFiles(s)
    .filter((p) => p.startsWith(`${collectionId}/${recordId}/`))
    .map((p) => p.split('/')[2] as string)
    .sort();
}

const contentOf = (recordId: string, name: string, collectionId = docsId) =>
  readFileSync(join(s.app.dataDir, 'storage', collectionId, recordId, name), 'utf8');

beforeAll(async () => {
  s = await startServer({ hooks: [refuseLate('docs')] });
  await superuserToken(s, 'root@example.com', 'root-password-1');
  admin = new PocketBase(s.url);
  await admin.collection('_superusers').authWithPassword('root@example.com', 'root-password-1');
  const open = { listRule: '', viewRule: '', updateRule: '@request.body.title != "refuse"', deleteRule: '' };
  const docs = await admin.collections.create({
    name: 'docs',
    type: 'base',
    ...open,
    createRule: 'title != "refuse"',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'documents', type: 'file', maxSelect: 3, maxSize: 64 * 1024 },
      { name: 'avatar', type: 'file', maxSelect: 1, mimeTypes: ['image/png', 'image/jpeg'] },
      { name: 'notes', type: 'file', maxSelect: 5, mimeTypes: ['text/plain', 'application/json'] },
    ],
  });
  docsId = docs.id;
  await admin.collections.create({
    name: 'pages',
    type: 'base',
    ...open,
    createRule: '',
    fields: [
      { name: 'doc', type: 'relation', collectionId: docs.id, maxSelect: 1, cascadeDelete: true },
      { name: 'scan', type: 'file', maxSelect: 1 },
    ],
  });
  pb = new PocketBase(s.url);
  pb.autoCancellation(false);
});
afterAll(() => s?.close());

describe('uploads through the SDK', () => {
  test('create with files: sanitized unique names, the bytes on disk, nothing left in .uploads', async () => {
    const r = await pb.collection('docs').create({
      title: 'first',
      documents: [file('hello', 'Hello World.txt'), file('hello', 'Hello World.txt'), file('%PDF-1.4\n', 'Report.PDF')],
    });
    expect(r.documents).toHaveLength(3);
    for (const name of r.documents) expect(name).toMatch(NAME);
    expect(r.documents[0]).toMatch(/^hello_world_[a-z0-9]{10}\.txt$/);
    expect(r.documents[0]).not.toBe(r.documents[1]);
    expect(r.documents[2]).toMatch(/^report_[a-z0-9]{10}\.pdf$/);
    expect(filesOf(r.id)).toEqual([...r.documents].sort());
    expect(contentOf(r.id, r.documents[0])).toBe('hello');
    const read = await pb.collection('docs').getOne(r.id);
    expect(read.documents).toEqual(r.documents);
    await expectNoTempFiles(s);
  });

  test('field+ appends, +field prepends, field- removes (the file goes from disk after the commit)', async () => {
    const r = await pb.collection('docs').create({ title: 'edit', documents: [file('a', 'a.txt')] });
    const [a] = r.documents;
    const appended = await pb.collection('docs').update(r.id, { 'documents+': file('b', 'b.txt') });
    expect(appended.documents).toHaveLength(2);
    expect(appended.documents[0]).toBe(a);
    const b = appended.documents[1];
    const prepended = await pb.collection('docs').update(r.id, { '+documents': file('c', 'c.txt') });
    expect(prepended.documents.slice(1)).toEqual([a, b]);
    const c = prepended.documents[0];
    expect(filesOf(r.id)).toEqual([a, b, c].sort());

    // removal in a multipart body with an upload beside it
    const removed = await pb.collection('docs').update(r.id, { 'documents-': [a], 'documents+': file('d', 'd.txt') });
    expect(removed.documents).toHaveLength(3);
    expect(removed.documents).not.toContain(a);
    await eventually(() => expect(filesOf(r.id)).not.toContain(a));
    // and in a plain JSON body
    const json = await pb.collection('docs').update(r.id, { 'documents-': [b, 'not_there_0000000000.txt'] });
    expect(json.documents).toEqual(removed.documents.filter((n: string) => n !== b));
    await eventually(() => expect(filesOf(r.id)).toEqual([...json.documents].sort()));
    await expectNoTempFiles(s);
  });

  test('existing names reorder or keep; names the record does not have are refused', async () => {
    const r = await pb.collection('docs').create({ title: 'order', documents: [file('1', 'one.txt'), file('2', 'two.txt')] });
    const other = await pb.collection('docs').create({ title: 'other', documents: [file('x', 'secret.txt')] });
    const reordered = await pb.collection('docs').update(r.id, { documents: [r.documents[1], r.documents[0]] });
    expect(reordered.documents).toEqual([r.documents[1], r.documents[0]]);
    expect(filesOf(r.id)).toHaveLength(2);

    for (const name of [other.documents[0], 'made_up_0123456789.txt', '../../etc/passwd']) {
      const res = await failure(pb.collection('docs').update(r.id, { documents: [r.documents[0], name] }));
      expect(res.status).toBe(400);
      expect(res.data.documents.code).toBe('validation_invalid_file');
      const created = await failure(pb.collection('docs').create({ title: 'steal', documents: [name] }));
      expect(created.data.documents.code).toBe('validation_invalid_file');
    }
    expect((await pb.collection('docs').getOne(r.id)).documents).toEqual(reordered.documents);
    expect(filesOf(other.id)).toEqual(other.documents);
  });

  test('setting [], null or an empty form value clears the field and deletes its files', async () => {
    for (const clear of [{ documents: [] }, { documents: null }, { documents: '' }]) {
      const r = await pb.collection('docs').create({ title: 'clear', documents: [file('1', 'one.txt'), file('2', 'two.txt')] });
      expect(filesOf(r.id)).toHaveLength(2);
      const cleared = await pb.collection('docs').update(r.id, clear);
      expect(cleared.documents).toEqual([]);
      await eventually(() => expect(filesOf(r.id)).toEqual([]));
    }
    // as a multipart form field beside an upload to another field
    const r = await pb.collection('docs').create({ title: 'clear', documents: [file('1', 'one.txt')] });
    const form = new FormData();
    form.append('documents', '');
    form.append('notes', file('note', 'note.txt'));
    const cleared = await pb.collection('docs').update(r.id, form);
    expect(cleared.documents).toEqual([]);
    expect(cleared.notes).toHaveLength(1);
    await eventually(() => expect(filesOf(r.id)).toEqual(cleared.notes));
  });

  test('maxSelect holds on create, on append, and on the result', async () => {
    const four = [1, 2, 3, 4].map((i) => file(String(i), `${i}.txt`));
    const res = await failure(pb.collection('docs').create({ title: 'many', documents: four }));
    expect(res.status).toBe(400);
    expect(res.data.documents.code).toBe('validation_too_many_files');
    const r = await pb.collection('docs').create({ title: 'three', documents: four.slice(0, 3) });
    const more = await failure(pb.collection('docs').update(r.id, { 'documents+': file('5', '5.txt') }));
    expect(more.data.documents.code).toBe('validation_too_many_files');
    expect(filesOf(r.id)).toEqual([...r.documents].sort());
    await expectNoTempFiles(s);
  });

  test('a single file field keeps the last upload, and the one it replaces goes from disk', async () => {
    const r = await pb.collection('docs').create({ title: 'avatar', avatar: file(PNG, 'mine.png') });
    expect(r.avatar).toMatch(/^mine_[a-z0-9]{10}\.png$/);
    const replaced = await pb.collection('docs').update(r.id, { avatar: file(PNG, 'new mine.png') });
    expect(replaced.avatar).toMatch(/^new_mine_[a-z0-9]{10}\.png$/);
    await eventually(() => expect(filesOf(r.id)).toEqual([replaced.avatar]));
  });

  test('maxSize: a file past it is a 400 naming the field, and nothing is kept', async () => {
    const before = storedFiles(s);
    const big = Buffer.alloc(64 * 1024 + 1, 'a');
    const res = await failure(pb.collection('docs').create({ title: 'big', documents: [file('ok', 'ok.txt'), file(big, 'big.txt')] }));
    expect(res.status).toBe(400);
    expect(res.data.documents).toMatchObject({ code: 'validation_file_size_limit', params: { maxSize: 64 * 1024 } });
    expect(storedFiles(s)).toEqual(before);
    expect((await admin.collection('docs').getFullList({ filter: 'title = "big"' })).length).toBe(0);
    await expectNoTempFiles(s);
    // exactly the limit is fine
    const ok = await pb.collection('docs').create({ title: 'limit', documents: [file(big.subarray(1), 'limit.txt')] });
    expect(filesOf(ok.id)).toHaveLength(1);
  });

  test('the default maxSize is 5 MB (PocketBase): 5 MiB goes, one byte more does not', async () => {
    const r = await pb.collection('pages').create({ scan: file(Buffer.alloc(5 << 20, 'x'), 'scan.txt') });
    expect(r.scan).toMatch(/^scan_/);
    const res = await failure(pb.collection('pages').create({ scan: file(Buffer.alloc((5 << 20) + 1, 'x'), 'scan.txt') }));
    expect(res.data.scan.code).toBe('validation_file_size_limit');
  });

  test('mimeTypes are checked against the bytes, not the name or the declared type', async () => {
    const ok = await pb.collection('docs').create({ title: 'png', avatar: file(PNG, 'photo.png', 'image/png') });
    expect(ok.avatar).toMatch(/\.png$/);
    for (const [bytes, name, type] of [
      [EXE, 'photo.png', 'image/png'],
      ['<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 'photo.png', 'image/png'],
      ['just text', 'photo.jpg', 'image/jpeg'],
    ] as const) {
      const res = await failure(pb.collection('docs').create({ title: 'liar', avatar: file(bytes, name, type) }));
      expect(res.status).toBe(400);
      expect(res.data.avatar.code).toBe('validation_invalid_mime_type');
    }
    // text types come from the content too
    const notes = await pb.collection('docs').create({
      title: 'notes',
      notes: [file('plain words', 'a.txt'), file('{"a":1}', 'b.json'), file('no extension here', 'README')],
    });
    expect(notes.notes[2]).toMatch(/^readme_[a-z0-9]{10}\.txt$/);
    const bad = await failure(pb.collection('docs').create({ title: 'notes', notes: [file(PNG, 'a.txt', 'text/plain')] }));
    expect(bad.data.notes.code).toBe('validation_invalid_mime_type');
    expect((await admin.collection('docs').getFullList({ filter: 'title = "liar"' })).length).toBe(0);
    await expectNoTempFiles(s);
  });

  test('deleting a record deletes its files after the commit, cascades included', async () => {
    const doc = await pb.collection('docs').create({ title: 'gone', documents: [file('1', '1.txt')], avatar: file(PNG, 'a.png') });
    const page = await pb.collection('pages').create({ doc: doc.id, scan: file('scan', 'scan.txt') });
    const pagesId = (await admin.collections.getOne('pages')).id;
    expect(filesOf(doc.id)).toHaveLength(2);
    expect(filesOf(page.id, pagesId)).toHaveLength(1);
    await pb.collection('docs').delete(doc.id);
    await eventually(() => {
      expect(filesOf(doc.id)).toEqual([]);
      expect(filesOf(page.id, pagesId)).toEqual([]);
      expect(storedFiles(s).some((p) => p.includes(doc.id) || p.includes(page.id))).toBe(false);
    });
  });

  test('a write that fails keeps the old files and leaves no new one', async () => {
    const r = await pb.collection('docs').create({ title: 'keep', documents: [file('1', '1.txt')] });
    const before = storedFiles(s);
    // refused by the update rule (404), by the create rule (checked on the written row: files were in place), by a hook after the write
    expect((await failure(pb.collection('docs').update(r.id, { title: 'refuse', 'documents-': r.documents }))).status).toBe(404);
    expect((await failure(pb.collection('docs').create({ title: 'refuse', documents: [file('2', '2.txt')] }))).status).toBe(400);
    const late = [
      () => pb.collection('docs').create({ title: 'refuse-late', documents: [file('3', '3.txt')] }),
      () => pb.collection('docs').update(r.id, { title: 'refuse-late', 'documents+': file('4', '4.txt'), 'documents-': r.documents }),
    ];
    for (const write of late) expect((await failure(write())).status).toBeGreaterThanOrEqual(400);
    await eventually(() => expect(storedFiles(s)).toEqual(before));
    expect((await pb.collection('docs').getOne(r.id)).documents).toEqual(r.documents);
    expect(contentOf(r.id, r.documents[0])).toBe('1');
    await expectNoTempFiles(s);
  });

  test('batch: files per request index; a failed batch keeps none of them', async () => {
    const batch = pb.createBatch();
    batch.collection('docs').create({ title: 'b1', documents: [file('b1', 'b1.txt')] });
    batch.collection('docs').create({ title: 'b2', avatar: file(PNG, 'b2.png'), notes: [file('n', 'n.txt')] });
    const results = await batch.send();
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    const [b1, b2] = results.map((r) => r.body);
    expect(filesOf(b1.id)).toEqual(b1.documents);
    expect(filesOf(b2.id)).toEqual([b2.avatar, ...b2.notes].sort());

    // an append in a batch update, beside names kept by JSON
    const upd = pb.createBatch();
    upd.collection('docs').update(b1.id, { documents: [...b1.documents, file('more', 'more.txt')] });
    const [updated] = await upd.send();
    const names: string[] = updated?.body.documents ?? [];
    expect(names).toHaveLength(2);
    expect(filesOf(b1.id)).toEqual([...names].sort());

    const before = storedFiles(s);
    const failing = pb.createBatch();
    failing.collection('docs').create({ title: 'b3', documents: [file('b3', 'b3.txt')] });
    failing.collection('docs').create({ title: 'b4', avatar: file(EXE, 'b4.png', 'image/png') });
    const res = await failure(failing.send());
    expect(res.status).toBe(400);
    expect(res.data.requests['1'].response.data.avatar.code).toBe('validation_invalid_mime_type');
    await eventually(() => expect(storedFiles(s)).toEqual(before));
    expect((await admin.collection('docs').getFullList({ filter: 'title = "b3"' })).length).toBe(0);
    await expectNoTempFiles(s);
  });

  test('record hooks see stored names and may drop an upload (then it is not kept)', async () => {
    const seen: unknown[] = [];
    const hooked = await startServer({
      hooks: [
        (ms) => {
          ms.onRecordCreate(async (e) => {
            seen.push(e.record.files);
            e.record.files = (e.record.files as string[]).filter((n) => !n.startsWith('drop'));
            await e.next();
          }, 'things');
        },
      ],
    });
    try {
      const su = await superuserToken(hooked);
      const client = new PocketBase(hooked.url);
      client.authStore.save(su);
      await client.collections.create({ name: 'things', createRule: '', fields: [{ name: 'files', type: 'file', maxSelect: 3 }] });
      const r = await client.collection('things').create({ files: [file('k', 'keep.txt'), file('d', 'drop.txt')] });
      expect(r.files).toHaveLength(1);
      expect(seen[0]).toEqual([expect.stringMatching(/^keep_/), expect.stringMatching(/^drop_/)]);
      await eventually(() => expect(storedFiles(hooked).map((p) => p.split('/')[2])).toEqual(r.files));
      await eventually(() => expect(tempFiles(hooked)).toEqual([]));
    } finally {
      await hooked.close();
    }
  });

  test('Idempotency-Key: a repeated upload is replayed (one record, one set of files); other bytes under the key are a 422', async () => {
    const send = async (content: string) => {
      const form = new FormData();
      form.append('title', 'idem');
      form.append('documents', file(content, 'idem.txt'));
      const res = await fetch(`${s.url}/api/collections/docs/records`, {
        method: 'POST',
        body: form,
        headers: { 'idempotency-key': 'upload-1' },
      });
      return { status: res.status, replayed: res.headers.get('idempotent-replayed'), body: (await res.json()) as Record<string, any> };
    };
    const first = await send('same bytes');
    const again = await send('same bytes');
    expect([first.status, again.status, again.replayed]).toEqual([200, 200, 'true']);
    expect(again.body).toEqual(first.body);
    expect((await send('other bytes')).status).toBe(422);
    expect((await admin.collection('docs').getFullList({ filter: 'title = "idem"' })).length).toBe(1);
    expect(filesOf(first.body.id)).toEqual(first.body.documents);
    await expectNoTempFiles(s);
  });

  test('removing a file field from a collection deletes the files it held, and only those', async () => {
    const c = await admin.collections.create({
      name: 'twofields',
      createRule: '',
      fields: [
        { name: 'keep', type: 'file' },
        { name: 'drop', type: 'file', maxSelect: 3 },
      ],
    });
    const r = await pb.collection('twofields').create({ keep: file('k', 'keep.txt'), drop: [file('a', 'a.txt'), file('b', 'b.txt')] });
    expect(filesOf(r.id, c.id)).toHaveLength(3);
    await admin.collections.update('twofields', { fields: c.fields.filter((f: { name: string }) => f.name !== 'drop') });
    await eventually(() => expect(filesOf(r.id, c.id)).toEqual([r.keep]));
  });

  test('deleting a collection deletes its files', async () => {
    const c = await admin.collections.create({ name: 'temporary', createRule: '', fields: [{ name: 'f', type: 'file' }] });
    const r = await pb.collection('temporary').create({ f: file('x', 'x.txt') });
    expect(filesOf(r.id, c.id)).toHaveLength(1);
    await admin.collections.delete('temporary');
    await eventually(() => expect(storedFiles(s).some((p) => p.startsWith(`${c.id}/`))).toBe(false));
  });
});
