import { describe, expect, test } from 'vitest';
import { kindOf } from './index.js';
import { fieldOf, prepared, problem, schemaContext, typeContext } from './kit.js';

describe('json', () => {
  test("prepare: any JSON value; a form's JSON text parsed, other text kept as a string", () => {
    const f = fieldOf('json');
    expect(prepared(f, { a: [1, null] })).toEqual({ a: [1, null] });
    expect(prepared(f, undefined)).toBeNull();
    expect(prepared(f, '{"a":1}', 'form')).toEqual({ a: 1 });
    expect(prepared(f, 'plain', 'form')).toBe('plain');
    expect(prepared(f, '', 'form')).toBeNull();
  });

  test('validate: null, "", [] and {} are empty (false and 0 are values); size in bytes, 1 MiB by default', () => {
    const f = fieldOf('json', { required: true, maxSize: 10 });
    for (const empty of [null, '', [], {}]) expect(problem(f, empty)).toBe('validation_required');
    for (const value of [false, 0]) expect(problem(f, value)).toBeNull();
    expect(problem(f, 'x'.repeat(9))).toBe('validation_json_size_limit');
  });

  test('a document to filters: paths into it, its array items for `?`', () => {
    const f = fieldOf('json');
    expect(kindOf(f).column(f)).toBe('json');
    expect(kindOf(f).filter).toEqual({ valueType: 'json', list: false, json: 'document' });
  });

  test('any value in schemas and types', () => {
    const f = fieldOf('json');
    expect(kindOf(f).openApi.value(f, schemaContext)).toEqual({ description: 'Any JSON value; null when unset.' });
    expect(kindOf(f).openApi.input(f, schemaContext)).toEqual({ examples: [{ any: 'JSON' }] });
    expect(kindOf(f).typescript.value(f, typeContext)).toBe('unknown');
  });
});
