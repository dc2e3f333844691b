import type { Dialect, Executor } from '../../storage/engine.js';

/**
 * Where passkeys live: two tables of Mainspring's own (not collections: the
 * public keys and counters are the server's business, and the routes under
 * `/api/ms/passkeys` are the only way to them).
 *
 * - `_ms_passkeys`: one row per registered credential, owned by one auth
 *   record (`collection_ref`, `record_ref`); `credential_id` is unique.
 * - `_ms_passkey_challenges`: each challenge handed out and not yet used,
 *   with what it is for and whom, until it expires. In the database, so an
 *   instance may verify what another one issued (PostgreSQL).
 */
export const PASSKEYS_TABLE = '_ms_passkeys';
export const PASSKEY_CHALLENGES_TABLE = '_ms_passkey_challenges';

/** The migration's statements: both tables and their indexes. */
export function passkeyTablesDDL(d: Dialect): string[] {
  const text = (name: string) => ({ name, kind: 'text' as const });
  const num = (name: string) => ({ name, kind: 'number' as const });
  return [
    d.createTable(PASSKEYS_TABLE, [
      { name: 'id', kind: 'text', primaryKey: true },
      text('collection_ref'),
      text('record_ref'),
      text('credential_id'),
      text('public_key'),
      num('counter'),
      text('transports'),
      text('device_type'),
      num('backed_up'),
      text('aaguid'),
      text('name'),
      num('created'),
      num('last_used'),
    ]),
    d.createIndex({ name: 'idx__ms_passkeys_credential', table: PASSKEYS_TABLE, unique: true, columns: [{ name: 'credential_id' }] }),
    d.createIndex({
      name: 'idx__ms_passkeys_record',
      table: PASSKEYS_TABLE,
      unique: false,
      columns: [{ name: 'collection_ref' }, { name: 'record_ref' }],
    }),
    d.createTable(PASSKEY_CHALLENGES_TABLE, [
      { name: 'challenge', kind: 'text', primaryKey: true },
      text('purpose'),
      text('collection_ref'),
      text('record_ref'),
      num('expires'),
    ]),
    d.createIndex({
      name: 'idx__ms_passkey_challenges_expires',
      table: PASSKEY_CHALLENGES_TABLE,
      unique: false,
      columns: [{ name: 'expires' }],
    }),
  ];
}

/** An auth record's passkeys go with it, in its delete's transaction. */
export async function deleteRecordPasskeys(tx: Executor, collectionId: string, recordId: string): Promise<void> {
  await tx.run(`DELETE FROM ${PASSKEYS_TABLE} WHERE collection_ref = $1 AND record_ref = $2`, [collectionId, recordId]);
  await tx.run(`DELETE FROM ${PASSKEY_CHALLENGES_TABLE} WHERE collection_ref = $1 AND record_ref = $2`, [collectionId, recordId]);
}

/** A deleted auth collection's passkeys and challenges go with it. */
export async function deleteCollectionPasskeys(tx: Executor, collectionId: string): Promise<void> {
  await tx.run(`DELETE FROM ${PASSKEYS_TABLE} WHERE collection_ref = $1`, [collectionId]);
  await tx.run(`DELETE FROM ${PASSKEY_CHALLENGES_TABLE} WHERE collection_ref = $1`, [collectionId]);
}
