import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import PocketBase from 'pocketbase';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { signedUpUser, startServer, superuserToken, type TestServer } from '../../packages/mainspring/test/helpers/server.js';
import { setupShop } from './setup.mjs';

/**
 * The shop's checkout route (ms_hooks/shop.ts) on a real server set up by
 * the example's setup script: what a buyer gets, what they are refused, and
 * 200 buyers racing for 50 posters.
 */

const HOOKS = join(dirname(fileURLToPath(import.meta.url)), 'ms_hooks');

let s: TestServer;
let su: string;
let userCount = 0;

interface User {
  id: string;
  token: string;
}

/** A signed-up, signed-in user (the password field's bcrypt cost is lowered below, so hundreds are quick). */
const newUser = (): Promise<User> => signedUpUser(s, `buyer${++userCount}@example.com`);

async function newProduct(name: string, price: number, stock: number): Promise<string> {
  const res = await s.request('POST', '/api/collections/products/records', { token: su, body: { name, price, stock } });
  expect(res.status).toBe(200);
  return res.body.id;
}

const product = async (id: string) => (await s.request('GET', `/api/collections/products/records/${id}`)).body;

async function addToCart(u: User, productId: string, quantity: number): Promise<void> {
  const { price } = await product(productId);
  const res = await s.request('POST', '/api/collections/cart_items/records', {
    token: u.token,
    body: { user: u.id, product: productId, quantity, price },
  });
  if (res.status !== 200) throw new Error(`add to cart: ${JSON.stringify(res.body)}`);
}

const checkout = (u: User | null, headers: Record<string, string> = {}) =>
  s.request('POST', '/api/shop/checkout', { token: u?.token, headers });

const cartOf = async (u: User) => (await s.request('GET', '/api/collections/cart_items/records', { token: u.token })).body.items;

/** The system's view of a collection (as the superuser). */
const all = async (collection: string, filter = '') =>
  (await s.request('GET', `/api/collections/${collection}/records?perPage=1000&filter=${encodeURIComponent(filter)}`, { token: su })).body
    .items as Record<string, any>[];

beforeAll(async () => {
  s = await startServer({ hooksDir: HOOKS });
  su = await superuserToken(s);
  await setupShop(s.url, su);
  // re-running the setup changes nothing
  await setupShop(s.url, su);
  // bcrypt's lowest cost: this test signs up hundreds of users, and sign-in speed is not what it is about
  const users = (await s.request('GET', '/api/collections/users', { token: su })).body;
  const fields = users.fields.map((f: { type: string }) => (f.type === 'password' ? { ...f, cost: 4 } : f));
  expect((await s.request('PATCH', '/api/collections/users', { token: su, body: { fields } })).status).toBe(200);
});

afterAll(async () => {
  await s?.close();
});

test('a checkout turns the cart into an order at current prices, takes the stock and empties the cart', async () => {
  const ann = await newUser();
  const shirt = await newProduct('T-shirt', 1999, 5);
  const sticker = await newProduct('Sticker', 250, 10);
  await addToCart(ann, shirt, 2);
  await addToCart(ann, sticker, 3);

  const res = await checkout(ann);
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ collectionName: 'orders', user: ann.id, total: 2 * 1999 + 3 * 250, status: 'placed' });
  expect(res.body.lines.map((l: any) => [l.name, l.price, l.quantity]).sort()).toEqual([
    ['Sticker', 250, 3],
    ['T-shirt', 1999, 2],
  ]);
  expect((await product(shirt)).stock).toBe(3);
  expect((await product(sticker)).stock).toBe(7);
  expect(await cartOf(ann)).toEqual([]);

  // the order and its lines are the buyer's to see, and no one else's
  const order = await s.request('GET', `/api/collections/orders/records/${res.body.id}`, { token: ann.token });
  expect(order.body.total).toBe(4748);
  const lines = await s.request('GET', `/api/collections/order_lines/records?filter=${encodeURIComponent(`order = "${res.body.id}"`)}`, {
    token: ann.token,
  });
  expect(lines.body.totalItems).toBe(2);
  const bob = await newUser();
  expect((await s.request('GET', `/api/collections/orders/records/${res.body.id}`, { token: bob.token })).status).toBe(404);
  expect((await s.request('GET', '/api/collections/order_lines/records', { token: bob.token })).body.totalItems).toBe(0);
  expect((await s.request('GET', '/api/collections/cart_items/records', { token: bob.token })).body.totalItems).toBe(0);
});

