import { describe, expect, test } from 'vitest';
import { isStoredName } from './keys.js';
import { storedName } from './names.js';

const RANDOM = '[a-z0-9]{10}';

describe('storedName', () => {
  test('snake case base, a random part, the lower-cased extension', () => {
    expect(storedName('Holiday Photo.JPG')).toMatch(new RegExp(`^holiday_photo_${RANDOM}\\.jpg$`));
    expect(storedName('myReport-final.PDF')).toMatch(new RegExp(`^my_report_final_${RANDOM}\\.pdf$`));
    expect(storedName('archive.tar.gz')).toMatch(new RegExp(`^archive_${RANDOM}\\.tar\\.gz$`));
  });

  test('two uploads of one name get two names', () => {
    expect(storedName('a.txt')).not.toBe(storedName('a.txt'));
  });

  test('a short or empty base gets a random one; a missing extension comes from the bytes', () => {
    expect(storedName('x.png')).toMatch(new RegExp(`^x${RANDOM}_${RANDOM}\\.png$`));
    expect(storedName('', 'pdf')).toMatch(new RegExp(`^${RANDOM}_${RANDOM}\\.pdf$`));
    expect(storedName('README')).toMatch(new RegExp(`^readme_${RANDOM}$`));
    expect(storedName('README', 'txt')).toMatch(new RegExp(`^readme_${RANDOM}\\.txt$`));
  });

  test('accents are dropped, other scripts become a random base', () => {
    expect(storedName('Café crème.txt')).toMatch(new RegExp(`^cafe_creme_${RANDOM}\\.txt$`));
    expect(storedName('写真.png')).toMatch(new RegExp(`^${RANDOM}_${RANDOM}\\.png$`));
  });

  test.each([
    '../../etc/passwd',
    '..\\..\\windows\\system32\\cmd.exe',
    '/absolute/path.txt',
    'a\u0000b.txt',
    '.htaccess',
    '..',
    '.',
    'x.p\u0000hp',
    'evil.php%00.png',
    'name.with..dots..txt',
    'x.'.repeat(500),
    'a'.repeat(5000),
    `${'b'.repeat(300)}.${'c'.repeat(300)}`,
    'CON',
    'file\r\nname.txt',
    '\u202egnp.exe',
    '😀😀😀.png',
    '',
  ])('hostile name %j gives a safe stored name', (name) => {
    const stored = storedName(name);
    expect(isStoredName(stored)).toBe(true);
    expect(stored).not.toMatch(/[/\\\0]/);
    expect(stored.length).toBeLessThanOrEqual(132);
  });

  test('path parts never survive', () => {
    expect(storedName('../../etc/passwd')).toMatch(new RegExp(`^passwd_${RANDOM}$`));
    expect(storedName('..\\x')).toMatch(new RegExp(`^x${RANDOM}_${RANDOM}$`));
  });
});
