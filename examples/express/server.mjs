// An Express 5 app with Mainspring mounted under /backend, on one server:
//   node server.mjs      (after `npm install` at the repository's root)
// then http://127.0.0.1:3000/ (the page) and http://127.0.0.1:3000/backend/api/health (the API).
// Its data lives beside this file (examples/express/ms_data), wherever it is started from.
import { fileURLToPath } from 'node:url';
import express from 'express';
import { mainspringExpress } from 'mainspring/express';

const port = Number(process.env.PORT ?? 3000);
const app = express();
const backend = mainspringExpress({
  dataDir: process.env.MS_DATA_DIR ?? fileURLToPath(new URL('./ms_data', import.meta.url)),
  hooks: [(ms) => ms.routerAdd('GET', '/api/hello', () => ({ hello: 'from a route added in code' }))],
});

app.get('/', (_req, res) => {
  res.type('html').send(`<!doctype html><title>Express + Mainspring</title>
<p>The API is at <a href="/backend/api/health">/backend/api/</a>; the SDK takes <code>new PocketBase('/backend')</code>.</p>`);
});
// mount before any body parser: Mainspring reads its own bodies (JSON, forms, uploads)
app.use('/backend', backend);
app.use(express.json());

// a broken hook or an unreachable database fails here, before the port opens
await backend.ready();
const server = app.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}/ (API under /backend)`));

const stop = async () => {
  await backend.close(); // ends realtime streams, stops crons, closes the database
  server.close(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
