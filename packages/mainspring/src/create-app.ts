import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { App } from './core/app.js';
import type { HooksModule, Mainspring } from './core/hooks/api.js';
import type { HttpMethod, RouteHandler } from './core/hooks/registry.js';
import { Admission } from './http/admission.js';
import { buildServer, type ServerOptions } from './http/server.js';

/**
 * The programmatic API: `createApp()` is what `mainspring serve` runs, as an
 * object to configure in code, then `listen()` on an address or mount with
 * `handle(req, res)` (see `mainspring/express`). One place decides how the
 * app is opened, its server built, crons started and everything drained.
 */

/** How to make an app; every option falls back to the environment, then to the default `serve` uses. */
export interface CreateAppOptions {
  /** Files, mails and the SQLite database. Default `MS_DATA_DIR`, else `./ms_data`. */
  dataDir?: string;
  /** `postgres://…` for PostgreSQL, '' for SQLite in the data directory. Default `DATABASE_URL`, else ''. */
  databaseUrl?: string;
  /**
   * The TypeScript hooks folder; `false` for none. Default `MS_HOOKS_DIR`,
   * else `ms_hooks` beside the data directory (loaded only if it exists).
   */
  hooksDir?: string | false;
  /** Hooks given as functions; they run after the folder's. */
  hooks?: HooksModule[];
  /**
   * The migrations folder, whose pending migrations apply as the app opens;
   * `false` for none. Default `MS_MIGRATIONS_DIR`, else `ms_migrations`
   * beside the data directory (PocketBase's `pb_migrations`).
   */
  migrationsDir?: string | false;
  /**
   * Write a migration file into the migrations folder for each collection
   * change made through the API or the dashboard. Default `MS_AUTOMIGRATE`
   * (`on`/`off`), else off (`mainspring serve` turns it on outside production).
   */
  automigrate?: boolean;
  /** Allowed CORS origins. Default `MS_CORS_ORIGINS` (comma-separated), else `*`. */
  corsOrigins?: string[];
  /** Default: pino at `MS_LOG_LEVEL` (info) on stdout. */
  logger?: Logger;
  /** How long to keep trying to reach PostgreSQL at start, in ms (default 0: fail at once). */
  connectTimeoutMs?: number;
  /** Body limit, realtime limits, access log… */
  server?: Omit<ServerOptions, 'corsOrigins'>;
  /**
   * How long `close()` may take, in ms: in-flight requests get all of it but
   * a reserve for closing the database; past it, their connections are cut.
   * Default `MS_SHUTDOWN_TIMEOUT` (seconds), else 10 s.
   */
  shutdownTimeoutMs?: number;
}

/** The default of {@link CreateAppOptions.shutdownTimeoutMs}: 10 s. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

/**
 * A duration as an operator writes it (`10`, `10s`, `1.5s`, `500ms`; bare
 * numbers are seconds), in ms; null for anything else.
 */
export function durationMs(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$/.exec(text);
  if (!m) return null;
  return Math.round(Number(m[1]) * (m[2] === 'ms' ? 1 : 1000));
}

/** The shutdown timeout: the option, else `MS_SHUTDOWN_TIMEOUT`, else 10 s. */
export function shutdownTimeoutOf(option: number | undefined): number {
  if (option !== undefined) return option;
  const env = process.env.MS_SHUTDOWN_TIMEOUT;
  return (env !== undefined && durationMs(env)) || DEFAULT_SHUTDOWN_TIMEOUT_MS;
}

/** The data directory: the option, else `MS_DATA_DIR`, else `./ms_data`. */
export function dataDirOf(option: string | undefined): string {
  return option ?? process.env.MS_DATA_DIR ?? 'ms_data';
}

/** The hooks folder: the option, else `MS_HOOKS_DIR`, else `ms_hooks` beside the data directory (PocketBase's `pb_hooks`). */
export function hooksDirOf(option: string | undefined, dataDir: string): string {
  return option ?? process.env.MS_HOOKS_DIR ?? join(dirname(resolve(dataDir)), 'ms_hooks');
}

/** The migrations folder: the option, else `MS_MIGRATIONS_DIR`, else `ms_migrations` beside the data directory. */
export function migrationsDirOf(option: string | undefined, dataDir: string): string {
  return option ?? process.env.MS_MIGRATIONS_DIR ?? join(dirname(resolve(dataDir)), 'ms_migrations');
}

/** `on`/`off` (and `true`/`false`, `1`/`0`) as a boolean; undefined for anything else. */
export function switchOf(text: string | undefined): boolean | undefined {
  const t = text?.trim().toLowerCase();
  if (t === 'on' || t === 'true' || t === '1') return true;
  if (t === 'off' || t === 'false' || t === '0') return false;
  return undefined;
}

