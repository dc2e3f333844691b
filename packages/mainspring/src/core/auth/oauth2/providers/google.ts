import { claimTrue } from '../id-token.js';
import { bearer, type ProviderModule, str, userOf } from '../provider.js';

/** Google: its userinfo endpoint (OpenID claims); the email only when `email_verified`. */
export const google: ProviderModule = {
  displayName: 'Google',
  pkce: true,
  scopes: ['openid', 'profile', 'email'],
  authURL: 'https://accounts.google.com/o/oauth2/v2/auth',
  tokenURL: 'https://oauth2.googleapis.com/token',
  userInfoURL: 'https://openidconnect.googleapis.com/v1/userinfo',
  async user(ctx, token) {
    const raw = await ctx.getJSON(ctx.endpoints.userInfoURL, bearer(token));
    return userOf(token, raw, {
      id: str(raw.sub),
      name: str(raw.name),
      username: '',
      email: claimTrue(raw.email_verified) ? str(raw.email) : '',
      avatarURL: str(raw.picture),
    });
  },
};