test('the same checkout with the official SDK', async () => {
  const pb = new PocketBase(s.url);
  pb.autoCancellation(false);
  await pb.collection('users').create({ email: 'sdk@example.com', password: 'sdk-password-1', passwordConfirm: 'sdk-password-1' });
  await pb.collection('users').authWithPassword('sdk@example.com', 'sdk-password-1');
  const mug = await newProduct('Mug', 1200, 4);
  const p = await pb.collection('products').getOne(mug);
  await pb.collection('cart_items').create({ user: pb.authStore.record!.id, product: p.id, quantity: 2, price: p.price });
  const order = await pb.send('/api/shop/checkout', { method: 'POST' });
  expect(order).toMatchObject({ total: 2400, status: 'placed' });
  expect(await pb.collection('orders').getFullList()).toHaveLength(1);
  await expect(pb.send('/api/shop/checkout', { method: 'POST' })).rejects.toMatchObject({ status: 400 });
});

test('an empty cart is a 400, a guest a 401, both in PocketBase shape', async () => {
  const cy = await newUser();
  const empty = await checkout(cy);
  expect(empty.status).toBe(400);
  expect(empty.body).toEqual({
    status: 400,
    message: 'Your cart is empty.',
    data: { cart: { code: 'empty', message: expect.any(String) } },
  });
  const guest = await checkout(null);
  expect(guest.status).toBe(401);
  expect(guest.body).toMatchObject({ status: 401, message: expect.any(String), data: {} });
  const forged = await checkout({ id: 'x', token: 'not-a-token' });
  expect(forged.status).toBe(401);
});

test('not enough stock is a 409 naming the product, and nothing changes', async () => {
  const dee = await newUser();
  const lamp = await newProduct('Lamp', 4500, 10);
  const poster = await newProduct('Poster', 900, 1);
  await addToCart(dee, lamp, 2);
  await addToCart(dee, poster, 2);
  const before = await cartOf(dee);

  const res = await checkout(dee);
  expect(res.status).toBe(409);
  expect(res.body).toEqual({
    status: 409,
    message: 'Only 1 of "Poster" left; your cart has 2.',
    data: {
      product: { code: 'sold_out', message: expect.any(String), params: { id: poster, name: 'Poster', available: 1, requested: 2 } },
    },
  });
  // all or nothing: the lamp's stock is untouched too, the cart is as it was, no order
  expect((await product(lamp)).stock).toBe(10);
  expect((await product(poster)).stock).toBe(1);
  expect(await cartOf(dee)).toEqual(before);
  expect(await all('orders', `user = "${dee.id}"`)).toEqual([]);
});

test('a price changed since the product was put in the cart is a 409; taking the new price lets the checkout through', async () => {
  const eve = await newUser();
  const chair = await newProduct('Chair', 5000, 3);
  await addToCart(eve, chair, 1);
  expect((await s.request('PATCH', `/api/collections/products/records/${chair}`, { token: su, body: { price: 5500 } })).status).toBe(200);

  const res = await checkout(eve);
  expect(res.status).toBe(409);
  expect(res.body.data.price).toMatchObject({ code: 'price_changed', params: { id: chair, was: 5000, now: 5500 } });
  expect((await product(chair)).stock).toBe(3);

  // the buyer cannot pick a price of their own, only accept the current one
  const [line] = await cartOf(eve);
  const cheap = await s.request('PATCH', `/api/collections/cart_items/records/${line.id}`, { token: eve.token, body: { price: 1 } });
  expect(cheap.status).toBe(404);
  const ok = await s.request('PATCH', `/api/collections/cart_items/records/${line.id}`, { token: eve.token, body: { price: 5500 } });
  expect(ok.status).toBe(200);
  expect((await checkout(eve)).body).toMatchObject({ total: 5500 });
});

