import { Errors } from '../core/errors.js';

/** The deepest nesting a JSON body may have. */
export const MAX_JSON_DEPTH = 64;

/** Keys that could pollute prototypes, refused anywhere in a body. */
export const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Rejects JSON that is nested deeper than {@link MAX_JSON_DEPTH} or carries a
 * key that could pollute prototypes (`__proto__`, `constructor`,
 * `prototype`) at any depth. Iterative, so a hostile body cannot overflow the stack.
 */
export function checkJsonValue(value: unknown): void {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    // 1e309 parses to Infinity, which JSON cannot hold: storing it would change it silently
    if (typeof v === 'number' && !Number.isFinite(v)) throw Errors.invalidBody('The JSON body holds a number out of range.');
    if (typeof v !== 'object' || v === null) continue;
    if (depth > MAX_JSON_DEPTH) throw Errors.invalidBody(`The JSON body is nested deeper than ${MAX_JSON_DEPTH} levels.`);
    if (Array.isArray(v)) {
      for (const item of v) stack.push([item, depth + 1]);
    } else {
      for (const key of Object.keys(v)) {
        if (FORBIDDEN_KEYS.has(key)) throw Errors.invalidBody(`The key "${key}" is not allowed.`);
        stack.push([(v as Record<string, unknown>)[key], depth + 1]);
      }
    }
  }
}

/** Parses JSON text into a checked value. */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw Errors.invalidBody('The request body is not valid JSON.');
  }
  checkJsonValue(value);
  return value;
}

/** Adds a form value to a body, repeated keys becoming lists. */
export function addFormValue(out: Record<string, unknown>, key: string, value: unknown): void {
  const prev = out[key];
  out[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
}
