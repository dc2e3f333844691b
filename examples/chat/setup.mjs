// Creates the chat's collections on a Mainspring server, as a superuser.
//
//   node examples/chat/setup.mjs http://127.0.0.1:8090 admin@example.com admin-password
//
// Safe to re-run: an existing collection is updated to the definition below.

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

async function call(url, method, path, token, body) {
  const res = await fetch(url + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: token } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/**
 * Who may see a user: anyone signed in, so rooms can show their members' and
 * authors' names. Emails stay hidden (unless a user sets emailVisibility).
 */
export const USERS_VIEW_RULE = '@request.auth.id != ""';

/** Creates or updates the collections; `token` is a superuser's. */
export async function setupChat(url, token) {
  for (const def of COLLECTIONS) {
    // relations name their target by id
    const rooms = await call(url, 'GET', '/api/collections/rooms', token);
    const fields = def.fields.map((f) => (f.type === 'relation' && f.collectionId === 'rooms' ? { ...f, collectionId: rooms.body.id } : f));
    const existing = await call(url, 'GET', `/api/collections/${def.name}`, token);
    const res =
      existing.status === 200
        ? await call(url, 'PATCH', `/api/collections/${def.name}`, token, { ...def, fields: mergeFields(existing.body.fields, fields) })
        : await call(url, 'POST', '/api/collections', token, { ...def, fields });
    if (res.status !== 200) throw new Error(`${def.name}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  const users = await call(url, 'PATCH', '/api/collections/users', token, { viewRule: USERS_VIEW_RULE });
  if (users.status !== 200) throw new Error(`users: ${users.status} ${JSON.stringify(users.body)}`);
}

/** Keeps the ids of fields that already exist, so an update changes them instead of replacing them. */
function mergeFields(current, wanted) {
  return [
    ...current.filter((f) => f.system || ['created', 'updated'].includes(f.name)),
    ...wanted.map((f) => ({ ...current.find((c) => c.name === f.name), ...f })),
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [url = 'http://127.0.0.1:8090', email, password] = process.argv.slice(2);
  if (!email || !password) {
    console.error('usage: node examples/chat/setup.mjs URL SUPERUSER_EMAIL SUPERUSER_PASSWORD');
    process.exit(2);
  }
  const auth = await call(url, 'POST', '/api/collections/_superusers/auth-with-password', undefined, { identity: email, password });
  if (auth.status !== 200) {
    console.error(`error: superuser sign-in failed (${auth.status})`);
    process.exit(1);
  }
  await setupChat(url, auth.body.token);
  console.log('rooms and messages are ready');
}
