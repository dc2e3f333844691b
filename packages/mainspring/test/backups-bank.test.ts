import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
// @ts-expect-error the example's setup is plain JavaScript
import { openAccount, setupBank } from '../../../examples/bank/setup.mjs';
import { type Served, serveProcess, superuserOf, withSuperuser } from './helpers/crash.js';
import { freshDatabase } from './helpers/server.js';
import { eventually } from './helpers/uploads.js';

/**
 * The bank example backed up while 200 clients move money, then restored:
 * every transfer answered before the backup began is there, none answered
 * after it is, each balance equals its ledger, each transfer has its debit
 * and its credit, and the total is what the accounts opened with. On a real
 * `serve` process, so the restore's restart is the one users get.
 */

const HOOKS = join(dirname(fileURLToPath(import.meta.url)), '../../../examples/bank/ms_hooks');
const ACCOUNTS = 10;
const OPENING = 1_000_000;
let dir = '';
let drop: () => Promise<void> = async () => {};
let s: Served;
let su = '';

async function all(collection: string): Promise<Record<string, any>[]> {
  const out: Record<string, any>[] = [];
  for (let page = 1; ; page++) {
    const res = await s.request('GET', `/api/collections/${collection}/records?perPage=1000&page=${page}&skipTotal=1`, { token: su });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    out.push(...res.body.items);
    if (res.body.items.length < 1000) return out;
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ms-backup-bank-'));
  const db = await freshDatabase();
  drop = db.drop;
  await withSuperuser(dir, db.url);
  s = await serveProcess({ dir, databaseUrl: db.url, hooksDir: HOOKS });
  su = await superuserOf(s);
  await setupBank(s.url, su);
}, 120_000);

afterAll(async () => {
  await s?.kill();
  await drop();
  rmSync(dir, { recursive: true, force: true });
});

test('a backup made while 200 clients transfer restores to a whole ledger holding every transfer answered before it', async () => {
  const owners: { token: string; account: string }[] = [];
  for (let i = 0; i < ACCOUNTS; i++) {
    const email = `saver${i}@example.com`;
    const made = await s.request('POST', '/api/collections/users/records', {
      body: { email, password: 'saver-password-1', passwordConfirm: 'saver-password-1' },
    });
    expect(made.status).toBe(200);
    const signed = await s.request('POST', '/api/collections/users/auth-with-password', {
      body: { identity: email, password: 'saver-password-1' },
    });
    owners.push({
      token: signed.body.token,
      account: (await openAccount(s.url, su, { owner: made.body.id, name: 'Current', opening: OPENING })).id,
    });
  }
  let stop = false;
  let n = 0;
  const answered: string[] = [];
  const client = async (c: number) => {
    while (!stop) {
      const from = owners[c % ACCOUNTS] as { token: string; account: string };
      const to = owners[(c + 1 + (n % (ACCOUNTS - 1))) % ACCOUNTS] as { token: string; account: string };
      const res = await s.request('POST', '/api/bank/transfer', {
        token: from.token,
        body: { from: from.account, to: to.account, amount: 1 + (++n % 7) },
        headers: { 'idempotency-key': `backup-${c}-${n}` },
      });
      if (res.status === 200) answered.push(res.body.id);
    }
  };
  const clients = Array.from({ length: 200 }, (_, c) => client(c));
  await eventually(() => expect(answered.length).toBeGreaterThan(100), 60_000);
  const before = [...answered];
  expect((await s.request('POST', '/api/backups', { token: su, body: { name: 'bank.zip' } })).status).toBe(204);
  await eventually(() => expect(answered.length).toBeGreaterThan(before.length + 20), 60_000);
  stop = true;
  await Promise.all(clients);
  const after = answered.at(-1) as string;

  expect((await s.request('POST', '/api/backups/bank.zip/restore', { token: su })).status).toBe(204);
  // the last transfer was answered after the backup was made: gone once the restore has taken effect
  await eventually(
    async () => expect((await s.request('GET', `/api/collections/transfers/records/${after}`, { token: su })).status).toBe(404),
    60_000,
  );

  const transfers = new Set((await all('transfers')).map((t) => t.id));
  for (const id of before) expect(transfers.has(id), id).toBe(true);
  const accounts = await all('accounts');
  const entries = await all('ledger');
  const sums = new Map<string, number>();
  for (const e of entries) sums.set(e.account, (sums.get(e.account) ?? 0) + e.amount);
  for (const a of accounts) expect({ account: a.id, balance: a.balance }).toEqual({ account: a.id, balance: sums.get(a.id) ?? 0 });
  const byTransfer = new Map<string, number[]>();
  for (const e of entries) if (e.transfer) byTransfer.set(e.transfer, [...(byTransfer.get(e.transfer) ?? []), e.amount]);
  for (const t of await all('transfers')) expect(byTransfer.get(t.id)?.sort((a, b) => a - b)).toEqual([-t.amount, t.amount]);
  expect(accounts.reduce((sum, a) => sum + a.balance, 0)).toBe(ACCOUNTS * OPENING);
}, 300_000);
