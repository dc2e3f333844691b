// The stack Mainspring's users would otherwise write by hand: Express 5,
// jsonwebtoken, bcrypt and pg, written plainly, the way the tutorials of each
// show it. It is one of the peers of bench/peers/run.mjs, which starts it as
//
//   PORT=3000 DATABASE_URL=postgres://… JWT_SECRET=… node express-app.mjs
//
// and it creates its tables itself. The API:
//
//   GET   /health                     {"code":200,"message":"API is healthy.","data":{}}
//   POST  /users                      sign up {email, password}
//   POST  /auth/login                 {email, password} -> {token, user}
//   POST  /categories                 {name}                                   (signed in)
//   GET   /posts/:id                  one of the caller's posts, else 404      (signed in)
//   GET   /posts?minN=&maxN=&q=&sort=&page=&perPage=&expand=author,category    (signed in)
//   POST  /posts                      {title, n, score, category}              (signed in)
//   POST  /posts/batch                {posts: [...]}, up to 1,000, one INSERT  (signed in)
//   PATCH /posts/:id                  {title?, n?, score?, category?}          (signed in)
//
// Errors are JSON, {"status":…, "message":…}, with 400, 401, 404 or 500.
import crypto from 'node:crypto';
import bcrypt from 'bcrypt';
import express from 'express';
import jwt from 'jsonwebtoken';
import pg from 'pg';

const PORT = Number(process.env.PORT ?? 3000);
const HOST = process.env.HOST ?? '127.0.0.1';
const JWT_SECRET = process.env.JWT_SECRET;
if (!JWT_SECRET || !process.env.DATABASE_URL) {
  console.error('DATABASE_URL and JWT_SECRET are required');
  process.exit(1);
}
// The secret as a KeyObject, as jsonwebtoken's README allows: given the string,
// jsonwebtoken 9 first tries (and fails) to parse it as a public key on every
// sign and verify, which costs ~0.35 ms each on Node 20 (auth0/node-jsonwebtoken#966, #1046).
const JWT_KEY = crypto.createSecretKey(Buffer.from(JWT_SECRET));
const BCRYPT_COST = 10;
const TOKEN_TTL = '7d';
const MAX_TITLE = 200; // as the posts.title field of Mainspring's bench
const MAX_PER_PAGE = 500;
const MAX_BATCH = 1_000;

// As many connections as Mainspring's pool (MS_PG_POOL_MAX, default 20).
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.PG_POOL_MAX) || 20 });
pool.on('error', (err) => console.error('idle PostgreSQL connection failed:', err.message));

await pool.query(`
  CREATE TABLE IF NOT EXISTS users (
    id            text PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    created       timestamptz NOT NULL DEFAULT now(),
    updated       timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE IF NOT EXISTS categories (
    id   text PRIMARY KEY,
    name text NOT NULL
  );
  CREATE TABLE IF NOT EXISTS posts (
    id       text PRIMARY KEY,
    title    text NOT NULL,
    n        integer NOT NULL,
    score    integer NOT NULL,
    author   text NOT NULL REFERENCES users (id),
    category text NOT NULL REFERENCES categories (id),
    created  timestamptz NOT NULL DEFAULT now(),
    updated  timestamptz NOT NULL DEFAULT now()
  );
  CREATE INDEX IF NOT EXISTS posts_n ON posts (n);
`);

// ---------------------------------------------------------------------------
// Helpers

/** A 15-character id of [a-z0-9], like Mainspring's. */
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
function newId() {
  let id = '';
  for (const byte of crypto.randomBytes(15)) id += ALPHABET[byte % ALPHABET.length];
  return id;
}

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const isInt = (v) => Number.isInteger(v) && v >= -2147483648 && v <= 2147483647;
const isId = (v) => typeof v === 'string' && /^[a-z0-9]{15}$/.test(v);

/** An integer query parameter: `fallback` when absent, 400 when not an integer. */
function intParam(query, name, fallback) {
  const raw = query[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (typeof raw !== 'string' || raw === '' || !isInt(v)) throw new HttpError(400, `${name} must be an integer`);
  return v;
}

/** The fields of a post from a request body; `partial` for an update (only what is there). */
function postFields(body, { partial = false } = {}) {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'the body must be a JSON object');
  const out = {};
  const { title, n, score, category } = body;
  if (title !== undefined || !partial) {
    if (typeof title !== 'string' || title.trim() === '' || title.length > MAX_TITLE) {
      throw new HttpError(400, `title must be a non-empty string of at most ${MAX_TITLE} characters`);
    }
    out.title = title;
  }
  if (n !== undefined || !partial) {
    if (!isInt(n)) throw new HttpError(400, 'n must be an integer');
    out.n = n;
  }
  if (score !== undefined || !partial) {
    if (!isInt(score)) throw new HttpError(400, 'score must be an integer');
    out.score = score;
  }
  if (category !== undefined || !partial) {
    if (!isId(category)) throw new HttpError(400, 'category must be a category id');
    out.category = category;
  }
  return out;
}

