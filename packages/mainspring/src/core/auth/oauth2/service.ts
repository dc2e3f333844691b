import type { Executor } from '../../../storage/engine.js';
import type { Collection } from '../../collections/model.js';
import { EXTERNAL_AUTHS } from '../../collections/system.js';
import { nowString } from '../../dates.js';
import { type ApiError, Errors, fieldError } from '../../errors.js';
import { isFile } from '../../fields/index.js';
import type { FileStore } from '../../files/store.js';
import { UploadSet } from '../../files/uploads.js';
import { newRecordId, randomString } from '../../ids.js';
import { isObject } from '../../json.js';
import { newTokenKey } from '../../records/writes.js';
import type { AuthState, RecordData, RequestInfo } from '../../rules/request-info.js';
import { consumeToken } from '../one-time.js';
import { hashPassword } from '../passwords.js';
import type { AuthDeps, AuthService } from '../service.js';
import { downloadAvatar } from './avatar.js';
import { OutboundError } from './http.js';
import type { OAuth2ProviderConfig } from './options.js';
import { type Endpoints, getJSON, type OAuth2User, ProviderError, type ProviderModule, staticEndpoints } from './provider.js';
import { providerModule } from './providers/index.js';
import { redirectAllowed } from './redirects.js';
import { newTicket, readTicket } from './tickets.js';
import { exchangeCode } from './token.js';

/** One provider as `auth-methods` lists it (PocketBase's shape). */
export interface ProviderInfo {
  name: string;
  displayName: string;
  state: string;
  authURL: string;
  authUrl: string;
  codeVerifier: string;
  codeChallenge: string;
  codeChallengeMethod: string;
}

/** What `onRecordAuthWithOAuth2Request` handlers see and may change before `next()`. */
export interface OAuth2Attempt {
  providerName: string;
  oauth2User: OAuth2User;
  createData: Record<string, unknown>;
  /** The account it signs in to; null while a new one would be made. */
  record: RecordData | null;
  isNewRecord: boolean;
}

/** The caller and request of an `auth-with-oauth2`. */
export interface OAuth2Request {
  body: Record<string, unknown>;
  caller: AuthState | null;
  info: RequestInfo;
  /** Where this server's own redirect page is (settings' appURL, or as the request reached us). */
  ownRedirect: string;
}

const failed = (what: string, err: unknown): ApiError => {
  const reason = err instanceof ProviderError || err instanceof OutboundError ? `: ${err.message}.` : '.';
  return Errors.badRequest(`${what}${reason}`);
};

/**
 * OAuth2 sign-in (PocketBase's dialect): the providers `auth-methods` lists
 * with a signed ticket each (tickets.ts), and `auth-with-oauth2`: the
 * ticket checked and spent, the code exchanged, the profile read, then the
 * account found (a linked identity, the caller, or an account whose email
 * the provider verified) or made, and the identity linked in
 * `_externalAuths`.
 */
export class OAuth2Service {
  private readonly linkSql: { find: string; ofRecord: string; insert: string };
  /** Names Apple sent beside a code through the redirect page, by code, for a minute. */
  private readonly redirectNames = new Map<string, { name: string; until: number }>();

  constructor(
    private readonly d: AuthDeps,
    private readonly auth: AuthService,
    private readonly files: FileStore,
    private readonly uploadsDir: string,
  ) {
    const q = (n: string) => d.engine.dialect.ident(n);
    const t = q(EXTERNAL_AUTHS);
    this.linkSql = {
      find: `SELECT ${q('recordRef')} AS "recordRef" FROM ${t} WHERE ${q('collectionRef')} = $1 AND provider = $2 AND ${q('providerId')} = $3`,
      ofRecord: `SELECT 1 AS found FROM ${t} WHERE ${q('collectionRef')} = $1 AND ${q('recordRef')} = $2 AND provider = $3`,
      insert: `INSERT INTO ${t} (id, ${q('collectionRef')}, ${q('recordRef')}, provider, ${q('providerId')}, created, updated) VALUES ($1, $2, $3, $4, $5, $6, $6)`,
    };
  }

  private key(c: Collection): string {
    const secret = c.auth?.authToken.secret ?? '';
    if (secret === '') throw Errors.badRequest('The collection has no token secret.');
    return `${secret}\noauth2`;
  }

