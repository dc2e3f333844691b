// Creates the streaming example's `videos` collection on a Mainspring
// server, as a superuser.
//
//   node setup.mjs http://127.0.0.1:8094 admin@example.com admin-password-1
//
// Safe to re-run: an existing collection is updated to the definition below.

import { applyCollections, isMain, superuserFromArgs } from '../lib/setup.mjs';

/** The largest video accepted: 500 MiB (a few hundred MB of phone video). */
export const MAX_VIDEO_BYTES = 500 * 1024 * 1024;

/**
 * videos: signed-in users watch every video; each user uploads, renames and
 * deletes their own. The file field is `protected`, so the file itself obeys
 * the view rule too: its URL works only with a short-lived file token of a
 * signed-in user (without `protected`, anyone holding the URL could fetch
 * the file, whatever the rules say about the record).
 */
export const COLLECTIONS = [
  {
    name: 'videos',
    type: 'base',
    listRule: '@request.auth.id != ""',
    viewRule: '@request.auth.id != ""',
    // uploads are the uploader's own
    createRule: '@request.auth.id != "" && owner = @request.auth.id',
    // the owner may retitle or replace the video, never give it away
    updateRule: 'owner = @request.auth.id && (@request.body.owner:isset = false || @request.body.owner = @request.auth.id)',
    deleteRule: 'owner = @request.auth.id',
    fields: [
      { name: 'title', type: 'text', required: true, max: 200 },
      {
        name: 'video',
        type: 'file',
        required: true,
        maxSelect: 1,
        maxSize: MAX_VIDEO_BYTES,
        // checked against the file's bytes, not its name or what the browser says
        mimeTypes: ['video/mp4', 'video/webm'],
        protected: true,
      },
      { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1, required: true, cascadeDelete: true },
    ],
    indexes: ['CREATE INDEX idx_videos_created ON videos (created)'],
  },
];

/** Creates or updates the collection; `token` is a superuser's. */
export async function setupStreaming(url, token) {
  await applyCollections(url, token, COLLECTIONS);
}

if (isMain(import.meta.url)) {
  const { url, token } = await superuserFromArgs('setup.mjs');
  await setupStreaming(url, token);
  console.log('the videos collection is ready');
}
