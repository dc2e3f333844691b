// Serves the videos page on http://127.0.0.1:5174 (PORT to change it), with
// the PocketBase SDK from node_modules and a generated test video at
// /sample.mp4. The page talks to Mainspring on :8090 (or ?api=URL).
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTestVideo } from './test-video.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const sdk = join(dirname(createRequire(import.meta.url).resolve('pocketbase')), 'pocketbase.es.mjs');
const files = {
  '/': [join(here, 'index.html'), 'text/html; charset=utf-8'],
  '/videos.js': [join(here, 'videos.js'), 'text/javascript; charset=utf-8'],
  '/pocketbase.es.mjs': [sdk, 'text/javascript; charset=utf-8'],
};

/** Starts the page server on `port` (0: any free one); resolves with it once it listens. */
export function servePage(port = 5174) {
  let sample;
  const server = http.createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/sample.mp4') {
      sample ??= makeTestVideo({ seconds: 10 });
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-disposition': 'attachment; filename="sample.mp4"' });
      res.end(sample);
      return;
    }
    const file = files[path];
    if (!file) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': file[1], 'x-content-type-options': 'nosniff' });
    res.end(await readFile(file[0]));
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = await servePage(Number(process.env.PORT ?? 5174));
  console.log(`videos page on http://127.0.0.1:${server.address().port}/ (Mainspring expected on :8090)`);
}
