import { existsSync } from 'node:fs';
import { join } from 'node:path';
import PocketBase from 'pocketbase';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startServer, superuserToken, type TestServer } from '../../packages/mainspring/test/helpers/server.js';
import { MAX_VIDEO_BYTES, setupStreaming } from './setup.mjs';
import { makeTestVideo } from './test-video.mjs';
import { createVideos } from './videos.js';

/**
 * The streaming example through its own client code (videos.js) and the
 * official SDK, on a real server set up by the example's setup script: an
 * owner uploads a generated MP4, another signed-in user streams it with
 * Range requests through a file token, and nobody else gets at it.
 */

let s: TestServer;
let videosCollectionId: string;
const video = makeTestVideo({ seconds: 3, width: 160, height: 128 });

const newUser = async (name: string) => {
  const pb = new PocketBase(s.url);
  pb.autoCancellation(false);
  const videos = createVideos(pb);
  await videos.signUp(`${name}@example.com`, `${name}-password-1`);
  return { pb, videos };
};

const mp4 = (bytes: Uint8Array = video, name = 'clip.mp4') => new File([bytes], name, { type: 'video/mp4' });

beforeAll(async () => {
  s = await startServer();
  await setupStreaming(s.url, await superuserToken(s));
  // re-running the setup changes nothing
  await setupStreaming(s.url, await superuserToken(s));
  const c = await s.request('GET', '/api/collections/videos', { token: await superuserToken(s) });
  videosCollectionId = c.body.id;
  const field = c.body.fields.find((f: { name: string }) => f.name === 'video');
  expect(field).toMatchObject({ type: 'file', maxSize: MAX_VIDEO_BYTES, protected: true, mimeTypes: ['video/mp4', 'video/webm'] });
});

afterAll(async () => {
  await s?.close();
});

test('an owner uploads a video; a signed-in viewer streams it in Range requests with a file token', async () => {
  const ann = await newUser('ann');
  const record = await ann.videos.upload('Colours', mp4());
  expect(record).toMatchObject({ title: 'Colours', owner: ann.videos.me().id });
  // PocketBase's stored name: the original's, a random 10-character suffix, the extension
  expect(record.video).toMatch(/^clip_[a-z0-9]{10}\.mp4$/i);

  const bob = await newUser('bob');
  expect((await bob.videos.list()).map((v: { id: string }) => v.id)).toEqual([record.id]);
  const url = await bob.videos.url(record);
  expect(url).toContain(`/api/files/${videosCollectionId}/${record.id}/${record.video}?token=`);

  // the whole file, as uploaded
  const whole = await fetch(url);
  expect(whole.status).toBe(200);
  expect(whole.headers.get('content-type')).toBe('video/mp4');
  expect(whole.headers.get('accept-ranges')).toBe('bytes');
  expect(Buffer.from(await whole.arrayBuffer()).equals(video)).toBe(true);

  // a player's first request, and a seek into the middle
  const first = await fetch(url, { headers: { range: 'bytes=0-' } });
  expect(first.status).toBe(206);
  expect(first.headers.get('content-range')).toBe(`bytes 0-${video.length - 1}/${video.length}`);
  await first.arrayBuffer();
  const at = Math.floor(video.length / 2);
  const seek = await fetch(url, { headers: { range: `bytes=${at}-${at + 999}` } });
  expect(seek.status).toBe(206);
  expect(seek.headers.get('content-range')).toBe(`bytes ${at}-${at + 999}/${video.length}`);
  expect(seek.headers.get('content-length')).toBe('1000');
  expect(Buffer.from(await seek.arrayBuffer()).equals(video.subarray(at, at + 1000))).toBe(true);

  // a range past the end
  const past = await fetch(url, { headers: { range: `bytes=${video.length}-` } });
  expect(past.status).toBe(416);
  expect(past.headers.get('content-range')).toBe(`bytes */${video.length}`);
  await past.arrayBuffer();

  // revalidation: the browser asks again with the ETag and gets a 304 without the bytes
  const etag = whole.headers.get('etag');
  expect(etag).toBeTruthy();
  const again = await fetch(url, { headers: { 'if-none-match': etag ?? '' } });
  expect(again.status).toBe(304);
});