  private trusted(): readonly string[] {
    return this.d.settings.get().oauth2.trustedHosts;
  }

  private async endpoints(m: ProviderModule, config: OAuth2ProviderConfig): Promise<Endpoints> {
    return m.endpoints ? m.endpoints(config, this.trusted()) : staticEndpoints(m, config);
  }

  /** `auth-methods`' providers: each with a fresh ticket and its auth URL, ending in an empty `redirect_uri=` as PocketBase's. */
  async providers(c: Collection): Promise<ProviderInfo[]> {
    const o = c.auth?.oauth2;
    if (!o?.enabled) return [];
    const out: ProviderInfo[] = [];
    for (const config of o.providers) {
      const m = providerModule(config.name);
      if (!m) continue;
      let endpoints: Endpoints;
      try {
        endpoints = await this.endpoints(m, config);
      } catch (err) {
        this.d.logger.warn({ provider: config.name, err: { message: (err as Error).message } }, 'OAuth2 provider unavailable');
        continue;
      }
      if (endpoints.authURL === '') continue;
      const ticket = newTicket(this.key(c), c.id, config.name);
      const pkce = config.pkce ?? m.pkce;
      const params = new URLSearchParams({
        client_id: config.clientId,
        response_type: 'code',
        scope: m.scopes.join(' '),
        state: ticket.state,
        nonce: ticket.nonce,
        ...m.authParams?.(config),
      });
      if (pkce) {
        params.set('code_challenge', ticket.codeChallenge);
        params.set('code_challenge_method', 'S256');
      }
      const authURL = `${endpoints.authURL}${endpoints.authURL.includes('?') ? '&' : '?'}${params.toString()}&redirect_uri=`;
      out.push({
        name: config.name,
        displayName: config.displayName || m.displayName,
        state: ticket.state,
        authURL,
        authUrl: authURL,
        // the ticket is sent even without PKCE: it is how we know the sign-in is ours
        codeVerifier: ticket.codeVerifier,
        codeChallenge: pkce ? ticket.codeChallenge : '',
        codeChallengeMethod: pkce ? 'S256' : '',
      });
    }
    return out;
  }

  /** Apple's form_post carries the name beside the code once; the redirect page keeps it here for the sign-in that follows. */
  rememberRedirectName(code: string, name: string): void {
    if (code.length > 2000 || name === '') return;
    const now = Date.now();
    for (const [k, v] of this.redirectNames) if (v.until < now) this.redirectNames.delete(k);
    if (this.redirectNames.size > 10_000) return;
    this.redirectNames.set(code, { name: name.slice(0, 150), until: now + 60_000 });
  }

  private takeRedirectName(code: string): string {
    const hit = this.redirectNames.get(code);
    this.redirectNames.delete(code);
    return hit && hit.until > Date.now() ? hit.name : '';
  }

  /** The checked body of `auth-with-oauth2`, PocketBase's form. */
  private readForm(c: Collection, body: Record<string, unknown>) {
    const errors: Record<string, ReturnType<typeof fieldError>> = {};
    const text = (key: string, required: boolean, max: number): string => {
      const v = body[key];
      if (v === undefined || v === null || v === '') {
        if (required) errors[key] = fieldError('validation_required', 'Cannot be blank.');
        return '';
      }
      if (typeof v !== 'string' || v.length > max) {
        errors[key] = fieldError('validation_invalid_value', `Must be a string of at most ${max} characters.`);
        return '';
      }
      return v;
    };
    const provider = text('provider', true, 100);
    const code = text('code', true, 4000);
    const codeVerifier = text('codeVerifier', false, 200);
    // PocketBase still reads the old spelling `redirectUrl` when `redirectURL` is not sent
    const legacy = body.redirectURL === undefined ? text('redirectUrl', false, 2000) : '';
    const redirectURL = legacy !== '' ? legacy : text('redirectURL', true, 2000);
    const state = text('state', false, 200);
    const config = c.auth?.oauth2.providers.find((p) => p.name === provider);
    if (provider !== '' && !config) {
      errors.provider = fieldError(
        'validation_invalid_provider',
        `Provider with name "${provider.slice(0, 100)}" is missing or is not enabled.`,
      );
    }
    const createData = body.createData ?? {};
    if (!isObject(createData)) errors.createData = fieldError('validation_invalid_value', 'Must be an object.');
    if (Object.keys(errors).length > 0) throw Errors.validation('An error occurred while validating the submitted data.', errors);
    return {
      config: config as OAuth2ProviderConfig,
      code,
      codeVerifier,
      redirectURL,
      state,
      createData: createData as Record<string, unknown>,
    };
  }

