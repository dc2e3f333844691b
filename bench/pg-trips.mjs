// `node bench/pg-trips.mjs [--postgres-url=URL] [--seconds=S]`: what a PostgreSQL write costs by its
// round trips, with no HTTP and no Mainspring, so that the PostgreSQL `update` figure of `npm run bench`
// has its floor beside it. Over one pg pool (20 connections, pipelined, as the server's) and 50 concurrent
// callers, on a table of 10,000 posts in a fresh database (dropped at the end), three ways to update
// one row's score:
//   - `autocommit`: one UPDATE alone, in a transaction of its own at the server's default level (what the
//     Express + pg peer sends: bench/peers/express-app.mjs);
//   - `one trip`: BEGIN ISOLATION LEVEL SERIALIZABLE, the UPDATE and COMMIT sent together;
//   - `two trips`: BEGIN and the row's read, then the UPDATE and COMMIT: Mainspring's update
//     (docs/DESIGN.md, "PostgreSQL writes in fewer round trips").
// Each runs `--seconds` (default 4), in two rounds; compare within a round (the machine is shared).
import pg from 'pg';

const arg = (name, fallback) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const base = arg('postgres-url', process.env.MS_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const seconds = Number(arg('seconds', 4));
const ROWS = 10_000;
const CALLERS = 50;

const database = `ms_bench_trips_${process.pid}`;
const admin = new pg.Client(base);
await admin.connect();
await admin.query(`CREATE DATABASE ${database}`);
const url = new URL(base);
url.pathname = `/${database}`;
const pool = new pg.Pool({ connectionString: url.href, max: 20, pipeline: true });

const update = (id) => ({
  name: 'update',
  text: 'UPDATE posts SET score = $2, updated = $3 WHERE id = $1 AND author = $4 RETURNING *',
  values: [id, Math.random(), new Date().toISOString(), 'u1'],
});
/** Sends every statement at once (the pool's connections are pipelined) and waits for all. */
const together = (client, ...statements) => Promise.all(statements.map((s) => client.query(s)));
const WAYS = {
  autocommit: (client, id) => client.query(update(id)),
  'one trip': (client, id) => together(client, 'BEGIN ISOLATION LEVEL SERIALIZABLE', update(id), 'COMMIT'),
  'two trips': async (client, id) => {
    await together(client, 'BEGIN ISOLATION LEVEL SERIALIZABLE', { name: 'read', text: 'SELECT * FROM posts WHERE id = $1', values: [id] });
    await together(client, update(id), 'COMMIT');
  },
};

try {
  await pool.query('CREATE TABLE posts (id text PRIMARY KEY, title text, n numeric, score numeric, author text, updated text)');
  await pool.query(`INSERT INTO posts SELECT 'id' || g, 'Post ' || g, g, 0, 'u1', '' FROM generate_series(0, ${ROWS - 1}) g`);
  for (let round = 1; round <= 2; round++) {
    const rows = [];
    for (const [way, write] of Object.entries(WAYS)) {
      let done = 0;
      let conflicts = 0;
      const until = performance.now() + seconds * 1000;
      const cpu = process.cpuUsage();
      await Promise.all(
        Array.from({ length: CALLERS }, async () => {
          while (performance.now() < until) {
            const client = await pool.connect();
            try {
              await write(client, `id${Math.floor(Math.random() * ROWS)}`);
              done++;
            } catch {
              // two callers on one row under SERIALIZABLE: one fails (40001) and would run again
              conflicts++;
              await client.query('ROLLBACK').catch(() => {});
            } finally {
              client.release();
            }
          }
        }),
      );
      const used = process.cpuUsage(cpu);
      rows.push({ way, perSec: Math.round(done / seconds), conflicts, clientCpuUs: Math.round((used.user + used.system) / done) });
    }
    const alone = rows[0].perSec;
    process.stdout.write(`round ${round}:\n`);
    for (const r of rows) {
      process.stdout.write(
        `  ${r.way.padEnd(10)} ${String(r.perSec).padStart(6)} updates/s  ${(r.perSec / alone).toFixed(2)} of autocommit  ${r.conflicts} conflicts  client CPU ${r.clientCpuUs} µs/update\n`,
      );
    }
  }
} finally {
  await pool.end();
  await admin.query(`DROP DATABASE IF EXISTS ${database}`);
  await admin.end();
}
