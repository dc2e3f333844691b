import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The state of one OAuth2 sign-in, kept by the client and checked by us.
 * `auth-methods` hands each provider a PKCE `codeVerifier` that is a ticket
 * we signed: a random id, when it ends, and an HMAC over the collection,
 * the provider and both. `state` and the OpenID `nonce` are derived from
 * the id, so `auth-with-oauth2` (which receives the verifier, as the SDK
 * sends it unchanged) knows which sign-in this is without storing
 * anything until it is used, and then spends it once.
 */

/** How long a sign-in may take from `auth-methods` to `auth-with-oauth2`. */
export const TICKET_SECONDS = 30 * 60;

export interface Ticket {
  /** The id the ticket, state and nonce come from. */
  id: string;
  /** Seconds since the epoch. */
  expires: number;
  codeVerifier: string;
  state: string;
  nonce: string;
  codeChallenge: string;
}

const b64 = (buf: Buffer) => buf.toString('base64url');
const mac = (key: string, text: string) => createHmac('sha256', key).update(text).digest();

function derive(key: string, collectionId: string, provider: string, id: string, expires: number): Omit<Ticket, 'id' | 'expires'> {
  const exp = expires.toString(36);
  const codeVerifier = `${id}.${exp}.${b64(mac(key, `ticket\n${collectionId}\n${provider}\n${id}\n${exp}`))}`;
  return {
    codeVerifier,
    state: b64(mac(key, `state\n${id}`)).slice(0, 30),
    nonce: b64(mac(key, `nonce\n${id}`)),
    codeChallenge: b64(createHash('sha256').update(codeVerifier).digest()),
  };
}

/** A new ticket for a sign-in with `provider` to collection `collectionId`, signed with `key`. */
export function newTicket(key: string, collectionId: string, provider: string, now = Date.now()): Ticket {
  const id = b64(randomBytes(16));
  const expires = Math.floor(now / 1000) + TICKET_SECONDS;
  return { id, expires, ...derive(key, collectionId, provider, id, expires) };
}

/** The ticket a submitted `codeVerifier` is, or null when we did not sign it for this collection and provider, or it ended. */
export function readTicket(key: string, collectionId: string, provider: string, codeVerifier: string, now = Date.now()): Ticket | null {
  const m = /^([A-Za-z0-9_-]{22})\.([0-9a-z]{1,10})\.([A-Za-z0-9_-]{43})$/.exec(codeVerifier);
  if (!m) return null;
  const [, id, exp] = m as unknown as [string, string, string];
  const expires = Number.parseInt(exp, 36);
  const derived = derive(key, collectionId, provider, id, expires);
  const a = Buffer.from(derived.codeVerifier);
  const b = Buffer.from(codeVerifier);
  if (a.length !== b.length || !timingSafeEqual(a, b)) return null;
  if (expires * 1000 < now) return null;
  return { id, expires, ...derived };
}
