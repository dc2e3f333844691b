import { describe, expect, test } from 'vitest';
import { contentDisposition, parseRange } from './send-file.js';

describe('parseRange', () => {
  test('one range of a 100-byte file', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ kind: 'range', start: 0, end: 9 });
    expect(parseRange('bytes=90-', 100)).toEqual({ kind: 'range', start: 90, end: 99 });
    expect(parseRange('bytes=-10', 100)).toEqual({ kind: 'range', start: 90, end: 99 });
    expect(parseRange('bytes=-1000', 100)).toEqual({ kind: 'range', start: 0, end: 99 });
    expect(parseRange('bytes=50-5000', 100)).toEqual({ kind: 'range', start: 50, end: 99 });
    expect(parseRange('Bytes = 1-1 ,', 100)).toEqual({ kind: 'range', start: 1, end: 1 });
    expect(parseRange('bytes=0-99999999999999999999999', 100)).toEqual({ kind: 'range', start: 0, end: 99 });
  });

  test('nothing to send: 416', () => {
    for (const h of ['bytes=100-', 'bytes=100-200', 'bytes=9-3', 'bytes=-0', 'bytes=99999999999999999999999-']) {
      expect(parseRange(h, 100), h).toEqual({ kind: 'unsatisfiable' });
    }
    expect(parseRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-5', 0)).toEqual({ kind: 'unsatisfiable' });
  });

  test('several ranges, other units, bad syntax, no header: the whole file', () => {
    for (const h of [
      undefined,
      '',
      'bytes=',
      'bytes=0-1,2-3',
      'bytes=0-5,3-8',
      'items=0-1',
      'bytes=x-1',
      'bytes=1-2-3',
      'bytes= -',
      '0-1',
    ]) {
      expect(parseRange(h, 100), String(h)).toEqual({ kind: 'whole' });
    }
    expect(parseRange(`bytes=${'1'.repeat(2000)}-`, 100)).toEqual({ kind: 'whole' });
  });
});

describe('contentDisposition', () => {
  test('ASCII names are quoted as they are', () => {
    expect(contentDisposition('inline', 'photo_abc.png')).toBe('inline; filename="photo_abc.png"');
    expect(contentDisposition('attachment', '100x100_a.b.png')).toBe('attachment; filename="100x100_a.b.png"');
  });

  test('quotes, backslashes, control characters and non-ASCII get a safe fallback and RFC 8187 filename*', () => {
    expect(contentDisposition('attachment', 'naïve café.pdf')).toBe(
      `attachment; filename="na_ve caf_.pdf"; filename*=UTF-8''na%C3%AFve%20caf%C3%A9.pdf`,
    );
    expect(contentDisposition('attachment', 'a"b\\c.txt')).toBe(`attachment; filename="a_b_c.txt"; filename*=UTF-8''a%22b%5Cc.txt`);
    const injected = contentDisposition('inline', 'x\r\nSet-Cookie: a=b.txt');
    expect(injected).not.toMatch(/[\r\n]/);
    expect(contentDisposition('inline', "it's (1)*.txt")).toBe(`inline; filename="it's (1)*.txt"`);
    expect(contentDisposition('inline', "日本'(*).txt")).toContain(`filename*=UTF-8''%E6%97%A5%E6%9C%AC%27%28%2A%29.txt`);
  });
});