  /**
   * `auth-with-oauth2` up to the account: the sign-in checked, the profile
   * read, the account it would sign in to. `run` then links or creates
   * (through the request hook, which may change or refuse it).
   */
  async attempt(c: Collection, req: OAuth2Request): Promise<OAuth2Attempt> {
    if (!c.auth?.oauth2.enabled) throw Errors.forbidden('The collection is not configured to allow OAuth2 authentication.');
    const form = this.readForm(c, req.body);
    const m = providerModule(form.config.name) as ProviderModule;
    if (!redirectAllowed(form.redirectURL, this.d.settings.get(), req.ownRedirect)) {
      throw Errors.validation('An error occurred while validating the submitted data.', {
        redirectURL: fieldError(
          'validation_redirect_url_not_allowed',
          'The redirect URL is not in the allowed list (settings oauth2.redirectURLs).',
        ),
      });
    }
    const ticket = readTicket(this.key(c), c.id, form.config.name, form.codeVerifier);
    if (!ticket || (form.state !== '' && form.state !== ticket.state)) throw Errors.badRequest('Invalid or expired OAuth2 state.');
    // single use: a replayed sign-in (the same ticket) is refused before anything reaches the provider
    const fresh = await this.d.engine.transaction((tx) => consumeToken(tx, `oauth2\n${c.id}\n${ticket.id}`, ticket.expires));
    if (!fresh) throw Errors.badRequest('Invalid or expired OAuth2 state.');

    const endpoints = await this.endpoints(m, form.config).catch((err) => {
      throw failed('Failed to reach the OAuth2 provider', err);
    });
    const pkce = form.config.pkce ?? m.pkce;
    const token = await exchangeCode({
      tokenURL: endpoints.tokenURL,
      code: form.code,
      redirectURL: form.redirectURL,
      clientId: form.config.clientId,
      clientSecret: m.clientSecret ? await m.clientSecret(form.config) : form.config.clientSecret,
      codeVerifier: pkce ? ticket.codeVerifier : '',
      trusted: this.trusted(),
    }).catch((err) => {
      throw failed('Failed to fetch OAuth2 token', err);
    });
    const trusted = this.trusted();
    const user = await m
      .user(
        {
          config: form.config,
          endpoints,
          nonce: ticket.nonce,
          trusted,
          redirectName: this.takeRedirectName(form.code),
          getJSON: (url, headers) => getJSON(url, trusted, headers),
        },
        token,
      )
      .catch((err) => {
        throw failed('Failed to fetch OAuth2 user', err);
      });
    const record = await this.existing(c, form.config.name, user, req.caller);
    return { providerName: form.config.name, oauth2User: user, createData: form.createData, record, isNewRecord: record === null };
  }

  /** The account an identity signs in to: its link, else the caller (linking), else the owner of its verified email. */
  private async existing(c: Collection, provider: string, user: OAuth2User, caller: AuthState | null): Promise<RecordData | null> {
    const link = await this.d.engine.get<{ recordRef: string }>(this.linkSql.find, [c.id, provider, user.id]);
    if (link) {
      const linked = await this.auth.loadRecord(c, link.recordRef);
      if (linked) return linked;
    }
    if (caller && caller.collection.id === c.id) return caller.record;
    // only an address the provider verified (modules leave others out) finds an account
    if (user.email !== '') return (await this.auth.findByEmail(c, user.email)) ?? null;
    return null;
  }

