import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import type { FastifyRequest } from 'fastify';
import { ApiError, Errors } from '../core/errors.js';
import { storedName } from '../core/files/names.js';
import { detectFileType } from '../core/files/sniff.js';
import { UploadedFile, type UploadSet } from '../core/files/uploads.js';
import { addFormValue, FORBIDDEN_KEYS, parseJsonBody } from './body-values.js';

/** Bounds on a multipart body's plain fields. */
const MULTIPART_LIMITS = { fields: 1000, fieldSize: 1 << 20, fieldNameSize: 200 };

/**
 * What a route takes as file parts (http/uploads.ts makes one per request):
 * how many, how large each may be, and the errors that refuse them.
 */
export interface UploadPolicy {
  /** The largest whole body, files included. */
  maxBody: number;
  /**
   * The most bytes a file part named `part` may have, or the error that
   * refuses it; called once per part, in order, so it may count parts too.
   */
  admit(part: string): number | Error;
  /** The error for a file part past its limit. */
  tooLarge(part: string, filename: string, limit: number): Error;
}

/** How multipart bodies receive files. */
export interface UploadHandling {
  /** The policy of the request's route; null where files are refused. May throw (an unknown collection). */
  policy(request: FastifyRequest): UploadPolicy | null;
  /** The set this request's uploads go to, made on its first file. */
  newSet(request: FastifyRequest): UploadSet;
  /** A body that sends nothing for this long is answered 408 and dropped. */
  idleTimeoutMs: number;
}

/** One file part on its way to disk. */
interface PendingFile {
  part: string;
  filename: string;
  path: string;
  out: WriteStream;
  done: Promise<void>;
  size: number;
  hash: Hash;
  /** Why writing the temporary file failed, if it did. */
  error?: Error;
}

/**
 * Reads a multipart body, PocketBase style: plain fields are text, a field
 * named `@jsonPayload` holds typed JSON merged into the body (the SDKs send
 * everything but files that way), and file parts become
 * {@link UploadedFile}s. Each file streams to a temporary file as it
 * arrives, never held whole in memory, under the route's policy: a part
 * past its size, one too many, a body past its limit or one that stalls
 * stops the parse at once, before the rest is read, and leaves no
 * temporary file behind. The rest of a body refused part way is drained
 * after the answer (refusals.ts).
 */
export function parseMultipart(
  request: FastifyRequest,
  payload: Readable,
  bodyLimit: number,
  uploads: UploadHandling | null,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    new MultipartParse(request, payload, bodyLimit, uploads, reject).start(resolve, reject);
  });
}

/** One multipart body being read: its fields, its files on their way to disk, and how it ends (once). */
class MultipartParse {
  private readonly out: Record<string, unknown> = {};
  private readonly files: PendingFile[] = [];
  private set: UploadSet | null = null;
  private policy: UploadPolicy | null = null;
  private bb: busboy.Busboy | null = null;
  /** busboy saw the whole body. */
  private parsed = false;
  private settled = false;
  private idle: NodeJS.Timeout | undefined;
  /** What is not a file counts against the server's body limit, files against their own. */
  private textBytes = 0;
  private received = 0;
  private resolve: (body: Record<string, unknown>) => void = () => {};
  /** Fails a body that was read whole. */
  private reject: (err: unknown) => void = () => {};

  constructor(
    private readonly request: FastifyRequest,
    private readonly payload: Readable,
    private readonly bodyLimit: number,
    private readonly uploads: UploadHandling | null,
    /** Refuses the body, the rest of it unread. */
    private readonly refuse: (err: Error) => void,
  ) {}

