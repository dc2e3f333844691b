import { describe, expect, test } from 'vitest';
import { kindOf } from './index.js';
import { fieldOf, prepared, problem, schemaContext, typeContext } from './kit.js';

describe('email', () => {
  test('prepare trims; validate the form of the address and its domain', () => {
    const f = fieldOf('email', { onlyDomains: ['example.com'] });
    expect(prepared(f, '  ann@example.com ')).toBe('ann@example.com');
    expect(problem(f, 'ann@example.com')).toBeNull();
    expect(problem(f, 'ann@other.org')).toBe('validation_email_domain_not_allowed');
    expect(problem(f, 'ann@')).toBe('validation_is_email');
    expect(problem(f, 'ann@localhost')).toBe('validation_is_email');
    expect(problem(fieldOf('email', { exceptDomains: ['spam.io'] }), 'x@spam.io')).toBe('validation_email_domain_not_allowed');
    expect(problem(fieldOf('email', { required: true }), '')).toBe('validation_required');
  });

  test('names an account without regard to case; an example in an allowed domain', () => {
    const f = fieldOf('email', { onlyDomains: ['corp.example'] });
    expect(kindOf(f).identity).toBe('caseless');
    expect(kindOf(f).openApi.input(f, schemaContext)).toEqual({ type: 'string', examples: ['ann@corp.example'] });
    expect(kindOf(f).typescript.value(f, typeContext)).toBe('string');
  });
});
