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

let timer = 0;
/** Ends the session when its token expires (checked every 15 s; tabs may sleep). */
export function watchExpiry() {
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
