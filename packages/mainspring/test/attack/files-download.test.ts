import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { setFileValue, storeFile, twoTone } from '../helpers/files.js';
import { type Answer, expectApiError, rawCall } from '../helpers/hostile.js';
import { startServer, superuserToken, type TestServer } from '../helpers/server.js';

/**
 * The attacker's suite for file downloads (SECURITY.md #6, #8, #10): no
 * path made of a collection, record id, file name, thumb size or token can
 * leave a record's folder, reach a file the record does not name, or tell a
 * hidden file from a missing one; hostile validators and ranges are 4xx or
 * ignored, never a 500.
 */

let s: TestServer;
let su: string;
let cid: string;
let rA: string;
let rB: string;
const SENTINEL = 'SENTINEL-must-never-be-served';

const ok = (a: Answer) => a.text;
/** Every file under the storage folder, relative to it. */
function storageFiles(): string[] {
  const root = join(s.app.dataDir, 'storage');
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(root, p));
    }
  };
  walk(root);
  return out.sort();
}

function expectRefused(res: Answer, label: string): void {
  expectApiError(res, [400, 404, 414, 431], label);
  expect(ok(res), label).not.toContain(SENTINEL);
}

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  const created = await s.request('POST', '/api/collections', {
    token: su,
    body: {
      name: 'docs',
      type: 'base',
      viewRule: '@request.auth.id != ""',
      fields: [
        { name: 'file', type: 'file', maxSelect: 20, thumbs: ['50x50'] },
        { name: 'secret', type: 'file', maxSelect: 1, protected: true },
      ],
    },
  });
  expect(created.status).toBe(200);
  cid = created.body.id;
  rA = (await s.request('POST', '/api/collections/docs/records', { token: su, body: {} })).body.id;
  rB = (await s.request('POST', '/api/collections/docs/records', { token: su, body: {} })).body.id;
  await storeFile(s, 'docs', rA, 'file', 'photo_a1b2c3d4e5.png', await twoTone(100, 100));
  await storeFile(s, 'docs', rA, 'secret', 'hidden_a1b2c3d4e5.txt', `${SENTINEL} protected`);
  await storeFile(s, 'docs', rB, 'file', 'other_a1b2c3d4e5.txt', `${SENTINEL} of another record`);
  // files that exist on disk but that no record names
  const storage = join(s.app.dataDir, 'storage');
  await writeFile(join(s.app.dataDir, 'sentinel.txt'), SENTINEL);
  await writeFile(join(storage, 'sentinel.txt'), SENTINEL);
  await writeFile(join(storage, cid, 'sentinel.txt'), SENTINEL);
  await writeFile(join(storage, cid, rA, 'planted_a1b2c3d4e5.txt'), SENTINEL);
  await mkdir(join(storage, cid, rA, 'thumbs_photo_a1b2c3d4e5.png'), { recursive: true });
  await writeFile(join(storage, cid, rA, 'thumbs_photo_a1b2c3d4e5.png', '60x60_photo_a1b2c3d4e5.png'), SENTINEL);
});

afterAll(async () => {
  await s?.close();
});

