import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freshDatabase, TEST_POSTGRES_URL } from '../../test/helpers/server.js';
import { PostgresEngine } from '../storage/postgres/engine.js';
import { App } from './app.js';
import { CRON_RUNS_TABLE, CronService, parseCronExpression } from './crons.js';

/**
 * Cron jobs (PocketBase's `app.cron()`), on the suite's engine: what
 * expressions and ids are accepted, that jobs run on schedule, that a
 * failure is logged and the schedule kept, that a run still going skips the
 * next tick, that `stop` waits, and, on PostgreSQL, that two instances over
 * one database run each tick once.
 */

let dir: string;
let db: Awaited<ReturnType<typeof freshDatabase>>;
let app: App;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ms-crons-'));
  db = await freshDatabase();
  app = await App.open({ dataDir: dir, databaseUrl: db.url, logger: pino({ level: 'silent' }) });
});

afterAll(async () => {
  await app?.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** A logger whose lines the test can read. */
function capturingLogger(): { logger: Logger; lines: Record<string, any>[] } {
  const lines: Record<string, any>[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const EVERY_SECOND = '* * * * * *';

describe('expressions and ids', () => {
  test.each([
    ['*/5 * * * *', '*/5 * * * *'],
    ['0 0 1-15/2 * 1-5', '0 0 1-15/2 * 1-5'],
    ['30 */10 * * * *', '30 */10 * * * *'],
    ['  0   3 * * 0 ', '0 3 * * 0'],
    ['@yearly', '0 0 1 1 *'],
    ['@annually', '0 0 1 1 *'],
    ['@monthly', '0 0 1 * *'],
    ['@weekly', '0 0 * * 0'],
    ['@daily', '0 0 * * *'],
    ['@midnight', '0 0 * * *'],
    ['@hourly', '0 * * * *'],
  ])('%j is accepted and listed as %j (macros expanded, as PocketBase lists them)', (given, listed) => {
    expect(parseCronExpression(given).expression).toBe(listed);
  });

  test.each([
    ['', /5 fields/],
    ['* * * *', /5 fields/],
    ['* * * * * * *', /5 fields/],
    ['60 * * * *', /minute/],
    ['* 24 * * *', /hour/],
    ['* * 0 * *', /day/],
    ['* * * 13 *', /month/],
    ['*/0 * * * *', /stepping/],
    ['5/10 * * * *', /stepping/],
    ['0 0 * * MON', /digits/],
    ['0 0 L * *', /digits/],
    ['0 0 ? * 1', /digits/],
    ['@reboot', /unknown macro/],
    ['0 0 31 2 *', /never matches/],
  ])('%j is refused with a clear error', (expression, message) => {
    const crons = new CronService(app.engine, pino({ level: 'silent' }));
    expect(() => crons.add('job', expression, () => {})).toThrow(message);
    expect(crons.list()).toEqual([]);
  });

  test('day of month and day of week must both match, as in PocketBase (Friday the 13th)', () => {
    const { schedule } = parseCronExpression('0 0 13 * 5');
    const next = schedule.nextRuns(3, new Date('2026-01-01T00:00:00Z')).map((d) => d.toISOString());
    expect(next).toEqual(['2026-02-13T00:00:00.000Z', '2026-03-13T00:00:00.000Z', '2026-11-13T00:00:00.000Z']);
  });

  test('ticks are computed in UTC', () => {
    const { schedule } = parseCronExpression('@daily');
    expect(schedule.nextRun(new Date('2026-05-05T10:00:00Z'))?.toISOString()).toBe('2026-05-06T00:00:00.000Z');
  });

  test.each(['', 'a'.repeat(101), 'a b', 'a/b', 'a@b', 'é', '../x'])('id %j is refused', (id) => {
    const crons = new CronService(app.engine, pino({ level: 'silent' }));
    expect(() => crons.add(id, '* * * * *', () => {})).toThrow(/cron job id/);
  });

  test('ids of 1 and 100 characters of [A-Za-z0-9_.-] are accepted; a job without a function is refused', () => {
    const crons = new CronService(app.engine, pino({ level: 'silent' }));
    crons.add('a', '* * * * *', () => {});
    crons.add(`${'A.z_-9'.repeat(16)}abcd`, '* * * * *', () => {});
    expect(crons.list().map((j) => j.id.length)).toEqual([100, 1]);
    expect(() => crons.add('b', '* * * * *', undefined as never)).toThrow(/function/);
  });

  test('list is sorted by id; add replaces a job of the same id; remove forgets it', () => {
    const crons = new CronService(app.engine, pino({ level: 'silent' }));
    crons.add('zeta', '@hourly', () => {});
    crons.add('alpha', '*/5 * * * *', () => {});
    crons.add('Beta', '@daily', () => {});
    crons.add('alpha', '0 12 * * *', () => {});
    expect(crons.list()).toEqual([
      { id: 'Beta', expression: '0 0 * * *' },
      { id: 'alpha', expression: '0 12 * * *' },
      { id: 'zeta', expression: '0 * * * *' },
    ]);
    crons.remove('zeta');
    crons.remove('unknown');
    expect(crons.list().map((j) => j.id)).toEqual(['Beta', 'alpha']);
    expect(crons.has('alpha')).toBe(true);
    expect(crons.has('zeta')).toBe(false);
  });
});

describe('scheduling', () => {
  test('an every-second job runs each second once started, and jobs added after start run too', async () => {
    const crons = new CronService(app.engine, pino({ level: 'silent' }));
    const before: number[] = [];
    const after: number[] = [];
    crons.add('before-start', EVERY_SECOND, () => void before.push(Date.now()));
    await sleep(1200);
    expect(before).toEqual([]);
    crons.start();
    crons.add('after-start', EVERY_SECOND, () => void after.push(Date.now()));
    await sleep(3200);
    await crons.stop();
    expect(before.length).toBeGreaterThanOrEqual(2);
    expect(before.length).toBeLessThanOrEqual(4);
    expect(after.length).toBeGreaterThanOrEqual(2);
    // on the second: ticks are whole seconds, run a moment after
    for (const t of before) expect(t % 1000).toBeLessThan(500);
    expect(new Set(before.map((t) => Math.floor(t / 1000))).size).toBe(before.length);
  });

  test('a failing job is logged with its id and keeps its schedule', async () => {
    const { logger, lines } = capturingLogger();
    const crons = new CronService(app.engine, logger);
    let runs = 0;
    crons.add('fails', EVERY_SECOND, async () => {
      runs++;
      if (runs % 2) throw new Error(`boom ${runs}`);
      throw 'not even an Error';
    });
    crons.start();
    await sleep(2700);
    await crons.stop();
    expect(runs).toBeGreaterThanOrEqual(2);
    const failures = lines.filter((l) => l.msg === 'cron: job failed');
    expect(failures.length).toBe(runs);
    expect(failures[0]).toMatchObject({ level: 50, cron: 'fails', err: { message: 'boom 1' } });
  });

  test('a job that throws synchronously is logged too', async () => {
    const { logger, lines } = capturingLogger();
    const crons = new CronService(app.engine, logger);
    crons.add('sync-throw', '@yearly', () => {
      throw new Error('sync boom');
    });
    await crons.run('sync-throw');
    expect(lines.find((l) => l.msg === 'cron: job failed')).toMatchObject({ cron: 'sync-throw', err: { message: 'sync boom' } });
  });

  test('a tick that finds the previous run still going is skipped and logged', async () => {
    const { logger, lines } = capturingLogger();
    const crons = new CronService(app.engine, logger);
    let running = 0;
    let most = 0;
    let starts = 0;
    crons.add('slow', EVERY_SECOND, async () => {
      starts++;
      most = Math.max(most, ++running);
      await sleep(2300);
      running--;
    });
    crons.start();
    await sleep(4200);
    await crons.stop();
    expect(most).toBe(1);
    expect(starts).toBeGreaterThanOrEqual(1);
    expect(starts).toBeLessThanOrEqual(2);
    const skipped = lines.filter((l) => l.msg === 'cron: previous run still in progress, tick skipped');
    expect(skipped.length).toBeGreaterThanOrEqual(2);
    expect(skipped[0]).toMatchObject({ level: 40, cron: 'slow', tick: expect.stringMatching(/^\d{4}-.*\.000Z$/) });
  });

  test('stop stops scheduling and waits for runs in progress; run is then refused', async () => {
    const crons = new CronService(app.engine, pino({ level: 'silent' }));
    let finished = 0;
    let starts = 0;
    crons.add('long', EVERY_SECOND, async () => {
      starts++;
      await sleep(700);
      finished++;
    });
    crons.start();
    while (starts === 0) await sleep(20);
    await crons.stop();
    expect(finished).toBe(starts);
    await sleep(1500);
    expect(starts).toBe(finished);
    await expect(crons.run('long')).rejects.toThrow(/stopped/);
  });

  test('run runs a job at once, before start too, and waits for it; an unknown id is refused', async () => {
    const crons = new CronService(app.engine, pino({ level: 'silent' }));
    let runs = 0;
    crons.add('manual', '@yearly', async () => {
      await sleep(50);
      runs++;
    });
    await crons.run('manual');
    expect(runs).toBe(1);
    await expect(crons.run('nope')).rejects.toThrow(/no cron job "nope"/);
    const rows = await app.engine.all<{ job: string; finished: number }>(
      `SELECT job, finished FROM ${app.engine.dialect.ident(CRON_RUNS_TABLE)} WHERE job = $1`,
      ['manual'],
    );
    expect(rows.length).toBe(1);
    expect(Number(rows[0]?.finished)).toBeGreaterThan(0);
  });

  test('a run recorded as in progress elsewhere, with a live heartbeat, makes this tick skip; a dead one does not', async () => {
    const t = app.engine.dialect.ident(CRON_RUNS_TABLE);
    const now = Date.now();
    await app.engine.run(`INSERT INTO ${t} (id, job, tick, instance, alive, finished) VALUES ($1, $2, $3, $4, $5, 0)`, [
      'elsewhere@1',
      'elsewhere',
      now - 1000,
      'other-host:1',
      now,
    ]);
    await app.engine.run(`INSERT INTO ${t} (id, job, tick, instance, alive, finished) VALUES ($1, $2, $3, $4, $5, 0)`, [
      'crashed@1',
      'crashed',
      now - 120_000,
      'other-host:2',
      now - 120_000,
    ]);
    const crons = new CronService(app.engine, pino({ level: 'silent' }));
    let elsewhere = 0;
    let crashed = 0;
    crons.add('elsewhere', EVERY_SECOND, () => void elsewhere++);
    crons.add('crashed', EVERY_SECOND, () => void crashed++);
    crons.start();
    await sleep(2200);
    await crons.stop();
    expect(elsewhere).toBe(0);
    expect(crashed).toBeGreaterThanOrEqual(1);
  });

  test('claims older than a day are swept', async () => {
    const t = app.engine.dialect.ident(CRON_RUNS_TABLE);
    const old = Date.now() - 25 * 3600_000;
    await app.engine.run(`INSERT INTO ${t} (id, job, tick, instance, alive, finished) VALUES ($1, $2, $3, $4, $5, $5)`, [
      `old@${old}`,
      'old',
      old,
      'x:1',
      old,
    ]);
    const crons = new CronService(app.engine, pino({ level: 'silent' }));
    crons.start();
    for (let i = 0; i < 50; i++) {
      if (!(await app.engine.get(`SELECT 1 AS one FROM ${t} WHERE job = $1`, ['old']))) break;
      await sleep(20);
    }
    await crons.stop();
    expect(await app.engine.get(`SELECT 1 AS one FROM ${t} WHERE job = $1`, ['old'])).toBeUndefined();
  });
});

describe.skipIf(!TEST_POSTGRES_URL)('several instances on one PostgreSQL database', () => {
  test('two services over two pools run an every-second job exactly once per tick', async () => {
    const first = await PostgresEngine.open(db.url);
    const engines = [first, await PostgresEngine.open(db.url)];
    try {
      const runs: { instance: number; second: number }[] = [];
      const services = engines.map((engine, instance) => {
        const crons = new CronService(engine, pino({ level: 'silent' }));
        crons.add('shared', EVERY_SECOND, () => void runs.push({ instance, second: Math.floor(Date.now() / 1000) }));
        return crons;
      });
      for (const s of services) s.start();
      await sleep(4300);
      await Promise.all(services.map((s) => s.stop()));

      const seconds = runs.map((r) => r.second);
      expect(new Set(seconds).size, JSON.stringify(runs)).toBe(runs.length);
      expect(runs.length).toBeGreaterThanOrEqual(3);
      expect(runs.length).toBeLessThanOrEqual(5);
      // and each run is one claim of its own tick
      const claims = await first.all<{ tick: number }>(
        `SELECT tick FROM ${first.dialect.ident(CRON_RUNS_TABLE)} WHERE job = $1 ORDER BY tick`,
        ['shared'],
      );
      expect(claims.length).toBe(runs.length);
      expect(claims.map((c) => Number(c.tick) / 1000)).toEqual([...seconds].sort((a, b) => a - b));
    } finally {
      await Promise.all(engines.map((e) => e.close()));
    }
  });
});
