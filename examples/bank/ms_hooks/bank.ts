import type { Mainspring, RecordOut, RouteEvent } from 'mainspring';

/**
 * The bank's money movements, each one transaction that also writes the
 * double-entry ledger, so every balance equals the sum of its entries:
 *
 * - `POST /api/bank/accounts` opens an account, its opening balance the
 *   first ledger entry (superusers open any account with money in it,
 *   users an empty one of their own);
 * - `POST /api/bank/transfer` moves money between two accounts: one debit,
 *   one credit, exactly once per `Idempotency-Key`.
 */

/** The most one transfer moves: ten billion in minor units; far below 2^53, so sums of balances stay exact. */
export const MAX_TRANSFER = 1_000_000_000_000;
/** The largest balance (the accounts.balance field's max). */
const MAX_BALANCE = Number.MAX_SAFE_INTEGER;

interface Account {
  id: string;
  owner: string;
  balance: number;
}

type Body = Record<string, unknown>;

export default (ms: Mainspring) => {
  /** A 400 naming one field, in PocketBase's shape. */
  const invalid = (field: string, code: string, message: string) =>
    new ms.BadRequestError('Failed to make the transfer.', { [field]: { code, message } });

  const bodyOf = (e: RouteEvent): Body => {
    if (typeof e.body !== 'object' || e.body === null || Array.isArray(e.body)) {
      throw new ms.BadRequestError('Send a JSON object.');
    }
    return e.body as Body;
  };

  /** An amount of minor units: a JSON number that is a whole, safe integer within the bounds. Strings and floats are refused, not converted. */
  const amountOf = (body: Body, field: string, min: number, max: number): number => {
    const v = body[field];
    if (v === undefined || v === null) throw invalid(field, 'validation_required', 'Missing required value.');
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      throw invalid(field, 'validation_invalid_amount', `Must be a whole number of minor units from ${min} to ${max}.`);
    }
    return v;
  };

  const idOf = (body: Body, field: string): string => {
    const v = body[field];
    if (v === undefined || v === null || v === '') throw invalid(field, 'validation_required', 'Missing required value.');
    if (typeof v !== 'string' || v.length > 100) throw invalid(field, 'validation_invalid_value', 'Must be an account id.');
    return v;
  };

  ms.routerAdd(
    'POST',
    '/api/bank/accounts',
    async (e) => {
      const body = bodyOf(e);
      const superuser = e.auth!.collection.name === '_superusers';
      const owner = superuser ? idOf(body, 'owner') : e.auth!.record.id;
      if (!superuser && body.owner !== undefined && body.owner !== owner) {
        throw new ms.ForbiddenError('You may open accounts only for yourself.');
      }
      const opening = body.opening === undefined ? 0 : amountOf(body, 'opening', 0, MAX_BALANCE);
      if (!superuser && opening !== 0) throw new ms.ForbiddenError('Only the bank opens an account with money in it.');
      return e.runInTransaction(async (tx) => {
        // the fields' own validation (owner exists, name given) answers 400 naming the field
        const account = await tx.create('accounts', { owner, name: body.name, balance: opening });
        await tx.create('ledger', { account: account.id, kind: 'opening', amount: opening });
        return account;
      });
    },
    ms.requireAuth('users', '_superusers'),
  );

  ms.routerAdd(
    'POST',
    '/api/bank/transfer',
    async (e) => {
      const owner = e.auth!.record.id;
      // the HTTP layer has checked its form (1 to 255 printable ASCII characters) when it is there
      const key = e.request.headers['idempotency-key'];
      if (typeof key !== 'string' || key === '') {
        throw new ms.BadRequestError('A transfer needs an Idempotency-Key header: a new unique value per transfer, the same on retries.', {
          idempotencyKey: { code: 'validation_required', message: 'Missing Idempotency-Key header.' },
        });
      }
      const body = bodyOf(e);
      const from = idOf(body, 'from');
      const to = idOf(body, 'to');
      const amount = amountOf(body, 'amount', 1, MAX_TRANSFER);
      if (from === to) throw invalid('to', 'validation_same_account', 'Must be another account than "from".');

      /** The transfer made under this key before, if any; a 422 when it was for another request. */
      const earlier = async (): Promise<RecordOut | null> => {
        const done = await ms.records.findFirst('transfers', 'owner = {:owner} && key = {:key}', { owner, key });
        if (done && (done.from !== from || done.to !== to || done.amount !== amount)) {
          throw new ms.ApiError(
            422,
            'idempotency_key_reused',
            'This Idempotency-Key was used with another request; use a new key for a new request.',
          );
        }
        return done;
      };
      const repeat = await earlier();
      if (repeat) return repeat;

      try {
        // On PostgreSQL this body may run again after a serialization failure: it touches only the database.
        return await e.runInTransaction(async (tx) => {
          const source = (await tx.findById('accounts', from)) as (RecordOut & Account) | null;
          // someone else's account and no account answer the same
          if (!source || source.owner !== owner) {
            throw new ms.NotFoundError("The requested resource wasn't found.", {
              from: { code: 'not_found', message: 'You have no account with this id.' },
            });
          }
          const target = (await tx.findById('accounts', to)) as (RecordOut & Account) | null;
          if (!target) {
            throw new ms.NotFoundError("The requested resource wasn't found.", {
              to: { code: 'not_found', message: 'There is no account with this id.' },
            });
          }
          const insufficient = () =>
            new ms.ConflictError('Insufficient funds.', {
              amount: {
                code: 'insufficient_funds',
                message: 'The account holds less than this amount.',
                params: { balance: source.balance },
              },
            });
          if (source.balance < amount) throw insufficient();
          if (target.balance > MAX_BALANCE - amount) {
            throw new ms.ConflictError('The receiving account cannot hold this much.', {
              to: { code: 'balance_too_large', message: 'The receiving account cannot take this amount.' },
            });
          }

          // The transfer is written before any money moves: its unique (owner, key) index claims the key in this same
          // transaction, so even when the process dies after the commit and before the HTTP layer stored its
          // answer, a retry finds the transfer instead of moving the money again. (Looking the key up here
          // instead would also work, but on PostgreSQL that read of an index gap conflicts with every other
          // transfer of the same owner and makes most of them run twice.)
          const transfer = await tx.create('transfers', { owner, from, to, amount, key });

          // Both rows change in one order (by id) whichever way the money goes: two opposite transfers between the
          // same accounts never each hold one row while waiting for the other (a deadlock on PostgreSQL).
          const moves: [string, Body][] = [
            [from, { 'balance-': amount }],
            [to, { 'balance+': amount }],
          ];
          moves.sort((a, b) => (a[0] < b[0] ? -1 : 1));
          for (const [id, change] of moves) {
            try {
              // applied to the row as it is inside this transaction; the field's min 0 and max hold whatever runs beside it
              await tx.update('accounts', id, change);
            } catch (err) {
              if (err instanceof ms.ApiError && err.status === 400 && 'balance' in err.data) throw insufficient();
              throw err;
            }
          }
          await tx.create('ledger', { account: from, kind: 'debit', amount: -amount, transfer: transfer.id });
          await tx.create('ledger', { account: to, kind: 'credit', amount, transfer: transfer.id });
          return transfer;
        });
      } catch (err) {
        // A request with the same key that ran beside this one committed first (this one then failed on the
        // key's unique index, or found the money already gone): answer what it did.
        if (err instanceof ms.ApiError && err.status < 500) {
          const done = await earlier();
          if (done) return done;
        }
        throw err;
      }
    },
    ms.requireAuth('users'),
  );
};
