import { bearer, type ProviderModule, str, userOf } from '../provider.js';

/**
 * GitHub (not OpenID): `/user` for the profile, and `/user/emails` for the
 * address, the primary one only if GitHub verified it (the public email of
 * `/user` says nothing of verification).
 */
export const github: ProviderModule = {
  displayName: 'GitHub',
  pkce: true,
  scopes: ['read:user', 'user:email'],
  authURL: 'https://github.com/login/oauth/authorize',
  tokenURL: 'https://github.com/login/oauth/access_token',
  userInfoURL: 'https://api.github.com/user',
  async user(ctx, token) {
    const headers = { ...bearer(token), accept: 'application/vnd.github+json' };
    const raw = await ctx.getJSON(ctx.endpoints.userInfoURL, headers);
    const emails = await ctx.getJSON(`${ctx.endpoints.userInfoURL.replace(/\/$/, '')}/emails`, headers);
    const list = Array.isArray(emails.items) ? (emails.items as Record<string, unknown>[]) : [];
    const primary = list.find((e) => e && e.primary === true && e.verified === true);
    return userOf(token, raw, {
      id: str(raw.id),
      name: str(raw.name),
      username: str(raw.login),
      email: primary ? str(primary.email) : '',
      avatarURL: str(raw.avatar_url),
    });
  },
};