describe('paths that would leave the record folder', () => {
  test('traversal through the collection, the record id and the file name, however encoded', async () => {
    const paths = [
      // the collection
      `/api/files/..%2f..%2f/${rA}/photo_a1b2c3d4e5.png`,
      `/api/files/..%2F${cid}/${rA}/photo_a1b2c3d4e5.png`,
      `/api/files/%2e%2e/${cid}/sentinel.txt`,
      `/api/files/..%5c..%5c/${rA}/sentinel.txt`,
      `/api/files/docs%00/${rA}/photo_a1b2c3d4e5.png`,
      `/api/files/${cid}%2f${rA}/photo_a1b2c3d4e5.png/x`,
      // the record id
      `/api/files/docs/..%2f${rA}/photo_a1b2c3d4e5.png`,
      `/api/files/docs/%2e%2e/sentinel.txt`,
      `/api/files/docs/.%2e/sentinel.txt`,
      `/api/files/docs/${rA}%2f..%2f${rB}/other_a1b2c3d4e5.txt`,
      `/api/files/docs/..%5c${rB}/other_a1b2c3d4e5.txt`,
      `/api/files/docs/${rA}%00/photo_a1b2c3d4e5.png`,
      // the file name
      `/api/files/docs/${rA}/..%2fsentinel.txt`,
      `/api/files/docs/${rA}/..%2f..%2fsentinel.txt`,
      `/api/files/docs/${rA}/..%2f..%2f..%2fsentinel.txt`,
      `/api/files/docs/${rA}/..%2f..%2f..%2fdata.db`,
      `/api/files/docs/${rA}/%2e%2e%2f${rB}%2fother_a1b2c3d4e5.txt`,
      `/api/files/docs/${rA}/..%5c..%5csentinel.txt`,
      `/api/files/docs/${rA}/..\\..\\sentinel.txt`,
      `/api/files/docs/${rA}/%252e%252e%252fsentinel.txt`,
      `/api/files/docs/${rA}/photo_a1b2c3d4e5.png%00.txt`,
      `/api/files/docs/${rA}/photo_a1b2c3d4e5.png%00`,
      `/api/files/docs/${rA}/%00`,
      `/api/files/docs/${rA}/%c0%ae%c0%ae%c0%afsentinel.txt`,
      `/api/files/docs/${rA}/%2fetc%2fpasswd`,
      `/api/files/docs/${rA}/.`,
      `/api/files/docs/${rA}/%2e`,
      `/api/files/docs/${rA}/thumbs_photo_a1b2c3d4e5.png%2f60x60_photo_a1b2c3d4e5.png`,
      // unencoded dot segments are more segments: no route
      `/api/files/docs/${rA}/../../sentinel.txt`,
      `/api/files/docs/${rA}/../${rB}/other_a1b2c3d4e5.txt`,
    ];
    for (const p of paths) {
      for (const method of ['GET', 'HEAD']) {
        const res = await rawCall(s.url, method, p);
        if (method === 'HEAD') expect([400, 404], `${method} ${p}`).toContain(res.status);
        else expectRefused(res, p);
      }
    }
  });

  test('very long collections, ids and names are refused without trouble', async () => {
    const long = 'a'.repeat(10_000);
    for (const p of [`/api/files/${long}/${rA}/x.png`, `/api/files/docs/${long}/x.png`, `/api/files/docs/${rA}/${long}.png`]) {
      expectRefused(await rawCall(s.url, 'GET', p), p.slice(0, 60));
    }
    // beyond what Node reads as a request line
    expectRefused(await rawCall(s.url, 'GET', `/api/files/docs/${rA}/${'b'.repeat(100_000)}`), 'huge');
    // just over a stored name's 200 characters
    expectRefused(await rawCall(s.url, 'GET', `/api/files/docs/${rA}/${'c'.repeat(201)}`), '201');
  });
});

describe('names the record does not hold', () => {
  test('files on disk that no file field names are not served', async () => {
    for (const p of [
      `/api/files/docs/${rA}/planted_a1b2c3d4e5.txt`,
      `/api/files/docs/${rA}/other_a1b2c3d4e5.txt`,
      `/api/files/docs/${rB}/photo_a1b2c3d4e5.png`,
      `/api/files/docs/${rA}/thumbs_photo_a1b2c3d4e5.png`,
      `/api/files/docs/${rA}/60x60_photo_a1b2c3d4e5.png`,
      `/api/files/docs/${rA}/sentinel.txt`,
      `/api/files/docs/${rA}/PHOTO_A1B2C3D4E5.PNG`,
      `/api/files/docs/${rA}/photo_a1b2c3d4e5.png.`,
      `/api/files/docs/${rA}/%20photo_a1b2c3d4e5.png`,
    ]) {
      expectRefused(await rawCall(s.url, 'GET', p), p);
    }
  });

  test('a hostile value stored in the record (written around the API) still cannot leave the folder', async () => {
    for (const v of [
      '../../sentinel.txt',
      '../../../sentinel.txt',
      `../${rB}/other_a1b2c3d4e5.txt`,
      '..',
      '.',
      '/etc/passwd',
      'a\\..\\..\\x',
    ]) {
      await setFileValue(s, 'docs', rA, 'file', v);
      expectRefused(await rawCall(s.url, 'GET', `/api/files/docs/${rA}/${encodeURIComponent(v)}`), v);
    }
  });

  test('a hidden file, a missing file and a missing record answer alike (no enumeration)', async () => {
    const answers = await Promise.all(
      [
        `/api/files/docs/${rA}/hidden_a1b2c3d4e5.txt`,
        `/api/files/docs/${rA}/missing_a1b2c3d4e5.txt`,
        `/api/files/docs/zzzzzzzzzzzzzzz/hidden_a1b2c3d4e5.txt`,
        `/api/files/nothing/${rA}/hidden_a1b2c3d4e5.txt`,
      ].map((p) => rawCall(s.url, 'GET', p)),
    );
    expect(new Set(answers.map((a) => `${a.status} ${a.text}`)).size).toBe(1);
  });
});

