import { defineConfig } from 'vitest/config';

const INCLUDE = ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'examples/*/*.test.ts'];
/**
 * The first-use test installs the packed package from the registry, which may compile SQLite for two minutes: it
 * runs after everything else, so that compile never shares the cores with the suites that time latencies.
 */
const FIRST_USE = ['packages/mainspring/test/first-use.test.ts'];
/**
 * Suites that time the server under attack (cheap reads' p99 while slow filters run, a statement stopped within 10%
 * of its limit, sign-ins in a rate-limit window): they run after the rest, one file at a time, so what they time is
 * the server, not two test files sharing two cores.
 */
const LATENCY = [
  'packages/mainspring/test/attack/availability.test.ts',
  'packages/mainspring/test/statement-timeout.test.ts',
  'packages/mainspring/test/reads-apart.test.ts',
  'packages/mainspring/test/auth-hostile.test.ts',
  // servers killed and started again, answers timed against a lease or a second
  'packages/mainspring/test/crash-idempotency.test.ts',
  'packages/mainspring/test/crash-stream.test.ts',
  'packages/mainspring/test/revocation-across-processes.test.ts',
  // servers drained under load within a timeout, database connections ended under load
  'packages/mainspring/test/shutdown.test.ts',
  'packages/mainspring/test/pg-faults.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // most test time is spent waiting (HTTP round trips, bcrypt, PostgreSQL, Chromium): two files at once
    // even on a two-core machine, where Vitest's default (cores - 1) would run them one after another
    maxWorkers: 2,
    // a server the tests start never writes migration files (automigrate is on by default in `serve`): its data
    // folders sit in the system's temporary folder, so the files would land in one every test's server reads
    env: { MS_AUTOMIGRATE: 'off' },
    projects: [
      { extends: true, test: { name: 'suite', include: INCLUDE, exclude: [...FIRST_USE, ...LATENCY], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'latency', include: LATENCY, fileParallelism: false, sequence: { groupOrder: 1 } } },
      { extends: true, test: { name: 'first use', include: FIRST_USE, sequence: { groupOrder: 2 } } },
    ],
  },
});
