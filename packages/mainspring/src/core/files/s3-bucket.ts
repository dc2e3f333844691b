import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { randomString } from '../ids.js';
import type { S3Settings } from '../settings.js';
import {
  type ByteRange,
  bufferSource,
  type FileRead,
  type FileSource,
  FileStorageError,
  type RangeChoice,
  type StoredFile,
} from './store.js';

/**
 * One S3 bucket (AWS S3, or any service that speaks its protocol: R2,
 * MinIO, B2…), as names under a prefix: what the file store keeps record
 * files in, and what a backup store can keep archives in. Bytes stream both
 * ways: an upload goes up in parts of {@link PART_SIZE} (lib-storage's
 * `Upload`, a few parts in memory at a time, one PutObject when it is
 * small), a read is a ranged GetObject of the version a HeadObject found.
 * Every failure of the service or of the way to it (refused, timed out,
 * credentials or bucket refused) becomes a {@link FileStorageError}; a
 * missing object is null, never an error.
 */

/**
 * Where objects are kept: PocketBase's S3 settings (bucket, region, endpoint,
 * keys, path style), and a folder in the bucket put before every name (''
 * by default: PocketBase's files sit at the bucket's root; `backups/` keeps
 * backups apart).
 */
export type S3Location = Omit<S3Settings, 'enabled'> & { prefix?: string };

/** Bytes of one uploaded part: S3's least (5 MiB); parts in flight are what an upload holds in memory. */
const PART_SIZE = 5 * 1024 * 1024;
/** Parts of one upload sent at once. */
const PARTS_AT_ONCE = 3;
/** Keys one DeleteObjects may name (S3's limit). */
const DELETE_BATCH = 1000;
/** Connections to the service at once: each download being streamed holds one. */
const MAX_SOCKETS = 256;

/** The HTTP status of an S3 error, or undefined for a failure on the way (refused, reset, timed out). */
function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/** A failure as the storage's: named after the call and the service's code (never the secret, which no error carries). */
function storageError(what: string, err: unknown): FileStorageError {
  const e = err as { name?: string; code?: string; message?: string };
  const status = statusOf(err);
  const detail = [e?.code ?? e?.name, status && `HTTP ${status}`, e?.message].filter(Boolean).join(': ');
  return new FileStorageError(`S3 ${what} failed: ${detail}`, { cause: err });
}

/** A missing object (or bucket) as S3 says it: 404, or the code of one. */
function isMissing(err: unknown): boolean {
  const name = (err as { name?: string })?.name;
  return statusOf(err) === 404 || name === 'NoSuchKey' || name === 'NotFound';
}

/** The first `n` bytes of `source`; the source is destroyed with the stream, or once they are read. */
function firstBytes(source: Readable, n: number): Readable {
  const out = Readable.from(
    (async function* (): AsyncGenerator<Buffer> {
      let left = n;
      for await (const chunk of source) {
        const bytes = chunk as Buffer;
        if (bytes.length >= left) {
          yield bytes.subarray(0, left);
          return;
        }
        left -= bytes.length;
        yield bytes;
      }
    })(),
    { objectMode: false },
  );
  out.once('close', () => source.destroy());
  return out;
}

/** An S3 client for a location: its own connection pool, timeouts, and checksums only where S3 requires them. */
export function s3Client(location: S3Location, attempts = 3): { client: S3Client; agents: [HttpAgent, HttpsAgent] } {
  const agents: [HttpAgent, HttpsAgent] = [
    new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
    new HttpsAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
  ];
  const client = new S3Client({
    region: location.region || 'us-east-1',
    ...(location.endpoint ? { endpoint: location.endpoint } : {}),
    forcePathStyle: location.forcePathStyle,
    credentials: { accessKeyId: location.accessKey, secretAccessKey: location.secret },
    // the SDK's default (checksums on every upload, sent as trailers) is refused by several S3-compatible services
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: attempts,
    // a service that does not answer fails the request in seconds, not at the OS's TCP timeout; a download
    // whose reader stops (a paused video) keeps its connection for two minutes of silence
    requestHandler: { httpAgent: agents[0], httpsAgent: agents[1], connectionTimeout: 5000, requestTimeout: 120_000 },
  });
  return { client, agents };
}

/** A bucket at a location (see the module's comment). */
export class S3Bucket {
  readonly client: S3Client;
  private readonly agents: [HttpAgent, HttpsAgent];
  private readonly bucket: string;
  private readonly prefix: string;

  /** `attempts`: how many times a request is tried (the SDK's retries, with backoff, on throttling, 5xx and lost connections). */
  constructor(location: S3Location, attempts = 3) {
    ({ client: this.client, agents: this.agents } = s3Client(location, attempts));
    this.bucket = location.bucket;
    this.prefix = location.prefix ?? '';
  }

  /** Connections busy with a request or a body being read: a read stream destroyed frees its own. */
  openConnections(): number {
    let n = 0;
    for (const agent of this.agents) for (const list of Object.values(agent.sockets)) n += list?.length ?? 0;
    return n;
  }

