import { createHash } from 'node:crypto';
import type { Executor } from '../../storage/engine.js';

/**
 * Single-use tokens (verification, password reset, email change): a used
 * token's SHA-256 is kept until the token would have expired anyway, and a
 * second use is refused.
 */
export const USED_TOKENS_TABLE = '_ms_used_tokens';

const digest = (token: string) => createHash('sha256').update(token).digest('hex');

/** Marks `token` used; returns false when it already was. Run it in the transaction that acts on the token. */
export async function consumeToken(db: Executor, token: string, expSeconds: number): Promise<boolean> {
  const hash = digest(token);
  const seen = await db.get(`SELECT 1 AS used FROM ${USED_TOKENS_TABLE} WHERE hash = $1`, [hash]);
  if (seen) return false;
  await db.run(`INSERT INTO ${USED_TOKENS_TABLE} (hash, expires) VALUES ($1, $2)`, [hash, expSeconds * 1000]);
  // old entries go with the writes that make new ones
  await db.run(`DELETE FROM ${USED_TOKENS_TABLE} WHERE expires < $1`, [Date.now()]);
  return true;
}