describe('hostile parameters', () => {
  test('thumb sizes cannot name paths; a size the field does not list serves the original and writes nothing', async () => {
    const before = storageFiles();
    for (const thumb of [
      '../../../x',
      '50x50/../../../sentinel',
      '50x50%00',
      '50x50/',
      '99999x99999',
      '0x0',
      '60x60',
      '-50x50',
      '50x50 ',
      `${'9'.repeat(500)}x1`,
    ]) {
      const res = await rawCall(s.url, 'GET', `/api/files/docs/${rA}/photo_a1b2c3d4e5.png?thumb=${encodeURIComponent(thumb)}`);
      expect(res.status, thumb).toBe(200);
      expect((res.headers as Record<string, unknown>)['content-disposition'], thumb).toBe('inline; filename="photo_a1b2c3d4e5.png"');
      expect(ok(res)).not.toContain(SENTINEL);
    }
    expect(storageFiles()).toEqual(before);
    expect(existsSync(join(s.app.dataDir, 'sentinel'))).toBe(false);
  });

  test('tokens: huge, repeated, array-shaped, of another kind: protected files stay hidden', async () => {
    const fileToken = (await s.request('POST', '/api/files/token', { token: su })).body.token as string;
    for (const query of [
      `token=${'x'.repeat(5000)}`,
      'token=a&token=b',
      'token[]=x',
      'token[__proto__]=x',
      `token=${encodeURIComponent(su)}`,
      `token=${encodeURIComponent(`${fileToken}x`)}`,
      `token=${encodeURIComponent(` ${fileToken.split('.').slice(0, 2).join('.')}.`)}`,
    ]) {
      expectRefused(await rawCall(s.url, 'GET', `/api/files/docs/${rA}/hidden_a1b2c3d4e5.txt?${query}`), query.slice(0, 40));
    }
    // the real one, after a decoy with the same name
    const res = await rawCall(s.url, 'GET', `/api/files/docs/${rA}/hidden_a1b2c3d4e5.txt?token=${fileToken}&token=x`);
    expect(res.status).toBe(200);
  });

  test('hostile ranges and validators are answered, never a 500', async () => {
    const path = `/api/files/docs/${rA}/photo_a1b2c3d4e5.png`;
    const headers: Record<string, string>[] = [
      { range: 'bytes=-99999999999999999999' },
      { range: 'bytes=99999999999999999999-' },
      { range: `bytes=${'0-0,'.repeat(2000)}0-0` },
      { range: 'bytes=--1' },
      { range: 'bytes=1e3-2e3' },
      { range: 'bytes=0x10-0x20' },
      { range: 'bytes=\u00ff-' },
      { 'if-range': '"' },
      { 'if-none-match': `${'"a",'.repeat(2000)}"b"` },
      { 'if-match': 'W/"x"' },
      { 'if-modified-since': 'not a date' },
      { 'if-unmodified-since': '99999-99-99' },
    ];
    for (const h of headers) {
      const res = await rawCall(s.url, 'GET', path, { headers: h });
      expect([200, 206, 304, 412, 416], JSON.stringify(h).slice(0, 80)).toContain(res.status);
    }
  });

  test('other methods are not routes', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      const res = await rawCall(s.url, method, `/api/files/docs/${rA}/photo_a1b2c3d4e5.png`);
      expectApiError(res, [404, 405], method);
    }
    expect(existsSync(join(s.app.dataDir, 'storage', cid, rA, 'photo_a1b2c3d4e5.png'))).toBe(true);
  });
});