  /** The object `name` as it is now, or null. */
  async head(name: string): Promise<StoredFile | null> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + name }));
      return {
        size: res.ContentLength ?? 0,
        modifiedMs: res.LastModified?.getTime() ?? 0,
        // the ETag is a hash of the content (of its parts for a multipart upload): another content, another ETag
        version: (res.ETag ?? '').replaceAll('"', ''),
      };
    } catch (err) {
      if (isMissing(err)) return null;
      throw storageError('HeadObject', err);
    }
  }

  /**
   * Opens `name` (see `FileStore.openRead`): the object's size and version
   * from a HeadObject, the range chosen from them, then a GetObject of that
   * range only, on the condition that the object is still that version (a
   * 412 starts again); null when there is no such object.
   */
  async open(name: string, range?: ByteRange | RangeChoice): Promise<FileRead | null> {
    for (let attempt = 1; ; attempt++) {
      const file = await this.head(name);
      if (!file) return null;
      const chosen = typeof range === 'function' ? await range(file) : (range ?? { start: 0 });
      if (chosen === null) return { file, stream: null };
      const end = Math.min(chosen.end ?? file.size - 1, file.size - 1);
      if (chosen.start > end) return { file, stream: Readable.from([], { objectMode: false }) };
      try {
        const res = await this.client.send(
          new GetObjectCommand({
            Bucket: this.bucket,
            Key: this.prefix + name,
            Range: `bytes=${chosen.start}-${end}`,
            IfMatch: `"${file.version}"`,
          }),
        );
        const body = res.Body as Readable;
        const wanted = end - chosen.start + 1;
        if (!res.ContentRange?.startsWith(`bytes ${chosen.start}-`)) {
          body.destroy();
          throw new FileStorageError(`S3 GetObject answered ${res.ContentRange ?? 'the whole object'} for bytes=${chosen.start}-${end}`);
        }
        // the length of the HTTP answer is promised already: a service that sends more (s3rver for bytes=0-0) is cut
        return { file, stream: (res.ContentLength ?? 0) > wanted ? firstBytes(body, wanted) : body };
      } catch (err) {
        if (err instanceof FileStorageError) throw err;
        if (isMissing(err)) return null;
        if (statusOf(err) === 412 && attempt < 3) continue;
        throw storageError('GetObject', err);
      }
    }
  }

  /** Uploads `source` as `name`, streamed in parts; nothing is stored when it fails (the parts are aborted). */
  async upload(name: string, source: FileSource): Promise<void> {
    const body = source.open();
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.prefix + name, Body: body },
      partSize: PART_SIZE,
      queueSize: PARTS_AT_ONCE,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      // the bytes broke (the client's upload, a disk): their error as it is; the service's as the storage's
      if (body.errored) throw body.errored;
      throw storageError('upload', err);
    } finally {
      body.destroy();
    }
  }

  /** Every name under `prefix` (a folder: `a/b/`), page by page of ListObjectsV2. */
  async *list(prefix: string): AsyncIterable<string> {
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken: token }),
        );
      } catch (err) {
        throw storageError('ListObjectsV2', err);
      }
      for (const object of page.Contents ?? []) {
        if (object.Key?.startsWith(this.prefix)) yield object.Key.slice(this.prefix.length);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** Deletes these names (missing ones are fine), a thousand per DeleteObjects. */
  async delete(names: readonly string[]): Promise<void> {
    for (let at = 0; at < names.length; at += DELETE_BATCH) {
      const batch = names.slice(at, at + DELETE_BATCH);
      let failed: string | undefined;
      try {
        const res = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((name) => ({ Key: this.prefix + name })), Quiet: true },
          }),
        );
        const first = res.Errors?.[0];
        if (first) failed = `${first.Code}: ${first.Message} (${first.Key}; ${res.Errors?.length} keys)`;
      } catch (err) {
        throw storageError('DeleteObjects', err);
      }
      if (failed) throw new FileStorageError(`S3 DeleteObjects failed: ${failed}`);
    }
  }

  /** Deletes every name under `prefix` (a folder), as listed before the delete. */
  async deletePrefix(prefix: string): Promise<void> {
    const names: string[] = [];
    for await (const name of this.list(prefix)) {
      names.push(name);
      if (names.length === DELETE_BATCH) await this.delete(names.splice(0));
    }
    await this.delete(names);
  }

  /** Closes the connections (reads still streaming are cut). */
  destroy(): void {
    this.client.destroy();
    for (const agent of this.agents) agent.destroy();
  }
}

/**
 * Checks that a location works as PocketBase's settings test does: a small
 * object is uploaded under a folder of its own, then the folder is listed and
 * deleted. Throws an error saying which step failed and what the service
 * answered; one attempt each, so a wrong endpoint fails in seconds.
 */
export async function checkS3Location(location: S3Location): Promise<void> {
  const bucket = new S3Bucket(location, 1);
  const folder = `pb_settings_test_${randomString(5)}/`;
  try {
    try {
      await bucket.upload(`${folder}test.txt`, bufferSource(Buffer.from('test')));
    } catch (err) {
      throw new Error(`failed to upload a test file: ${(err as Error).message}`, { cause: err });
    }
    try {
      await bucket.deletePrefix(folder);
    } catch (err) {
      throw new Error(`failed to delete a test file: ${(err as Error).message}`, { cause: err });
    }
  } finally {
    bucket.destroy();
  }
}
