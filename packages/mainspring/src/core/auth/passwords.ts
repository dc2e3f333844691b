import { compare, hash } from '@node-rs/bcrypt';
import { MAX_PASSWORD_BYTES } from '../collections/fields.js';

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

// A real hash of a random string: comparing against it costs what a real check costs.
let dummyHash: Promise<string> | undefined;

/**
 * Checks a plain password against a stored hash. An empty hash (no password
 * set) or a password over bcrypt's 72 bytes never matches, but still costs one
 * bcrypt comparison, so the answer takes the same time either way.
 */
export async function verifyPassword(plain: string, stored: string): Promise<boolean> {
  const usable = typeof plain === 'string' && plain !== '' && Buffer.byteLength(plain) <= MAX_PASSWORD_BYTES && stored.startsWith('$2');
  if (!usable) {
    dummyHash ??= hash(`dummy-${Math.random()}`, DEFAULT_BCRYPT_COST);
    await compare('x', await dummyHash);
    return false;
  }
  try {
    return await compare(plain, stored);
  } catch {
    return false;
  }
}
