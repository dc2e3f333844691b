import { randomBytes } from 'node:crypto';
import type { Collection } from '../collections/model.js';
import { type PasskeyOptions, passkeyOptionsOf } from '../collections/passkey-options.js';
import { formatDate } from '../dates.js';
import { ApiError, Errors } from '../errors.js';
import { newRecordId } from '../ids.js';
import type { RecordData } from '../rules/request-info.js';
import { challengeOf, readAuthentication, readPasskeyName, readRegistration } from './passkey-input.js';
import { PASSKEY_CHALLENGES_TABLE, PASSKEYS_TABLE } from './passkey-store.js';
import type { AuthDeps, AuthService } from './service.js';

type WebAuthn = typeof import('@simplewebauthn/server');
type CreationOptions = Awaited<ReturnType<WebAuthn['generateRegistrationOptions']>>;
type RequestOptions = Awaited<ReturnType<WebAuthn['generateAuthenticationOptions']>>;

// loaded on first use: the library and its certificate parsers weigh some MB a server without passkeys never needs
let library: Promise<WebAuthn> | undefined;
const webauthn = () => {
  library ??= import('@simplewebauthn/server');
  return library;
};

/** How long a challenge may be answered; also the `timeout` the browser is given. */
export const CHALLENGE_TTL_MS = 5 * 60_000;
/** Passkeys one auth record may hold. */
export const MAX_PASSKEYS_PER_RECORD = 25;

type Purpose = 'register' | 'authenticate';

/** A passkey as its owner (and superusers) see it: never its key or credential id. */
export interface PasskeyInfo {
  id: string;
  name: string;
  created: string;
  /** '' until it is first used to sign in. */
  lastUsed: string;
  /** `multiDevice`: synced between devices (backed up); `singleDevice`: bound to one authenticator. */
  deviceType: string;
  backedUp: boolean;
  transports: string[];
  aaguid: string;
}

interface PasskeyRow {
  id: string;
  record_ref: string;
  credential_id: string;
  public_key: string;
  counter: number | string;
  transports: string;
  device_type: string;
  backed_up: number | string;
  aaguid: string;
  name: string;
  created: number | string;
  last_used: number | string;
}

const passkeyError = (code: string, message: string) => new ApiError(400, code, message);
const unknownPasskey = () =>
  passkeyError('passkey_unknown', 'Unknown passkey: it is not registered for this collection, or it was removed.');
const counterWentBack = () =>
  passkeyError(
    'passkey_counter_regression',
    "The passkey's signature counter went backwards, so it may have been cloned: refused. Sign in another way, and remove the passkey if you do not recognise this.",
  );
const stalePasskeyChallenge = () =>
  passkeyError('passkey_challenge_invalid', 'Unknown, used or expired passkey challenge: ask for new options and try again.');
/** The library's reason, shortened: it names what failed (origin, rp id, signature) and nothing secret. */
const notVerified = (err: unknown) =>
  passkeyError(
    'passkey_not_verified',
    `The passkey's answer could not be verified: ${String((err as Error)?.message ?? err).slice(0, 200)}`,
  );

/**
 * Passkeys (WebAuthn) of auth records, through `@simplewebauthn/server`:
 * options and verification for registering one while signed in, and for
 * signing in with one without typing an identity (discoverable
 * credentials: the passkey names its record). Every challenge is stored
 * (`_ms_passkey_challenges`), bound to its purpose, collection and (to
 * register) record, used at most once and within {@link CHALLENGE_TTL_MS}.
 * User verification is required both ways.
 */
export class PasskeyService {
  constructor(
    private readonly d: AuthDeps,
    private readonly auth: AuthService,
  ) {}

  /** The collection's passkey options, or PocketBase's 403 for a method a collection does not offer. */
  private options(c: Collection): PasskeyOptions {
    const o = passkeyOptionsOf(c.auth);
    if (!o.enabled) throw Errors.forbidden('The collection is not configured to allow passkey authentication.');
    return o;
  }

  private async remember(purpose: Purpose, c: Collection, recordId: string, challenge: string): Promise<void> {
    const now = Date.now();
    // expired challenges go with the writes that make new ones
    await this.d.engine.run(`DELETE FROM ${PASSKEY_CHALLENGES_TABLE} WHERE expires < $1`, [now]);
    await this.d.engine.run(
      `INSERT INTO ${PASSKEY_CHALLENGES_TABLE} (challenge, purpose, collection_ref, record_ref, expires) VALUES ($1, $2, $3, $4, $5)`,
      [challenge, purpose, c.id, recordId, now + CHALLENGE_TTL_MS],
    );
  }

