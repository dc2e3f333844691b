import type { FastifyRequest } from 'fastify';
import type { App } from '../core/app.js';
import { Errors } from '../core/errors.js';
import { ipListOf } from '../core/ip-lists.js';
import { isSuperuserAuth } from '../core/rules/request-info.js';
import type { RateLimitRule } from '../core/settings.js';
import { callerOf } from './context.js';

/**
 * Per-client-IP request limits, PocketBase's rule format: a rule's label is
 * `collection:tag`, `*:tag` or a path prefix; the most specific matching rule
 * applies; counters are core/rate-limits.ts's. Superusers are never limited,
 * nor the addresses and networks of `rateLimits.excludedIPs`.
 */

/** The client's IP: the socket's, or the configured proxy header's when one is trusted. */
export function clientIp(app: App, request: FastifyRequest): string {
  const proxy = app.settings.get().trustedProxy;
  for (const name of proxy.headers) {
    const raw = request.headers[name.toLowerCase()];
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (value) {
      const parts = value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const ip = proxy.useLeftmostIP ? parts[0] : parts[parts.length - 1];
      if (ip) return ip;
    }
  }
  return request.socket.remoteAddress ?? '';
}

function findRule(rules: RateLimitRule[], collection: string | undefined, tags: string[], path: string): RateLimitRule | undefined {
  for (const tag of tags) {
    const exact = collection ? rules.find((r) => r.label === `${collection}:${tag}`) : undefined;
    if (exact) return exact;
  }
  for (const tag of tags) {
    const wildcard = rules.find((r) => r.label === `*:${tag}`);
    if (wildcard) return wildcard;
  }
  let best: RateLimitRule | undefined;
  for (const r of rules) {
    if (r.label.startsWith('/') && path.startsWith(r.label) && (!best || r.label.length > best.label.length)) best = r;
  }
  return best;
}

/**
 * Throws a 429 with Retry-After when the request goes over the rule for its
 * route: `tags` name the action (`auth`, `create`, …), `collection` the
 * collection the route serves, `weight` how many the request counts for (a
 * batch counts each of its writes). Guests are counted per address; a
 * signed-in caller per auth record (PocketBase counts every caller per
 * address), so users behind one address (a NAT, an office) do not share a
 * limit, and one user spreading requests over addresses does.
 */
export async function enforceRateLimit(app: App, request: FastifyRequest, tags: string[], collection?: string, weight = 1): Promise<void> {
  const settings = app.settings.get().rateLimits;
  if (!settings.enabled || settings.rules.length === 0 || weight <= 0) return;
  // addresses the settings exclude (a monitor, an office, the app's own backend) are never counted
  if (settings.excludedIPs.length > 0 && ipListOf(settings.excludedIPs).has(clientIp(app, request))) return;
  const path = request.url.split('?', 1)[0] ?? '';
  const rule = findRule(settings.rules, collection, tags, path);
  if (!rule) return;
  const auth = await callerOf(app, request);
  if (isSuperuserAuth(auth)) return;
  if (rule.audience === '@guest' && auth) return;
  if (rule.audience === '@auth' && !auth) return;
  const who = auth ? `user ${auth.collection.id}/${auth.record.id}` : clientIp(app, request);
  const retry = await app.rateLimiter.hit(`${rule.label}|${who}`, rule, Date.now(), weight);
  if (retry > 0) {
    app.metrics.rateLimited(rule.label);
    throw Errors.tooManyRequests(retry);
  }
}
