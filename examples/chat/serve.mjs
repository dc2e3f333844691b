// Serves the chat page on http://127.0.0.1:5173 (PORT to change it), with the
// PocketBase SDK from node_modules. The page talks to Mainspring on :8093
// (or ?api=URL).
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pageServer } from '../lib/page.mjs';
import { isMain } from '../lib/setup.mjs';

const serve = pageServer(dirname(fileURLToPath(import.meta.url)), 'chat.js');

/** Starts the page server on `port` (0: any free one); resolves with it once it listens. */
export function servePage(port = 5173) {
  return serve(port);
}

if (isMain(import.meta.url)) {
  const server = await servePage(Number(process.env.PORT ?? 5173));
  console.log(`chat page on http://127.0.0.1:${server.address().port}/ (Mainspring expected on :8093)`);
}
