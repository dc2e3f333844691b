// Serves the videos page on http://127.0.0.1:5174 (PORT to change it), with
// the PocketBase SDK from node_modules and a generated test video at
// /sample.mp4. The page talks to Mainspring on :8094 (or ?api=URL).
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pageServer } from '../lib/page.mjs';
import { isMain } from '../lib/setup.mjs';
import { makeTestVideo } from './test-video.mjs';

let sample;
const serve = pageServer(dirname(fileURLToPath(import.meta.url)), 'videos.js', {
  '/sample.mp4': (_req, res) => {
    sample ??= makeTestVideo({ seconds: 10 });
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-disposition': 'attachment; filename="sample.mp4"' });
    res.end(sample);
  },
});

/** Starts the page server on `port` (0: any free one); resolves with it once it listens. */
export function servePage(port = 5174) {
  return serve(port);
}

if (isMain(import.meta.url)) {
  const server = await servePage(Number(process.env.PORT ?? 5174));
  console.log(`videos page on http://127.0.0.1:${server.address().port}/ (Mainspring expected on :8094)`);
}
