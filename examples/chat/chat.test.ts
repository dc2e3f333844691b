import { EventSource } from 'eventsource';
import PocketBase from 'pocketbase';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startServer, superuserToken, type TestServer } from '../../packages/mainspring/test/helpers/server.js';
import { createChat } from './chat.js';
import { setupChat } from './setup.mjs';

/**
 * Two users chat through the page's own client code (chat.js), on a real
 * server set up by the example's setup script; a third, outside the room,
 * sees and hears nothing of it.
 */

(globalThis as { EventSource?: unknown }).EventSource = EventSource;

let s: TestServer;

const newUser = async (name: string) => {
  const pb = new PocketBase(s.url);
  pb.autoCancellation(false);
  const chat = createChat(pb);
  await chat.signUp(`${name}@example.com`, `${name}-password-1`, name);
  return chat;
};

const eventually = async (check: () => void, ms = 3000) => {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return check();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
};

beforeAll(async () => {
  s = await startServer();
  await setupChat(s.url, await superuserToken(s));
  // re-running the setup changes nothing
  await setupChat(s.url, await superuserToken(s));
});

afterAll(async () => {
  await s?.close();
});

test('two members chat in real time; an outsider can neither read, post, nor listen', async () => {
  const ann = await newUser('ann');
  const bob = await newUser('bob');
  const eve = await newUser('eve');

  const room = await ann.createRoom('ann & bob', [bob.me().id]);
  expect((await bob.rooms()).map((r: { id: string }) => r.id)).toEqual([room.id]);
  expect(await eve.rooms()).toEqual([]);

  const heardByBob: { text: string; expand?: { author?: { name: string } } }[] = [];
  const heardByEve: unknown[] = [];
  await bob.watch(room.id, (m: (typeof heardByBob)[0]) => heardByBob.push(m));
  await eve.watch(room.id, (m: unknown) => heardByEve.push(m));

  await ann.send(room.id, 'hi bob');
  await bob.send(room.id, 'hi ann!');
  await eventually(() => expect(heardByBob.map((m) => `${m.expand?.author?.name}: ${m.text}`)).toEqual(['ann: hi bob', 'bob: hi ann!']));
  expect((await ann.history(room.id)).map((m: { text: string }) => m.text)).toEqual(['hi bob', 'hi ann!']);

  // eve: no history, no posting, no events
  expect(await eve.history(room.id)).toEqual([]);
  await expect(eve.send(room.id, 'let me in')).rejects.toMatchObject({ status: 400 });
  await new Promise((r) => setTimeout(r, 300));
  expect(heardByEve).toEqual([]);

  // invited, eve hears what comes next
  await ann.invite(room.id, eve.me().id);
  await ann.send(room.id, 'welcome eve');
  await eventually(() => expect(heardByEve).toHaveLength(1));
});

test('a message cannot be posted as someone else, nor into a room one does not belong to', async () => {
  const cy = await newUser('cy');
  const dee = await newUser('dee');
  const room = await cy.createRoom('cy alone');
  const pb = new PocketBase(s.url);
  pb.autoCancellation(false);
  await pb.collection('users').authWithPassword('dee@example.com', 'dee-password-1');
  // dee claims to be cy, in cy's room
  await expect(pb.collection('messages').create({ room: room.id, author: cy.me().id, text: 'forged' })).rejects.toMatchObject({
    status: 400,
  });
  // and a room that does not include its creator is refused
  await expect(pb.collection('rooms').create({ name: 'not mine', members: [cy.me().id] })).rejects.toMatchObject({ status: 400 });
  expect(await cy.history(room.id)).toEqual([]);
  expect(dee.me().id).not.toBe(cy.me().id);
});
