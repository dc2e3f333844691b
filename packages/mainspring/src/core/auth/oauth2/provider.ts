import type { ErrorData } from '../../errors.js';
import { jsonOf, type OutboundOptions, outbound } from './http.js';
import type { OAuth2ProviderConfig } from './options.js';

/**
 * What every OAuth2 provider module is: its endpoints and scopes, whether it
 * takes PKCE, and how its profile becomes an {@link OAuth2User}. The flow
 * (auth URL, code exchange, linking) is the same for all and lives in
 * `service.ts`; a provider is one file under `providers/`.
 */

/** The profile a provider answers, as PocketBase's `meta` shows it. */
export interface OAuth2User {
  id: string;
  name: string;
  username: string;
  /** Only an address the provider says it verified; '' otherwise (an unverified one never links accounts). */
  email: string;
  avatarURL: string;
  rawUser: Record<string, unknown>;
  accessToken: string;
  refreshToken: string;
  /** When the access token ends, PocketBase's date text; '' when not said. */
  expiry: string;
}

/** The token endpoint's answer. */
export interface TokenSet {
  accessToken: string;
  refreshToken: string;
  expiry: string;
  idToken: string;
  raw: Record<string, unknown>;
}

/** The endpoints in force for one provider configuration. */
export interface Endpoints {
  authURL: string;
  tokenURL: string;
  userInfoURL: string;
}

/** What a module is given to read a profile. */
export interface ProviderContext {
  config: OAuth2ProviderConfig;
  endpoints: Endpoints;
  /** The `nonce` the auth URL carried: an ID token must repeat it. */
  nonce: string;
  /** Hosts that may resolve to private addresses (settings `oauth2.trustedHosts`). */
  trusted: readonly string[];
  /** A name the provider sent beside the code (Apple's first sign-in through the redirect page), '' if none. */
  redirectName: string;
  /** GET `url` (through the outbound guard) and parse its JSON; a non-2xx answer is an error. */
  getJSON(url: string, headers?: Record<string, string>): Promise<Record<string, unknown>>;
}

export interface ProviderModule {
  displayName: string;
  /** Whether PKCE is on when the configuration says null. */
  pkce: boolean;
  scopes: string[];
  /** Defaults; a configuration's non-empty URLs win. */
  authURL: string;
  tokenURL: string;
  userInfoURL: string;
  /** Parameters the auth URL carries beyond the standard ones. */
  authParams?(config: OAuth2ProviderConfig): Record<string, string>;
  /** Endpoints that need a lookup (OpenID discovery); else the defaults under the configuration's. */
  endpoints?(config: OAuth2ProviderConfig, trusted: readonly string[]): Promise<Endpoints>;
  /** The client secret sent to the token endpoint, when it is made rather than stored (Apple's signed JWT). */
  clientSecret?(config: OAuth2ProviderConfig): Promise<string>;
  /** Errors of a configuration the module cannot work with (a missing `extra` key), by key. */
  check?(config: OAuth2ProviderConfig): ErrorData | null;
  /** The profile behind a token. */
  user(ctx: ProviderContext, token: TokenSet): Promise<OAuth2User>;
}

/** The configuration's endpoints over the module's defaults. */
export function staticEndpoints(m: ProviderModule, config: OAuth2ProviderConfig): Endpoints {
  return {
    authURL: config.authURL || m.authURL,
    tokenURL: config.tokenURL || m.tokenURL,
    userInfoURL: config.userInfoURL || m.userInfoURL,
  };
}

/** A GET of JSON through the guard, bounded; a non-2xx answer is an error naming the status. */
export async function getJSON(
  url: string,
  trusted: readonly string[],
  headers: Record<string, string> = {},
): Promise<Record<string, unknown>> {
  const options: OutboundOptions = { headers: { accept: 'application/json', ...headers }, trusted, maxBytes: 1 << 20 };
  const answer = await outbound(url, options);
  if (answer.status < 200 || answer.status > 299) throw new ProviderError(`the provider answered ${answer.status}`);
  return jsonOf(answer);
}

/** A provider said no or made no sense; the message is safe to show (never a token). */
export class ProviderError extends Error {}

/** A string claim, or ''. */
export const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

/** A bearer header for an access token. */
export const bearer = (token: TokenSet): Record<string, string> => ({ authorization: `Bearer ${token.accessToken}` });

/** The parts of a profile every module fills the same way. */
export function userOf(
  token: TokenSet,
  raw: Record<string, unknown>,
  fields: Omit<OAuth2User, 'rawUser' | 'accessToken' | 'refreshToken' | 'expiry'>,
): OAuth2User {
  if (fields.id === '') throw new ProviderError('the profile has no id');
  return { ...fields, rawUser: raw, accessToken: token.accessToken, refreshToken: token.refreshToken, expiry: token.expiry };
}
