import { availableParallelism } from 'node:os';
import { compare as bcryptCompare, hash as bcryptHash } from '@node-rs/bcrypt';
import { MAX_PASSWORD_BYTES } from '../fields/index.js';

/**
 * How many bcrypt computations run at once: all cores but one, so that a
 * storm of sign-ins queues up instead of starving every other request of
 * CPU. `MS_BCRYPT_CONCURRENCY` overrides it.
 */
const LIMIT = Math.max(1, Number(process.env.MS_BCRYPT_CONCURRENCY) || availableParallelism() - 1);
let running = 0;
const waiting: (() => void)[] = [];

/** Raised when a caller gave up (its client disconnected) before its turn came. */
export class AbandonedError extends Error {
  override readonly name = 'AbandonedError';
}

async function limited<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  if (running >= LIMIT) await new Promise<void>((resolve) => waiting.push(resolve));
  if (signal?.aborted) {
    // an abandoned sign-in costs nothing: pass the turn on
    waiting.shift()?.();
    throw new AbandonedError('the client went away');
  }
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

const hash = (plain: string, cost: number) => limited(() => bcryptHash(plain, cost));
const compare = (plain: string, stored: string, signal?: AbortSignal) => limited(() => bcryptCompare(plain, stored), signal);

/**
 * Password hashing with bcrypt. @node-rs/bcrypt runs each hash on libuv's
 * thread pool, so a storm of logins does not stall the event loop.
 */

/** The bcrypt cost PocketBase uses by default. */
export const DEFAULT_BCRYPT_COST = 10;

/** Hashes a plain password (already validated to be at most 72 bytes). */
export function hashPassword(plain: string, cost = DEFAULT_BCRYPT_COST): Promise<string> {
  return hash(plain, cost > 0 ? cost : DEFAULT_BCRYPT_COST);
}

// Real hashes of a random string, one per cost: comparing against one costs what a real check costs.
const dummyHashes = new Map<number, Promise<string>>();

/**
 * Checks a plain password against a stored hash. An empty hash (no password
 * set, or no such account) or a password over bcrypt's 72 bytes never
 * matches, but still costs one bcrypt comparison at `cost` (the collection's
 * own), so the answer takes the same time either way.
 */
export async function verifyPassword(plain: string, stored: string, signal?: AbortSignal, cost = DEFAULT_BCRYPT_COST): Promise<boolean> {
  const usable = typeof plain === 'string' && plain !== '' && Buffer.byteLength(plain) <= MAX_PASSWORD_BYTES && stored.startsWith('$2');
  if (!usable) {
    const c = cost > 0 ? cost : DEFAULT_BCRYPT_COST;
    let dummy = dummyHashes.get(c);
    if (!dummy) {
      dummy = hash(`dummy-${Math.random()}`, c);
      dummyHashes.set(c, dummy);
    }
    await compare('x', await dummy, signal);
    return false;
  }
  try {
    return await compare(plain, stored, signal);
  } catch (err) {
    if (err instanceof AbandonedError) throw err;
    return false;
  }
}
