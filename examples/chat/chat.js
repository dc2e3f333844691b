// The chat's client logic, over the official PocketBase SDK. The page
// (index.html) calls it; so does the example's test, as two users would.

/** Chat operations for one signed-in (or signing-in) user of `pb`, a PocketBase client. */
export function createChat(pb) {
  const me = () => pb.authStore.record;

  return {
    me,

    async signUp(email, password, name) {
      await pb.collection('users').create({ email, password, passwordConfirm: password, name });
      return this.signIn(email, password);
    },

    async signIn(email, password) {
      await pb.collection('users').authWithPassword(email, password);
      return me();
    },

    signOut() {
      pb.realtime.unsubscribe();
      pb.authStore.clear();
    },

    /** A room with the signed-in user and the given users (by id) as members. */
    createRoom(name, memberIds = []) {
      return pb.collection('rooms').create({ name, members: [me().id, ...memberIds] });
    },

    invite(roomId, userId) {
      return pb.collection('rooms').update(roomId, { 'members+': userId });
    },

    /** The rooms the user belongs to, newest first. */
    rooms() {
      return pb.collection('rooms').getFullList({ sort: '-created' });
    },

    send(roomId, text) {
      return pb.collection('messages').create({ room: roomId, author: me().id, text }, { expand: 'author' });
    },

    /** The last `count` messages of a room, oldest first, with their authors. */
    async history(roomId, count = 50) {
      const page = await pb.collection('messages').getList(1, count, {
        filter: pb.filter('room = {:room}', { room: roomId }),
        sort: '-created,-id',
        expand: 'author',
      });
      return page.items.reverse();
    },

    /**
     * Calls `onMessage(message)` for each new message of a room, as it is
     * written, with its author. Returns the function that stops watching.
     */
    watch(roomId, onMessage) {
      return pb.collection('messages').subscribe(
        '*',
        (e) => {
          if (e.action === 'create') onMessage(e.record);
        },
        { filter: pb.filter('room = {:room}', { room: roomId }), expand: 'author' },
      );
    },
  };
}
