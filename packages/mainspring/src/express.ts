import type { IncomingMessage, ServerResponse } from 'node:http';
import { type CreateAppOptions, createApp, type MainspringApp } from './create-app.js';

/**
 * `mainspring/express`: the whole API as one Express middleware, for an
 * existing Express 5 app, under the path it is mounted at:
 *
 * ```ts
 * const backend = mainspringExpress({ dataDir: './ms_data' });
 * app.use('/backend', backend); // before any body parser
 * await backend.ready();
 * app.listen(3000);
 * ```
 *
 * Express strips the mount path from `req.url`, so Mainspring sees
 * `/api/…` and answers on the same request and response objects: realtime
 * streams and file ranges go through unchanged. Express itself is not
 * imported: the middleware is a plain `(req, res, next)` function, so it is
 * a peer of the server, never a dependency.
 */

/** The middleware, with the app behind it. */
export interface MainspringMiddleware {
  (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void;
  /** The app (its services and Fastify server once ready). */
  readonly mainspring: MainspringApp;
  /** Opens the app; awaiting it before `listen` makes a broken hook or database fail at start, not on the first request. */
  ready(): Promise<void>;
  /** Ends realtime streams, stops crons and closes the database (the Express server is yours to close). */
  close(): Promise<void>;
}

/** Mounts Mainspring in Express: give options (as {@link createApp}) or an app made with it and not started. */
export function mainspringExpress(appOrOptions: MainspringApp | CreateAppOptions = {}): MainspringMiddleware {
  const ms = isApp(appOrOptions) ? appOrOptions : createApp(appOrOptions);
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  const start = async () => {
    handler = await ms.handler();
  };

  const middleware = ((req, res, next) => {
    // a body parser mounted before us has read the body already: say so rather than hang waiting for it
    if ((req as { body?: unknown }).body !== undefined) {
      next(new Error('mainspringExpress: the request body was already read; mount Mainspring before any body parser'));
      return;
    }
    if (handler) {
      handler(req, res);
      return;
    }
    start().then(
      () => handler?.(req, res),
      (err: unknown) => next(err),
    );
  }) as MainspringMiddleware;
  Object.defineProperty(middleware, 'mainspring', { value: ms });
  middleware.ready = start;
  middleware.close = () => ms.close();
  return middleware;
}

function isApp(value: MainspringApp | CreateAppOptions): value is MainspringApp {
  return typeof (value as MainspringApp).ready === 'function' && typeof (value as MainspringApp).handler === 'function';
}
