import type { Logger } from 'pino';
import type { Engine } from '../storage/engine.js';
import type { RateLimitRule, SettingsService } from './settings.js';

/**
 * Request counters for the rate limits: fixed windows per key (a rule and a
 * client IP). In memory for one process (SQLite); in the database when
 * several instances share one (PostgreSQL), so spreading requests over
 * instances does not evade a limit.
 */
export interface RateLimiter {
  /**
   * Counts `weight` hits (1 by default; a batch counts each of its writes);
   * resolves to 0 when allowed, else the seconds until the window ends.
   */
  hit(key: string, rule: RateLimitRule, now?: number, weight?: number): number | Promise<number>;
}

/** The table of shared counters. */
export const RATE_LIMITS_TABLE = '_ms_rate_limits';

const MAX_KEYS = 200_000;

/** Counters of this process. */
export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  hit(key: string, rule: RateLimitRule, now = Date.now(), weight = 1): number {
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      if (!w && this.windows.size >= MAX_KEYS) this.sweep(now);
      w = { count: 0, resetAt: now + rule.duration * 1000 };
      this.windows.set(key, w);
    }
    w.count += weight;
    return w.count > rule.maxRequests ? Math.ceil((w.resetAt - now) / 1000) : 0;
  }

  private sweep(now: number): void {
    for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
    if (this.windows.size >= MAX_KEYS) this.windows.clear();
  }
}

/** How many hits pass between two clean-ups of ended windows. */
const SWEEP_EVERY = 1000;

/**
 * Counters in the database, counted by one atomic upsert per hit, for an
 * engine whose `get` may write (PostgreSQL: every statement on the pool
 * commits on its own; SQLite's `get` reads a read-only connection). If the
 * database cannot count, the request is let through (and logged): a limiter
 * that fails closed would lock every client out.
 */
export class SharedRateLimiter implements RateLimiter {
  private hits = 0;

  constructor(
    private readonly engine: Engine,
    private readonly logger: Logger,
  ) {}

  async hit(key: string, rule: RateLimitRule, now = Date.now(), weight = 1): Promise<number> {
    const d = this.engine.dialect;
    const t = d.ident(RATE_LIMITS_TABLE);
    try {
      // one statement, atomic on its own (no transaction to retry under contention)
      const row = await this.engine.get<{ hits: number | string; reset_at: number | string }>(
        `INSERT INTO ${t} (${d.ident('key')}, hits, reset_at) VALUES ($1, $4, $2)
         ON CONFLICT (${d.ident('key')}) DO UPDATE SET
           hits = CASE WHEN ${t}.reset_at <= $3 THEN $4 ELSE ${t}.hits + $4 END,
           reset_at = CASE WHEN ${t}.reset_at <= $3 THEN $2 ELSE ${t}.reset_at END
         RETURNING hits, reset_at`,
        [key, now + rule.duration * 1000, now, weight],
      );
      if (++this.hits % SWEEP_EVERY === 0) {
        this.engine.run(`DELETE FROM ${t} WHERE reset_at <= $1`, [now]).catch(() => {});
      }
      if (!row || Number(row.hits) <= rule.maxRequests) return 0;
      // counted from when the answer came: the window may have been opened by a request that started
      // after this one and reached the database first (then `now` is older than the window itself)
      const left = Number(row.reset_at) - Math.max(now, Date.now());
      return Math.min(rule.duration, Math.max(1, Math.ceil(left / 1000)));
    } catch (err) {
      this.logger.error({ err: { message: (err as Error).message } }, 'rate limit counter failed: request let through');
      return 0;
    }
  }
}

/** The limiter for `engine`: counters every instance sees where several share the database, else this process's own. */
export function rateLimiterFor(engine: Engine, logger: Logger): RateLimiter {
  return engine.shared ? new SharedRateLimiter(engine, logger) : new MemoryRateLimiter();
}

/** Whether one more mail may go to `address` under the `*:mail` rule (counted per address, whoever asks). */
export function mailLimit(settings: SettingsService, limiter: RateLimiter): (address: string) => Promise<boolean> {
  return async (address) => {
    const limits = settings.get().rateLimits;
    const rule = limits.enabled ? limits.rules.find((r) => r.label === '*:mail') : undefined;
    if (!rule) return true;
    return (await limiter.hit(`*:mail|${address.trim().toLowerCase()}`, rule)) === 0;
  };
}
