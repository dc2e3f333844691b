import { describe, expect, test } from 'vitest';
import { kindOf } from './index.js';
import { fieldOf, problem, schemaContext, typeContext } from './kit.js';

describe('url', () => {
  test('validate: an absolute URL with a host, never javascript:, in an allowed domain', () => {
    const f = fieldOf('url');
    expect(problem(f, 'https://example.com/a?b')).toBeNull();
    expect(problem(f, 'mailto:ann@example.com')).toBe('validation_invalid_url');
    expect(problem(f, 'javascript://example.com/%0aalert(1)')).toBe('validation_invalid_url');
    expect(problem(f, '/relative')).toBe('validation_invalid_url');
    expect(problem(fieldOf('url', { onlyDomains: ['example.com'] }), 'https://other.org/')).toBe('validation_url_domain_not_allowed');
    expect(problem(fieldOf('url', { required: true }), '')).toBe('validation_required');
  });

  test('schemas and types: a string, an example in an allowed domain', () => {
    const f = fieldOf('url', { onlyDomains: ['docs.example'] });
    expect(kindOf(f).openApi.input(f, schemaContext)).toEqual({ type: 'string', examples: ['https://docs.example/'] });
    expect(kindOf(f).typescript.input(f, typeContext)).toBe('string');
    expect(kindOf(f).identity).toBeNull();
  });
});
