import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { App } from '../../src/core/app.js';
import { buildServer, type ServerOptions } from '../../src/http/server.js';

/** A real Mainspring server on 127.0.0.1 over a fresh SQLite file. */
export interface TestServer {
  url: string;
  app: App;
  server: FastifyInstance;
  dir: string;
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
}

/** Starts a server in a new temporary data directory. */
export async function startServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ms-test-'));
  const app = await App.open({ dataDir: dir, logger: pino({ level: process.env.MS_TEST_LOG ?? 'silent' }) });
  if (!options.protections) {
    await app.settings.update({
      rateLimits: { enabled: false },
      loginProtection: { maxFailures: 1000, maxFailuresPerIdentity: 1_000_000 },
    });
  }
  const server = await buildServer(app, { accessLog: false, ...options });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    app,
    server,
    dir,
    async request(method, path, opts = {}) {
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
    },
    async close() {
      await server.close();
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
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
