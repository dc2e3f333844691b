// Creates the chat's collections on a Mainspring server, as a superuser.
//
//   node setup.mjs http://127.0.0.1:8093 admin@example.com admin-password-1
//
// Safe to re-run: an existing collection is updated to the definition below.

import { applyCollections, call, isMain, superuserFromArgs } from '../lib/setup.mjs';

/** rooms and messages: only a room's members see it, its messages, and its events. */
export const COLLECTIONS = [
  {
    name: 'rooms',
    type: 'base',
    // a room is visible to its members only
    listRule: 'members.id ?= @request.auth.id',
    viewRule: 'members.id ?= @request.auth.id',
    // a signed-in user creates a room that includes themself
    createRule: '@request.auth.id != "" && @request.body.members:each ?= @request.auth.id',
    // members may rename it and invite others
    updateRule: 'members.id ?= @request.auth.id',
    deleteRule: null,
    fields: [
      { name: 'name', type: 'text', required: true, max: 100 },
      { name: 'members', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 50, required: true },
    ],
  },
  {
    name: 'messages',
    type: 'base',
    listRule: 'room.members.id ?= @request.auth.id',
    viewRule: 'room.members.id ?= @request.auth.id',
    // members post in their rooms, as themselves
    createRule: 'author = @request.auth.id && room.members.id ?= @request.auth.id',
    updateRule: 'author = @request.auth.id',
    deleteRule: 'author = @request.auth.id',
    fields: [
      { name: 'room', type: 'relation', collectionId: 'rooms', maxSelect: 1, required: true, cascadeDelete: true },
      { name: 'author', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1, required: true },
      { name: 'text', type: 'text', required: true, max: 2000 },
    ],
    indexes: ['CREATE INDEX idx_messages_room ON messages (room, created)'],
  },
];

/**
 * Who may see a user: anyone signed in, so rooms can show their members' and
 * authors' names. Emails stay hidden (unless a user sets emailVisibility).
 */
export const USERS_VIEW_RULE = '@request.auth.id != ""';

/** Creates or updates the collections; `token` is a superuser's. */
export async function setupChat(url, token) {
  await applyCollections(url, token, COLLECTIONS);
  const users = await call(url, 'PATCH', '/api/collections/users', token, { viewRule: USERS_VIEW_RULE });
  if (users.status !== 200) throw new Error(`users: ${users.status} ${JSON.stringify(users.body)}`);
}

if (isMain(import.meta.url)) {
  const { url, token } = await superuserFromArgs('setup.mjs');
  await setupChat(url, token);
  console.log('rooms and messages are ready');
}
