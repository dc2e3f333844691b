import { describe, expect, test } from 'vitest';
import { kindOf } from './index.js';
import { fieldOf, optionErrors, prepared, problem, schemaContext, typeContext } from './kit.js';

describe('text', () => {
  test('options: defaults, and a primary key is required', () => {
    expect(fieldOf('text')).toEqual({
      // PocketBase's default id: the type and CRC-32 of the name (CRC-32 of "f" is 0x76d32be0)
      id: 'text1993550816',
      name: 'f',
      type: 'text',
      system: false,
      hidden: false,
      presentable: false,
      required: false,
      min: 0,
      max: 0,
      pattern: '',
      autogeneratePattern: '',
      primaryKey: false,
    });
    expect(fieldOf('text', { primaryKey: true }).required).toBe(true);
    expect(optionErrors('text', { pattern: '(', autogeneratePattern: '[a-z]+', min: -1 })).toEqual({
      pattern: 'validation_invalid_value',
      autogeneratePattern: 'validation_invalid_value',
      min: 'validation_invalid_value',
    });
  });

  test('prepare: strings; a form value of another type as its text; JSON of another type refused', () => {
    const f = fieldOf('text');
    expect(prepared(f, 'héllo')).toBe('héllo');
    expect(prepared(f, null)).toBe('');
    expect(prepared(f, 12, 'form')).toBe('12');
    expect(prepared(f, 12)).toEqual({ invalid: 'validation_invalid_type' });
    expect(prepared(f, ['a'])).toEqual({ invalid: 'validation_invalid_type' });
  });

  test('validate: required, length in characters (5000 by default), pattern', () => {
    expect(problem(fieldOf('text', { required: true }), '')).toBe('validation_required');
    expect(problem(fieldOf('text'), '')).toBeNull();
    const f = fieldOf('text', { min: 2, max: 3, pattern: '^[a-zé]+$' });
    expect(problem(f, 'a')).toBe('validation_min_text_constraint');
    expect(problem(f, 'éé')).toBeNull();
    expect(problem(f, 'abcd')).toBe('validation_max_text_constraint');
    expect(problem(f, 'A1')).toBe('validation_invalid_format');
    expect(problem(fieldOf('text'), 'x'.repeat(5000))).toBeNull();
    expect(problem(fieldOf('text'), 'x'.repeat(5001))).toBe('validation_max_text_constraint');
  });

  test('answered as stored; must be sent when required and not generated', () => {
    const kind = kindOf(fieldOf('text'));
    expect([kind.output, kind.write, kind.modifiers, kind.identity]).toEqual(['stored', 'value', null, 'exact']);
    expect(kind.filter).toEqual({ valueType: 'text', list: false, json: null });
    expect(kind.mustSend(fieldOf('text', { required: true }))).toBe(true);
    expect(kind.mustSend(fieldOf('text', { required: true, autogeneratePattern: '[a-z]{5}' }))).toBe(false);
  });

  test('OpenAPI: a string; the input with its limits and an example that passes them', () => {
    const f = fieldOf('text', { min: 3, max: 10, pattern: '^[0-9]+$' });
    expect(kindOf(f).openApi.value(f, schemaContext)).toEqual({ type: 'string' });
    expect(kindOf(f).openApi.input(f, schemaContext)).toEqual({
      type: 'string',
      minLength: 3,
      maxLength: 10,
      pattern: '^[0-9]+$',
      examples: ['123'],
    });
    const plain = fieldOf('text');
    expect(kindOf(plain).openApi.input(plain, schemaContext)).toEqual({ type: 'string', examples: ['text'] });
  });

  test('TypeScript: a string; the id a record id', () => {
    const f = fieldOf('text');
    expect(kindOf(f).typescript.value(f, typeContext)).toBe('string');
    const id = { ...f, name: 'id' };
    expect(kindOf(id).typescript.value(id, typeContext)).toBe('RecordIdString');
    expect(kindOf(id).typescript.input(id, typeContext)).toBe('RecordIdString');
    expect(kindOf(f).typescript.declarations(f, typeContext)).toEqual([]);
  });
});
