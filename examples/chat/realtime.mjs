// The chat from Node instead of a browser: Ann watches a room live while Bob
// writes in it, through the same client code as the page (chat.js).
//
//   node realtime.mjs http://127.0.0.1:8093
//
// The pocketbase SDK's subscribe() needs an EventSource, which browsers have
// and Node 20 does not: the `eventsource` package (npm install eventsource)
// is one, given to the SDK by the line after the imports. Safe to re-run:
// Ann and Bob sign in, or sign up the first time.
import { EventSource } from 'eventsource';
import PocketBase from 'pocketbase';
import { createChat } from './chat.js';

globalThis.EventSource = EventSource;

const url = process.argv[2] ?? 'http://127.0.0.1:8093';

/** A chat client signed in as `name`, who is signed up first when new. */
async function person(name) {
  const chat = createChat(new PocketBase(url));
  const email = `${name.toLowerCase()}@example.com`;
  const password = `${name.toLowerCase()}-password-1`;
  try {
    await chat.signIn(email, password);
  } catch (err) {
    if (err.status !== 400) throw err;
    await chat.signUp(email, password, name);
  }
  return chat;
}

const ann = await person('Ann');
const bob = await person('Bob');
const room = await ann.createRoom('Lunch', [bob.me().id]);

let deliver;
const heard = new Promise((done) => {
  deliver = done;
});
// resolves once the server holds the subscription, so nothing Bob writes after it is missed
await ann.watch(room.id, (message) => deliver(message));
console.log(`Ann watches "${room.name}"`);
await bob.send(room.id, 'Noodles at 12?');
const message = await Promise.race([
  heard,
  new Promise((_, fail) => setTimeout(() => fail(new Error('no message arrived within 5 s')), 5000).unref()),
]);
console.log(`Ann got, live: ${message.expand.author.name}: ${message.text}`);
ann.signOut(); // ends the realtime stream, so the process can exit
