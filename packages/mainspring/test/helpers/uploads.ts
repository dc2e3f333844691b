import { existsSync, readdirSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join, relative } from 'node:path';
import { expect } from 'vitest';
import type { HooksModule } from '../../src/core/hooks/api.js';
import type { TestServer } from './server.js';

/**
 * Helpers of the upload suites: what is on disk (stored files, temporary
 * uploads), multipart bodies made by hand (any part name, file name or
 * bytes), and a client that streams a body at its own pace and tells how
 * much it had sent when the answer came; and hooks that refuse a write
 * after its files are put.
 */

/** Every stored file, as `collectionId/recordId/name` paths under `storage/`. */
export function storedFiles(s: TestServer): string[] {
  const root = join(s.app.dataDir, 'storage');
  const out: string[] = [];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(root, path));
    }
  };
  walk(root);
  return out.sort();
}

/** The temporary uploads left in `.uploads/`. */
export function tempFiles(s: TestServer): string[] {
  return existsSync(s.app.uploadsDir) ? readdirSync(s.app.uploadsDir) : [];
}

/**
 * Hooks that refuse a write of `collection` titled `refuse-late` after the
 * row (and its files) is written, inside the transaction.
 */
export function refuseLate(collection: string): HooksModule {
  return (ms) => {
    ms.onRecordCreate(async (e) => {
      await e.next();
      if (e.record.title === 'refuse-late') throw new Error('refused after the write');
    }, collection);
    ms.onRecordUpdate(async (e) => {
      await e.next();
      if (e.record.title === 'refuse-late') throw new Error('refused after the write');
    }, collection);
  };
}

/** Waits until `check` passes (cleanup may finish just after an answer), failing after `ms`. */
export async function eventually(check: () => void | Promise<void>, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Asserts no temporary upload is left (soon). */
export function expectNoTempFiles(s: TestServer): Promise<void> {
  return eventually(() => expect(tempFiles(s)).toEqual([]));
}

/** One multipart part: a text field, or a file with a name, bytes and a declared type. */
export type Part = { name: string; value: string } | { name: string; filename: string; data: Buffer | string; type?: string };

export const BOUNDARY = 'ms-test-boundary-7d1e5a';

/** The head of one part (everything before its bytes). */
export function partHead(part: Part): string {
  if ('value' in part) return `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${part.name}"\r\n\r\n`;
  return (
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${part.name}"; filename="${part.filename}"\r\n` +
    `Content-Type: ${part.type ?? 'application/octet-stream'}\r\n\r\n`
  );
}

/** A whole multipart body. */
export function multipart(parts: Part[]): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(Buffer.from(partHead(p), 'utf8'));
    chunks.push(Buffer.from('value' in p ? p.value : p.data));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}

/** The content type of {@link multipart} bodies. */
export const MULTIPART_TYPE = `multipart/form-data; boundary=${BOUNDARY}`;

/** What a streamed request saw: the answer, and how many body bytes had been written when it came. */
export interface StreamedAnswer {
  status: number;
  body: any;
  headers: Record<string, unknown>;
  sentWhenAnswered: number;
  ms: number;
}

/**
 * Sends a body chunk by chunk as the socket takes it, then ends it (or,
 * with `end: false`, stalls: sends nothing more), and resolves with the
 * answer as soon as it is complete, whatever is still unsent. Fails after
 * `timeoutMs`.
 */
export function streamRequest(
  base: string,
  path: string,
  headers: Record<string, string>,
  chunks: Iterable<Buffer>,
  options: { timeoutMs?: number; end?: boolean } = {},
): Promise<StreamedAnswer> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const url = new URL(base);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = httpRequest({ host: url.hostname, port: url.port, method: 'POST', path, headers }, (res) => {
      const sentWhenAnswered = sent;
      const data: Buffer[] = [];
      res.on('data', (c: Buffer) => data.push(c));
      res.on('end', () => {
        answered = true;
        clearTimeout(timer);
        const text = Buffer.concat(data).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers, sentWhenAnswered, ms: performance.now() - started });
        req.destroy();
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms (sent ${sent} bytes)`));
    }, timeoutMs);
    // the server stops reading a refused body: writes after that fail, the answer still counts
    req.on('error', (err) => {
      if (!answered && !['EPIPE', 'ECONNRESET'].includes((err as NodeJS.ErrnoException).code ?? '')) {
        clearTimeout(timer);
        reject(err);
      }
    });
    const it = chunks[Symbol.iterator]();
    const pump = () => {
      while (!answered && !req.destroyed) {
        const next = it.next();
        if (next.done) {
          if (options.end !== false) req.end();
          return;
        }
        sent += next.value.length;
        if (!req.write(next.value)) {
          req.once('drain', pump);
          return;
        }
      }
    };
    req.flushHeaders();
    pump();
  });
}