test('the rules keep users from writing orders, stock or prices, and out of other carts', async () => {
  const fay = await newUser();
  const gus = await newUser();
  const vase = await newProduct('Vase', 3000, 2);

  const order = await s.request('POST', '/api/collections/orders/records', {
    token: fay.token,
    body: { user: fay.id, total: 0, status: 'placed' },
  });
  expect(order.status).toBe(403);
  const line = await s.request('POST', '/api/collections/order_lines/records', {
    token: fay.token,
    body: { name: 'Vase', price: 0, quantity: 1, product: vase },
  });
  expect(line.status).toBe(403);
  for (const body of [{ stock: 1000 }, { 'stock+': 1000 }, { price: 1 }]) {
    const res = await s.request('PATCH', `/api/collections/products/records/${vase}`, { token: fay.token, body });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ status: 403, message: expect.any(String), data: {} });
  }
  expect(await product(vase)).toMatchObject({ stock: 2, price: 3000 });

  // a cart line at a made-up price, or in someone else's cart, is refused
  const cheap = await s.request('POST', '/api/collections/cart_items/records', {
    token: fay.token,
    body: { user: fay.id, product: vase, quantity: 1, price: 1 },
  });
  expect(cheap.status).toBe(400);
  const planted = await s.request('POST', '/api/collections/cart_items/records', {
    token: fay.token,
    body: { user: gus.id, product: vase, quantity: 1, price: 3000 },
  });
  expect(planted.status).toBe(400);
  await addToCart(gus, vase, 1);
  const [gusLine] = await cartOf(gus);
  expect((await s.request('GET', `/api/collections/cart_items/records/${gusLine.id}`, { token: fay.token })).status).toBe(404);
  const stolen = await s.request('PATCH', `/api/collections/cart_items/records/${gusLine.id}`, {
    token: fay.token,
    body: { quantity: 100 },
  });
  expect(stolen.status).toBe(404);
  // nor can a line be moved to another user or product
  const moved = await s.request('PATCH', `/api/collections/cart_items/records/${gusLine.id}`, { token: gus.token, body: { user: fay.id } });
  expect(moved.status).toBe(404);
  // a bad quantity is the field's validation error
  const many = await s.request('PATCH', `/api/collections/cart_items/records/${gusLine.id}`, { token: gus.token, body: { quantity: 1.5 } });
  expect(many.status).toBe(400);
  expect(many.body.data.quantity.code).toBe('validation_only_int_constraint');
});

test('a checkout retried with its Idempotency-Key returns the same order and takes the stock once', async () => {
  const hal = await newUser();
  const kite = await newProduct('Kite', 1500, 5);
  await addToCart(hal, kite, 2);
  const key = { 'idempotency-key': `checkout-${hal.id}` };

  const [first, second] = await Promise.all([checkout(hal, key), checkout(hal, key)]);
  const third = await checkout(hal, key);
  expect(first.status).toBe(200);
  expect(second.status).toBe(200);
  expect(third.status).toBe(200);
  expect(second.body).toEqual(first.body);
  expect(third.body).toEqual(first.body);
  expect(third.headers.get('idempotent-replayed')).toBe('true');
  expect((await product(kite)).stock).toBe(3);
  expect(await all('orders', `user = "${hal.id}"`)).toHaveLength(1);
  // a new key is a new checkout: the cart is empty now
  expect((await checkout(hal, { 'idempotency-key': `checkout-${hal.id}-2` })).status).toBe(400);
});

test('200 buyers racing for 50 posters: 50 orders, stock 0, every other buyer a 409', async () => {
  const poster = await newProduct('Signed poster', 2500, 50);
  const buyers: User[] = [];
  for (let i = 0; i < 200; i += 20) buyers.push(...(await Promise.all(Array.from({ length: 20 }, () => newUser()))));
  for (let i = 0; i < buyers.length; i += 20) await Promise.all(buyers.slice(i, i + 20).map((u) => addToCart(u, poster, 1)));

  const answers = await Promise.all(buyers.map((u) => checkout(u)));
  const statuses: Record<number, number> = {};
  for (const a of answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
  expect(statuses).toEqual({ 200: 50, 409: 150 });
  for (const a of answers.filter((x) => x.status === 409)) {
    expect(a.body).toMatchObject({ status: 409, message: '"Signed poster" is sold out.', data: { product: { code: 'sold_out' } } });
  }

  expect((await product(poster)).stock).toBe(0);
  const lines = await all('order_lines', `product = "${poster}"`);
  expect(lines.reduce((n, l) => n + l.quantity, 0)).toBe(50);
  const orders = await all('orders', `total = 2500`);
  const winners = new Set(answers.filter((a) => a.status === 200).map((a) => a.body.user));
  expect(new Set(orders.map((o) => o.user))).toEqual(winners);
  expect(new Set(lines.map((l) => l.order))).toEqual(new Set(orders.map((o) => o.id)));
  // winners' carts are empty, losers' carts untouched
  const carts = await all('cart_items', `product = "${poster}"`);
  expect(carts).toHaveLength(150);
  for (const c of carts) expect(winners.has(c.user)).toBe(false);
}, 60_000);