/** Automigrate: the option, else `MS_AUTOMIGRATE`, else `fallback`. */
export function automigrateOf(option: boolean | undefined, fallback: boolean): boolean {
  return option ?? switchOf(process.env.MS_AUTOMIGRATE) ?? fallback;
}

/** CORS origins: the option, else `MS_CORS_ORIGINS` (comma-separated), else none given (the server's `*`). */
export function corsOriginsOf(option: string[] | string | undefined): string[] | undefined {
  const raw = option ?? process.env.MS_CORS_ORIGINS;
  if (raw === undefined) return undefined;
  return (Array.isArray(raw) ? raw : raw.split(',')).map((s) => s.trim()).filter(Boolean);
}

/** An app made by {@link createApp}: configure it, then `listen()` or mount it. */
export interface MainspringApp {
  /** The data directory, resolved. */
  readonly dataDir: string;
  /** The hooks folder (absolute), or null for none. */
  readonly hooksDir: string | null;
  /** The migrations folder (absolute), or null for none. */
  readonly migrationsDir: string | null;
  /** Adds hooks (record events, routes, crons) given as a function; before the app is started. */
  use(module: HooksModule): this;
  /** Adds a route, as `ms.routerAdd` in a hooks file; before the app is started. */
  routerAdd(method: HttpMethod, path: string, handler: RouteHandler, ...middlewares: RouteHandler[]): this;
  /**
   * Opens the database, loads the hooks and builds the HTTP server, once.
   * A failure (hooks that do not build, a database that does not answer) can
   * be retried by calling it again.
   */
  ready(): Promise<{ app: App; server: FastifyInstance }>;
  /** The domain services, once ready. */
  readonly app: App;
  /** The Fastify server, once ready. */
  readonly server: FastifyInstance;
  /** The hooks API (`ms.records`, `ms.runInTransaction`…), once ready. */
  readonly api: Mainspring;
  /** Starts the app and listens on its own HTTP server (default 127.0.0.1:8090); answers the base URL. */
  listen(options?: { host?: string; port?: number }): Promise<string>;
  /**
   * Starts the app for a server of someone else's (Express, `node:http`):
   * the answer handles a request whose `url` starts at `/api/…`, started in
   * time slices as on our own server (http/admission.ts).
   */
  handler(): Promise<(req: IncomingMessage, res: ServerResponse) => void>;
  /**
   * Drains: `/api/health` answers 503, no new connection is accepted,
   * realtime streams end (the SDKs reconnect elsewhere), in-flight requests
   * finish (cut once the shutdown timeout is near), then crons stop, the
   * request log is written, the PostgreSQL listener ends and the database
   * closes after its pending writes. Resolves within the shutdown timeout
   * unless a cron job or the database itself hangs.
   */
  close(): Promise<void>;
}

/** Makes an app; nothing is opened until `ready()`, `listen()` or `handler()`. */
export function createApp(options: CreateAppOptions = {}): MainspringApp {
  return new EmbeddedApp(options);
}

/** The app {@link createApp} makes: its state moves from configured to started (once) to closed. */
class EmbeddedApp implements MainspringApp {
  readonly dataDir: string;
  readonly hooksDir: string | null;
  readonly migrationsDir: string | null;
  private readonly modules: HooksModule[];
  private started: Promise<{ app: App; server: FastifyInstance }> | null = null;
  private opened: { app: App; server: FastifyInstance } | null = null;
  private serving = false;
  private closing: Promise<void> | null = null;
  /** Where {@link listen} bound, to bind there again after a restore's restart. */
  private listening: { host: string; port: number } | null = null;
  /** A restart on restored data in progress (see {@link restartOnRestoredData}). */
  private restarting: Promise<void> | null = null;

  constructor(private readonly options: CreateAppOptions) {
    this.dataDir = resolve(dataDirOf(options.dataDir));
    this.hooksDir = options.hooksDir === false ? null : resolve(hooksDirOf(options.hooksDir, this.dataDir));
    this.migrationsDir = options.migrationsDir === false ? null : resolve(migrationsDirOf(options.migrationsDir, this.dataDir));
    this.modules = [...(options.hooks ?? [])];
    // the methods work detached too, as they did on a plain object (`process.once('SIGTERM', app.close)`)
    for (const name of ['use', 'routerAdd', 'ready', 'listen', 'handler', 'close'] as const) {
      Object.defineProperty(this, name, { value: this[name].bind(this) });
    }
  }

  use(module: HooksModule): this {
    if (this.opened) throw new Error('the app is started already: add hooks and routes before ready(), listen() or handler()');
    this.modules.push(module);
    return this;
  }

  routerAdd(method: HttpMethod, path: string, handler: RouteHandler, ...middlewares: RouteHandler[]): this {
    return this.use((ms) => ms.routerAdd(method, path, handler, ...middlewares));
  }