  start(resolve: (body: Record<string, unknown>) => void, reject: (err: unknown) => void): void {
    this.resolve = resolve;
    this.reject = reject;
    let bb: busboy.Busboy;
    try {
      this.policy = this.uploads?.policy(this.request) ?? null;
      bb = busboy({
        headers: this.request.headers,
        limits: {
          ...MULTIPART_LIMITS,
          // a field past the body limit is a 413, as the whole body would be
          fieldSize: Math.min(MULTIPART_LIMITS.fieldSize, this.bodyLimit + 1),
          parts: MULTIPART_LIMITS.fields + 2000,
          fileSize: Number.POSITIVE_INFINITY,
        },
      });
    } catch (err) {
      this.refuse(err instanceof ApiError ? err : Errors.invalidBody('Invalid multipart/form-data body.'));
      return;
    }
    const maxBody = this.policy?.maxBody ?? this.bodyLimit;
    if (Number(this.request.headers['content-length']) > maxBody) {
      this.refuse(Errors.bodyTooLarge(maxBody));
      return;
    }
    this.bb = bb;
    bb.on('field', (name, value, info) => this.field(name, value, info));
    bb.on('file', (name, stream, info) => this.file(name, stream, info.filename ?? ''));
    bb.on('fieldsLimit', () => this.fail(Errors.invalidBody('Too many form fields.')));
    bb.on('partsLimit', () => this.fail(Errors.invalidBody('Too many form parts.')));
    bb.on('error', () => this.fail(Errors.invalidBody('Invalid multipart/form-data body.')));
    bb.on('close', () => {
      this.parsed = true;
      void this.settle();
    });
    const payload = this.payload;
    payload.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      this.touch();
      if (this.received > maxBody) this.fail(Errors.bodyTooLarge(maxBody));
    });
    payload.on('error', (err) => this.fail(err instanceof ApiError ? err : Errors.invalidBody('The request body was cut off.')));
    payload.on('close', () => {
      if (!this.parsed && !payload.readableEnded) this.fail(Errors.invalidBody('The request body was cut off.'));
    });
    this.touch();
    payload.pipe(bb);
  }

  /** Pushes back the one idle timer: a body that sends nothing for `idleTimeoutMs` is a 408. */
  private touch(): void {
    const idleMs = this.uploads?.idleTimeoutMs ?? 0;
    if (idleMs <= 0 || this.settled) return;
    if (this.idle) this.idle.refresh();
    else this.idle = setTimeout(() => this.fail(Errors.bodyStalled(idleMs)), idleMs).unref();
  }

  private field(name: string, value: string, info: busboy.FieldInfo) {
    if (this.settled) return;
    if (info.valueTruncated && MULTIPART_LIMITS.fieldSize > this.bodyLimit) return this.fail(Errors.bodyTooLarge(this.bodyLimit));
    if (info.valueTruncated || info.nameTruncated) return this.fail(Errors.invalidBody('A form field is too large.'));
    this.textBytes += Buffer.byteLength(name) + Buffer.byteLength(value);
    if (this.textBytes > this.bodyLimit) return this.fail(Errors.bodyTooLarge(this.bodyLimit));
    if (FORBIDDEN_KEYS.has(name)) return this.fail(Errors.invalidBody(`The key "${name}" is not allowed.`));
    if (name !== '@jsonPayload') return addFormValue(this.out, name, value);
    try {
      const payloadValue = parseJsonBody(value);
      if (typeof payloadValue !== 'object' || payloadValue === null || Array.isArray(payloadValue)) {
        return this.fail(Errors.invalidBody('@jsonPayload must be a JSON object.'));
      }
      for (const [k, v] of Object.entries(payloadValue)) this.out[k] = v;
    } catch (err) {
      this.fail(err as Error);
    }
  }

  /** A file part: streamed to a temporary file of the request's upload set, counted and hashed as it comes. */
  private file(name: string, stream: Readable, filename: string) {
    if (this.settled) {
      stream.resume();
      return;
    }
    const { policy, uploads } = this;
    if (!policy || !uploads) return this.fail(Errors.filesNotAccepted());
    if (FORBIDDEN_KEYS.has(name)) return this.fail(Errors.invalidBody(`The key "${name}" is not allowed.`));
    const limit = policy.admit(name);
    if (limit instanceof Error) return this.fail(limit);
    this.set ??= uploads.newSet(this.request);
    const path = this.set.tempPath();
    const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
    const file: PendingFile = { part: name, filename, path, out, done: Promise.resolve(), size: 0, hash: createHash('sha256') };
    // settled once the temporary file is closed, whether written whole or cut off
    file.done = new Promise<void>((done) => {
      out.once('close', done);
      out.once('error', (err) => {
        file.error = err;
        this.fail(err);
        done();
      });
    });
    this.files.push(file);
    stream.on('data', (chunk: Buffer) => {
      file.size += chunk.length;
      if (file.size > limit) {
        stream.unpipe(out);
        stream.resume();
        this.fail(policy.tooLarge(name, filename, limit));
        return;
      }
      file.hash.update(chunk);
    });
    stream.pipe(out);
  }

  /** Resolves with the values once every file is on disk and recognised. */
  private async settle(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.idle);
    await Promise.all(this.files.map((f) => f.done));
    try {
      const broken = this.files.find((f) => f.error);
      if (broken) throw broken.error;
      for (const f of this.files) {
        // an empty file input (no name, no bytes) is no file, as browsers mean it
        if (f.size === 0 && f.filename === '') continue;
        const type = await detectFileType(createReadStream(f.path), f.size);
        const file = new UploadedFile(this.set as UploadSet, {
          originalName: f.filename,
          name: storedName(f.filename, type.ext),
          path: f.path,
          size: f.size,
          type: type.mime,
          sha256: f.hash.digest('hex'),
        });
        addFormValue(this.out, f.part, file);
      }
      this.resolve(this.out);
    } catch (err) {
      await this.set?.finish();
      this.reject(err);
    }
  }

  /**
   * Refuses the body at once: the rest is not read (the connection closes
   * after the answer) and the temporary files go once they are closed,
   * without holding the answer back.
   */
  private fail(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.idle);
    if (this.bb) this.payload.unpipe(this.bb);
    this.payload.pause();
    for (const f of this.files) f.out.destroy();
    this.refuse(err);
    Promise.all(this.files.map((f) => f.done))
      .then(() => this.set?.finish())
      .catch(() => {});
  }
}
