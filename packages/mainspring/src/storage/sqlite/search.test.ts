import Database from 'better-sqlite3';
import { describe, expect, test } from 'vitest';
import { createSearchIndex, likeIndexed, trigramQuery, wordsQuery } from './search.js';

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

describe('likeIndexed: a page sorted by an index walks it, or reads the candidates, as the probe says', () => {
  // 900 rows (rowids 1 to 900): "dense" in every third (300), "rare" in 3
  const db = new Database(':memory:');
  db.exec('CREATE TABLE posts (id TEXT PRIMARY KEY, title TEXT, n INTEGER); CREATE INDEX idx_posts_n ON posts (n)');
  const insert = db.prepare('INSERT INTO posts (id, title, n) VALUES (?, ?, ?)');
  for (let i = 1; i <= 900; i++) insert.run(`p${i}`, `${i % 3 === 0 ? 'Dense' : 'plain'} ${i % 300 === 0 ? 'rare' : ''}`, 1000 - i);
  for (const sql of createSearchIndex({ name: 'idx_s', table: 'posts', unique: false, columns: [{ name: 'title' }], search: true })) {
    db.exec(sql);
  }
  const literal = (v: unknown) => `'${String(v).replaceAll("'", "''")}'`;
  const index = { index: 'idx_s', table: 'posts', column: 'title', row: 'r.rowid' };
  const like = (word: string, negate = false) => likeIndexed('r."title"', `%${word}%`, negate, index, literal);
  const walks = (word: string, need: number, total?: number) =>
    db.prepare(like(word)?.walk?.probe(String(need), total === undefined ? undefined : String(total)) ?? 'SELECT 1 WHERE 0').all()
      .length === 1;

  test('the probe says walk where C² > need·N/30 (N the largest rowid), worked out by hand', () => {
    expect(walks('dense', 10)).toBe(true); // 300² against 10·900/30 = 300
    expect(walks('rare', 10)).toBe(false); // 3² against 300
    expect(walks('dense', 2999)).toBe(true); // 90,000 against 89,970
    expect(walks('dense', 3000)).toBe(false); // 90,000 against 90,000: not more
    expect(walks('dense', Number.MAX_SAFE_INTEGER)).toBe(false); // a page past any row: a whole number LIMIT still
    expect(walks('nowhere', 1)).toBe(false);
  });

  test('given a kept total, the probe weighs it alike (whatever the candidates)', () => {
    expect(walks('rare', 2999, 300)).toBe(true);
    expect(walks('rare', 3000, 300)).toBe(false);
    expect(walks('dense', 10, 3)).toBe(false);
    expect(walks('dense', 10, 0)).toBe(false);
  });

  test('the walk term answers as the condition, and makes SQLite walk the sort index instead of reading the candidates', () => {
    const w = like('dense')?.walk;
    if (!w) throw new Error('a `~` has a walk');
    const sql = like('dense')?.sql as string;
    expect(sql.split(w.term)).toHaveLength(2);
    const walked = sql.split(w.term).join(w.walkTerm);
    const page = (where: string) => `SELECT r.n FROM posts r WHERE ${where} ORDER BY r.n DESC, r.rowid DESC LIMIT 5 OFFSET 3`;
    const plan = (where: string) =>
      db
        .prepare(`EXPLAIN QUERY PLAN ${page(where)}`)
        .all()
        .map((p) => (p as { detail: string }).detail)
        .join('\n');
    // n = 1000 - i and every third i: the largest n are 997, 994, …; past 3 of them, 5 more
    expect(db.prepare(page(sql)).raw(true).all()).toEqual([[988], [985], [982], [979], [976]]);
    expect(db.prepare(page(walked)).raw(true).all()).toEqual([[988], [985], [982], [979], [976]]);
    expect(plan(sql)).toMatch(/SEARCH r USING INTEGER PRIMARY KEY/);
    expect(plan(walked)).toMatch(/SCAN r USING INDEX idx_posts_n/);
    expect(plan(walked)).not.toMatch(/TEMP B-TREE/);
  });

  test('`!~` has no walk: no planner reads rows from NOT IN', () => {
    expect(like('dense', true)?.walk).toBeUndefined();
    expect(like('dense', true)?.sql).toMatch(/NOT IN/);
  });
});