  ready(): Promise<{ app: App; server: FastifyInstance }> {
    this.started ??= this.open().then(
      (result) => {
        this.opened = result;
        return result;
      },
      (err) => {
        this.started = null;
        throw err;
      },
    );
    return this.started;
  }

  get app(): App {
    return this.need().app;
  }

  get server(): FastifyInstance {
    return this.need().server;
  }

  get api(): Mainspring {
    return this.need().app.api;
  }

  async listen({ host = '127.0.0.1', port = 8090 } = {}): Promise<string> {
    const { app, server } = await this.ready();
    await server.listen({ host, port });
    this.serve(app);
    const address = server.server.address();
    const bound = typeof address === 'object' && address ? address.port : port;
    this.listening = { host, port: bound };
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
    app.instance.announce(url);
    return url;
  }

  async handler(): Promise<(req: IncomingMessage, res: ServerResponse) => void> {
    const { app } = await this.ready();
    this.serve(app);
    // the server of the moment: a restore's restart replaces it
    return new Admission((req: IncomingMessage, res: ServerResponse) => {
      if (this.opened && !this.restarting) return this.opened.server.routing(req, res);
      res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1' });
      res.end(JSON.stringify({ status: 503, message: 'Restoring a backup; try again in a moment.', data: {} }));
    }).admit;
  }

  close(): Promise<void> {
    this.closing ??= this.drain();
    return this.closing;
  }

  private async open(): Promise<{ app: App; server: FastifyInstance }> {
    const options = this.options;
    const app = await App.open({
      dataDir: this.dataDir,
      databaseUrl: options.databaseUrl ?? process.env.DATABASE_URL ?? '',
      connectTimeoutMs: options.connectTimeoutMs ?? 0,
      logger: options.logger ?? pino({ level: process.env.MS_LOG_LEVEL ?? 'info' }),
      ...(this.hooksDir ? { hooksDir: this.hooksDir } : {}),
      ...(this.migrationsDir ? { migrationsDir: this.migrationsDir, automigrate: automigrateOf(options.automigrate, false) } : {}),
      hooks: this.modules,
      // one process serves a SQLite folder: a second one refuses to start, naming the first
      exclusive: true,
    });
    app.readiness = 'starting';
    try {
      const origins = corsOriginsOf(options.corsOrigins);
      const server = await buildServer(app, { ...options.server, ...(origins ? { corsOrigins: origins } : {}) });
      await server.ready();
      app.backups.restart = () => this.restartOnRestoredData();
      return { app, server };
    } catch (err) {
      await app.close();
      throw err;
    }
  }

  /**
   * After a restore was staged: the app is drained and closed as on
   * shutdown, opened again (App.open applies the staged data, keeping the
   * old until the new has opened) and serves again where it served, on its
   * own server or mounted. Clients see their connections close (SSE clients
   * reconnect) and a moment without answers.
   */
  private restartOnRestoredData(): Promise<void> {
    this.restarting ??= (async () => {
      const wasServing = this.serving;
      await this.drain();
      this.started = null;
      this.opened = null;
      this.serving = false;
      const { app, server } = await this.ready();
      if (this.listening) await server.listen(this.listening);
      if (wasServing) this.serve(app);
    })().finally(() => {
      this.restarting = null;
    });
    return this.restarting;
  }

  /** Crons run once the app serves, on its own server or mounted. */
  private serve(app: App): void {
    if (this.serving) return;
    this.serving = true;
    app.crons.start();
    app.sweepOrphanFilesSoon();
    if (!this.closing) app.readiness = 'ready';
  }

  private need(): { app: App; server: FastifyInstance } {
    if (!this.opened) throw new Error('the app is not started: await ready(), listen() or handler() first');
    return this.opened;
  }

  /**
   * The order matters: readiness first (a load balancer stops sending), then
   * the listener and the realtime streams (Fastify's close and its preClose
   * hook), so a client that reconnects finds another instance; connections
   * close as they go quiet (http/connections.ts); requests still running
   * need the database, so it closes last.
   */
  private async drain(): Promise<void> {
    const timeoutMs = shutdownTimeoutOf(this.options.shutdownTimeoutMs);
    const current = this.started && (await this.started.catch(() => null));
    if (!current) return;
    const { app, server } = current;
    app.readiness = 'draining';
    // requests get the timeout but a reserve for closing the app; then their connections are cut
    const reserveMs = Math.min(2000, timeoutMs / 4);
    const cut = setTimeout(() => {
      app.logger.warn({ timeoutMs }, 'shutdown timeout: cutting the connections of requests still running');
      server.server.closeAllConnections();
    }, timeoutMs - reserveMs);
    try {
      await server.close();
    } finally {
      clearTimeout(cut);
    }
    await app.close();
  }
}
