import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import pino, { type Logger } from 'pino';
import { App, type AppOptions } from '../../src/core/app.js';
import { buildServer, type ServerOptions } from '../../src/http/server.js';
import { startS3, type TestS3 } from './s3.js';

/** The PostgreSQL server the suite runs against, when set; else SQLite. */
export const TEST_POSTGRES_URL = process.env.MS_TEST_POSTGRES_URL ?? '';

/**
 * Where test servers keep files: `s3` (`MS_TEST_FILE_DRIVER=s3`, or a test
 * file that sets it before importing a suite) gives each server an S3
 * server of its own and turns `s3` on in its settings; else the data
 * directory's disk.
 */
export const testFileDriver = (): 'local' | 's3' => (process.env.MS_TEST_FILE_DRIVER === 's3' ? 's3' : 'local');

/** Which engine the suite runs on. */
export const TEST_ENGINE: 'sqlite' | 'postgres' = TEST_POSTGRES_URL ? 'postgres' : 'sqlite';

/** Runs one statement on the test PostgreSQL server's maintenance database. */
async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * A fresh, empty database for one test server: '' on SQLite (the data
 * directory's file is fresh already); on PostgreSQL a new database on the
 * test server, and the function that drops it.
 */
export async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!TEST_POSTGRES_URL) return { url: '', drop: async () => {} };
  const name = `ms_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 10)}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** A real Mainspring server on 127.0.0.1 over a fresh database (SQLite, or PostgreSQL with MS_TEST_POSTGRES_URL). */
export interface TestServer {
  url: string;
  app: App;
  server: FastifyInstance;
  dir: string;
  /** Its PostgreSQL database's URL ('' on SQLite), for a second process or app on the same data. */
  databaseUrl?: string;
  /** The S3 server its files go to, when they go to S3 ({@link testFileDriver}). */
  s3?: TestS3;
  /** Sends a request and parses the JSON answer. */
  request(
    method: string,
    path: string,
    options?: { body?: unknown; token?: string; headers?: Record<string, string>; raw?: string },
  ): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

/** Test-only switches on top of the server options. */
export interface TestServerOptions extends ServerOptions {
  /**
   * Keep the default request-rate limits and sign-in lockouts. Off by default:
   * every test client shares 127.0.0.1, and most suites sign in many times.
   */
  protections?: boolean;
  /** Hooks to load, as functions or from a folder. */
  hooks?: AppOptions['hooks'];
  hooksDir?: string;
  /** A migrations folder to apply, and whether API changes write files into it (AppOptions). */
  migrationsDir?: string;
  automigrate?: boolean;
  /** Where the app logs (default: nowhere, or MS_TEST_LOG's level on stdout). */
  logger?: Logger;
  /** The data directory to use (default: a new temporary one, removed on close). */
  dir?: string;
}

/** Starts a server in a new temporary data directory. */
export async function startServer(options: TestServerOptions = {}): Promise<TestServer> {
  const { hooks, hooksDir, migrationsDir, automigrate, dir: givenDir, logger, protections: _, ...serverOptions } = options;
  const dir = givenDir ?? mkdtempSync(join(tmpdir(), 'ms-test-'));
  const db = await freshDatabase();
  let app: App;
  try {
    app = await App.open({
      dataDir: dir,
      databaseUrl: db.url,
      logger: logger ?? pino({ level: process.env.MS_TEST_LOG ?? 'silent' }),
      hooks,
      hooksDir,
      ...(migrationsDir ? { migrationsDir, automigrate: automigrate === true } : {}),
    });
  } catch (err) {
    await db.drop();
    throw err;
  }
  if (!options.protections) await relaxProtections(app);
  const s3 = testFileDriver() === 's3' ? await startS3() : undefined;
  if (s3) await app.settings.update({ s3: s3.settings() });
  // closing, idle connections go once no request runs, without the second's wait for late ones (test/shutdown.test.ts has it)
  const server = await buildServer(app, { accessLog: false, idleCloseGraceMs: 0, ...serverOptions });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    app,
    server,
    dir,
    databaseUrl: db.url,
    s3,
    request: requester(url),
    async close() {
      await server.close();
      await app.close();
      await s3?.close();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Turns the default request-rate limits and sign-in lockouts off: every test
 * client shares 127.0.0.1, and most suites sign in many times.
 */
export async function relaxProtections(app: App): Promise<void> {
  await app.settings.update({
    rateLimits: { enabled: false },
    loginProtection: { maxFailures: 1000, maxFailuresPerIdentity: 1_000_000 },
  });
}

/** A {@link TestServer.request} against the API at `url`. */
export function requester(url: string): TestServer['request'] {
  return async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = opts.token;
    let body: string | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(url + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
}

/** Every table, column and index of the server's database, to show that nothing changed. */
export async function schemaOf(s: TestServer): Promise<unknown[]> {
  if (s.app.engine.dialect.name === 'sqlite') {
    return s.app.engine.all('SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name');
  }
  const columns = await s.app.engine.all(
    `SELECT table_name, column_name, data_type, column_default, is_nullable FROM information_schema.columns
     WHERE table_schema = current_schema() ORDER BY table_name, column_name`,
  );
  const indexes = await s.app.engine.all(
    'SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY tablename, indexname',
  );
  return [...columns, ...indexes];
}

/** Creates a superuser and returns its token. */
export async function superuserToken(s: TestServer, email = 'admin@example.com', password = 'admin-password-1'): Promise<string> {
  const created = await s.request('POST', '/api/collections/_superusers/records', {
    body: { email, password, passwordConfirm: password },
    token: await bootstrapToken(s),
  });
  if (created.status !== 200 && created.status !== 400) throw new Error(`superuser create: ${JSON.stringify(created.body)}`);
  const auth = await s.request('POST', '/api/collections/_superusers/auth-with-password', { body: { identity: email, password } });
  if (auth.status !== 200) throw new Error(`superuser login: ${JSON.stringify(auth.body)}`);
  return auth.body.token as string;
}

/** A token of a superuser made directly through the app (the CLI's way). */
async function bootstrapToken(s: TestServer): Promise<string> {
  const c = s.app.records.collection('_superusers');
  const info = {
    auth: { collection: c, record: { id: '' } },
    method: 'POST',
    context: 'default' as const,
    query: {},
    headers: {},
    body: {},
  };
  const email = `root-${Math.random().toString(36).slice(2)}@example.com`;
  const rec = await s.app.records.create(
    c,
    { data: { email, password: 'bootstrap-pass', passwordConfirm: 'bootstrap-pass' }, source: 'json' },
    {},
    info,
  );
  const full = await s.app.records.findById(c, rec.id as string);
  if (!full) throw new Error('bootstrap superuser missing');
  return s.app.auth.newToken(c, full);
}

/** Signs a user up in `users` and in; returns its id and token. */
export async function signedUpUser(s: TestServer, email: string, password = 'password-123'): Promise<{ id: string; token: string }> {
  const created = await s.request('POST', '/api/collections/users/records', { body: { email, password, passwordConfirm: password } });
  if (created.status !== 200) throw new Error(`sign-up ${email}: ${JSON.stringify(created.body)}`);
  const auth = await s.request('POST', '/api/collections/users/auth-with-password', { body: { identity: email, password } });
  if (auth.status !== 200) throw new Error(`sign-in ${email}: ${JSON.stringify(auth.body)}`);
  return { id: auth.body.record.id as string, token: auth.body.token as string };
}
