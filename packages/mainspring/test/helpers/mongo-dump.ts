import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hash } from '@node-rs/bcrypt';
import { BSON, Decimal128, type Document, EJSON, ObjectId } from 'bson';

/**
 * MongoDB dumps made with the bson package, as mongodump and mongoexport
 * write them (no MongoDB server is needed): `<collection>.bson` (documents
 * one after another) beside `<collection>.metadata.json` (canonical
 * Extended JSON of its indexes), or `<collection>.json` lines.
 */

/** Writes a mongodump folder: each collection's documents as BSON, and its indexes' metadata. */
export function writeBsonDump(dir: string, collections: Record<string, { docs: Document[]; indexes?: Document[] }>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, { docs, indexes = [] }] of Object.entries(collections)) {
    writeFileSync(join(dir, `${name}.bson`), Buffer.concat(docs.map((d) => BSON.serialize(d))));
    const metadata = {
      indexes: [{ v: 2, key: { _id: 1 }, name: '_id_' }, ...indexes],
      uuid: '0123456789abcdef0123456789abcdef',
      collectionName: name,
      type: 'collection',
    };
    writeFileSync(join(dir, `${name}.metadata.json`), EJSON.stringify(metadata, { relaxed: false }));
  }
}

/** Writes mongoexport files: one document per line (canonical or relaxed), or one array (`--jsonArray`). */
export function writeJsonExport(dir: string, name: string, docs: Document[], form: 'canonical' | 'relaxed' | 'array'): void {
  mkdirSync(dir, { recursive: true });
  const relaxed = form !== 'canonical';
  const text =
    form === 'array'
      ? `[${docs.map((d) => EJSON.stringify(d, { relaxed })).join(',\n')}]`
      : `${docs.map((d) => EJSON.stringify(d, { relaxed })).join('\n')}\n`;
  writeFileSync(join(dir, `${name}.json`), text);
}

/** The shop's people, with the passwords their hashes were made from. */
export const SHOP_USERS = [
  { email: 'ann@example.com', password: 'ann-password-1', prefix: '$2b$' },
  // bcryptjs and PHP write $2a$ and $2y$: the same algorithm as $2b$ for passwords like these
  { email: 'Bob@Example.com', password: 'bob-password-1', prefix: '$2a$' },
  { email: 'cat@example.com', password: 'cat-password-1', prefix: '$2y$' },
];

/** ObjectIds of the shop, fixed so the tests can name documents. */
export const SHOP_IDS = {
  users: ['650000000000000000000001', '650000000000000000000002', '650000000000000000000003', '650000000000000000000004'],
  products: ['660000000000000000000001', '660000000000000000000002', '660000000000000000000003'],
  orders: ['670000000000000000000001', '670000000000000000000002', '670000000000000000000003'],
  /** A user no document of the dump is: an order of a deleted account names it. */
  gone: '650000000000000000000099',
};

/**
 * A small shop as a Node.js + Express + Mongoose app keeps it: users (bcrypt
 * hashes of three kinds, and one SHA-1 hash from an older system), products
 * (a unique SKU), orders naming both.
 */
export async function shop(): Promise<Record<string, { docs: Document[]; indexes?: Document[] }>> {
  const oid = (hex: string) => new ObjectId(hex);
  const users: Document[] = [];
  for (const [i, u] of SHOP_USERS.entries()) {
    const hashed = await hash(u.password, 4);
    users.push({
      _id: oid(SHOP_IDS.users[i] as string),
      email: u.email,
      password: `${u.prefix}${hashed.slice(4)}`,
      name: `User ${i + 1}`,
      roles: i === 0 ? ['admin', 'customer'] : ['customer'],
      address: { city: 'Lyon', zip: `6900${i}` },
      createdAt: new Date(Date.UTC(2023, 0, 2 + i, 3, 4, 5)),
      updatedAt: new Date(Date.UTC(2023, 5, 2 + i, 3, 4, 5)),
      __v: 0,
    });
  }
  users.push({
    _id: oid(SHOP_IDS.users[3] as string),
    email: 'dan@example.com',
    password: 'sha1$5f4dcc3b5aa765d61d8327deb882cf99',
    name: 'User 4',
    roles: ['customer'],
    address: { city: 'Paris', zip: '75001' },
    createdAt: new Date(Date.UTC(2023, 0, 9)),
    updatedAt: new Date(Date.UTC(2023, 0, 9)),
    __v: 0,
  });
  const products: Document[] = [
    {
      _id: oid(SHOP_IDS.products[0] as string),
      sku: 'MUG-1',
      name: 'Mug',
      price: 12.5,
      stock: 40,
      active: true,
      tags: ['kitchen', 'gift'],
    },
    { _id: oid(SHOP_IDS.products[1] as string), sku: 'TEE-2', name: 'T-shirt', price: 20, stock: 0, active: false, tags: ['clothes'] },
    {
      _id: oid(SHOP_IDS.products[2] as string),
      sku: 'PEN-3',
      name: 'Pen',
      price: 1.25,
      stock: 500,
      active: true,
      tags: ['office', 'gift'],
    },
  ];
  const orders: Document[] = [
    {
      _id: oid(SHOP_IDS.orders[0] as string),
      user: oid(SHOP_IDS.users[0] as string),
      products: [oid(SHOP_IDS.products[0] as string), oid(SHOP_IDS.products[2] as string)],
      items: [
        { product: oid(SHOP_IDS.products[0] as string), qty: 2 },
        { product: oid(SHOP_IDS.products[2] as string), qty: 10 },
      ],
      total: Decimal128.fromString('37.50'),
      status: 'paid',
      placedAt: new Date(Date.UTC(2024, 2, 1, 10, 0, 0)),
    },
    {
      _id: oid(SHOP_IDS.orders[1] as string),
      user: oid(SHOP_IDS.users[1] as string),
      products: [oid(SHOP_IDS.products[1] as string)],
      items: [{ product: oid(SHOP_IDS.products[1] as string), qty: 1 }],
      total: Decimal128.fromString('20.00'),
      status: 'shipped',
      placedAt: new Date(Date.UTC(2024, 2, 2, 11, 30, 0)),
    },
    {
      _id: oid(SHOP_IDS.orders[2] as string),
      user: oid(SHOP_IDS.gone),
      products: [oid(SHOP_IDS.products[2] as string)],
      items: [{ product: oid(SHOP_IDS.products[2] as string), qty: 1 }],
      total: Decimal128.fromString('1.25'),
      status: 'cancelled',
      placedAt: new Date(Date.UTC(2024, 2, 3, 9, 15, 0)),
    },
  ];
  return {
    users: { docs: users, indexes: [{ v: 2, key: { email: 1 }, name: 'email_1', unique: true }] },
    products: { docs: products, indexes: [{ v: 2, key: { sku: 1 }, name: 'sku_1', unique: true }] },
    orders: { docs: orders, indexes: [{ v: 2, key: { user: 1, placedAt: -1 }, name: 'user_1_placedAt_-1' }] },
  };
}