/** A foreign key violation means the category does not exist. */
function badCategory(err) {
  if (err.code === '23503') throw new HttpError(400, 'category does not exist');
  throw err;
}

const POST_COLUMNS = 'id, title, n, score, author, category, created, updated';
const userJson = (u) => ({ id: u.id, email: u.email, created: u.created, updated: u.updated });

// ---------------------------------------------------------------------------
// The app

const app = express();
app.use(express.json());

app.get('/health', (_req, res) => {
  res.json({ code: 200, message: 'API is healthy.', data: {} });
});

/** Sets req.userId from a valid `Authorization: Bearer <jwt>`, else 401. */
function requireAuth(req, _res, next) {
  const header = req.get('authorization') ?? '';
  const token = header.startsWith('Bearer ') ? header.slice(7) : undefined;
  if (!token) return next(new HttpError(401, 'sign in first'));
  try {
    const payload = jwt.verify(token, JWT_KEY, { algorithms: ['HS256'] });
    req.userId = payload.sub;
    next();
  } catch {
    next(new HttpError(401, 'invalid or expired token'));
  }
}

app.post('/users', async (req, res) => {
  const { email, password } = req.body ?? {};
  if (typeof email !== 'string' || email.length > 254 || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
    throw new HttpError(400, 'email must be an e-mail address');
  }
  // bcrypt only looks at the first 72 bytes
  if (typeof password !== 'string' || password.length < 8 || Buffer.byteLength(password) > 72) {
    throw new HttpError(400, 'password must be 8 to 72 bytes long');
  }
  const hash = await bcrypt.hash(password, BCRYPT_COST);
  try {
    const { rows } = await pool.query(
      'INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3) RETURNING id, email, created, updated',
      [newId(), email.toLowerCase(), hash],
    );
    res.status(201).json(userJson(rows[0]));
  } catch (err) {
    if (err.code === '23505') throw new HttpError(400, 'this e-mail is already registered');
    throw err;
  }
});

app.post('/auth/login', async (req, res) => {
  const { email, password } = req.body ?? {};
  if (typeof email !== 'string' || typeof password !== 'string') throw new HttpError(400, 'email and password are required');
  const { rows } = await pool.query('SELECT id, email, password_hash, created, updated FROM users WHERE email = $1', [email.toLowerCase()]);
  const user = rows[0];
  if (!user || !(await bcrypt.compare(password, user.password_hash))) throw new HttpError(401, 'wrong e-mail or password');
  const token = jwt.sign({ sub: user.id }, JWT_KEY, { algorithm: 'HS256', expiresIn: TOKEN_TTL });
  res.json({ token, user: userJson(user) });
});

app.post('/categories', requireAuth, async (req, res) => {
  const { name } = req.body ?? {};
  if (typeof name !== 'string' || name.trim() === '' || name.length > 100) throw new HttpError(400, 'name must be a non-empty string');
  const { rows } = await pool.query('INSERT INTO categories (id, name) VALUES ($1, $2) RETURNING id, name', [newId(), name]);
  res.status(201).json(rows[0]);
});

app.get('/posts/:id', requireAuth, async (req, res) => {
  const { rows } = await pool.query(`SELECT ${POST_COLUMNS} FROM posts WHERE id = $1 AND author = $2`, [req.params.id, req.userId]);
  if (rows.length === 0) throw new HttpError(404, 'post not found');
  res.json(rows[0]);
});

