import { bearer, type ProviderModule, str, userOf } from '../provider.js';

/** Facebook: the Graph API's `/me`; Facebook answers only a confirmed email, so one it gives counts as verified. */
export const facebook: ProviderModule = {
  displayName: 'Facebook',
  pkce: true,
  scopes: ['email'],
  authURL: 'https://www.facebook.com/v19.0/dialog/oauth',
  tokenURL: 'https://graph.facebook.com/v19.0/oauth/access_token',
  userInfoURL: 'https://graph.facebook.com/me?fields=name,email,picture.type(large)',
  async user(ctx, token) {
    const raw = await ctx.getJSON(ctx.endpoints.userInfoURL, bearer(token));
    const picture = raw.picture as { data?: { url?: unknown } } | undefined;
    return userOf(token, raw, {
      id: str(raw.id),
      name: str(raw.name),
      username: '',
      email: str(raw.email),
      avatarURL: str(picture?.data?.url),
    });
  },
};
