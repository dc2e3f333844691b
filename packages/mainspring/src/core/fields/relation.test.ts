import { describe, expect, test } from 'vitest';
import { isRelation, kindOf, REFERS } from './index.js';
import { fieldOf, optionErrors, problem, schemaContext, typeContext } from './kit.js';

describe('relation', () => {
  test('options: the collection is required; one id by default', () => {
    expect(optionErrors('relation', {})).toEqual({ collectionId: 'validation_required' });
    const f = fieldOf('relation', { collectionId: 'posts_id' });
    expect([f.maxSelect, f.minSelect, f.cascadeDelete, isRelation(f)]).toEqual([1, 0, false, true]);
  });

  test('validate: between minSelect and maxSelect ids', () => {
    const f = fieldOf('relation', { collectionId: 'posts_id', minSelect: 2, maxSelect: 3 });
    expect(problem(f, ['a'])).toBe('validation_not_enough_values');
    expect(problem(f, ['a', 'b', 'c', 'd'])).toBe('validation_too_many_values');
    expect(problem(f, ['a', 'b'])).toBeNull();
    expect(problem(f, [])).toBeNull();
  });

  test('OpenAPI: an id, naming its collection when the document shows it', () => {
    const f = fieldOf('relation', { collectionId: 'posts_id' });
    expect(kindOf(f).openApi.value(f, schemaContext)).toEqual({
      type: 'string',
      description: 'The id of a `posts` record.',
      [REFERS]: 'record:posts',
    });
    const hidden = fieldOf('relation', { collectionId: 'secret_id', maxSelect: 5 });
    expect(kindOf(hidden).openApi.input(hidden, schemaContext)).toEqual({ type: 'array', items: { type: 'string' }, maxItems: 5 });
  });

  test('TypeScript: record ids; list modifiers', () => {
    const f = fieldOf('relation', { collectionId: 'posts_id', maxSelect: 2 });
    expect(kindOf(f).typescript.value(f, typeContext)).toBe('RecordIdString[]');
    expect(kindOf(f).modifiers).toBe('list');
    expect(kindOf(f).filter.list).toBe(true);
  });
});
