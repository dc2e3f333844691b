import { expect } from 'vitest';
import { buildField } from '../collections/fields.js';
import type { Field, FieldType } from '../collections/model.js';
import type { ErrorData } from '../errors.js';
import { Invalid, kindOf, type SchemaContext, type TypeContext, type ValueSource } from './index.js';

/**
 * What the per-type tests share: a field built as a superuser would submit it,
 * and the contexts its schema and TypeScript type are asked in. Test code only
 * (it imports vitest, so the build leaves it out).
 */

/** A field of `type` named `f` with `options`, built as the collections API builds it; the options must be valid. */
export function fieldOf<T extends FieldType>(type: T, options: Record<string, unknown> = {}): Extract<Field, { type: T }> {
  const errors: ErrorData = {};
  const field = buildField({ name: 'f', type, ...options }, errors);
  expect(errors).toEqual({});
  return field as Extract<Field, { type: T }>;
}

/** The codes of the problems `options` have for a field of `type`, by option. */
export function optionErrors(type: FieldType, options: Record<string, unknown>): Record<string, string> {
  const errors: ErrorData = {};
  buildField({ name: 'f', type, ...options }, errors);
  return Object.fromEntries(Object.entries(errors).map(([k, v]) => [k, String(v.code)]));
}

/** A submitted value as the field's kind converts it, or the code of why it cannot. */
export function prepared(field: Field, raw: unknown, source: ValueSource = 'json'): unknown {
  const value = kindOf(field).prepare(field, raw, source);
  return value instanceof Invalid ? { invalid: value.error.code } : value;
}

/** The code of the problem the field's kind finds with a converted value, or null. */
export const problem = (field: Field, value: unknown): string | null => kindOf(field).validate(field, value)?.code ?? null;

/** The document shows one other collection: `posts`, whose id is `posts_id`. */
export const schemaContext: SchemaContext = { shown: (id) => (id === 'posts_id' ? 'posts' : undefined) };

/** The field is one of the `Posts` type's. */
export const typeContext: TypeContext = { named: (f, suffix) => `Posts${f.name.toUpperCase()}${suffix}` };
