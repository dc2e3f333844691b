import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freshDatabase, TEST_POSTGRES_URL } from '../../test/helpers/server.js';
import { PostgresEngine } from '../storage/postgres/engine.js';
import { MemoryRateLimiter, RATE_LIMITS_TABLE, SharedRateLimiter } from './rate-limits.js';
import type { RateLimitRule } from './settings.js';

const rule: RateLimitRule = { label: '/api/', maxRequests: 1, duration: 3, audience: '' };

test('in memory: the second hit of a window waits for what is left of it', () => {
  const limiter = new MemoryRateLimiter();
  const t = 1_000_000;
  expect(limiter.hit('k', rule, t)).toBe(0);
  expect(limiter.hit('k', rule, t + 500)).toBe(3);
  expect(limiter.hit('k', rule, t + 2_100)).toBe(1);
  expect(limiter.hit('k', rule, t + 3_000)).toBe(0);
});

/*
 * The shared counters (several instances on one PostgreSQL). Runs with
 * MS_TEST_POSTGRES_URL only.
 */
describe.skipIf(!TEST_POSTGRES_URL)('shared counters', () => {
  let engine: PostgresEngine;
  let drop: () => Promise<void>;
  let limiter: SharedRateLimiter;

  beforeAll(async () => {
    const db = await freshDatabase();
    drop = db.drop;
    engine = await PostgresEngine.open(db.url, { poolMax: 2 });
    await engine.run(
      engine.dialect.createTable(RATE_LIMITS_TABLE, [
        { name: 'key', kind: 'text', primaryKey: true },
        { name: 'hits', kind: 'number' },
        { name: 'reset_at', kind: 'number' },
      ]),
    );
    limiter = new SharedRateLimiter(engine, pino({ level: 'silent' }));
  });

  afterAll(async () => {
    await engine?.close();
    await drop?.();
  });

  test('a hit over the limit waits for what is left of the window', async () => {
    expect(await limiter.hit('a', rule)).toBe(0);
    const retry = await limiter.hit('a', rule);
    expect(retry).toBeGreaterThanOrEqual(2);
    expect(retry).toBeLessThanOrEqual(3);
  });

  test('a request that started before the window opened, and reached the database after, never waits longer than a window', async () => {
    // a request that started now opens the window (it ends 3 s from now)…
    expect(await limiter.hit('b', rule)).toBe(0);
    // …and one that started 2 s earlier (it waited for a connection) is counted after it
    const retry = await limiter.hit('b', rule, Date.now() - 2_000);
    expect(retry).toBeGreaterThanOrEqual(2);
    expect(retry).toBeLessThanOrEqual(rule.duration);
  });
});
