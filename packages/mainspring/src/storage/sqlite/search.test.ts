import { describe, expect, test } from 'vitest';
import { trigramQuery, wordsQuery } from './search.js';

/** The FTS5 queries the search index runs: worked out by hand from FTS5's query syntax. */
describe('trigramQuery: the runs of 3 characters a LIKE pattern needs, as quoted FTS5 phrases', () => {
  test('a contains-pattern is one phrase; wildcards split it; short runs are dropped', () => {
    expect(trigramQuery('%hello%')).toBe('"hello"');
    expect(trigramQuery('%abc%def%')).toBe('"abc" AND "def"');
    expect(trigramQuery('%ab_cde%')).toBe('"cde"');
    expect(trigramQuery('Lorem%')).toBe('"Lorem"');
  });

  test('escaped wildcards and backslashes are characters of the run', () => {
    expect(trigramQuery('%100\\%%')).toBe('"100%"');
    expect(trigramQuery('%a\\_b%')).toBe('"a_b"');
    expect(trigramQuery('%a\\\\b%')).toBe('"a\\b"');
  });

  test('no run of 3, a trailing escape or a NUL: no query (the caller scans)', () => {
    expect(trigramQuery('%ab%')).toBeNull();
    expect(trigramQuery('%%')).toBeNull();
    expect(trigramQuery('%a_b_c%')).toBeNull();
    expect(trigramQuery('abc\\')).toBeNull();
    expect(trigramQuery('%ab\0cd%')).toBeNull();
  });

  test('characters, not UTF-16 units, are counted; quotes are doubled, FTS5 syntax stays text', () => {
    expect(trigramQuery('%😀😀%')).toBeNull();
    expect(trigramQuery('%😀😀😀%')).toBe('"😀😀😀"');
    expect(trigramQuery('%say "hi"%')).toBe('"say ""hi"""');
    expect(trigramQuery('%NEAR(a b)%')).toBe('"NEAR(a b)"');
  });

  test('at most the 8 longest runs: FTS5 refuses a query tree deeper than 256', () => {
    const q = trigramQuery(`${'abc%'.repeat(300)}abcdefgh`);
    expect(q?.split(' AND ')).toHaveLength(8);
    expect(q?.startsWith('"abcdefgh" AND "abc"')).toBe(true);
  });
});

describe('wordsQuery: the words of search() as quoted FTS5 phrases', () => {
  test('each word quoted, ANDed; text with no letter or digit is no query', () => {
    expect(wordsQuery('apple pie')).toBe('"apple" AND "pie"');
    expect(wordsQuery('  "a"  -b  NEAR( ')).toBe('"""a""" AND "-b" AND "NEAR("');
    expect(wordsQuery('* - "')).toBeNull();
    expect(wordsQuery('')).toBeNull();
  });
});
