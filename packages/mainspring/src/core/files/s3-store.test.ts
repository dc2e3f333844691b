import { afterAll, beforeAll } from 'vitest';
import { startS3, type TestS3 } from '../../../test/helpers/s3.js';
import { S3FileStore } from './s3-store.js';
import { runFileStoreContract } from './store.contract.js';

let s3: TestS3;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(async () => {
  await s3?.close();
});

let stores = 0;
runFileStoreContract<S3FileStore>({
  name: 'S3FileStore (s3rver)',
  // each store its own folder of the bucket: a store sees nothing of the others'
  newStore: async () => new S3FileStore(s3.location('files', `contract${stores++}/`)),
  dispose: async (store) => {
    await store.bucket.deletePrefix('');
    store.destroy();
  },
  openReads: (store) => store.bucket.openConnections(),
});
