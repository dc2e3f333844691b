import { describe, expect, test } from 'vitest';
import { kindOf } from './index.js';
import { fieldOf, prepared, problem, schemaContext, typeContext } from './kit.js';

describe('bool', () => {
  test('prepare: JSON booleans; a form\'s true/false/1/0/on/off/""', () => {
    const f = fieldOf('bool');
    expect(prepared(f, true)).toBe(true);
    expect(prepared(f, null)).toBe(false);
    for (const [text, value] of [
      ['on', true],
      ['TRUE', true],
      ['1', true],
      ['off', false],
      ['0', false],
      ['', false],
    ] as const) {
      expect(prepared(f, text, 'form')).toBe(value);
    }
    expect(prepared(f, 'yes', 'form')).toEqual({ invalid: 'validation_invalid_type' });
    expect(prepared(f, 'true')).toEqual({ invalid: 'validation_invalid_type' });
    expect(prepared(f, 1)).toEqual({ invalid: 'validation_invalid_type' });
  });

  test("validate: a required bool must be true (PocketBase's)", () => {
    expect(problem(fieldOf('bool', { required: true }), false)).toBe('validation_required');
    expect(problem(fieldOf('bool', { required: true }), true)).toBeNull();
    expect(problem(fieldOf('bool'), false)).toBeNull();
  });

  test('never must be sent (false is a value); boolean in schemas and types', () => {
    const f = fieldOf('bool', { required: true });
    const kind = kindOf(f);
    expect(kind.mustSend(f)).toBe(false);
    expect(kind.filter.valueType).toBe('bool');
    expect(kind.openApi.value(f, schemaContext)).toEqual({ type: 'boolean' });
    expect(kind.openApi.input(f, schemaContext)).toEqual({ type: 'boolean', examples: [true] });
    expect(kind.typescript.value(f, typeContext)).toBe('boolean');
  });
});
