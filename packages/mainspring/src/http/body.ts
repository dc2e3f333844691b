import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Errors } from '../core/errors.js';
import { addFormValue, FORBIDDEN_KEYS, parseJsonBody } from './body-values.js';
import { parseMultipart, type UploadHandling } from './multipart.js';

/**
 * Body parsers: JSON (checked for depth and prototype keys), urlencoded and
 * multipart forms (files as `uploads` allows). What is left of a body refused
 * part way is drained after the answer (refusals.ts).
 */
export function registerBodyParsers(server: FastifyInstance, bodyLimit: number, uploads: UploadHandling | null = null): void {
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
      addFormValue(out, key, value);
    }
    done(null, out);
  });
  server.addContentTypeParser('multipart/form-data', (request, payload, done) => {
    parseMultipart(request, payload as unknown as Readable, bodyLimit, uploads).then(
      (body) => done(null, body),
      (err) => done(err as Error, undefined),
    );
  });
}
