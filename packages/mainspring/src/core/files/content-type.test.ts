import { describe, expect, test } from 'vitest';
import { isActiveType, servedType } from './content-type.js';

describe('servedType', () => {
  test('types the bytes confirm from PocketBase’s inline list are inline', () => {
    expect(servedType('a.png', 'image/png')).toEqual({ contentType: 'image/png', inline: true, sniffed: 'image/png' });
    expect(servedType('a.pdf', 'application/pdf').inline).toBe(true);
    expect(servedType('a.mp4', 'video/mp4').inline).toBe(true);
    // the bytes win over the name
    expect(servedType('a.txt', 'image/jpeg')).toMatchObject({ contentType: 'image/jpeg', inline: true });
  });

  test('a name alone never makes a file inline', () => {
    expect(servedType('a.png', undefined)).toEqual({ contentType: 'application/octet-stream', inline: false, sniffed: undefined });
    expect(servedType('a.txt', undefined)).toMatchObject({ contentType: 'text/plain; charset=utf-8', inline: false });
    expect(servedType('a.csv', 'text/plain')).toMatchObject({ contentType: 'text/csv; charset=utf-8', inline: false });
    expect(servedType('a.zip', 'application/zip')).toMatchObject({ contentType: 'application/zip', inline: false });
  });

  test('what a browser would run is served as bytes', () => {
    for (const [name, sniffed] of [
      ['a.html', undefined],
      ['a.htm', 'text/plain'],
      ['a.txt', 'text/html'],
      ['a.xhtml', undefined],
      ['a.xml', 'application/xml'],
      ['a.js', undefined],
      ['a.mjs', undefined],
      ['a.bin', 'application/x-shockwave-flash'],
      ['a.rss', 'application/rss+xml'],
    ] as const) {
      expect(servedType(name, sniffed), name).toEqual({ contentType: 'application/octet-stream', inline: false, sniffed });
    }
  });

  test('SVG keeps its type but is never inline, XML prolog or not', () => {
    expect(servedType('a.svg', undefined)).toMatchObject({ contentType: 'image/svg+xml', inline: false });
    expect(servedType('a.svg', 'application/xml')).toMatchObject({ contentType: 'image/svg+xml', inline: false });
    expect(servedType('a.svg', 'image/svg+xml')).toMatchObject({ contentType: 'image/svg+xml', inline: false });
    // office documents are zip files with "xml" in their type: not active
    expect(isActiveType('application/vnd.openxmlformats-officedocument.wordprocessingml.document')).toBe(false);
  });
});
