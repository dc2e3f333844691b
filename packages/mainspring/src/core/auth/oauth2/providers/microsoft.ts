import { bearer, type ProviderModule, str, userOf } from '../provider.js';

/**
 * Microsoft (Entra ID, personal accounts): Graph's `/me`. Its `mail` is
 * whatever the tenant's administrator typed and Microsoft never checked it
 * (the "nOAuth" takeovers), so it is not taken as a verified address: it
 * never links to an existing account. `extra.tenant` picks the tenant
 * (default `common`).
 */
export const microsoft: ProviderModule = {
  displayName: 'Microsoft',
  pkce: true,
  scopes: ['User.Read'],
  authURL: 'https://login.microsoftonline.com/common/oauth2/v2.0/authorize',
  tokenURL: 'https://login.microsoftonline.com/common/oauth2/v2.0/token',
  userInfoURL: 'https://graph.microsoft.com/v1.0/me',
  async endpoints(config) {
    const tenant = encodeURIComponent(config.extra.tenant || 'common');
    const base = `https://login.microsoftonline.com/${tenant}/oauth2/v2.0`;
    return {
      authURL: config.authURL || `${base}/authorize`,
      tokenURL: config.tokenURL || `${base}/token`,
      userInfoURL: config.userInfoURL || microsoft.userInfoURL,
    };
  },
  async user(ctx, token) {
    const raw = await ctx.getJSON(ctx.endpoints.userInfoURL, bearer(token));
    return userOf(token, raw, { id: str(raw.id), name: str(raw.displayName), username: '', email: '', avatarURL: '' });
  },
};
