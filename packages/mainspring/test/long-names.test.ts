import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { App } from '../src/core/app.js';
import { buildServer } from '../src/http/server.js';
import { clipBytes, MAX_NAME_BYTES, storedName } from '../src/storage/postgres/dialect.js';
import { freshDatabase, requester, startServer, superuserToken, TEST_POSTGRES_URL, type TestServer } from './helpers/server.js';

/**
 * Names up to 100 characters, on every engine. PostgreSQL keeps only 63
 * bytes of a name and drops the rest without a word, so two long field names
 * that begin alike were one column there (a 500 on create). Each case below
 * uses names whose first 70 characters are the same.
 */

let s: TestServer;
let su: string;
const SAME = 'x'.repeat(70);
const COLL = `c${SAME}_items`;
const OTHER = `c${SAME}_owners`;
const A = `${SAME}_alpha`;
const B = `${SAME}_beta`;
const REL = `${SAME}_owner`;
const tags = (n: number) => `${SAME}_tags${n}`;

const ok = async (method: string, path: string, body?: unknown) => {
  const res = await s.request(method, path, { token: su, body });
  expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(200);
  return res.body;
};

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  const owners = await ok('POST', '/api/collections', { name: OTHER, type: 'base', fields: [{ name: A, type: 'text' }] });
  await ok('POST', '/api/collections', {
    name: COLL,
    type: 'base',
    fields: [
      { name: A, type: 'text' },
      { name: B, type: 'number' },
      { name: REL, type: 'relation', collectionId: owners.id, maxSelect: 1 },
      { name: tags(1), type: 'select', values: ['red', 'blue'], maxSelect: 2 },
      { name: tags(2), type: 'select', values: ['red', 'blue'], maxSelect: 2 },
    ],
    indexes: [`CREATE UNIQUE INDEX idx_${SAME}_one ON ${COLL} (${A})`, `CREATE INDEX idx_${SAME}_two ON ${COLL} (${B})`],
  });
});
afterAll(() => s?.close());

test('two long fields that begin alike are two columns: each keeps its own value', async () => {
  const owner = await ok('POST', `/api/collections/${OTHER}/records`, { [A]: 'ann' });
  const made = await ok('POST', `/api/collections/${COLL}/records`, {
    [A]: 'first',
    [B]: 5,
    [REL]: owner.id,
    [tags(1)]: ['red'],
    [tags(2)]: ['blue'],
  });
  expect(made).toMatchObject({ [A]: 'first', [B]: 5, [REL]: owner.id, [tags(1)]: ['red'], [tags(2)]: ['blue'] });
  await ok('POST', `/api/collections/${COLL}/records`, { [A]: 'second', [B]: 7 });

  const q = (params: Record<string, string>) => `/api/collections/${COLL}/records?${new URLSearchParams(params)}`;
  const list = await ok('GET', q({ filter: `${B} > 6 || ${tags(2)}:each ?= "blue"`, sort: `-${B}`, expand: REL }));
  expect(list.items.map((r: Record<string, unknown>) => r[A])).toEqual(['second', 'first']);
  expect(list.items[1].expand[REL][A]).toBe('ann');
  const each = await ok('GET', q({ filter: `${tags(1)}:each = "red" && ${REL}.${A} = "ann"`, sort: `${REL}.${A},-${B}` }));
  expect(each.items.map((r: Record<string, unknown>) => r[A])).toEqual(['first']);

  const updated = await ok('PATCH', `/api/collections/${COLL}/records/${made.id}`, { [`${B}+`]: 1 });
  expect(updated[B]).toBe(6);
});

test('a unique index over a long field name names that field when it is broken', async () => {
  const res = await s.request('POST', `/api/collections/${COLL}/records`, { token: su, body: { [A]: 'unique-one' } });
  expect(res.status).toBe(200);
  const again = await s.request('POST', `/api/collections/${COLL}/records`, { token: su, body: { [A]: 'unique-one' } });
  expect(again.status).toBe(400);
  expect(Object.keys(again.body.data)).toEqual([A]);
  expect(again.body.data[A].code).toBe('validation_not_unique');
});

test('long names can be renamed, dropped and added again, and the collection deleted', async () => {
  const c = await ok('GET', `/api/collections/${COLL}`);
  const fields = c.fields
    .map((f: { name: string }) => (f.name === B ? { ...f, name: `${SAME}_gamma` } : f))
    .filter((f: { name: string }) => f.name !== tags(2));
  const renamed = await ok('PATCH', `/api/collections/${COLL}`, { fields: [...fields, { name: tags(3), type: 'text' }] });
  expect(renamed.fields.map((f: { name: string }) => f.name)).toContain(`${SAME}_gamma`);
  const rows = await ok('GET', `/api/collections/${COLL}/records?sort=${SAME}_gamma&filter=${encodeURIComponent(`${SAME}_gamma >= 6`)}`);
  expect(rows.items.map((r: Record<string, unknown>) => r[`${SAME}_gamma`])).toEqual([6, 7]);
  expect(rows.items[0][tags(3)]).toBe('');
  const res = await s.request('DELETE', `/api/collections/${COLL}`, { token: su });
  expect(res.status).toBe(204);
});

