// `node bench/count-shapes.mjs [iterations]`: what a list's total costs in each SQL shape, on both engines,
// for the `list` scenario's statements (50 of a 1,000-row window of 10k, filtered on the rule's column too,
// sorted on the indexed one): the page alone, the count alone, the two as two statements, the count as a
// scalar subquery of the page's statement, and as a window `count(*) over ()`. SQLite in this process (µs
// of CPU per list); PostgreSQL on MS_TEST_POSTGRES_URL's server in a database made and dropped here (this
// client's CPU and the wall time per list: each statement is a round trip). Three rounds of each, printed
// as they are: on a shared machine compare shapes within one round. core/search/provider.ts chose from it.
import Database from 'better-sqlite3';
import pg from 'pg';

const N = 10_000,
  ITER = Number(process.argv[2] ?? 1500);
const cols = 'r.id, r.title, r.n, r.score, r.author, r.category, r.created, r.updated';
const where = (p) => `WHERE (r.author = ${p(1)}) AND ((r.n >= ${p(2)} AND r.n < ${p(3)}))`;
const shapes = (p) => ({
  page: [`SELECT ${cols} FROM posts r ${where(p)} ORDER BY r.n DESC, r.id DESC LIMIT 50 OFFSET 0`],
  count: [`SELECT COUNT(*) AS n FROM posts r ${where(p)}`],
  two: [
    `SELECT ${cols} FROM posts r ${where(p)} ORDER BY r.n DESC, r.id DESC LIMIT 50 OFFSET 0`,
    `SELECT COUNT(*) AS n FROM posts r ${where(p)}`,
  ],
  scalar: [
    `SELECT ${cols}, (SELECT COUNT(*) FROM posts r ${where(p)}) AS t FROM posts r ${where(p)} ORDER BY r.n DESC, r.id DESC LIMIT 50 OFFSET 0`,
  ],
  window: [`SELECT ${cols}, count(*) OVER () AS t FROM posts r ${where(p)} ORDER BY r.n DESC, r.id DESC LIMIT 50 OFFSET 0`],
});
const rows = Array.from({ length: N }, (_, i) => [
  `id${String(i).padStart(12, '0')}`,
  `Post ${i} about things`,
  i,
  (i * 7919) % 1000,
  'user0000000001',
  `cat${i % 100}`,
  '2026-01-01 00:00:00.000Z',
  '2026-01-01 00:00:00.000Z',
]);
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const args = (k) => {
  const from = (k * 37) % (N - 1000);
  return ['user0000000001', from, from + 1000];
};

// SQLite
const db = new Database(':memory:');
db.exec(
  `CREATE TABLE posts (id TEXT PRIMARY KEY, title TEXT, n NUMERIC, score NUMERIC, author TEXT, category TEXT, created TEXT, updated TEXT); CREATE INDEX idx_n ON posts (n);`,
);
const ins = db.prepare('INSERT INTO posts VALUES (?,?,?,?,?,?,?,?)');
db.transaction(() => {
  for (const r of rows) ins.run(...r);
})();
const sq = shapes(() => '?');
const prepared = Object.fromEntries(Object.entries(sq).map(([k, v]) => [k, v.map((s) => db.prepare(s).raw(true))]));
const sres = {};
for (let round = 0; round < 3; round++)
  for (const [k, stmts] of Object.entries(prepared)) {
    const t = cpu();
    for (let i = 0; i < ITER; i++)
      for (const s of stmts) {
        const a = args(i);
        // `?` is positional: the scalar subquery's conditions take the values again
        s.all(...(s.source.includes('(SELECT COUNT') ? [...a, ...a] : a));
      }
    const us = (cpu() - t) / ITER;
    sres[k] = [...(sres[k] ?? []), us];
  }
console.log(
  'sqlite µs/op (3 rounds):',
  JSON.stringify(Object.fromEntries(Object.entries(sres).map(([k, v]) => [k, v.map((x) => Math.round(x))]))),
);

// PostgreSQL: client CPU and wall per op (each statement a round trip)
const url = process.env.MS_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const admin = new pg.Client({ connectionString: url });
await admin.connect();
const name = `ms_sqlbench_${process.pid}`;
await admin.query(`CREATE DATABASE ${name}`);
const dbUrl = new URL(url);
dbUrl.pathname = `/${name}`;
const c = new pg.Client({ connectionString: dbUrl.toString() });
await c.connect();
try {
  await c.query(
    `CREATE TABLE posts (id TEXT PRIMARY KEY, title TEXT, n NUMERIC, score NUMERIC, author TEXT, category TEXT, created TEXT, updated TEXT); CREATE INDEX idx_n ON posts (n);`,
  );
  for (let i = 0; i < N; i += 1000) {
    const chunk = rows.slice(i, i + 1000);
    const vals = [];
    const ps = [];
    chunk.forEach((r, j) => {
      ps.push(`(${r.map((_, k) => `$${j * 8 + k + 1}`).join(',')})`);
      vals.push(...r);
    });
    await c.query(`INSERT INTO posts VALUES ${ps.join(',')}`, vals);
  }
  await c.query('VACUUM ANALYZE posts');
  const pq = shapes((n) => `$${n}`);
  const pres = {};
  const PITER = Math.round(ITER / 3);
  for (let round = 0; round < 3; round++)
    for (const [k, stmts] of Object.entries(pq)) {
      const t = cpu();
      const w = performance.now();
      for (let i = 0; i < PITER; i++)
        for (const s of stmts) await c.query({ text: s, values: args(i), rowMode: 'array', name: `${k}${stmts.indexOf(s)}` });
      pres[k] = [...(pres[k] ?? []), [Math.round((cpu() - t) / PITER), Math.round(((performance.now() - w) * 1000) / PITER)]];
    }
  console.log('postgres [client µs CPU, wall µs]/op (3 rounds):', JSON.stringify(pres));
} finally {
  await c.end();
  await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
  await admin.end();
}
