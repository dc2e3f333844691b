import { describe, expect, test } from 'vitest';
import { isFile, kindOf } from './index.js';
import { fieldOf, optionErrors, prepared, problem, schemaContext, typeContext } from './kit.js';

describe('file', () => {
  test('options: one file by default; thumb sizes checked', () => {
    const f = fieldOf('file', { thumbs: ['100x100', '0x50', '300x200f'] });
    expect([f.maxSelect, f.maxSize, f.mimeTypes, f.protected, isFile(f)]).toEqual([1, 0, [], false, true]);
    expect(optionErrors('file', { thumbs: ['0x0'] })).toEqual({ thumbs: 'validation_invalid_value' });
    expect(optionErrors('file', { thumbs: ['big'] })).toEqual({ thumbs: 'validation_invalid_value' });
  });

  test('prepare: names; validate: at most maxSelect', () => {
    const f = fieldOf('file', { maxSelect: 2, required: true });
    expect(prepared(f, 'a.png')).toEqual(['a.png']);
    expect(problem(f, [])).toBe('validation_required');
    expect(problem(f, ['a', 'b', 'c'])).toBe('validation_too_many_files');
  });

  test('written as files, never required in a JSON body', () => {
    const f = fieldOf('file', { required: true });
    const kind = kindOf(f);
    expect([kind.write, kind.modifiers, kind.mustSend(f)]).toEqual(['files', 'files', false]);
  });

  test('OpenAPI: names, and in a body the names kept; TypeScript: names answered, files sent', () => {
    const f = fieldOf('file', { maxSelect: 3 });
    expect(kindOf(f).openApi.value(f, schemaContext)).toEqual({ type: 'array', items: { type: 'string' }, maxItems: 3 });
    expect(kindOf(f).openApi.input(f, schemaContext).description).toBe(
      'Names of files the record has (to keep or reorder); [] or "" clears.',
    );
    expect(kindOf(f).typescript.value(f, typeContext)).toBe('FilenameString[]');
    expect(kindOf(f).typescript.input(f, typeContext)).toBe('FileInput[]');
  });
});
