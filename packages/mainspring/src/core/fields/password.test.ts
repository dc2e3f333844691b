import { describe, expect, test } from 'vitest';
import { kindOf } from './index.js';
import { fieldOf, optionErrors, prepared, problem, schemaContext, typeContext } from './kit.js';

describe('password', () => {
  test('options: always hidden, at least 8 characters by default, cost up to 14', () => {
    const f = fieldOf('password');
    expect([f.hidden, f.min, f.max, f.pattern, f.cost, f.required]).toEqual([true, 8, 0, '', 0, false]);
    expect(fieldOf('password', { hidden: false }).hidden).toBe(true);
    expect(optionErrors('password', { cost: 15, max: 73 })).toEqual({ cost: 'validation_invalid_value', max: 'validation_invalid_value' });
  });

  test('prepare and validate the plain password: length, 72 bytes at most, pattern', () => {
    const f = fieldOf('password', { pattern: '[0-9]' });
    expect(prepared(f, 'secret-123')).toBe('secret-123');
    expect(prepared(f, 123)).toEqual({ invalid: 'validation_invalid_type' });
    expect(problem(f, 'short1')).toBe('validation_min_text_constraint');
    expect(problem(f, 'long-enough')).toBe('validation_invalid_format');
    expect(problem(f, 'long-enough-1')).toBeNull();
    // 24 three-byte characters are 72 bytes; 25 are 75
    expect(problem(fieldOf('password'), '€'.repeat(24))).toBeNull();
    expect(problem(fieldOf('password'), '€'.repeat(25))).toBe('validation_max_text_constraint');
    expect(problem(fieldOf('password', { required: true }), '')).toBe('validation_required');
  });

  test('never answered; taken as a secret; sent when required', () => {
    const f = fieldOf('password', { required: true });
    const kind = kindOf(f);
    expect([kind.output, kind.write, kind.modifiers, kind.identity]).toEqual(['never', 'secret', null, null]);
    expect(kind.mustSend(f)).toBe(true);
  });

  test('OpenAPI input: its limits, an example under 72 bytes; TypeScript: a string', () => {
    const f = fieldOf('password', { min: 10 });
    expect(kindOf(f).openApi.input(f, schemaContext)).toEqual({ type: 'string', minLength: 10, examples: ['password-123'] });
    expect(kindOf(f).typescript.input(f, typeContext)).toBe('string');
  });
});
