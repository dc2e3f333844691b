import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'examples/*/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // most test time is spent waiting (HTTP round trips, bcrypt, PostgreSQL, Chromium): two files at once
    // even on a two-core machine, where Vitest's default (cores - 1) would run them one after another
    maxWorkers: 2,
  },
});
