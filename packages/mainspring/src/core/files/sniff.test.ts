import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { detectFileType, mimeAllowed } from './sniff.js';

const dir = mkdtempSync(join(tmpdir(), 'ms-sniff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
async function typeOf(bytes: Buffer | string): Promise<string> {
  const path = join(dir, String(n++));
  writeFileSync(path, bytes);
  return (await detectFileType(path)).mime;
}

describe('detectFileType', () => {
  test('binary formats by their magic numbers', async () => {
    expect(await typeOf(Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'))).toBe('image/png');
    expect(await typeOf('%PDF-1.7\n%\xe2\xe3\n')).toBe('application/pdf');
    expect(await typeOf('GIF89a\x01\x00\x01\x00')).toBe('image/gif');
    expect(await typeOf(Buffer.concat([Buffer.from('MZ'), Buffer.alloc(300)]))).toBe('application/x-msdownload');
    expect(await typeOf(Buffer.from('7f454c4602010100000000000000000002003e00', 'hex'))).toBe('application/x-elf');
  });

  test('text formats by their first characters', async () => {
    expect(await typeOf('hello world\n')).toBe('text/plain');
    expect(await typeOf('')).toBe('text/plain');
    expect(await typeOf('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')).toBe('image/svg+xml');
    expect(await typeOf('<?xml version="1.0"?>\n<!-- x -->\n<svg></svg>')).toBe('image/svg+xml');
    expect(await typeOf('<?xml version="1.0"?><note/>')).toBe('text/xml');
    expect(await typeOf('  <!DOCTYPE html><html><body>x</body></html>')).toBe('text/html');
    expect(await typeOf('{"a": [1, 2]}')).toBe('application/json');
    expect(await typeOf('{"a": [1, 2')).toBe('text/plain');
  });

  test('bytes that are neither are octet-stream', async () => {
    expect(await typeOf(Buffer.from([0, 1, 2, 3, 250, 251, 252]))).toBe('application/octet-stream');
    expect(await typeOf(Buffer.from([0xc3, 0x28, 0x41]))).toBe('application/octet-stream');
  });
});

describe('mimeAllowed', () => {
  test('exact types, without parameters or case, and their other names', () => {
    expect(mimeAllowed('image/png', ['image/png'])).toBe(true);
    expect(mimeAllowed('text/plain', ['Text/Plain; charset=utf-8'])).toBe(true);
    expect(mimeAllowed('text/xml', ['application/xml'])).toBe(true);
    expect(mimeAllowed('application/x-msdownload', ['image/png', 'image/jpeg'])).toBe(false);
    expect(mimeAllowed('image/svg+xml', ['image/png'])).toBe(false);
  });
});
