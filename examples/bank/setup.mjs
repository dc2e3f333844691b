// Creates the bank's collections on a Mainspring server, as a superuser.
//
//   node setup.mjs http://127.0.0.1:8091 admin@example.com admin-password-1
//
// Safe to re-run: an existing collection is updated to the definition below.

import { applyCollections, call, isMain, superuserFromArgs } from '../lib/setup.mjs';

/** The largest balance an account may hold: beyond 2^53 - 1 a float64 (and so JSON) no longer counts single units. */
export const MAX_BALANCE = Number.MAX_SAFE_INTEGER;

/**
 * accounts, transfers and ledger, and the balances view over them. Users read
 * only their own accounts, their own transfers and their accounts' ledger
 * entries and balances; nobody but a superuser
 * writes any of them over the REST API. Money moves only through the routes
 * in ms_hooks/bank.ts, which write the ledger in the same transaction.
 */
export const COLLECTIONS = [
  {
    name: 'accounts',
    type: 'base',
    listRule: 'owner = @request.auth.id',
    viewRule: 'owner = @request.auth.id',
    createRule: null,
    updateRule: null,
    deleteRule: null,
    fields: [
      { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1, required: true },
      { name: 'name', type: 'text', required: true, max: 100 },
      // integer minor units (cents); min 0: no write, however concurrent, leaves an account overdrawn
      { name: 'balance', type: 'number', onlyInt: true, min: 0, max: MAX_BALANCE },
    ],
    indexes: ['CREATE INDEX idx_accounts_owner ON accounts (owner)'],
  },
  {
    name: 'transfers',
    type: 'base',
    listRule: 'owner = @request.auth.id',
    viewRule: 'owner = @request.auth.id',
    createRule: null,
    updateRule: null,
    deleteRule: null,
    fields: [
      // who asked: the owner of `from`
      { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1, required: true },
      { name: 'from', type: 'relation', collectionId: 'accounts', maxSelect: 1, required: true },
      { name: 'to', type: 'relation', collectionId: 'accounts', maxSelect: 1, required: true },
      { name: 'amount', type: 'number', onlyInt: true, min: 1, max: MAX_BALANCE, required: true },
      // the client's Idempotency-Key: a transfer happens once per key and owner, whatever happens to the HTTP answer
      { name: 'key', type: 'text', required: true, max: 255 },
    ],
    indexes: [
      'CREATE UNIQUE INDEX idx_transfers_owner_key ON transfers (owner, `key`)',
      'CREATE INDEX idx_transfers_from ON transfers (`from`)',
    ],
  },
  {
    name: 'ledger',
    type: 'base',
    listRule: 'account.owner = @request.auth.id',
    viewRule: 'account.owner = @request.auth.id',
    createRule: null,
    updateRule: null,
    deleteRule: null,
    fields: [
      // required, without cascade: an account with history cannot be deleted
      { name: 'account', type: 'relation', collectionId: 'accounts', maxSelect: 1, required: true },
      { name: 'kind', type: 'select', values: ['opening', 'debit', 'credit'], maxSelect: 1, required: true },
      // signed: a debit is negative, so an account's balance is the sum of its entries
      { name: 'amount', type: 'number', onlyInt: true },
      // empty for an opening balance
      { name: 'transfer', type: 'relation', collectionId: 'transfers', maxSelect: 1 },
    ],
    indexes: ['CREATE INDEX idx_ledger_account ON ledger (account, created)', 'CREATE INDEX idx_ledger_transfer ON ledger (transfer)'],
  },
  {
    // a report, read like any collection: each account beside the sum and count of its ledger entries
    // (the two totals are always equal). A view collection: its records are the query's rows.
    name: 'balances',
    type: 'view',
    listRule: 'owner = @request.auth.id',
    viewRule: 'owner = @request.auth.id',
    viewQuery: `SELECT a.id AS id, a.owner AS owner, a.name AS name, a.balance AS balance,
  SUM(l.amount) AS ledger, COUNT(l.id) AS entries
FROM accounts a LEFT JOIN ledger l ON l.account = a.id
GROUP BY a.id, a.owner, a.name, a.balance`,
    fields: [],
  },
];

/** Creates or updates the collections, in order (relations name collections made before them); `token` is a superuser's. */
export function setupBank(url, token) {
  return applyCollections(url, token, COLLECTIONS);
}

/**
 * Opens an account through `POST /api/bank/accounts` (the route writes the
 * opening balance to the ledger too). With a superuser's token, for any
 * `owner` and with money in it; with a user's, an empty one of their own.
 */
export async function openAccount(url, token, { owner, name, opening = 0 }) {
  const res = await call(url, 'POST', '/api/bank/accounts', token, { owner, name, opening });
  if (res.status !== 200) throw new Error(`open account ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * Each account's net movement and number of ledger entries per month, from
 * the aggregate endpoint (`GET /api/ms/collections/ledger/aggregate`): it
 * groups only the entries the caller may list, so a user gets their own
 * accounts' months and a superuser everyone's. Rows come sorted by account,
 * then month: `{account, month: '2026-11', net, entries}`.
 */
export async function monthlyTotals(url, token) {
  const query = new URLSearchParams({
    groupBy: "account,strftime('%Y-%m', created) as month",
    fields: 'sum(amount) as net,count() as entries',
    sort: 'account,month',
    perPage: '1000',
  });
  const res = await call(url, 'GET', `/api/ms/collections/ledger/aggregate?${query}`, token);
  if (res.status !== 200) throw new Error(`monthly totals: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.items;
}

if (isMain(import.meta.url)) {
  const { url, token } = await superuserFromArgs('setup.mjs');
  await setupBank(url, token);
  console.log('accounts, transfers, ledger and balances are ready');
}
