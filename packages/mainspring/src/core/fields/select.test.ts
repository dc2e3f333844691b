import { describe, expect, test } from 'vitest';
import { kindOf } from './index.js';
import { fieldOf, optionErrors, prepared, problem, schemaContext, typeContext } from './kit.js';

describe('select', () => {
  test('options: values are required; maxSelect at most their number', () => {
    expect(optionErrors('select', {})).toEqual({ values: 'validation_required' });
    expect(optionErrors('select', { values: ['a'], maxSelect: 2 })).toEqual({ maxSelect: 'validation_invalid_value' });
    expect(fieldOf('select', { values: ['a', 'a', 'b'] }).values).toEqual(['a', 'b']);
  });

  test('prepare: one value keeps the last given; several a list without duplicates or blanks', () => {
    const one = fieldOf('select', { values: ['a', 'b'] });
    expect(prepared(one, ['a', 'b'])).toBe('b');
    expect(prepared(one, null)).toBe('');
    const many = fieldOf('select', { values: ['a', 'b', 'c'], maxSelect: 3 });
    expect(prepared(many, 'a')).toEqual(['a']);
    expect(prepared(many, ['a', '', 'b', 'a'])).toEqual(['a', 'b']);
    expect(prepared(many, [1])).toEqual({ invalid: 'validation_invalid_type' });
  });

  test('validate: known values, at most maxSelect', () => {
    const f = fieldOf('select', { values: ['a', 'b', 'c'], maxSelect: 2, required: true });
    expect(problem(f, [])).toBe('validation_required');
    expect(problem(f, ['a', 'd'])).toBe('validation_invalid_value');
    expect(problem(f, ['a', 'b', 'c'])).toBe('validation_too_many_values');
    expect(problem(f, ['a', 'c'])).toBeNull();
  });

  test('stored as text or an array; its items compared by `?` operators', () => {
    const one = fieldOf('select', { values: ['a'] });
    const many = fieldOf('select', { values: ['a', 'b'], maxSelect: 2 });
    expect([kindOf(one).column(one), kindOf(many).column(many)]).toEqual(['text', 'array']);
    expect([kindOf(one).empty(one), kindOf(many).empty(many)]).toEqual(['', []]);
    expect(kindOf(one).filter).toEqual({ valueType: 'text', list: true, json: null });
    expect(kindOf(one).modifiers).toBe('list');
  });

  test('OpenAPI: an enum of the values (and "" for one), or a list of them', () => {
    const one = fieldOf('select', { values: ['a', 'b'] });
    expect(kindOf(one).openApi.input(one, schemaContext)).toEqual({ type: 'string', enum: ['a', 'b', ''], examples: ['a'] });
    const many = fieldOf('select', { values: ['a', 'b'], maxSelect: 2 });
    expect(kindOf(many).openApi.value(many, schemaContext)).toEqual({
      type: 'array',
      items: { type: 'string', enum: ['a', 'b'] },
      maxItems: 2,
    });
  });

  test('TypeScript: a union of the values, declared once per field', () => {
    const one = fieldOf('select', { values: ['a', 'b "c"'] });
    expect(kindOf(one).typescript.declarations(one, typeContext)).toEqual(['export type PostsFOptions = "a" | "b \\"c\\"";']);
    expect(kindOf(one).typescript.value(one, typeContext)).toBe('PostsFOptions | ""');
    const many = fieldOf('select', { values: ['a', 'b'], maxSelect: 2 });
    expect(kindOf(many).typescript.input(many, typeContext)).toBe('PostsFOptions[]');
  });
});
