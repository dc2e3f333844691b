import { bearer, type ProviderModule, str, userOf } from '../provider.js';

/** Discord: `/users/@me`; the email when `verified`; the avatar built from its hash on Discord's CDN. */
export const discord: ProviderModule = {
  displayName: 'Discord',
  pkce: true,
  scopes: ['identify', 'email'],
  authURL: 'https://discord.com/api/oauth2/authorize',
  tokenURL: 'https://discord.com/api/oauth2/token',
  userInfoURL: 'https://discord.com/api/users/@me',
  async user(ctx, token) {
    const raw = await ctx.getJSON(ctx.endpoints.userInfoURL, bearer(token));
    const id = str(raw.id);
    const avatar = str(raw.avatar);
    return userOf(token, raw, {
      id,
      name: str(raw.global_name) || str(raw.username),
      username: str(raw.username),
      email: raw.verified === true ? str(raw.email) : '',
      avatarURL: avatar !== '' && /^[a-z0-9_]+$/i.test(avatar) ? `https://cdn.discordapp.com/avatars/${id}/${avatar}.png` : '',
    });
  },
};
