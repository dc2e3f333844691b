import { describe, expect, test } from 'vitest';
import { kindOf } from './index.js';
import { fieldOf, optionErrors, prepared, problem, schemaContext, typeContext } from './kit.js';

describe('date', () => {
  test('options: bounds are dates', () => {
    expect(fieldOf('date', { min: '2024-01-01' }).min).toBe('2024-01-01 00:00:00.000Z');
    expect(optionErrors('date', { max: 'soon' })).toEqual({ max: 'validation_invalid_value' });
  });

  test("prepare: RFC 3339 or PocketBase's form to UTC; other text refused", () => {
    const f = fieldOf('date');
    expect(prepared(f, '2024-05-06T07:08:09+02:00')).toBe('2024-05-06 05:08:09.000Z');
    expect(prepared(f, '2024-05-06 07:08:09.123Z')).toBe('2024-05-06 07:08:09.123Z');
    expect(prepared(f, '')).toBe('');
    expect(prepared(f, 'yesterday')).toEqual({ invalid: 'validation_invalid_date' });
  });

  test('validate: within the bounds', () => {
    const f = fieldOf('date', { min: '2024-01-01', max: '2024-12-31' });
    expect(problem(f, '2023-12-31 23:59:59.999Z')).toBe('validation_min_date_constraint');
    expect(problem(f, '2025-01-01 00:00:00.000Z')).toBe('validation_max_date_constraint');
    expect(problem(f, '2024-06-01 00:00:00.000Z')).toBeNull();
  });

  test('compared as a date; an example within the bounds; IsoDateString', () => {
    const f = fieldOf('date', { min: '2030-01-01' });
    expect(kindOf(f).filter.valueType).toBe('date');
    expect(kindOf(f).openApi.input(f, schemaContext).examples).toEqual(['2030-01-01 00:00:00.000Z']);
    expect(kindOf(f).typescript.value(f, typeContext)).toBe('IsoDateString');
  });
});
