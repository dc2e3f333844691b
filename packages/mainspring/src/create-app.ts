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
  /** Allowed CORS origins. Default `MS_CORS_ORIGINS` (comma-separated), else `*`. */
  corsOrigins?: string[];
  /** Default: pino at `MS_LOG_LEVEL` (info) on stdout. */
  logger?: Logger;
  /** How long to keep trying to reach PostgreSQL at start, in ms (default 0: fail at once). */
  connectTimeoutMs?: number;
  /** Body limit, realtime limits, access log… */
  server?: Omit<ServerOptions, 'corsOrigins'>;
}

/** The data directory: the option, else `MS_DATA_DIR`, else `./ms_data`. */
export function dataDirOf(option: string | undefined): string {
  return option ?? process.env.MS_DATA_DIR ?? 'ms_data';
}

/** The hooks folder: the option, else `MS_HOOKS_DIR`, else `ms_hooks` beside the data directory (PocketBase's `pb_hooks`). */
export function hooksDirOf(option: string | undefined, dataDir: string): string {
  return option ?? process.env.MS_HOOKS_DIR ?? join(dirname(resolve(dataDir)), 'ms_hooks');
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
  /** Finishes in-flight requests, ends realtime streams, stops crons and closes the database. */
  close(): Promise<void>;
}

/** Makes an app; nothing is opened until `ready()`, `listen()` or `handler()`. */
export function createApp(options: CreateAppOptions = {}): MainspringApp {
  const dataDir = resolve(dataDirOf(options.dataDir));
  const hooksDir = options.hooksDir === false ? null : resolve(hooksDirOf(options.hooksDir, dataDir));
  const modules: HooksModule[] = [...(options.hooks ?? [])];
  let started: Promise<{ app: App; server: FastifyInstance }> | null = null;
  let opened: { app: App; server: FastifyInstance } | null = null;
  let serving = false;
  let closing: Promise<void> | null = null;

  const open = async () => {
    const app = await App.open({
      dataDir,
      databaseUrl: options.databaseUrl ?? process.env.DATABASE_URL ?? '',
      connectTimeoutMs: options.connectTimeoutMs ?? 0,
      logger: options.logger ?? pino({ level: process.env.MS_LOG_LEVEL ?? 'info' }),
      ...(hooksDir ? { hooksDir } : {}),
      hooks: modules,
    });
    try {
      const origins = corsOriginsOf(options.corsOrigins);
      const server = await buildServer(app, { ...options.server, ...(origins ? { corsOrigins: origins } : {}) });
      await server.ready();
      return { app, server };
    } catch (err) {
      await app.close();
      throw err;
    }
  };
  const opening = () => {
    if (opened) throw new Error('the app is started already: add hooks and routes before ready(), listen() or handler()');
  };
  /** Crons run once the app serves, on its own server or mounted. */
  const serve = (app: App) => {
    if (serving) return;
    serving = true;
    app.crons.start();
  };
  const need = () => {
    if (!opened) throw new Error('the app is not started: await ready(), listen() or handler() first');
    return opened;
  };

  const self: MainspringApp = {
    dataDir,
    hooksDir,
    use(module) {
      opening();
      modules.push(module);
      return self;
    },
    routerAdd(method, path, handler, ...middlewares) {
      return self.use((ms) => ms.routerAdd(method, path, handler, ...middlewares));
    },
    ready() {
      started ??= open().then(
        (result) => {
          opened = result;
          return result;
        },
        (err) => {
          started = null;
          throw err;
        },
      );
      return started;
    },
    get app() {
      return need().app;
    },
    get server() {
      return need().server;
    },
    get api() {
      return need().app.api;
    },
    async listen({ host = '127.0.0.1', port = 8090 } = {}) {
      const { app, server } = await self.ready();
      await server.listen({ host, port });
      serve(app);
      const address = server.server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      return `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
    },
    async handler() {
      const { app, server } = await self.ready();
      serve(app);
      return new Admission((req: IncomingMessage, res: ServerResponse) => server.routing(req, res)).admit;
    },
    close() {
      closing ??= (async () => {
        const current = started && (await started.catch(() => null));
        if (!current) return;
        const { app, server } = current;
        // connections go idle as their last response is sent; close them then, not after the keep-alive timeout
        const sweep = setInterval(() => server.server.closeIdleConnections(), 50);
        try {
          await server.close();
        } finally {
          clearInterval(sweep);
        }
        await app.close();
      })();
      return closing;
    },
  };
  return self;
}
