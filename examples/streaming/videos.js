// The streaming example's client logic, over the official PocketBase SDK.
// The page (index.html) calls it; so does the example's test.

/** Video operations for one signed-in (or signing-in) user of `pb`, a PocketBase client. */
export function createVideos(pb) {
  const me = () => pb.authStore.record;

  return {
    me,

    async signUp(email, password) {
      await pb.collection('users').create({ email, password, passwordConfirm: password });
      return this.signIn(email, password);
    },

    async signIn(email, password) {
      await pb.collection('users').authWithPassword(email, password);
      return me();
    },

    signOut() {
      pb.authStore.clear();
    },

    /** Every video, newest first. */
    list() {
      return pb.collection('videos').getFullList({ sort: '-created' });
    },

    /**
     * Uploads `file` (a File or Blob) as a new video of the signed-in user.
     * With `onProgress(sentBytes, totalBytes)`, in a browser, the upload goes
     * through XMLHttpRequest, whose upload events report progress (fetch,
     * which the SDK uses, has none); otherwise through the SDK.
     */
    async upload(title, file, onProgress) {
      const form = new FormData();
      form.append('title', title);
      form.append('owner', me()?.id ?? '');
      form.append('video', file);
      if (onProgress && typeof XMLHttpRequest !== 'undefined') return postWithProgress(pb, form, onProgress);
      return pb.collection('videos').create(form);
    },

    rename(id, title) {
      return pb.collection('videos').update(id, { title });
    },

    remove(id) {
      return pb.collection('videos').delete(id);
    },

    /**
     * The URL a `<video>` plays: the file's URL with a fresh file token. The
     * field is protected, so the URL works only with a token of a signed-in
     * user, and only for a few minutes (the users collection's
     * `fileToken.duration`, 180 s by default).
     */
    async url(record) {
      const token = await pb.files.getToken();
      return pb.files.getURL(record, record.video, { token });
    },

    /**
     * Plays `record` in the `<video>` element. The browser fetches the file
     * in HTTP Range requests, a new one at each seek to a part it has not
     * loaded, all with the URL it was given; once that URL's token has
     * expired the server refuses them and the element fails. Then this gets a
     * fresh URL and carries on where it was (playing or paused). A failure
     * right after that is real: `onFailure(mediaError)` hears of it. Returns
     * a function that stops looking after the element.
     */
    play(video, record, onFailure) {
      let retried = false;
      let stopped = false;
      const load = async (at, playing) => {
        const src = await this.url(record);
        if (stopped) return;
        video.src = src;
        if (at > 0) video.currentTime = at;
        if (playing) await video.play().catch(() => {});
      };
      const onError = () => {
        if (stopped) return;
        if (retried) {
          onFailure?.(video.error);
          return;
        }
        retried = true;
        load(video.currentTime, !video.paused).catch((err) => onFailure?.(err));
      };
      const onReady = () => {
        retried = false;
      };
      video.addEventListener('error', onError);
      video.addEventListener('canplay', onReady);
      load(0, false).catch((err) => onFailure?.(err));
      return () => {
        stopped = true;
        video.removeEventListener('error', onError);
        video.removeEventListener('canplay', onReady);
      };
    },
  };
}

/** POSTs a record create as the SDK would, reporting upload progress; resolves with the record. */
function postWithProgress(pb, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', pb.buildURL('/api/collections/videos/records'));
    if (pb.authStore.token) xhr.setRequestHeader('Authorization', pb.authStore.token);
    xhr.upload.addEventListener('progress', (e) => onProgress(e.loaded, e.total));
    xhr.addEventListener('load', () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not JSON: an error below says what the status was
      }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(body);
      // the shape of the SDK's ClientResponseError, which the page reads
      reject(Object.assign(new Error(body?.message ?? `upload failed (${xhr.status})`), { status: xhr.status, response: body ?? {} }));
    });
    xhr.addEventListener('error', () => reject(new Error('upload failed: the server could not be reached')));
    xhr.send(form);
  });
}