test('an auth record with a long field answers it when signing in', async () => {
  const nick = `${SAME}_nickname`;
  await ok('POST', '/api/collections', { name: `m${SAME}`, type: 'auth', fields: [{ name: nick, type: 'text' }] });
  const password = 'long-names-password';
  await ok('POST', `/api/collections/m${SAME}/records`, { email: 'long@example.com', password, passwordConfirm: password, [nick]: 'Ann' });
  const signed = await s.request('POST', `/api/collections/m${SAME}/auth-with-password`, {
    body: { identity: 'long@example.com', password },
  });
  expect(signed.status, JSON.stringify(signed.body)).toBe(200);
  expect(signed.body.record[nick]).toBe('Ann');
  const refreshed = await s.request('POST', `/api/collections/m${SAME}/auth-refresh`, { token: signed.body.token });
  expect(refreshed.status).toBe(200);
  expect(refreshed.body.record[nick]).toBe('Ann');
});

test('PostgreSQL names are clipped to bytes between characters, never inside one', () => {
  expect(clipBytes('a'.repeat(70), MAX_NAME_BYTES)).toBe('a'.repeat(63));
  // é is 2 bytes: 31 of them are 62 bytes, a 32nd would be 64
  expect(clipBytes('é'.repeat(40), MAX_NAME_BYTES)).toBe('é'.repeat(31));
  // a 4-byte character (two UTF-16 units) is kept whole or not at all
  expect(clipBytes(`${'a'.repeat(61)}😀b`, MAX_NAME_BYTES)).toBe('a'.repeat(61));
  expect(clipBytes('short', MAX_NAME_BYTES)).toBe('short');
  const stored = storedName(`${'é'.repeat(40)}_x`);
  expect(Buffer.byteLength(stored)).toBeLessThanOrEqual(MAX_NAME_BYTES);
  expect(stored).toBe(`${'é'.repeat(27)}_${stored.slice(-8)}`);
});

describe.runIf(TEST_POSTGRES_URL)('a PostgreSQL database made before long names were kept whole', () => {
  test('its tables, columns and indexes cut at 63 bytes take their new names on start, and the records read back', async () => {
    const db = await freshDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'ms-long-'));
    const open = async () => {
      const app = await App.open({ dataDir: dir, databaseUrl: db.url, logger: pino({ level: 'silent' }) });
      const server = await buildServer(app, { accessLog: false });
      await server.listen({ host: '127.0.0.1', port: 0 });
      const address = server.server.address();
      const request = requester(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
      const close = async () => {
        await server.close();
        await app.close();
      };
      return { app, request, close };
    };
    const cut = (name: string) => name.slice(0, 63);
    const field = `${SAME}_only`;
    const index = `idx_${SAME}_only`;
    try {
      const first = await open();
      const token = await superuserToken({ request: first.request, app: first.app } as TestServer);
      const made = await first.request('POST', '/api/collections', {
        token,
        body: {
          name: COLL,
          type: 'base',
          listRule: '',
          fields: [{ name: field, type: 'text' }],
          indexes: [`CREATE UNIQUE INDEX ${index} ON ${COLL} (${field})`],
        },
      });
      expect(made.status, JSON.stringify(made.body)).toBe(200);
      expect((await first.request('POST', `/api/collections/${COLL}/records`, { token, body: { [field]: 'kept' } })).status).toBe(200);
      // as an earlier version left it: every long name cut at 63 bytes, and this migration not yet run
      const d = first.app.engine.dialect;
      await first.app.engine.run(`ALTER TABLE ${d.ident(COLL)} RENAME COLUMN ${d.ident(field)} TO "${cut(field)}"`);
      await first.app.engine.run(`ALTER INDEX ${d.ident(index)} RENAME TO "${cut(index)}"`);
      await first.app.engine.run(`ALTER TABLE ${d.ident(COLL)} RENAME TO "${cut(COLL)}"`);
      await first.app.engine.run(`DELETE FROM _migrations WHERE file = '0011_long_names'`);
      await first.close();

      const second = await open();
      try {
        const list = await second.request('GET', `/api/collections/${COLL}/records?filter=${encodeURIComponent(`${field} = "kept"`)}`);
        expect(list.status, JSON.stringify(list.body)).toBe(200);
        expect(list.body.items.map((r: Record<string, unknown>) => r[field])).toEqual(['kept']);
        const token2 = await superuserToken({ request: second.request, app: second.app } as TestServer);
        const again = await second.request('POST', `/api/collections/${COLL}/records`, { token: token2, body: { [field]: 'kept' } });
        expect(again.status).toBe(400);
        expect(Object.keys(again.body.data)).toEqual([field]);
      } finally {
        await second.close();
      }
    } finally {
      await db.drop();
    }
  });
});
