import { describe, expect, test } from 'vitest';
import { FilterError } from '../../query/index.js';
import { withParams } from './params.js';

describe('{:name} placeholders', () => {
  test('each placeholder becomes a literal of its value', () => {
    expect(withParams('a = {:s} && b > {:n} && c = {:b} && d = {:z}', { s: 'x" || 1', n: 2.5, b: true, z: null })).toEqual({
      kind: 'and',
      items: [
        { kind: 'cmp', op: '=', left: { kind: 'ident', name: 'a' }, right: { kind: 'text', value: 'x" || 1' } },
        { kind: 'cmp', op: '>', left: { kind: 'ident', name: 'b' }, right: { kind: 'number', value: 2.5 } },
        { kind: 'cmp', op: '=', left: { kind: 'ident', name: 'c' }, right: { kind: 'ident', name: 'true' } },
        { kind: 'cmp', op: '=', left: { kind: 'ident', name: 'd' }, right: { kind: 'ident', name: 'null' } },
      ],
    });
  });

  test('a placeholder inside quoted text is text', () => {
    expect(withParams('a = "{:s}"', {})).toEqual({
      kind: 'cmp',
      op: '=',
      left: { kind: 'ident', name: 'a' },
      right: { kind: 'text', value: '{:s}' },
    });
  });

  test('dates are written as the API writes them', () => {
    const e = withParams('d < {:d}', { d: new Date('2026-01-02T03:04:05.006Z') });
    expect(e).toMatchObject({ right: { kind: 'text', value: '2026-01-02 03:04:05.006Z' } });
  });

  test('a missing, inherited or unusable value is a FilterError', () => {
    expect(() => withParams('a = {:x}', {})).toThrow(FilterError);
    expect(() => withParams('a = {:toString}', {})).toThrow(FilterError);
    for (const bad of [[1], { a: 1 }, Number.NaN, Number.POSITIVE_INFINITY, 10n]) {
      expect(() => withParams('a = {:x}', { x: bad })).toThrow(FilterError);
    }
  });
});
