import type { Collection } from '../collections/model.js';

/** A record as the core handles it: field name → decoded value (always with `id`). */
export type RecordData = Record<string, unknown> & { id: string };

/** The authenticated caller: an auth record and its collection. */
export interface AuthState {
  readonly collection: Collection;
  readonly record: RecordData;
}

/** Where a rule is being evaluated, as `@request.context` shows it. */
export type RequestContext = 'default' | 'oauth2' | 'otp' | 'password' | 'realtime' | 'protectedFile' | 'batch';

/**
 * What rules may read of the request: `@request.auth`, `.body`, `.query`,
 * `.headers`, `.method`, `.context`. Built once per request by the HTTP layer
 * and the same for every transport.
 */
export interface RequestInfo {
  readonly auth: AuthState | null;
  readonly method: string;
  readonly context: RequestContext;
  /** Query parameters, first value of each. */
  readonly query: Readonly<Record<string, string>>;
  /** Header names lowercased with `-` as `_`. */
  readonly headers: Readonly<Record<string, string>>;
  /** The submitted data, converted per field where the field is known. */
  readonly body: Readonly<Record<string, unknown>>;
  /** Set only on {@link SYSTEM_REQUEST}: server code (hooks, crons) acting with a superuser's rights. */
  readonly system?: true;
}

/** True when the caller is a superuser: rules do not apply to them. */
export function isSuperuser(info: RequestInfo | null): boolean {
  return info?.system === true || isSuperuserAuth(info?.auth ?? null);
}

/** The system auth collection of superusers. */
export const SUPERUSERS = '_superusers';

/** True when an authenticated caller is a superuser. */
export function isSuperuserAuth(auth: AuthState | null): boolean {
  return auth?.collection.name === SUPERUSERS;
}

/** A request with no caller and no data, for internal evaluation. */
export const EMPTY_REQUEST: RequestInfo = {
  auth: null,
  method: 'GET',
  context: 'default',
  query: {},
  headers: {},
  body: {},
};

/** Server code's own writes (hooks, custom routes, crons): no caller, a superuser's rights. */
export const SYSTEM_REQUEST: RequestInfo = { ...EMPTY_REQUEST, method: 'POST', system: true };
