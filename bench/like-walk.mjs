// `node bench/like-walk.mjs [records] [iterations]`: what a page of `title ~ word` sorted on an indexed
// column costs on SQLite, in this process (µs of CPU per page), for words of every density and two offsets:
// `driven`, the page read from the trigram index's candidates (every match read and sorted: the one plan
// before); `walk`, the sort's index walked and each entry tested against the candidates (`+r.rowid IN`),
// stopping at the page's end; `probe`, the statement that chooses between the two by counting candidates;
// `chosen`, the probe and the page it chose (what a page costs now); `kept`, the same where the total is
// kept between writes (the probe weighs it, counting nothing); and `count`, the total (driven by the
// candidates). The SQL is the server's (packages/mainspring/dist: `npm run build` first), over
// the bench's posts (bench/dataset.mjs), sorted `-n` as the `search` scenario, through its rule's
// `author = ?`. Three rounds, printed as they are: on a shared machine compare within one round.
import Database from 'better-sqlite3';
import { createSearchIndex, likeIndexed } from '../packages/mainspring/dist/storage/sqlite/search.js';
import { PAGE, post } from './dataset.mjs';

const N = Number(process.argv[2] ?? 100_000),
  ITER = Number(process.argv[3] ?? 200);
const db = new Database(':memory:');
db.exec(`CREATE TABLE posts (id TEXT PRIMARY KEY, title TEXT, n NUMERIC, score NUMERIC, author TEXT, category TEXT, created TEXT, updated TEXT);
CREATE INDEX idx_posts_n ON posts (n);`);
const ins = db.prepare('INSERT INTO posts VALUES (?,?,?,?,?,?,?,?)');
db.transaction(() => {
  for (let i = 0; i < N; i++) {
    const p = post(i);
    ins.run(`id${String(i).padStart(13, '0')}`, p.title, p.n, p.score, 'user0000000001', `cat${p.category}`, '2026-01-01', '2026-01-01');
  }
})();
for (const sql of createSearchIndex({
  name: 'idx_posts_title',
  table: 'posts',
  unique: false,
  columns: [{ name: 'title' }],
  search: true,
})) {
  db.exec(sql);
}

const cols = 'r.id, r.title, r.n, r.score, r.author, r.category, r.created, r.updated';
const index = { index: 'idx_posts_title', table: 'posts', column: 'title', row: 'r.rowid' };
/** The statements of one term, `?` placeholders in order, and their arguments. */
function statements(term, offset) {
  const values = [];
  const like = likeIndexed('r."title"', `%${term}%`, false, index, (v) => {
    values.push(v);
    return '?';
  });
  const [match, pattern] = values;
  const where = (cond) => `WHERE (r.author = ?) AND (${cond})`;
  const page = (cond) =>
    db.prepare(`SELECT ${cols} FROM posts r ${where(cond)} ORDER BY r.n DESC, r.rowid DESC LIMIT ? OFFSET ?`).raw(true);
  const pageArgs = ['user0000000001', match, pattern, PAGE, offset];
  return {
    driven: [page(like.sql), pageArgs],
    walk: [page(like.sql.split(like.walk.term).join(like.walk.walkTerm)), pageArgs],
    probe: [db.prepare(like.walk.probe(String(PAGE + offset))).raw(true), [match]],
    weigh: [db.prepare(like.walk.probe(String(PAGE + offset), '?')).raw(true), [matches[term], matches[term]]],
    count: [db.prepare(`SELECT COUNT(*) FROM posts r ${where(like.sql)}`).raw(true), ['user0000000001', match, pattern]],
  };
}
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
// a word of the bench (2% of the rows), a word pair (1%), and numbers (from a few hundred rows to one)
const terms = ['apple', 'apple and', '123', '1234', '12345'];
const offsets = [0, 500];
const matches = Object.fromEntries(
  terms.map((t) => [t, db.prepare(`SELECT count(*) FROM posts WHERE title LIKE ?`).pluck().get(`%${t}%`)]),
);
console.log(`sqlite, ${N} posts; matches:`, JSON.stringify(matches));
const time = (run) => {
  run();
  const c = cpu();
  for (let i = 0; i < ITER; i++) run();
  return Math.round((cpu() - c) / ITER);
};
for (let round = 0; round < 3; round++) {
  const out = {};
  for (const t of terms)
    for (const offset of offsets) {
      const s = statements(t, offset);
      const r = {};
      for (const name of ['driven', 'walk', 'probe', ...(offset === 0 ? ['count'] : [])]) {
        const [stmt, args] = s[name];
        r[name] = time(() => stmt.all(...args));
      }
      const walks = s.probe[0].all(...s.probe[1]).length === 1;
      for (const [name, probe] of [
        ['chosen', s.probe],
        ['kept', s.weigh],
      ])
        r[name] = time(() => {
          const [stmt, args] = probe[0].all(...probe[1]).length === 1 ? s.walk : s.driven;
          stmt.all(...args);
        });
      out[`${t}@${offset}${walks ? ' (walks)' : ''}`] = r;
    }
  console.log(`round ${round + 1} µs/op:`, JSON.stringify(out));
}
