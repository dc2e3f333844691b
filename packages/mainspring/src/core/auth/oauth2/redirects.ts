import type { Settings } from '../../settings.js';

/**
 * Where a provider may send the user back with a code: this server's own
 * redirect page (`/api/oauth2-redirect`, the SDK's all-in-one flow), and
 * the URLs of settings `oauth2.redirectURLs`: each exact, or a prefix when
 * it ends in `*` (`https://app.example.com/auth/*`). A URL with a fragment
 * or user info never matches.
 */
export function redirectAllowed(redirectURL: string, settings: Settings, ownRedirect: string): boolean {
  let u: URL;
  try {
    u = new URL(redirectURL);
  } catch {
    return false;
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.hash !== '' || u.username !== '' || u.password !== '') return false;
  const own = [ownRedirect, `${settings.meta.appURL.replace(/\/$/, '')}/api/oauth2-redirect`];
  if (own.includes(redirectURL)) return true;
  return settings.oauth2.redirectURLs.some((entry) => {
    if (!entry.endsWith('*')) return entry === redirectURL;
    const prefix = entry.slice(0, -1);
    // a prefix must end in a path (its origin whole): "https://a.example*" would let in "https://a.example.evil"
    return /^https?:\/\/[^/]+\//.test(prefix) && redirectURL.startsWith(prefix);
  });
}
