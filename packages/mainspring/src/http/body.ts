import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Errors } from '../core/errors.js';
import { addFormValue, FORBIDDEN_KEYS, parseJsonBody } from './body-values.js';
import { parseMultipart, type UploadHandling } from './multipart.js';

/** Requests whose body was left unread: their connection is closed after the answer. */
const unread = new WeakSet<FastifyRequest>();

/**
 * Body parsers: JSON (checked for depth and prototype keys), urlencoded and
 * multipart forms (files as `uploads` allows).
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
    parseMultipart(request, payload as unknown as Readable, bodyLimit, uploads, unread).then(
      (body) => done(null, body),
      (err) => done(err as Error, undefined),
    );
  });
  // a body left unread (refused part way) is not read on: the connection closes after the answer
  server.addHook('onSend', (request, reply, payload, done) => {
    if (unread.has(request)) reply.header('connection', 'close');
    done(null, payload);
  });
}