test('the file is refused without a file token of a signed-in user, and the record is hidden from guests', async () => {
  const cat = await newUser('cat');
  const record = await cat.videos.upload('Private', mp4());
  const plain = `${s.url}/api/files/videos/${record.id}/${record.video}`;

  // no token, a made-up token, and an auth token instead of a file token: the same 404
  expect((await fetch(plain)).status).toBe(404);
  expect((await fetch(`${plain}?token=not-a-token`)).status).toBe(404);
  expect((await fetch(`${plain}?token=${cat.pb.authStore.token}`)).status).toBe(404);
  expect((await fetch(plain, { headers: { range: 'bytes=0-99' } })).status).toBe(404);

  const guest = new PocketBase(s.url);
  expect(await guest.collection('videos').getFullList()).toEqual([]);
  await expect(guest.collection('videos').getOne(record.id)).rejects.toMatchObject({ status: 404 });
  await expect(guest.files.getToken()).rejects.toMatchObject({ status: 401 });

  // the owner's own token works
  const own = await fetch(await cat.videos.url(record), { headers: { range: 'bytes=0-99' } });
  expect(own.status).toBe(206);
  expect(Buffer.from(await own.arrayBuffer()).equals(video.subarray(0, 100))).toBe(true);
});

test('only videos are accepted, by their bytes, and only as oneself', async () => {
  const dan = await newUser('dan');
  const eve = await newUser('eve');

  // a text file named .mp4 is not a video, whatever its name and declared type say
  const fake = new File([new TextEncoder().encode('not a video at all')], 'fake.mp4', { type: 'video/mp4' });
  await expect(dan.videos.upload('Fake', fake)).rejects.toMatchObject({
    status: 400,
    response: { data: { video: { code: 'validation_invalid_mime_type' } } },
  });
  // no file at all
  const noFile = new FormData();
  noFile.append('title', 'Nothing');
  noFile.append('owner', dan.videos.me().id);
  await expect(dan.pb.collection('videos').create(noFile)).rejects.toMatchObject({ status: 400, response: { data: { video: {} } } });

  // eve cannot upload in dan's name, nor take, retitle or delete his video
  const asDan = new FormData();
  asDan.append('title', 'Framed');
  asDan.append('owner', dan.videos.me().id);
  asDan.append('video', mp4());
  await expect(eve.pb.collection('videos').create(asDan)).rejects.toMatchObject({ status: 400 });
  const record = await dan.videos.upload('Mine', mp4());
  await expect(eve.pb.collection('videos').update(record.id, { owner: eve.videos.me().id })).rejects.toMatchObject({ status: 404 });
  await expect(eve.videos.rename(record.id, 'Stolen')).rejects.toMatchObject({ status: 404 });
  await expect(eve.videos.remove(record.id)).rejects.toMatchObject({ status: 404 });
  // nor can dan give it away
  await expect(dan.pb.collection('videos').update(record.id, { owner: eve.videos.me().id })).rejects.toMatchObject({ status: 404 });
  expect(await dan.videos.rename(record.id, 'Still mine')).toMatchObject({ title: 'Still mine', owner: dan.videos.me().id });
});

test('deleting a video deletes its file', async () => {
  const fay = await newUser('fay');
  const record = await fay.videos.upload('Short-lived', mp4());
  // in the store the server uses: its disk, or its S3 bucket (streaming.s3.test.ts)
  const stored = { collectionId: videosCollectionId, recordId: record.id, name: record.video };
  const isStored = async () => (await s.app.files.stat(stored)).exists;
  expect(await isStored()).toBe(true);
  if (!s.s3) expect(existsSync(join(s.dir, 'storage', videosCollectionId, record.id, record.video))).toBe(true);
  const url = await fay.videos.url(record);

  await fay.videos.remove(record.id);
  expect((await fetch(url)).status).toBe(404);
  // files go after the commit, beside the answer: soon, not necessarily before it
  const until = Date.now() + 3000;
  while ((await isStored()) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  expect(await isStored()).toBe(false);
});
