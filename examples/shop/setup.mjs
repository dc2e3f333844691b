// Creates the shop's collections on a Mainspring server, as a superuser.
//
//   node setup.mjs http://127.0.0.1:8092 admin@example.com admin-password-1
//
// Safe to re-run: an existing collection is updated to the definition below.
// From the command line it also adds three demo products when there are none.

import { applyCollections, call, isMain, superuserFromArgs } from '../lib/setup.mjs';

/**
 * products, cart_items, orders and order_lines. The rules are the security
 * model: anyone sees products, a user sees and edits only their own cart and
 * sees only their own orders; nobody but a superuser writes products, orders
 * or order lines over the REST API. Orders are written by the checkout route
 * (ms_hooks/shop.ts), which acts as the system.
 */
export const COLLECTIONS = [
  {
    name: 'products',
    type: 'base',
    listRule: '',
    viewRule: '',
    createRule: null,
    updateRule: null,
    deleteRule: null,
    fields: [
      { name: 'name', type: 'text', required: true, max: 200 },
      // integer cents: no rounding anywhere (and at most a million, so totals stay exact)
      { name: 'price', type: 'number', onlyInt: true, min: 0, max: 100_000_000 },
      // min 0: a decrement that would go below zero fails inside the checkout's transaction
      { name: 'stock', type: 'number', onlyInt: true, min: 0 },
    ],
  },
  {
    name: 'cart_items',
    type: 'base',
    listRule: 'user = @request.auth.id',
    viewRule: 'user = @request.auth.id',
    // a line of one's own cart, at the product's current price (the price the buyer saw)
    createRule: '@request.auth.id != "" && user = @request.auth.id && price = product.price',
    // the quantity may change, and the price only to the current one; the line stays the owner's, for the same product
    updateRule:
      'user = @request.auth.id && @request.body.user:isset = false && @request.body.product:isset = false && ' +
      '(@request.body.price:isset = false || @request.body.price = product.price)',
    deleteRule: 'user = @request.auth.id',
    fields: [
      { name: 'user', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1, required: true, cascadeDelete: true },
      { name: 'product', type: 'relation', collectionId: 'products', maxSelect: 1, required: true, cascadeDelete: true },
      { name: 'quantity', type: 'number', onlyInt: true, min: 1, max: 100, required: true },
      { name: 'price', type: 'number', onlyInt: true, min: 0 },
    ],
    // one line per product: adding more is a PATCH of the quantity
    indexes: ['CREATE UNIQUE INDEX idx_cart_items_user_product ON cart_items (user, product)'],
  },
  {
    name: 'orders',
    type: 'base',
    listRule: 'user = @request.auth.id',
    viewRule: 'user = @request.auth.id',
    createRule: null,
    updateRule: null,
    deleteRule: null,
    fields: [
      { name: 'user', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1, required: true },
      { name: 'total', type: 'number', onlyInt: true, min: 0 },
      { name: 'status', type: 'select', values: ['placed', 'shipped', 'cancelled'], maxSelect: 1, required: true },
    ],
    indexes: ['CREATE INDEX idx_orders_user ON orders (user, created)'],
  },
  {
    name: 'order_lines',
    type: 'base',
    listRule: 'order.user = @request.auth.id',
    viewRule: 'order.user = @request.auth.id',
    createRule: null,
    updateRule: null,
    deleteRule: null,
    fields: [
      { name: 'order', type: 'relation', collectionId: 'orders', maxSelect: 1, required: true, cascadeDelete: true },
      // a product deleted later leaves the line (name and price are copied here)
      { name: 'product', type: 'relation', collectionId: 'products', maxSelect: 1 },
      { name: 'name', type: 'text', required: true, max: 200 },
      { name: 'price', type: 'number', onlyInt: true, min: 0 },
      { name: 'quantity', type: 'number', onlyInt: true, min: 1, required: true },
    ],
    indexes: ['CREATE INDEX idx_order_lines_order ON order_lines (`order`)'],
  },
];

/** What `node setup.mjs` adds to an empty shop. */
export const DEMO_PRODUCTS = [
  { name: 'Mainspring T-shirt', price: 1999, stock: 20 },
  { name: 'Sticker pack', price: 499, stock: 100 },
  { name: 'Limited poster', price: 2500, stock: 3 },
];

/** Creates or updates the collections, in order (relations name collections made before them); `token` is a superuser's. */
export function setupShop(url, token) {
  return applyCollections(url, token, COLLECTIONS);
}

/** Adds the demo products when the shop has none; returns how many it added. */
export async function addDemoProducts(url, token) {
  const list = await call(url, 'GET', '/api/collections/products/records?perPage=1', token);
  if (list.status !== 200) throw new Error(`products: ${list.status} ${JSON.stringify(list.body)}`);
  if (list.body.totalItems > 0) return 0;
  for (const p of DEMO_PRODUCTS) {
    const res = await call(url, 'POST', '/api/collections/products/records', token, p);
    if (res.status !== 200) throw new Error(`product ${p.name}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return DEMO_PRODUCTS.length;
}

if (isMain(import.meta.url)) {
  const { url, token } = await superuserFromArgs('setup.mjs');
  await setupShop(url, token);
  const added = await addDemoProducts(url, token);
  console.log(`products, cart_items, orders and order_lines are ready${added ? ` (${added} demo products added)` : ''}`);
}
