import type { AuthOptions, Collection } from '../collections/model.js';
import type { RecordData } from '../rules/request-info.js';
import { peekToken, signToken, type TokenClaims, verifyToken } from './tokens.js';

/**
 * The kinds of record token, PocketBase's: each has its `type` claim and its
 * own secret in the collection, and every one is also keyed by the record's
 * `tokenKey`, so rotating it revokes them all.
 */
export const TOKEN_KINDS = {
  auth: { type: 'auth', option: 'authToken' },
  verification: { type: 'verification', option: 'verificationToken' },
  passwordReset: { type: 'passwordReset', option: 'passwordResetToken' },
  emailChange: { type: 'emailChange', option: 'emailChangeToken' },
  file: { type: 'file', option: 'fileToken' },
} as const satisfies Record<string, { type: string; option: keyof AuthOptions }>;

export type TokenKind = keyof typeof TOKEN_KINDS;

function keyOf(c: Collection, record: RecordData, kind: TokenKind): string | null {
  const secret = c.auth?.[TOKEN_KINDS[kind].option].secret;
  const tokenKey = record.tokenKey;
  if (!secret || typeof tokenKey !== 'string' || tokenKey === '') return null;
  return `${tokenKey}${secret}`;
}

/** A signed token of `kind` for `record`, valid for `duration` seconds (the collection's by default). */
export function issueToken(
  c: Collection,
  record: RecordData,
  kind: TokenKind,
  extra: Record<string, unknown> = {},
  duration?: number,
): string {
  const key = keyOf(c, record, kind);
  if (!key || !c.auth) throw new Error(`cannot sign a ${kind} token: no key`);
  const seconds = duration ?? c.auth[TOKEN_KINDS[kind].option].duration;
  const claims: TokenClaims = {
    id: record.id,
    type: TOKEN_KINDS[kind].type,
    collectionId: c.id,
    exp: Math.floor(Date.now() / 1000) + seconds,
    ...extra,
  };
  return signToken(claims, key);
}

/** The claims of a token that might be of `kind` for collection `c`, before its signature is checked. */
export function claimsFor(token: unknown, c: Collection, kind: TokenKind): TokenClaims | null {
  if (typeof token !== 'string') return null;
  const claims = peekToken(token);
  if (!claims || claims.type !== TOKEN_KINDS[kind].type || claims.collectionId !== c.id) return null;
  return claims;
}

/** True when `token` is a current, correctly signed token of `kind` for `record`. */
export function tokenValid(token: string, c: Collection, record: RecordData, kind: TokenKind): boolean {
  const key = keyOf(c, record, kind);
  return key !== null && verifyToken(token, key);
}
