import { fieldError } from '../../../errors.js';
import { claimTrue, verifyIdToken } from '../id-token.js';
import type { OAuth2ProviderConfig } from '../options.js';
import { type Endpoints, getJSON, ProviderError, type ProviderModule, str, userOf } from '../provider.js';

/**
 * Any OpenID Connect provider (`oidc`, `oidc2`, `oidc3`): `extra.issuer`
 * finds the endpoints and keys by discovery (the configuration's URLs win);
 * without it, `authURL`, `tokenURL` and `extra.jwksURL` must be given. The
 * ID token is always required and checked (id-token.ts); the userinfo
 * endpoint, when there is one, adds to its claims for the same subject.
 */

interface Discovered extends Endpoints {
  issuer: string;
  jwksURL: string;
}

const DISCOVERY_TTL_MS = 10 * 60_000;
const discoveries = new Map<string, { doc: Discovered; until: number }>();

async function discover(config: OAuth2ProviderConfig, trusted: readonly string[]): Promise<Discovered> {
  const issuer = config.extra.issuer ?? '';
  let found: Discovered = { issuer, jwksURL: '', authURL: '', tokenURL: '', userInfoURL: '' };
  if (issuer !== '') {
    const hit = discoveries.get(issuer);
    if (hit && hit.until > Date.now()) found = hit.doc;
    else {
      const doc = await getJSON(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, trusted);
      // the document must be the issuer's own (OpenID Connect Discovery §4.3)
      if (str(doc.issuer) !== issuer) throw new ProviderError('the discovery document names another issuer');
      found = {
        issuer,
        jwksURL: str(doc.jwks_uri),
        authURL: str(doc.authorization_endpoint),
        tokenURL: str(doc.token_endpoint),
        userInfoURL: str(doc.userinfo_endpoint),
      };
      if (discoveries.size > 100) discoveries.clear();
      discoveries.set(issuer, { doc: found, until: Date.now() + DISCOVERY_TTL_MS });
    }
  }
  return {
    issuer: found.issuer,
    jwksURL: config.extra.jwksURL || found.jwksURL,
    authURL: config.authURL || found.authURL,
    tokenURL: config.tokenURL || found.tokenURL,
    userInfoURL: config.userInfoURL || found.userInfoURL,
  };
}

export const oidc: ProviderModule = {
  displayName: 'OpenID Connect',
  pkce: true,
  scopes: ['openid', 'profile', 'email'],
  authURL: '',
  tokenURL: '',
  userInfoURL: '',
  check(config) {
    if (config.extra.issuer) return null;
    const errors: Record<string, ReturnType<typeof fieldError>> = {};
    for (const key of ['authURL', 'tokenURL'] as const) {
      if (config[key] === '') errors[key] = fieldError('validation_required', 'Required without extra.issuer (discovery).');
    }
    if (!config.extra.jwksURL) errors.extra = fieldError('validation_required', 'extra.issuer or extra.jwksURL is required.');
    return Object.keys(errors).length > 0 ? errors : null;
  },
  endpoints: discover,
  async user(ctx, token) {
    const d = await discover(ctx.config, ctx.trusted);
    const claims: Record<string, unknown> = {
      ...(await verifyIdToken({
        idToken: token.idToken,
        issuer: d.issuer || ctx.config.extra.issuer || '',
        jwksURL: d.jwksURL,
        audience: ctx.config.clientId,
        nonce: ctx.nonce,
        trusted: ctx.trusted,
      })),
    };
    if (d.userInfoURL !== '') {
      const info = await ctx.getJSON(d.userInfoURL, { authorization: `Bearer ${token.accessToken}` });
      // userinfo of another subject is an attack (OpenID Connect Core §5.3.2)
      if (str(info.sub) !== claims.sub) throw new ProviderError('the userinfo is of another subject');
      Object.assign(claims, info);
    }
    return userOf(token, claims, {
      id: str(claims.sub),
      name: str(claims.name),
      username: str(claims.preferred_username),
      email: claimTrue(claims.email_verified) ? str(claims.email) : '',
      avatarURL: str(claims.picture),
    });
  },
};