app.get('/posts', requireAuth, async (req, res) => {
  const page = intParam(req.query, 'page', 1);
  const perPage = intParam(req.query, 'perPage', 30);
  if (page < 1 || perPage < 1 || perPage > MAX_PER_PAGE) throw new HttpError(400, `page must be >= 1 and perPage 1 to ${MAX_PER_PAGE}`);
  const sort = req.query.sort ?? '-n';
  if (sort !== 'n' && sort !== '-n') throw new HttpError(400, 'sort must be n or -n');
  const expand = req.query.expand === undefined ? [] : String(req.query.expand).split(',');
  if (expand.some((e) => e !== 'author' && e !== 'category')) throw new HttpError(400, 'expand takes author and category');

  // WHERE: always the caller's posts, then the filters asked for
  const where = ['p.author = $1'];
  const params = [req.userId];
  const minN = intParam(req.query, 'minN', undefined);
  const maxN = intParam(req.query, 'maxN', undefined);
  if (minN !== undefined) where.push(`p.n >= $${params.push(minN)}`);
  if (maxN !== undefined) where.push(`p.n < $${params.push(maxN)}`);
  if (req.query.q !== undefined) {
    if (typeof req.query.q !== 'string' || req.query.q.length > 100) throw new HttpError(400, 'q must be a string');
    // % and _ in the search are literal
    where.push(`p.title ILIKE $${params.push(`%${req.query.q.replace(/[\\%_]/g, '\\$&')}%`)}`);
  }
  const whereSql = where.join(' AND ');

  const withAuthor = expand.includes('author');
  const withCategory = expand.includes('category');
  const select = [
    'p.id, p.title, p.n, p.score, p.author, p.category, p.created, p.updated',
    withAuthor ? 'u.email AS author_email, u.created AS author_created, u.updated AS author_updated' : undefined,
    withCategory ? 'c.name AS category_name' : undefined,
  ]
    .filter(Boolean)
    .join(', ');
  const joins = `${withAuthor ? ' JOIN users u ON u.id = p.author' : ''}${withCategory ? ' JOIN categories c ON c.id = p.category' : ''}`;

  const [itemsResult, countResult] = await Promise.all([
    pool.query(
      `SELECT ${select} FROM posts p${joins} WHERE ${whereSql} ORDER BY p.n ${sort === '-n' ? 'DESC' : 'ASC'} LIMIT ${perPage} OFFSET ${(page - 1) * perPage}`,
      params,
    ),
    pool.query(`SELECT count(*)::int AS total FROM posts p WHERE ${whereSql}`, params),
  ]);
  const totalItems = countResult.rows[0].total;
  const items = itemsResult.rows.map((r) => {
    const item = {
      id: r.id,
      title: r.title,
      n: r.n,
      score: r.score,
      author: r.author,
      category: r.category,
      created: r.created,
      updated: r.updated,
    };
    if (withAuthor || withCategory) {
      item.expand = {};
      if (withAuthor) item.expand.author = { id: r.author, email: r.author_email, created: r.author_created, updated: r.author_updated };
      if (withCategory) item.expand.category = { id: r.category, name: r.category_name };
    }
    return item;
  });
  res.json({ page, perPage, totalItems, totalPages: Math.ceil(totalItems / perPage), items });
});

app.post('/posts', requireAuth, async (req, res) => {
  const p = postFields(req.body);
  const { rows } = await pool
    .query(`INSERT INTO posts (id, title, n, score, author, category) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${POST_COLUMNS}`, [
      newId(),
      p.title,
      p.n,
      p.score,
      req.userId,
      p.category,
    ])
    .catch(badCategory);
  res.status(201).json(rows[0]);
});

app.post('/posts/batch', requireAuth, async (req, res) => {
  const list = req.body?.posts;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_BATCH)
    throw new HttpError(400, `posts must be 1 to ${MAX_BATCH} posts`);
  const values = [];
  const params = [];
  for (const body of list) {
    const p = postFields(body);
    const at = params.push(newId(), p.title, p.n, p.score, req.userId, p.category) - 6;
    values.push(`($${at + 1}, $${at + 2}, $${at + 3}, $${at + 4}, $${at + 5}, $${at + 6})`);
  }
  const { rows } = await pool
    .query(`INSERT INTO posts (id, title, n, score, author, category) VALUES ${values.join(', ')} RETURNING ${POST_COLUMNS}`, params)
    .catch(badCategory);
  res.status(201).json(rows);
});

app.patch('/posts/:id', requireAuth, async (req, res) => {
  const p = postFields(req.body, { partial: true });
  const columns = Object.keys(p);
  if (columns.length === 0) throw new HttpError(400, 'nothing to change');
  const set = columns.map((c, i) => `${c} = $${i + 3}`).join(', ');
  const { rows } = await pool
    .query(`UPDATE posts SET ${set}, updated = now() WHERE id = $1 AND author = $2 RETURNING ${POST_COLUMNS}`, [
      req.params.id,
      req.userId,
      ...columns.map((c) => p[c]),
    ])
    .catch(badCategory);
  if (rows.length === 0) throw new HttpError(404, 'post not found');
  res.json(rows[0]);
});

app.use((_req, _res, next) => next(new HttpError(404, 'not found')));

// Express 5 passes rejected promises of async handlers here too.
app.use((err, _req, res, _next) => {
  // express.json() marks its own errors (bad JSON, too large) with a 4xx status
  const status = err instanceof HttpError ? err.status : err.status >= 400 && err.status < 500 ? err.status : 500;
  if (status === 500) console.error(err);
  res.status(status).json({ status, message: status === 500 ? 'internal error' : err.message });
});

const server = app.listen(PORT, HOST, () => {
  console.log(`express-app listening on http://${HOST}:${PORT}`);
});

function shutdown() {
  server.close(() => pool.end().then(() => process.exit(0)));
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