  /** Uses up a challenge issued for this purpose, collection and record; one DELETE, so of two answers racing only one wins. */
  private async claim(purpose: Purpose, c: Collection, recordId: string, challenge: string): Promise<void> {
    const n = await this.d.engine.run(
      `DELETE FROM ${PASSKEY_CHALLENGES_TABLE} WHERE challenge = $1 AND purpose = $2 AND collection_ref = $3 AND record_ref = $4 AND expires >= $5`,
      [challenge, purpose, c.id, recordId, Date.now()],
    );
    if (n !== 1) throw stalePasskeyChallenge();
  }

  private async rows(c: Collection, recordId: string): Promise<PasskeyRow[]> {
    return this.d.engine.all<PasskeyRow>(
      `SELECT * FROM ${PASSKEYS_TABLE} WHERE collection_ref = $1 AND record_ref = $2 ORDER BY created, id`,
      [c.id, recordId],
    );
  }

  /** Options for `navigator.credentials.create()`: a new discoverable passkey for the signed-in `record`. */
  async registrationOptions(c: Collection, record: RecordData): Promise<CreationOptions> {
    const o = this.options(c);
    const existing = await this.rows(c, record.id);
    if (existing.length >= MAX_PASSKEYS_PER_RECORD)
      throw Errors.badRequest(`A record may hold at most ${MAX_PASSKEYS_PER_RECORD} passkeys.`);
    const { generateRegistrationOptions } = await webauthn();
    const userName = [record.email, record.username, record.id].find((v): v is string => typeof v === 'string' && v !== '') as string;
    const options = await generateRegistrationOptions({
      rpName: o.rpName || this.d.settings.get().meta.appName,
      rpID: o.rpID,
      userName,
      userDisplayName: typeof record.name === 'string' && record.name !== '' ? record.name : userName,
      // the user handle a sign-in gives back names the record
      userID: new TextEncoder().encode(record.id),
      challenge: randomBytes(32),
      timeout: CHALLENGE_TTL_MS,
      attestationType: 'none',
      // an authenticator holding one of them refuses to make a second passkey for the same account
      excludeCredentials: existing.map((r) => ({ id: r.credential_id, transports: parseList(r.transports) })),
      authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
    });
    await this.remember('register', c, record.id, options.challenge);
    return options;
  }

