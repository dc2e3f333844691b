import { createLocalJWKSet, type JSONWebKeySet, type JWTPayload, jwtVerify } from 'jose';
import { getJSON, ProviderError } from './provider.js';

/**
 * An OpenID Connect ID token checked as the specification asks: signed by a
 * key of the issuer's JWKS with an asymmetric algorithm (never `none`, never
 * HS256 with a public key), `iss` the issuer, `aud` our client, not expired,
 * and `nonce` the one our auth URL carried.
 */

/** Signature algorithms an ID token may use. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const JWKS_TTL_MS = 10 * 60_000;
const jwksCache = new Map<string, { keys: JSONWebKeySet; until: number }>();

async function jwks(url: string, trusted: readonly string[], fresh: boolean): Promise<JSONWebKeySet> {
  const hit = jwksCache.get(url);
  if (hit && !fresh && hit.until > Date.now()) return hit.keys;
  const doc = await getJSON(url, trusted);
  if (!Array.isArray(doc.keys)) throw new ProviderError('the JWKS has no keys');
  const keys = doc as unknown as JSONWebKeySet;
  if (jwksCache.size > 100) jwksCache.clear();
  jwksCache.set(url, { keys, until: Date.now() + JWKS_TTL_MS });
  return keys;
}

export interface IdTokenCheck {
  idToken: string;
  issuer: string;
  jwksURL: string;
  audience: string;
  nonce: string;
  trusted: readonly string[];
}

/** The verified claims of an ID token; any failure is a {@link ProviderError}. */
export async function verifyIdToken(check: IdTokenCheck): Promise<JWTPayload> {
  if (check.idToken === '') throw new ProviderError('the provider sent no ID token');
  const verify = async (fresh: boolean) =>
    jwtVerify(check.idToken, createLocalJWKSet(await jwks(check.jwksURL, check.trusted, fresh)), {
      issuer: check.issuer,
      audience: check.audience,
      algorithms: ALGORITHMS,
      clockTolerance: 30,
    });
  let payload: JWTPayload;
  try {
    payload = (await verify(false)).payload;
  } catch (err) {
    // keys rotate: a token signed by a key we have not seen yet gets one more look at the JWKS
    if ((err as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY') throw invalid(err);
    try {
      payload = (await verify(true)).payload;
    } catch (again) {
      throw invalid(again);
    }
  }
  if (payload.nonce !== check.nonce) throw new ProviderError('the ID token is for another sign-in (nonce)');
  if (typeof payload.sub !== 'string' || payload.sub === '') throw new ProviderError('the ID token names no subject');
  return payload;
}

function invalid(err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  const code = (err as { code?: string }).code ?? '';
  const reason = (err as { claim?: string }).claim ? `${(err as { claim: string }).claim} claim` : code || 'signature';
  return new ProviderError(`invalid ID token (${reason})`);
}

/** True when a claim says the email is verified (some issuers send the text "true"). */
export const claimTrue = (v: unknown): boolean => v === true || v === 'true';
