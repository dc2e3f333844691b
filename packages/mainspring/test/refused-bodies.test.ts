/**
 * Bodies refused before they are read (too large, an unsupported type, a
 * file past its size, one file too many) reach real clients as their 4xx,
 * never as a reset connection. Node's fetch (undici) writes the whole body
 * before it looks at the answer; when the server closed the connection on
 * a refusal, 4 of 20 50 MB JSON bodies ended in EPIPE instead of the 413,
 * which said "the body is limited to 0 bytes". Expected limits come from
 * the README's table: 16 MiB for JSON, the file field's maxSize for a file.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type ServeChild, startServe } from './helpers/serve.js';

const MiB = 1 << 20;
/** `serve` in a process of its own: a server in the test's process races its clients differently, and hid the resets. */
let s: ServeChild;

beforeAll(async () => {
  s = await startServe();
  const res = await fetch(`${s.url}/api/collections`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: await s.superuserToken() },
    body: JSON.stringify({
      name: 'docs',
      createRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'file', type: 'file', maxSelect: 1, maxSize: 5 * MiB },
      ],
    }),
  });
  expect(res.status).toBe(200);
}, 60_000);
afterAll(() => s?.close());

/** The answers of `n` fetches in a row, or the network error each failed with. */
async function tries(n: number, send: () => Promise<Response>): Promise<{ answers: { status: number; body: any }[]; failures: string[] }> {
  const answers: { status: number; body: any }[] = [];
  const failures: string[] = [];
  for (let i = 0; i < n; i++) {
    try {
      const res = await send();
      answers.push({ status: res.status, body: await res.json() });
    } catch (err) {
      failures.push(String((err as { cause?: { code?: string } }).cause?.code ?? err));
    }
  }
  return { answers, failures };
}

const RECORDS = '/api/collections/docs/records';

describe('refused bodies reach Node fetch as their answer', () => {
  test('20 JSON bodies of 50 MB: 20 answers of 413 naming 16 MiB, no reset', async () => {
    const body = Buffer.concat([Buffer.from('{"title":"'), Buffer.alloc(50 * MiB, 'a'), Buffer.from('"}')]);
    const { answers, failures } = await tries(20, () =>
      fetch(s.url + RECORDS, { method: 'POST', headers: { 'content-type': 'application/json' }, body }),
    );
    expect(failures).toEqual([]);
    for (const a of answers) {
      expect(a).toEqual({
        status: 413,
        body: { status: 413, message: 'Request entity too large: the body is limited to 16 MiB (16777216 bytes).', data: {} },
      });
    }
  }, 60_000);

  test('an unsupported Content-Type with 20 MB: 415 each time, no reset', async () => {
    const body = Buffer.alloc(20 * MiB, 'x');
    const { answers, failures } = await tries(10, () =>
      fetch(s.url + RECORDS, { method: 'POST', headers: { 'content-type': 'text/plain' }, body }),
    );
    expect(failures).toEqual([]);
    for (const a of answers) {
      expect(a.status).toBe(415);
      expect(a.body).toMatchObject({ status: 415, data: {} });
      expect(a.body.message).toContain('application/json');
    }
  }, 60_000);

  test('a 10 MB file past its field’s 5 MiB: 400 naming the limit, no reset', async () => {
    const form = () => {
      const f = new FormData();
      f.append('title', 'big');
      f.append('file', new Blob([Buffer.alloc(10 * MiB, 'f')]), 'big.bin');
      return f;
    };
    const { answers, failures } = await tries(10, () => fetch(s.url + RECORDS, { method: 'POST', body: form() }));
    expect(failures).toEqual([]);
    for (const a of answers) {
      expect(a.status).toBe(400);
      expect(a.body.data.file).toMatchObject({ code: 'validation_file_size_limit', params: { maxSize: 5 * MiB } });
    }
  }, 60_000);

  test('three files of 4 MB where one is taken: 400 too many files, no reset', async () => {
    const form = () => {
      const f = new FormData();
      for (let i = 0; i < 3; i++) f.append('file', new Blob([Buffer.alloc(4 * MiB, 'g')]), `f${i}.bin`);
      return f;
    };
    const { answers, failures } = await tries(10, () => fetch(s.url + RECORDS, { method: 'POST', body: form() }));
    expect(failures).toEqual([]);
    for (const a of answers) {
      expect(a.status).toBe(400);
      expect(a.body.data.file).toMatchObject({ code: 'validation_too_many_files' });
    }
  }, 60_000);
});

test('after a refusal the rest of the body is drained and the connection serves the next request', async () => {
  const answers = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(new URL(s.url).port), '127.0.0.1');
    let text = '';
    socket.on('data', (d) => {
      text += d.toString('latin1');
      if ((text.match(/HTTP\/1\.1 /g) ?? []).length === 2 && text.endsWith('}')) {
        socket.end();
        resolve(text);
      }
    });
    socket.on('error', reject);
    const size = 20 * MiB;
    socket.write(`POST ${RECORDS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`);
    socket.write(Buffer.alloc(size, ' '));
    socket.write('GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n');
    setTimeout(() => reject(new Error(`no second answer: ${text.slice(0, 300)}`)), 10_000).unref();
  });
  expect(answers).toMatch(/^HTTP\/1\.1 413 /);
  expect(answers).toMatch(/HTTP\/1\.1 200 [\s\S]*API is healthy/);
});

test.skipIf(!existsSync('/usr/bin/curl'))(
  'curl sees the 413 of a 50 MB body',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ms-curl-'));
    try {
      const file = join(dir, 'big.json');
      writeFileSync(file, Buffer.concat([Buffer.from('{"title":"'), Buffer.alloc(50 * MiB, 'a'), Buffer.from('"}')]));
      const out = await new Promise<string>((resolve, reject) =>
        execFile(
          'curl',
          ['-sS', '-w', '\n%{http_code}', '-H', 'content-type: application/json', '--data-binary', `@${file}`, s.url + RECORDS],
          (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(stdout)),
        ),
      );
      const [body, code] = out.split('\n');
      expect(code).toBe('413');
      expect(JSON.parse(body as string).message).toContain('16 MiB');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
  30_000,
);
