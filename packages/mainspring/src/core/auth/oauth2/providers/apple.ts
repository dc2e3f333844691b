import { importPKCS8, SignJWT } from 'jose';
import { fieldError } from '../../../errors.js';
import { claimTrue, verifyIdToken } from '../id-token.js';
import type { OAuth2ProviderConfig } from '../options.js';
import { ProviderError, type ProviderModule, str, userOf } from '../provider.js';

/**
 * Sign in with Apple: the client secret is a JWT signed with the team's
 * ES256 key (`extra.teamId`, `extra.keyId`, `extra.privateKey`, PKCS#8 PEM)
 * unless a ready secret is stored; the code comes back by `form_post`; the
 * profile is the ID token's (Apple has no userinfo endpoint), and the name
 * only comes once, beside the code of the first sign-in, through the
 * redirect page.
 */
const ISSUER = 'https://appleid.apple.com';
/** How long a made client secret lasts (Apple allows up to six months; a short one limits a leak). */
const SECRET_SECONDS = 300;

/** The client secret Apple expects: ES256, `iss` the team, `sub` the service id, `aud` Apple. */
export async function appleClientSecret(config: OAuth2ProviderConfig, now = Date.now()): Promise<string> {
  const { teamId = '', keyId = '', privateKey = '' } = config.extra;
  let key: Awaited<ReturnType<typeof importPKCS8>>;
  try {
    key = await importPKCS8(privateKey.replace(/\\n/g, '\n'), 'ES256');
  } catch {
    throw new ProviderError('extra.privateKey is not a PKCS#8 ES256 key');
  }
  const iat = Math.floor(now / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: keyId })
    .setIssuer(teamId)
    .setSubject(config.clientId)
    .setAudience(ISSUER)
    .setIssuedAt(iat)
    .setExpirationTime(iat + SECRET_SECONDS)
    .sign(key);
}

export const apple: ProviderModule = {
  displayName: 'Apple',
  pkce: true,
  scopes: ['name', 'email'],
  authURL: `${ISSUER}/auth/authorize`,
  tokenURL: `${ISSUER}/auth/token`,
  userInfoURL: '',
  authParams: () => ({ response_mode: 'form_post' }),
  check(config) {
    if (config.clientSecret !== '') return null;
    const missing = ['teamId', 'keyId', 'privateKey'].filter((k) => !config.extra[k]);
    return missing.length > 0
      ? { extra: fieldError('validation_required', `Without a clientSecret, extra needs ${missing.join(', ')}.`) }
      : null;
  },
  async clientSecret(config) {
    return config.clientSecret !== '' ? config.clientSecret : appleClientSecret(config);
  },
  async user(ctx, token) {
    const claims = await verifyIdToken({
      idToken: token.idToken,
      issuer: ctx.config.extra.issuer || ISSUER,
      jwksURL: ctx.config.extra.jwksURL || `${ISSUER}/auth/keys`,
      audience: ctx.config.clientId,
      nonce: ctx.nonce,
      trusted: ctx.trusted,
    });
    return userOf(
      token,
      { ...claims },
      {
        id: str(claims.sub),
        name: ctx.redirectName,
        username: '',
        email: claimTrue(claims.email_verified) ? str(claims.email) : '',
        avatarURL: '',
      },
    );
  },
};
