import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * HS256 JSON Web Tokens with node:crypto: the only algorithm accepted is the
 * one we sign with, so `alg: none` and algorithm confusion are refused by
 * construction. Each token's key is derived from the record's `tokenKey` and
 * the collection's secret, so rotating `tokenKey` revokes every earlier token.
 */

/** The claims Mainspring puts in a token (PocketBase's, for SDK compatibility). */
export interface TokenClaims {
  id: string;
  type: string;
  collectionId: string;
  exp: number;
  refreshable?: boolean;
  [key: string]: unknown;
}

const CANONICAL = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/;

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

/** Signs claims with a key. */
export function signToken(claims: TokenClaims, key: string): string {
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const signature = createHmac('sha256', key).update(`${HEADER}.${payload}`).digest('base64url');
  return `${HEADER}.${payload}.${signature}`;
}

/** The claims of a token, read without checking the signature: only to find its key. */
export function peekToken(token: string): TokenClaims | null {
  if (typeof token !== 'string' || token.length > 4096) return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const header = JSON.parse(Buffer.from(parts[0] as string, 'base64url').toString('utf8'));
    if (header?.alg !== 'HS256') return null;
    const claims = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8'));
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return null;
    if (typeof claims.id !== 'string' || typeof claims.collectionId !== 'string' || typeof claims.type !== 'string') return null;
    if (typeof claims.exp !== 'number') return null;
    return claims as TokenClaims;
  } catch {
    return null;
  }
}

/** True when the token's signature is the key's and it has not expired. */
export function verifyToken(token: string, key: string, nowSeconds = Date.now() / 1000): boolean {
  // one spelling per token: Buffer.from would also accept padding, spaces and standard base64
  if (!CANONICAL.test(token)) return false;
  const parts = token.split('.');
  const expected = Buffer.from(createHmac('sha256', key).update(`${parts[0]}.${parts[1]}`).digest('base64url'));
  const given = Buffer.from(parts[2] as string);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
  const claims = peekToken(token);
  return claims !== null && claims.exp > nowSeconds;
}
