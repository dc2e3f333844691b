import PocketBase, { LocalAuthStore } from 'pocketbase';
import { t } from './strings.js';

/** The API client: the same origin that serves the dashboard. The session lives in localStorage under its own key. */
export const pb = new PocketBase(location.origin, new LocalAuthStore('ms_dashboard_auth'));
pb.autoCancellation(false);

export const SUPERUSERS = '_superusers';

let expiredHandler = () => {};
/** Called when the session ends by itself (expiry, revocation). */
export function onSessionExpired(fn) {
  expiredHandler = fn;
}

// a 401 from anything but a sign-in attempt means the session is gone
pb.afterSend = (response, data) => {
  if (response.status === 401 && pb.authStore.token && !response.url.includes('/auth-with-')) {
    pb.authStore.clear();
    expiredHandler();
  }
  return data;
};

/** The claims of a JWT (not verified: only to read when it expires), or {} for anything else. */
export function claimsOf(token) {
  try {
    const part = token.split('.')[1].replaceAll('-', '+').replaceAll('_', '/');
    const claims = JSON.parse(atob(part));
    return claims && typeof claims === 'object' ? claims : {};
  } catch {
    return {};
  }
}

let refreshTimer = 0;
/**
 * Renews the superuser's token silently before it expires (auth-refresh, a fifth of its remaining life
 * ahead, at most 5 min and at least 2 s), and again after each renewal; a sign-in, a sign-out or another
 * tab's renewal reschedules it. A refused renewal ends the session (afterSend), a failed one is tried
 * again in 30 s while the token lasts.
 */
export function keepSessionFresh() {
  clearTimeout(refreshTimer);
  const { exp } = claimsOf(pb.authStore.token ?? '');
  if (typeof exp !== 'number' || pb.authStore.record?.collectionName !== SUPERUSERS) return;
  const left = exp - Date.now() / 1000;
  if (left <= 0) return;
  const lead = Math.min(300, Math.max(2, left / 5));
  const wait = Math.min(Math.max(0, left - lead) * 1000, 2 ** 31 - 1);
  refreshTimer = setTimeout(() => {
    pb.collection(SUPERUSERS)
      .authRefresh()
      .catch(() => {
        if (pb.authStore.isValid) refreshTimer = setTimeout(keepSessionFresh, 30_000);
      });
  }, wait);
}
pb.authStore.onChange(() => keepSessionFresh());

let timer = 0;
/** Ends the session when its token expires (checked every 15 s; tabs may sleep). */
export function watchExpiry() {
  keepSessionFresh();
  clearInterval(timer);
  timer = setInterval(() => {
    if (pb.authStore.token && !pb.authStore.isValid) {
      pb.authStore.clear();
      expiredHandler();
    }
  }, 15_000);
}

/** The message to show for an error of the SDK. */
export function messageOf(err) {
  if (!err) return '';
  if (err.isAbort) return '';
  if (err.status === 0) return t.networkError;
  return err.response?.message || err.message || t.error;
}

/** Field errors `{name: message}` of a validation error, flattened (`fields.0.name`). */
export function fieldErrors(err) {
  const out = {};
  const walk = (data, prefix) => {
    for (const [k, v] of Object.entries(data ?? {})) {
      if (v && typeof v === 'object' && typeof v.message === 'string' && typeof v.code === 'string') out[prefix + k] = v.message;
      else if (v && typeof v === 'object') walk(v, `${prefix}${k}.`);
    }
  };
  walk(err?.response?.data, '');
  return out;
}
