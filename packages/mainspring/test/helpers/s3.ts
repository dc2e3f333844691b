import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Location } from '../../src/core/files/s3-bucket.js';
import { freePort, type Program, startProgram } from './processes.js';

/**
 * A real S3-protocol server on 127.0.0.1 for the tests: s3rver (a Node
 * implementation of S3's REST API that checks AWS signatures, keeps objects
 * on disk and serves ranges, multipart uploads, ListObjectsV2 and
 * DeleteObjects), in a process of its own, so what the tests measure of
 * this process's memory is Mainspring's, and "S3 is down" is that process
 * stopped. Its one account is `S3RVER`/`S3RVER`.
 */
export interface TestS3 {
  /** `http://127.0.0.1:PORT`. */
  endpoint: string;
  /** A location in `bucket` with the server's credentials and path-style addressing. */
  location(bucket?: string, prefix?: string): S3Location;
  /** The `s3` settings for `bucket`, enabled. */
  settings(bucket?: string): S3Location & { enabled: true };
  /** Stops the server (its objects stay on its disk). */
  stop(): Promise<void>;
  /** Starts it again on the same port, with the objects it had. */
  start(): Promise<void>;
  /** Stops it and removes its objects. */
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);
const S3RVER = require.resolve('s3rver');

/** The server's program: serves `dir` on `port` with `buckets` made, and says when it listens. */
const SERVER = `
const S3rver = require(process.env.S3RVER);
const buckets = process.env.BUCKETS.split(',').map((name) => ({ name }));
new S3rver({ address: '127.0.0.1', port: Number(process.env.PORT), directory: process.env.DIR, silent: true, configureBuckets: buckets })
  .run()
  .then(() => console.log('s3 listening'));
`;

/** Starts an S3 server with these buckets (`files` by default). */
export async function startS3(buckets: string[] = ['files']): Promise<TestS3> {
  const dir = mkdtempSync(join(tmpdir(), 'ms-s3-'));
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let program: Program | undefined;
  const start = async () => {
    program = startProgram(process.execPath, ['-e', SERVER], {
      cwd: dir,
      env: { ...process.env, S3RVER, PORT: String(port), DIR: dir, BUCKETS: buckets.join(',') },
    });
    await program.waitFor('s3 listening', 20_000);
  };
  await start();
  const location = (bucket = buckets[0] ?? 'files', prefix = ''): S3Location => ({
    bucket,
    region: 'us-east-1',
    endpoint,
    accessKey: 'S3RVER',
    secret: 'S3RVER',
    forcePathStyle: true,
    prefix,
  });
  const stop = async () => {
    await program?.stop();
    program = undefined;
  };
  return {
    endpoint,
    location,
    settings: (bucket) => {
      const { prefix: _, ...s3 } = location(bucket);
      return { ...s3, enabled: true };
    },
    stop,
    start,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
