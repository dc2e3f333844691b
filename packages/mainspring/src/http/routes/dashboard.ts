import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The admin dashboard at `/_/`: the prebuilt single-page app in
 * `packages/mainspring/dashboard/` (built by `packages/dashboard`). Files are
 * read once, with a gzip copy, and only files found there are ever served
 * (a request path is a key of that list, never a path on disk). Hashed
 * assets are cached for a year; `index.html` is revalidated every time; any
 * other path under `/_/` is the app (it routes itself); a missing asset is a 404.
 */

/** Where the build puts the dashboard: `<package>/dashboard/`, from `src/http/routes` and from `dist/http/routes` alike. */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../../dashboard/', import.meta.url));

/**
 * The dashboard's policy: its own scripts and styles only (no inline script,
 * no eval), images from itself and the API (thumbnails, previews of picked
 * files as blob: URLs), no framing, no plugins, no `<base>` tricks.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
  '.webmanifest': 'application/manifest+json',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.svg', '.json', '.txt', '.webmanifest']);

interface Asset {
  body: Buffer;
  gzip: Buffer | null;
  type: string;
  cache: string;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

/** Every file of the built dashboard by URL path (`index.html`, `assets/index-3f2a.js`), or null when it is not built. */
export function loadDashboard(dir = DASHBOARD_DIR): Map<string, Asset> | null {
  if (!existsSync(join(dir, 'index.html'))) return null;
  const assets = new Map<string, Asset>();
  for (const path of walk(dir)) {
    const key = relative(dir, path).split(sep).join('/');
    const ext = extname(path).toLowerCase();
    const body = readFileSync(path);
    const hashed = key.startsWith('assets/');
    assets.set(key, {
      body,
      gzip: COMPRESSIBLE.has(ext) && body.length > 512 ? gzipSync(body, { level: 9 }) : null,
      type: TYPES[ext] ?? 'application/octet-stream',
      cache: key === 'index.html' ? 'no-cache' : hashed ? 'public, max-age=31536000, immutable' : 'public, max-age=3600',
    });
  }
  return assets;
}

/** `GET /_/…`: the dashboard. */
export function dashboardRoutes(server: FastifyInstance, dir = DASHBOARD_DIR): void {
  let assets: Map<string, Asset> | null | undefined;

  const send = (request: FastifyRequest, reply: FastifyReply, asset: Asset) => {
    reply.header('Content-Type', asset.type).header('Cache-Control', asset.cache).header('Vary', 'Accept-Encoding');
    if (asset.type.startsWith('text/html')) {
      reply.header('Content-Security-Policy', DASHBOARD_CSP).header('Referrer-Policy', 'same-origin').header('X-Frame-Options', 'DENY');
    }
    const accepts = request.headers['accept-encoding'];
    if (asset.gzip && typeof accepts === 'string' && /\bgzip\b/.test(accepts)) {
      return reply.header('Content-Encoding', 'gzip').send(asset.gzip);
    }
    return reply.send(asset.body);
  };

  const handler = async (request: FastifyRequest<{ Params: { '*': string } }>, reply: FastifyReply) => {
    assets ??= loadDashboard(dir);
    if (!assets) {
      return reply
        .status(503)
        .type('text/plain; charset=utf-8')
        .send('The dashboard is not built. Run `npm run build` in the repository (or `npm install`), then start again.\n');
    }
    const path = request.params['*'] ?? '';
    const asset = assets.get(path === '' ? 'index.html' : path);
    if (asset) return send(request, reply, asset);
    // a missing script or style must not be answered with a page
    if (path.startsWith('assets/') || /\.[a-z0-9]+$/i.test(path)) {
      return reply.status(404).type('text/plain; charset=utf-8').send('Not found.\n');
    }
    return send(request, reply, assets.get('index.html') as Asset);
  };

  // `/_` and `/_/` are one route when trailing slashes are ignored (as the API server does), so no redirect between them
  server.get('/_', handler);
  server.get('/_/*', handler);
}