  /** Checks the browser's new credential against a challenge issued to `record`, and keeps it. */
  async register(c: Collection, record: RecordData, body: Record<string, unknown>): Promise<PasskeyInfo> {
    const o = this.options(c);
    const response = readRegistration(body.credential);
    const name = readPasskeyName(body.name, 'Passkey');
    const challenge = challengeOf(response.response.clientDataJSON);
    await this.claim('register', c, record.id, challenge);
    const { verifyRegistrationResponse } = await webauthn();
    let info: Extract<Awaited<ReturnType<WebAuthn['verifyRegistrationResponse']>>, { verified: true }>['registrationInfo'];
    try {
      const v = await verifyRegistrationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: o.origins,
        expectedRPID: o.rpID,
        requireUserVerification: true,
      });
      if (!v.verified) throw new Error('not verified');
      info = v.registrationInfo;
    } catch (err) {
      throw notVerified(err);
    }
    if ((await this.rows(c, record.id)).length >= MAX_PASSKEYS_PER_RECORD) {
      throw Errors.badRequest(`A record may hold at most ${MAX_PASSKEYS_PER_RECORD} passkeys.`);
    }
    const row: PasskeyRow = {
      id: newRecordId(),
      record_ref: record.id,
      credential_id: info.credential.id,
      public_key: Buffer.from(info.credential.publicKey).toString('base64url'),
      counter: info.credential.counter,
      transports: JSON.stringify(response.response.transports),
      device_type: info.credentialDeviceType,
      backed_up: info.credentialBackedUp ? 1 : 0,
      aaguid: info.aaguid,
      name,
      created: Date.now(),
      last_used: 0,
    };
    // the unique credential id settles a passkey registered twice (to this record or any other)
    const n = await this.d.engine.run(
      `INSERT INTO ${PASSKEYS_TABLE} (id, collection_ref, record_ref, credential_id, public_key, counter, transports, device_type, backed_up, aaguid, name, created, last_used) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING`,
      [
        row.id,
        c.id,
        row.record_ref,
        row.credential_id,
        row.public_key,
        row.counter,
        row.transports,
        row.device_type,
        row.backed_up,
        row.aaguid,
        row.name,
        row.created,
        row.last_used,
      ],
    );
    if (n === 0) throw passkeyError('passkey_exists', 'This passkey is already registered.');
    return publicInfo(row);
  }

  /** Options for `navigator.credentials.get()` with no credentials listed: the browser offers the passkeys it has for the site. */
  async authenticationOptions(c: Collection): Promise<RequestOptions> {
    const o = this.options(c);
    const { generateAuthenticationOptions } = await webauthn();
    const options = await generateAuthenticationOptions({
      rpID: o.rpID,
      challenge: randomBytes(32),
      timeout: CHALLENGE_TTL_MS,
      userVerification: 'required',
    });
    await this.remember('authenticate', c, '', options.challenge);
    return options;
  }

  /**
   * The record a passkey's answer signs in, after the challenge is used up,
   * the credential found in this collection, its signature checked, and its
   * signature counter found to have gone forward (a clone's has not). The
   * caller then passes it through the same last steps as any sign-in.
   */
  async authenticate(c: Collection, body: Record<string, unknown>): Promise<RecordData> {
    const o = this.options(c);
    const response = readAuthentication(body.credential);
    const challenge = challengeOf(response.response.clientDataJSON);
    await this.claim('authenticate', c, '', challenge);
    const row = await this.d.engine.get<PasskeyRow>(`SELECT * FROM ${PASSKEYS_TABLE} WHERE credential_id = $1 AND collection_ref = $2`, [
      response.id,
      c.id,
    ]);
    if (!row) throw unknownPasskey();
    const handle = response.response.userHandle;
    if (handle !== undefined && Buffer.from(handle, 'base64url').toString('utf8') !== row.record_ref) throw unknownPasskey();
    const stored = Number(row.counter);
    const { verifyAuthenticationResponse } = await webauthn();
    let verified: Awaited<ReturnType<WebAuthn['verifyAuthenticationResponse']>>['authenticationInfo'];
    try {
      const v = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: o.origins,
        expectedRPID: o.rpID,
        // the counter is checked below, after the signature, for an error of its own
        credential: {
          id: row.credential_id,
          publicKey: Buffer.from(row.public_key, 'base64url'),
          counter: 0,
          transports: parseList(row.transports),
        },
        requireUserVerification: true,
      });
      if (!v.verified) throw new Error('not verified');
      verified = v.authenticationInfo;
    } catch (err) {
      throw notVerified(err);
    }
    const next = verified.newCounter;
    // authenticators that keep no counter always send 0 (synced passkeys do); one that counts must count up
    if ((next > 0 || stored > 0) && next <= stored) {
      this.d.logger.warn(
        { collection: c.name, record: row.record_ref, passkey: row.id, stored, sent: next },
        'passkey counter went backwards',
      );
      throw counterWentBack();
    }
    // only if no other sign-in with it moved the counter meanwhile
    const n = await this.d.engine.run(
      `UPDATE ${PASSKEYS_TABLE} SET counter = $1, last_used = $2, backed_up = $3 WHERE id = $4 AND counter = $5`,
      [next, Date.now(), verified.credentialBackedUp ? 1 : 0, row.id, stored],
    );
    if (n !== 1) throw counterWentBack();
    const record = await this.auth.loadRecord(c, row.record_ref);
    if (!record) throw unknownPasskey();
    if (!(await this.auth.passesAuthRule(c, record, 'passkey'))) throw Errors.authFailed();
    return record;
  }

  /** A record's passkeys, oldest first. */
  async list(c: Collection, recordId: string): Promise<PasskeyInfo[]> {
    return (await this.rows(c, recordId)).map(publicInfo);
  }

  /** Renames one of a record's passkeys; 404 when it has none with that id. */
  async rename(c: Collection, recordId: string, id: string, rawName: unknown): Promise<PasskeyInfo> {
    const name = readPasskeyName(rawName, 'Passkey');
    const n = await this.d.engine.run(`UPDATE ${PASSKEYS_TABLE} SET name = $1 WHERE id = $2 AND collection_ref = $3 AND record_ref = $4`, [
      name,
      id,
      c.id,
      recordId,
    ]);
    const row = n === 1 ? (await this.rows(c, recordId)).find((r) => r.id === id) : undefined;
    if (!row) throw Errors.notFound();
    return publicInfo(row);
  }

  /** Removes one of a record's passkeys; 404 when it has none with that id (another record's is none of its). */
  async remove(c: Collection, recordId: string, id: string): Promise<void> {
    const n = await this.d.engine.run(`DELETE FROM ${PASSKEYS_TABLE} WHERE id = $1 AND collection_ref = $2 AND record_ref = $3`, [
      id,
      c.id,
      recordId,
    ]);
    if (n !== 1) throw Errors.notFound();
  }
}

function parseList(text: string): string[] {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

const dateOf = (ms: number | string) => (Number(ms) > 0 ? formatDate(new Date(Number(ms))) : '');

function publicInfo(r: PasskeyRow): PasskeyInfo {
  return {
    id: r.id,
    name: r.name,
    created: dateOf(r.created),
    lastUsed: dateOf(r.last_used),
    deviceType: r.device_type,
    backedUp: Number(r.backed_up) === 1,
    transports: parseList(r.transports),
    aaguid: r.aaguid,
  };
}
