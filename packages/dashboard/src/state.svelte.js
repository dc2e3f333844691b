import { pb } from './api.js';

/** What every screen shares: the route, the collections, the signed-in superuser and a passing note. */
export const app = $state({
  route: parseHash(),
  collections: [],
  signedIn: pb.authStore.isValid && pb.authStore.record?.collectionName === '_superusers',
  note: '',
  noteKind: 'info',
  expired: false,
  /** Why the collections could not be read (a 403 of the superuser IP allow-list, the server gone): shown until they can. */
  loadError: '',
});

/** `#/collections/posts?x` → `['collections', 'posts']`. */
export function parseHash() {
  return location.hash.replace(/^#\/?/, '').split('?')[0].split('/').filter(Boolean).map(decodeURIComponent);
}

export function go(path) {
  location.hash = `#/${path}`;
}

let noteTimer = 0;
/** A short message in the corner (role=status). */
export function note(text, kind = 'info') {
  app.note = text;
  app.noteKind = kind;
  clearTimeout(noteTimer);
  noteTimer = setTimeout(() => {
    app.note = '';
  }, 4000);
}

export async function loadCollections() {
  app.collections = await pb.collections.getFullList({ sort: 'name' });
  app.loadError = '';
}
