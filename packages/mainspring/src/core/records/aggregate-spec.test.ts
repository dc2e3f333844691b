import { describe, expect, test } from 'vitest';
import { FilterError } from '../../query/index.js';
import { parseAggregateFields, parseAggregateSort, parseGroupBy } from './aggregate-spec.js';

/** The texts of an aggregate request read into keys, functions and sort keys (shapes only: names are judged later). */

describe('groupBy', () => {
  test('fields, paths and strftime buckets, with and without aliases', () => {
    expect(
      parseGroupBy(
        "account, account.owner.name as owner, strftime('%Y-%m', created) AS month, strftime(\"%Y\", booked, 'start of year', '+1 day')",
      ),
    ).toEqual([
      { alias: 'account', path: 'account' },
      { alias: 'owner', path: 'account.owner.name' },
      { alias: 'month', path: 'created', strftime: { format: '%Y-%m', modifiers: [] } },
      { alias: 'booked', path: 'booked', strftime: { format: '%Y', modifiers: ['start of year', '+1 day'] } },
    ]);
    expect(parseGroupBy(undefined)).toEqual([]);
    expect(parseGroupBy('  ')).toEqual([]);
  });

  test.each([
    ['lower(note)'],
    ['a,,b'],
    ['a b'],
    ['a as'],
    ['a as b c'],
    ['@request.auth.id'],
    ['a; DROP TABLE x'],
    ["strftime('%Y')"],
    ['strftime(created, created)'],
    ["strftime('%Y', 'x')"],
    ["strftime('%Y', created"],
    ["strftime('%Y, created)"],
    ['a)'],
    ['a,b,c,d,e,f'],
    ['x'.repeat(2001)],
    [`strftime('%Y', c, ${Array.from({ length: 9 }, () => "'+1 day'").join(', ')})`],
  ])('refuses %s', (text) => {
    expect(() => parseGroupBy(text)).toThrow(FilterError);
  });
});

describe('fields', () => {
  test('the functions, their default names, and count() when none is given', () => {
    expect(parseAggregateFields('count(), count(note), sum(amount) as total, avg(amount), min(a.b), max(x), countDistinct(kind)')).toEqual([
      { alias: 'count', fn: 'count', path: null },
      { alias: 'count_note', fn: 'count', path: 'note' },
      { alias: 'total', fn: 'sum', path: 'amount' },
      { alias: 'avg_amount', fn: 'avg', path: 'amount' },
      { alias: 'min_a_b', fn: 'min', path: 'a.b' },
      { alias: 'max_x', fn: 'max', path: 'x' },
      { alias: 'countDistinct_kind', fn: 'countDistinct', path: 'kind' },
    ]);
    expect(parseAggregateFields(undefined)).toEqual([{ alias: 'count', fn: 'count', path: null }]);
  });

  test.each([
    ['amount'],
    ['sqrt(amount)'],
    ['sum()'],
    ['sum(a, b)'],
    ['count(*)'],
    ['sum(a b)'],
    ["sum('a')"],
    ['count() as 1x'],
    ['COUNT()'],
  ])('refuses %s', (text) => {
    expect(() => parseAggregateFields(text)).toThrow(FilterError);
  });
});

describe('sort', () => {
  test('aliases, descending with -', () => {
    expect(parseAggregateSort('-total, month,+account.name')).toEqual([
      { alias: 'total', desc: true },
      { alias: 'month', desc: false },
      { alias: 'account.name', desc: false },
    ]);
    expect(() => parseAggregateSort('total; DROP')).toThrow(FilterError);
    expect(() => parseAggregateSort(Array.from({ length: 9 }, (_, i) => `k${i}`).join(','))).toThrow(FilterError);
  });
});
