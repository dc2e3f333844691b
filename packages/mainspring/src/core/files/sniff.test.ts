import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { detectFileType, mimeAllowed } from './sniff.js';

/** The type of `bytes` as one chunk, and again one byte a chunk (how they arrive must not matter). */
async function typeOf(bytes: Buffer | string): Promise<string> {
  const data = Buffer.from(bytes);
  const whole = (await detectFileType(Readable.from([data], { objectMode: false }), data.length)).mime;
  const trickled = (
    await detectFileType(
      Readable.from(
        [...data].map((b) => Buffer.from([b])),
        { objectMode: false },
      ),
      data.length,
    )
  ).mime;
  expect(trickled).toBe(whole);
  return whole;
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

  test('only a whole head is JSON; a longer text is plain text', async () => {
    expect(await typeOf(`[${'1,'.repeat(4000)}1]`)).toBe('application/json');
    expect(await typeOf(`[${'1,'.repeat(5000)}1]`)).toBe('text/plain');
  });

  test('reads only as far as it needs, then destroys the stream', async () => {
    let produced = 0;
    const endless = Readable.from(
      (function* () {
        for (;;) {
          produced++;
          yield Buffer.alloc(64 * 1024, 0x61);
        }
      })(),
      { objectMode: false },
    );
    expect((await detectFileType(endless, Number.MAX_SAFE_INTEGER)).mime).toBe('text/plain');
    expect(endless.destroyed).toBe(true);
    expect(produced).toBeLessThan(100);
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
