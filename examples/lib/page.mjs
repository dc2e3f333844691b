// The page server every example with a web page uses: its index.html, its
// client script and the PocketBase SDK from node_modules, on 127.0.0.1.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const SDK = join(dirname(createRequire(import.meta.url).resolve('pocketbase')), 'pocketbase.es.mjs');
const JS = 'text/javascript; charset=utf-8';

/**
 * A `servePage(port)` for the example in folder `here`: `/` is its
 * index.html, `/{script}` its client, `/pocketbase.es.mjs` the SDK; `extra`
 * maps more paths to handlers `(req, res) => …`.
 */
export function pageServer(here, script, extra = {}) {
  const files = {
    '/': [join(here, 'index.html'), 'text/html; charset=utf-8'],
    [`/${script}`]: [join(here, script), JS],
    '/pocketbase.es.mjs': [SDK, JS],
  };
  return (port) => {
    const server = http.createServer(async (req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (Object.hasOwn(extra, path)) return extra[path](req, res);
      const file = Object.hasOwn(files, path) ? files[path] : undefined;
      if (!file) {
        res.writeHead(404).end('not found');
        return;
      }
      res.writeHead(200, { 'content-type': file[1], 'x-content-type-options': 'nosniff' });
      res.end(await readFile(file[0]));
    });
    return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
  };
}
