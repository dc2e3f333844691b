import { describe, expect, test } from 'vitest';
import { kindOf } from './index.js';
import { fieldOf, problem, schemaContext, typeContext } from './kit.js';

describe('editor', () => {
  test('validate: size in bytes, 5 MiB by default', () => {
    expect(problem(fieldOf('editor', { maxSize: 4 }), '€€')).toBe('validation_content_size_limit');
    expect(problem(fieldOf('editor', { maxSize: 6 }), '€€')).toBeNull();
    expect(problem(fieldOf('editor'), 'x'.repeat(5 << 20))).toBeNull();
    expect(problem(fieldOf('editor'), 'x'.repeat((5 << 20) + 1))).toBe('validation_content_size_limit');
  });

  test('HTML in schemas and types', () => {
    const f = fieldOf('editor');
    expect(kindOf(f).openApi.input(f, schemaContext)).toEqual({ type: 'string', examples: ['<p>Hello</p>'] });
    expect(kindOf(f).typescript.value(f, typeContext)).toBe('HTMLString');
  });
});
