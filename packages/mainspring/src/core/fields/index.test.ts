import { describe, expect, test } from 'vitest';
import type { BoolField, Field, FieldType } from '../collections/model.js';
import { bool } from './bool.js';
import { FIELD_KINDS, type FieldKind, fieldTypeHints, kindOf } from './index.js';
import { fieldOf } from './kit.js';

/** Every field type PocketBase's API has, as its docs list them (and Mainspring's geoPoint). */
const TYPES: FieldType[] = [
  'text',
  'number',
  'bool',
  'email',
  'url',
  'editor',
  'date',
  'autodate',
  'select',
  'file',
  'relation',
  'json',
  'password',
  'geoPoint',
];

/** Options a type cannot be built without. */
const NEEDED: Partial<Record<FieldType, Record<string, unknown>>> = { select: { values: ['a'] }, relation: { collectionId: 'posts_id' } };

describe('the field-type registry', () => {
  test('one kind per type', () => {
    expect(Object.keys(FIELD_KINDS).sort()).toEqual([...TYPES].sort());
  });

  test("each type's editor hints name its options and the defaults the server fills in", () => {
    for (const type of TYPES) {
      const field = fieldOf(type, NEEDED[type]) as unknown as Record<string, unknown>;
      for (const hint of kindOf({ type }).editor.options) {
        expect(field, `${type}.${hint.name}`).toHaveProperty(hint.name);
        if (!(hint.name in (NEEDED[type] ?? {}))) expect(field[hint.name], `${type}.${hint.name}`).toEqual(hint.default);
      }
    }
  });

  test('the hints served are plain JSON, one entry per type', () => {
    const hints = fieldTypeHints();
    expect(hints.map((h) => h.type)).toEqual(Object.keys(FIELD_KINDS));
    expect(JSON.parse(JSON.stringify(hints))).toEqual(hints);
    expect(hints.find((h) => h.type === 'relation')?.options).toContainEqual({ name: 'collectionId', kind: 'collection', default: '' });
  });

  test('a kind without one of its members is no kind (checked by tsc)', () => {
    const { typescript: _, ...partial } = bool;
    // @ts-expect-error typescript is missing
    const broken: FieldKind<BoolField> = partial;
    expect(broken).not.toHaveProperty('typescript');
    // @ts-expect-error a kind for one type is not a kind for another
    const wrong: FieldKind<Extract<Field, { type: 'text' }>> = bool;
    expect(wrong).toBe(bool);
  });
});
