// Parse Server (from npm) on PostgreSQL, mounted on /parse in an Express app,
// as Parse's own README shows it. One of the peers of bench/peers/run.mjs,
// which starts it as
//
//   PORT=1337 DATABASE_URL=postgres://… PARSE_APP_ID=… PARSE_MASTER_KEY=… node parse-app.mjs
//
// and creates its classes (Category, and Post with an index on n) through the
// schema API with the master key. Options are Parse's defaults except:
// - logLevel 'warn' and no log files (logsFolder null): the console stays quiet
//   and nothing is written under the working directory; Mainspring's bench
//   runs it at warn level too (Parse logs nothing per request at 'info' either).
// - a pool of 20 PostgreSQL connections (`max=20` on the database URL, which
//   Parse hands to pg-promise), the size of Mainspring's and the Express
//   peer's pools; pg's default is 10.
// Every security feature is left as Parse ships it: ACLs and class-level
// permissions are enforced, users are private (enforcePrivateUsers), clients
// cannot create classes, the master key only works from loopback.
import express from 'express';

// No log files: Parse's default logger, made as the module loads (before the
// options below apply), writes its start-up notices to ./logs unless told here.
process.env.PARSE_SERVER_LOGS_FOLDER ??= 'null';
const { ParseServer } = await import('parse-server');

const PORT = Number(process.env.PORT ?? 1337);
const HOST = process.env.HOST ?? '127.0.0.1';
const { DATABASE_URL, PARSE_APP_ID, PARSE_MASTER_KEY } = process.env;
if (!DATABASE_URL || !PARSE_APP_ID || !PARSE_MASTER_KEY) {
  console.error('DATABASE_URL, PARSE_APP_ID and PARSE_MASTER_KEY are required');
  process.exit(1);
}

const databaseURI = new URL(DATABASE_URL);
if (!databaseURI.searchParams.has('max')) databaseURI.searchParams.set('max', process.env.PG_POOL_MAX || '20');

const parse = new ParseServer({
  databaseURI: databaseURI.toString(),
  appId: PARSE_APP_ID,
  masterKey: PARSE_MASTER_KEY,
  serverURL: `http://${HOST}:${PORT}/parse`,
  logLevel: 'warn',
  logsFolder: null,
});
await parse.start();

const app = express();
app.use('/parse', parse.app);

const server = app.listen(PORT, HOST, () => {
  console.log(`parse-app listening on http://${HOST}:${PORT}/parse`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 3_000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
// Started by the bench runner: never outlive it (its end of stdin closes even when it is killed).
if (process.env.EXIT_WITH_PARENT === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
