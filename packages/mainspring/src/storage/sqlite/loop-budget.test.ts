import { expect, test } from 'vitest';
import { LoopBudget } from './readers.js';

/** A budget of 25 ms, a cool-down of 60 s, on a clock the test moves. */
function budget() {
  let now = 0;
  const b = new LoopBudget(25, 60_000, () => now);
  return { b, later: (ms: number) => (now += ms) };
}

test('a light read that spent its time on the CPU past the budget sends its key apart for the cool-down', () => {
  const { b, later } = budget();
  b.spent('posts', 40, 38);
  expect(b.allows('posts')).toBe(false);
  expect(b.allows('users')).toBe(true);
  later(60_001);
  expect(b.allows('posts')).toBe(true);
});

test('a read the OS paused (wall time long, CPU time short) keeps its key on the loop', () => {
  const { b } = budget();
  b.spent('posts', 60, 3);
  b.spent('posts', 99, 24);
  expect(b.allows('posts')).toBe(true);
});

test('a wall time past four budgets counts whole, whatever the CPU: a read waiting on the disk holds the loop too', () => {
  const { b } = budget();
  b.spent('posts', 101, 2);
  expect(b.allows('posts')).toBe(false);
});

test('without a CPU time, the wall time is what counts', () => {
  const { b } = budget();
  b.spent('posts', 30);
  expect(b.allows('posts')).toBe(false);
});
