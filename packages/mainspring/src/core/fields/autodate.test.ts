import { describe, expect, test } from 'vitest';
import { kindOf } from './index.js';
import { fieldOf, optionErrors, schemaContext, typeContext } from './kit.js';

describe('autodate', () => {
  test('options: set on create by default; one of the two must be on', () => {
    const f = fieldOf('autodate');
    expect([f.onCreate, f.onUpdate]).toEqual([true, false]);
    expect(optionErrors('autodate', { onCreate: false })).toEqual({ onCreate: 'validation_required' });
  });

  test('the write sets it: never sent, never checked; a date everywhere', () => {
    const f = fieldOf('autodate', { onUpdate: true });
    const kind = kindOf(f);
    expect([kind.write, kind.mustSend(f), kind.validate(f, 'anything')]).toEqual(['system', false, null]);
    expect(kind.filter.valueType).toBe('date');
    expect(kind.openApi.value(f, schemaContext).type).toBe('string');
    expect(kind.typescript.value(f, typeContext)).toBe('IsoDateString');
  });
});