  /** Creates or updates the account and links the identity, in one transaction; the record signed in to. */
  async complete(c: Collection, a: OAuth2Attempt, req: OAuth2Request): Promise<RecordData> {
    if (c.name === '_superusers') throw Errors.authFailed();
    const user = a.oauth2User;
    const emailField = c.fields.find((f) => f.name === 'email');
    if (!a.record && user.email === '' && emailField && 'required' in emailField && emailField.required) {
      // an unverified address never finds an account, and a new one needs an address: say so rather than a field error
      throw Errors.badRequest(
        'The provider gave no verified email address, which a new account needs: sign in another way first, then link this provider while signed in.',
      );
    }
    const mapped = c.auth?.oauth2.mappedFields ?? { id: '', name: '', username: '', avatarURL: '' };
    const uploads = new UploadSet(this.uploadsDir, this.files, (err) => this.d.logger.warn({ err }, 'removing an avatar failed'));
    return uploads.run(async () => {
      const payload = a.record ? null : await this.signUpData(c, a, mapped, uploads);
      return this.d.engine.transaction(async (tx) => {
        let record: RecordData;
        if (!payload) record = await this.updateExisting(c, a.record as RecordData, user, req.caller, tx);
        else {
          const info: RequestInfo = { ...req.info, context: 'oauth2', body: payload };
          const out = await this.d.records.create(c, { data: payload, source: 'json' }, {}, info, tx);
          record = (await this.d.records.findById(c, String(out.id), tx)) as RecordData;
          if (record.verified !== true && String(record.email ?? '') === user.email) {
            record = await this.d.records.systemUpdate(c, record.id, { verified: true }, tx);
          }
        }
        const linked = await tx.get<{ recordRef: string }>(this.linkSql.find, [c.id, a.providerName, user.id]);
        if (linked && linked.recordRef !== record.id) throw Errors.badRequest('The OAuth2 identity is linked to another account.');
        if (!linked) {
          // one identity per provider and account (PocketBase's unique index): say so rather than fail on the index
          if (await tx.get(this.linkSql.ofRecord, [c.id, record.id, a.providerName])) {
            throw Errors.badRequest(`The account is linked to another ${a.providerName} identity already: unlink it first.`);
          }
          await tx.run(this.linkSql.insert, [newRecordId(), c.id, record.id, a.providerName, user.id, nowString()]);
        }
        return record;
      });
    });
  }

  /** PocketBase's sign-up body: createData, the verified email, a random password, and the mapped fields not given. */
  private async signUpData(c: Collection, a: OAuth2Attempt, mapped: Record<string, string>, uploads: UploadSet) {
    const user = a.oauth2User;
    const payload: Record<string, unknown> = { ...a.createData, email: user.email };
    if (typeof payload.password !== 'string' || payload.password === '') {
      payload.password = randomString(30);
      payload.passwordConfirm = payload.password;
    }
    const put = (field: string | undefined, value: string) => {
      if (field && field !== '' && !(field in a.createData) && value !== '') payload[field] = value;
    };
    put(mapped.id, user.id);
    put(mapped.name, user.name);
    put(mapped.username, user.username);
    const avatarField = mapped.avatarURL ? c.fields.find((f) => f.name === mapped.avatarURL) : undefined;
    if (avatarField && !(avatarField.name in a.createData) && user.avatarURL !== '') {
      if (!isFile(avatarField)) payload[avatarField.name] = user.avatarURL;
      else {
        const file = await downloadAvatar(user.avatarURL, avatarField, uploads, this.trusted()).catch((err) => {
          // as PocketBase: an avatar that cannot be had does not stop the sign-up
          this.d.logger.warn({ err: { message: (err as Error).message } }, 'OAuth2 avatar not downloaded');
          return null;
        });
        if (file) payload[avatarField.name] = file;
      }
    }
    return payload;
  }

  /**
   * An existing account: verified when the provider's verified email is its
   * own (or it has none yet), and, when it was unverified and the caller is
   * not its owner, its password replaced, since whoever registered that
   * address before its owner proved it may not keep a way in.
   */
  private async updateExisting(c: Collection, record: RecordData, user: OAuth2User, caller: AuthState | null, tx: Executor) {
    const changes: Record<string, unknown> = {};
    const own = caller?.collection.id === c.id && caller.record.id === record.id;
    const email = String(record.email ?? '');
    if (!own && email !== '' && record.verified !== true) {
      changes.password = await hashPassword(randomString(30));
      changes.tokenKey = newTokenKey();
    }
    if (email === '' && user.email !== '') changes.email = user.email;
    if (record.verified !== true && user.email !== '' && (email === '' || email.toLowerCase() === user.email.toLowerCase())) {
      changes.verified = true;
    }
    return Object.keys(changes).length > 0 ? this.d.records.systemUpdate(c, record.id, changes, tx) : record;
  }
}
