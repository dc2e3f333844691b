import type { Dialect, Executor } from '../../storage/engine.js';
import { type ErrorData, fieldError } from '../errors.js';
import type { RecordData } from '../rules/request-info.js';
import type { Collection } from './model.js';
import type { CollectionRegistry } from './registry.js';

/**
 * PocketBase's system collections of the auth flows, whose records each
 * belong to one auth record (`collectionRef` + `recordRef`): MFA sessions,
 * one-time passwords, linked OAuth2 accounts and the devices a record signed
 * in from. Real collections, listable through the records API under their
 * owner rules, written by the auth flows with direct SQL (see the services
 * in `core/auth/`), and emptied with the auth record or collection they
 * point at.
 */

/** MFA sessions: a first factor passed, waiting for a second. */
export const MFAS = '_mfas';
/** One-time passwords sent by mail; the code is kept as a bcrypt hash in the hidden `password` field. */
export const OTPS = '_otps';
/** OAuth2 accounts linked to auth records (written once OAuth2 sign-in exists). */
export const EXTERNAL_AUTHS = '_externalAuths';
/** Where each auth record has signed in from: the login alerts' fingerprints. */
export const AUTH_ORIGINS = '_authOrigins';

/** The system collections whose records point at an auth record, in PocketBase's order of creation. */
export const AUTH_REF_COLLECTIONS: readonly string[] = [MFAS, OTPS, EXTERNAL_AUTHS, AUTH_ORIGINS];

/** The OAuth2 provider names PocketBase knows: the values `_externalAuths.provider` may take. */
export const OAUTH2_PROVIDERS: readonly string[] = [
  'apple',
  'bitbucket',
  'box',
  'discord',
  'facebook',
  'gitea',
  'gitee',
  'github',
  'gitlab',
  'google',
  'instagram2',
  'kakao',
  'lark',
  'linear',
  'livechat',
  'mailcow',
  'microsoft',
  'monday',
  'notion',
  'oidc',
  'oidc2',
  'oidc3',
  'patreon',
  'planningcenter',
  'spotify',
  'strava',
  'trakt',
  'twitch',
  'twitter',
  'vk',
  'wakatime',
  'yandex',
];

/** PocketBase's list/view (and, where it allows one, delete) rule of these collections: the owner only. */
const OWNER_RULE = "@request.auth.id != '' && recordRef = @request.auth.id && collectionRef = @request.auth.collectionId";

const text = (name: string, options: Record<string, unknown> = {}) => ({ name, type: 'text', system: true, required: true, ...options });
const autodates = [
  { name: 'created', type: 'autodate', system: true, onCreate: true, onUpdate: false },
  { name: 'updated', type: 'autodate', system: true, onCreate: true, onUpdate: true },
];

/**
 * The four collections as PocketBase's first migration defines them (fields,
 * hidden flags, rules, indexes), as collection JSON for the system migration
 * that creates them.
 */
export function authRefCollectionInputs(): Record<string, unknown>[] {
  const refs = [text('collectionRef'), text('recordRef')];
  return [
    {
      name: MFAS,
      listRule: OWNER_RULE,
      viewRule: OWNER_RULE,
      fields: [...refs, text('method'), ...autodates],
      indexes: [`CREATE INDEX idx_mfas_collectionRef_recordRef ON ${MFAS} (collectionRef, recordRef)`],
    },
    {
      name: OTPS,
      listRule: OWNER_RULE,
      viewRule: OWNER_RULE,
      fields: [
        ...refs,
        // a low cost, as PocketBase's: the code lives minutes and a sign-in waits for its check
        { name: 'password', type: 'password', system: true, hidden: true, required: true, min: 0, max: 0, cost: 8 },
        text('sentTo', { hidden: true, required: false }),
        ...autodates,
      ],
      indexes: [`CREATE INDEX idx_otps_collectionRef_recordRef ON ${OTPS} (collectionRef, recordRef)`],
    },
    {
      name: EXTERNAL_AUTHS,
      listRule: OWNER_RULE,
      viewRule: OWNER_RULE,
      deleteRule: OWNER_RULE,
      fields: [...refs, text('provider'), text('providerId'), ...autodates],
      indexes: [
        `CREATE UNIQUE INDEX idx_externalAuths_record_provider ON ${EXTERNAL_AUTHS} (collectionRef, recordRef, provider)`,
        `CREATE UNIQUE INDEX idx_externalAuths_collection_provider ON ${EXTERNAL_AUTHS} (collectionRef, provider, providerId)`,
      ],
    },
    {
      name: AUTH_ORIGINS,
      listRule: OWNER_RULE,
      viewRule: OWNER_RULE,
      deleteRule: OWNER_RULE,
      fields: [...refs, text('fingerprint'), ...autodates],
      indexes: [`CREATE UNIQUE INDEX idx_authOrigins_unique_pairs ON ${AUTH_ORIGINS} (collectionRef, recordRef, fingerprint)`],
    },
  ];
}

/** Whether `c` is one of the system collections whose records point at an auth record. */
export function isAuthRefCollection(c: Collection): boolean {
  return c.system && AUTH_REF_COLLECTIONS.includes(c.name);
}

/**
 * PocketBase's validation of a record of these collections, on every write
 * through the records API or server code: `collectionRef` must be the id of
 * an auth collection and `recordRef` a record of it; an external auth's
 * `provider` must be one PocketBase knows. Adds the errors to `errors`.
 */
export async function checkAuthRefs(
  db: Executor,
  d: Dialect,
  registry: CollectionRegistry,
  c: Collection,
  data: RecordData,
  errors: ErrorData,
): Promise<void> {
  if (!isAuthRefCollection(c)) return;
  const collectionRef = typeof data.collectionRef === 'string' ? data.collectionRef : '';
  const recordRef = typeof data.recordRef === 'string' ? data.recordRef : '';
  if (!errors.collectionRef && collectionRef !== '') {
    const target = registry.find(collectionRef);
    if (target?.id !== collectionRef) {
      errors.collectionRef = fieldError('validation_invalid_collection_id', 'Missing or invalid collection.');
    } else if (target.type !== 'auth') {
      errors.collectionRef = fieldError('validation_invalid_collection_type', 'Invalid collection type - must be auth.');
    } else if (!errors.recordRef && recordRef !== '') {
      const found = await db.get(`SELECT 1 AS found FROM ${d.ident(target.name)} WHERE ${d.ident('id')} = $1`, [recordRef]);
      if (!found) errors.recordRef = fieldError('validation_invalid_record', 'Missing or invalid record.');
    }
  }
  if (c.name === EXTERNAL_AUTHS && !errors.provider && typeof data.provider === 'string' && data.provider !== '') {
    if (!OAUTH2_PROVIDERS.includes(data.provider)) errors.provider = fieldError('validation_in_invalid', 'Must be a valid value.');
  }
}
