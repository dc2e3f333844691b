import type { FastifyInstance } from 'fastify';
import { Errors } from '../core/errors.js';

/** The deepest nesting a JSON body may have. */
export const MAX_JSON_DEPTH = 64;

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Rejects JSON that is nested deeper than {@link MAX_JSON_DEPTH} or carries a
 * key that could pollute prototypes (`__proto__`, `constructor`,
 * `prototype`) at any depth. Iterative, so a hostile body cannot overflow the stack.
 */
export function checkJsonValue(value: unknown): void {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
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

/**
 * Body parsers: JSON (checked for depth and prototype keys) and urlencoded
 * forms. Multipart arrives with file uploads.
 */
export function registerBodyParsers(server: FastifyInstance, bodyLimit: number): void {
  server.removeAllContentTypeParsers();
  server.addContentTypeParser(['application/json', 'application/*+json'], { parseAs: 'string', bodyLimit }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  server.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit }, (_req, body, done) => {
    const out: Record<string, unknown> = {};
    for (const [key, value] of new URLSearchParams(body as string)) {
      if (FORBIDDEN_KEYS.has(key)) {
        done(Errors.invalidBody(`The key "${key}" is not allowed.`), undefined);
        return;
      }
      const prev = out[key];
      out[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
    }
    done(null, out);
  });
}
