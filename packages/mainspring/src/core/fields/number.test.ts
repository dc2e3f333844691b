import { describe, expect, test } from 'vitest';
import { kindOf } from './index.js';
import { fieldOf, optionErrors, prepared, problem, schemaContext, typeContext } from './kit.js';

describe('number', () => {
  test('options: no bounds by default', () => {
    const f = fieldOf('number');
    expect([f.min, f.max, f.onlyInt, f.required]).toEqual([null, null, false, false]);
    expect(optionErrors('number', { min: 'one', onlyInt: 1 })).toEqual({
      min: 'validation_invalid_value',
      onlyInt: 'validation_invalid_value',
    });
  });

  test('prepare: JSON numbers, a form number as decimal text; never -0, never Infinity', () => {
    const f = fieldOf('number');
    expect(prepared(f, 1.5)).toBe(1.5);
    expect(Object.is(prepared(f, -0), 0)).toBe(true);
    expect(prepared(f, null)).toBe(0);
    expect(prepared(f, '2.5', 'form')).toBe(2.5);
    expect(prepared(f, ' -1e3 ', 'form')).toBe(-1000);
    expect(prepared(f, '0x10', 'form')).toEqual({ invalid: 'validation_invalid_type' });
    expect(prepared(f, '1e999', 'form')).toEqual({ invalid: 'validation_not_a_number' });
    expect(prepared(f, '2')).toEqual({ invalid: 'validation_invalid_type' });
    expect(prepared(f, true)).toEqual({ invalid: 'validation_invalid_type' });
  });

  test('validate: 0 is empty; integers only; bounds', () => {
    const f = fieldOf('number', { min: 1, max: 10, onlyInt: true, required: true });
    expect(problem(f, 0)).toBe('validation_required');
    expect(problem(f, 1.5)).toBe('validation_only_int_constraint');
    expect(problem(f, -1)).toBe('validation_min_number_constraint');
    expect(problem(f, 11)).toBe('validation_max_number_constraint');
    expect(problem(f, 10)).toBeNull();
  });

  test('`n+` / `n-` add; compared as a number', () => {
    const kind = kindOf(fieldOf('number'));
    expect(kind.modifiers).toBe('add');
    expect(kind.filter).toEqual({ valueType: 'number', list: false, json: null });
  });

  test('OpenAPI: number or integer, bounds and an example within them; TypeScript: number', () => {
    const f = fieldOf('number', { min: 5, onlyInt: true });
    expect(kindOf(f).openApi.value(f, schemaContext)).toEqual({ type: 'integer' });
    expect(kindOf(f).openApi.input(f, schemaContext)).toEqual({ type: 'integer', minimum: 5, examples: [5] });
    const below = fieldOf('number', { max: -2 });
    expect(kindOf(below).openApi.input(below, schemaContext)).toEqual({ type: 'number', maximum: -2, examples: [-2] });
    expect(kindOf(f).typescript.value(f, typeContext)).toBe('number');
  });
});
