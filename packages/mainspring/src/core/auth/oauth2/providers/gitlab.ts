import { bearer, type ProviderModule, str, userOf } from '../provider.js';

/** GitLab (gitlab.com, or a server of one's own through the URLs): `/api/v4/user`; the email once `confirmed_at` is set. */
export const gitlab: ProviderModule = {
  displayName: 'GitLab',
  pkce: true,
  scopes: ['read_user'],
  authURL: 'https://gitlab.com/oauth/authorize',
  tokenURL: 'https://gitlab.com/oauth/token',
  userInfoURL: 'https://gitlab.com/api/v4/user',
  async user(ctx, token) {
    const raw = await ctx.getJSON(ctx.endpoints.userInfoURL, bearer(token));
    return userOf(token, raw, {
      id: str(raw.id),
      name: str(raw.name),
      username: str(raw.username),
      email: str(raw.confirmed_at) !== '' ? str(raw.email) : '',
      avatarURL: str(raw.avatar_url),
    });
  },
};
