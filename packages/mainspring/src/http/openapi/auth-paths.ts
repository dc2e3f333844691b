import type { Collection } from '../../core/collections/model.js';
import {
  AUTH_FIELDS,
  EXPAND,
  idParameter,
  type Json,
  json,
  jsonBody,
  noContent,
  OPTIONAL_AUTH,
  REQUIRED_AUTH,
  ref,
  responseRef,
  string,
} from './parts.js';

/** What the auth routes of one collection share: its base path, tags, and how an operation is written. */
interface AuthRoutes {
  c: Collection;
  base: string;
  signedIn: Json;
  accepted: Json;
  post: (id: string, summary: string, body: Json | null, responses: Json, security?: Json[], parameters?: Json[]) => Json;
}

const obj = (properties: Json, required: string[]): Json => ({ type: 'object', properties, required });

/** The auth routes of an auth collection, less the sign-in methods it has switched off (as auth-methods leaves them out). */
export function authPaths(c: Collection, name: string): Json {
  const base = `/api/collections/${encodeURIComponent(c.name)}`;
  const tags = [c.name];
  const post = (id: string, summary: string, body: Json | null, responses: Json, security = OPTIONAL_AUTH, parameters: Json[] = []) => ({
    post: {
      operationId: `${id}${name}`,
      summary,
      tags,
      security,
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(body ? { requestBody: jsonBody(body) } : {}),
      responses,
    },
  });
  const r: AuthRoutes = {
    c,
    base,
    signedIn: json(ref(`${name}AuthResponse`), 'Signed in: a token and the record.'),
    accepted: { 204: noContent, 400: responseRef('BadRequest'), 429: responseRef('TooManyRequests') },
    post,
  };
  const routes: Json = {
    [`${base}/auth-methods`]: {
      get: {
        operationId: `authMethods${name}`,
        summary: `How ${c.name} can sign in`,
        tags,
        security: OPTIONAL_AUTH,
        responses: { 200: json(ref('AuthMethods'), 'The enabled sign-in methods.'), 404: responseRef('NotFound') },
      },
    },
    ...signInPaths(r),
    ...accountPaths(r),
  };
  // a sign-in method the collection has switched off answers 400 or 403: the document, like auth-methods, leaves it out
  if (!c.auth?.passwordAuth.enabled) {
    for (const route of ['auth-with-password', 'request-password-reset', 'confirm-password-reset']) delete routes[`${base}/${route}`];
  }
  if (!c.auth?.otp.enabled) for (const route of ['request-otp', 'auth-with-otp']) delete routes[`${base}/${route}`];
  if (!c.auth?.oauth2.enabled) delete routes[`${base}/auth-with-oauth2`];
  return routes;
}

/** The sign-ins: password, refresh, one-time code, OAuth2. */
function signInPaths({ c, base, signedIn, post }: AuthRoutes): Json {
  return {
    [`${base}/auth-with-password`]: post(
      'authWithPassword',
      `Sign in to ${c.name} with a password`,
      obj(
        {
          identity: { ...string, description: 'A value of one of the identity fields (email by default).' },
          password: string,
          identityField: {
            ...string,
            enum: [...(c.auth?.passwordAuth.identityFields ?? [])],
            description: 'Which identity field `identity` is.',
          },
        },
        ['identity', 'password'],
      ),
      {
        200: signedIn,
        400: responseRef('BadRequest'),
        401: json(ref('Error'), "MFA required: the answer's `mfaId` (beside the error) goes with the second sign-in."),
        429: responseRef('TooManyRequests'),
      },
      OPTIONAL_AUTH,
      [EXPAND, AUTH_FIELDS],
    ),
    [`${base}/auth-refresh`]: post(
      'authRefresh',
      `A fresh token for the signed-in ${c.name} record`,
      null,
      { 200: signedIn, 401: responseRef('Unauthorized'), 403: responseRef('Forbidden'), 404: responseRef('NotFound') },
      REQUIRED_AUTH,
      [EXPAND, AUTH_FIELDS],
    ),
    [`${base}/request-otp`]: post('requestOtp', 'Mail a one-time code', obj({ email: string }, ['email']), {
      200: json(obj({ otpId: string }, ['otpId']), 'The code was sent if the address is known (the answer is the same either way).'),
      400: responseRef('BadRequest'),
      429: responseRef('TooManyRequests'),
    }),
    [`${base}/auth-with-otp`]: post(
      'authWithOtp',
      'Sign in with a one-time code',
      obj({ otpId: string, password: { ...string, description: 'The code.' } }, ['otpId', 'password']),
      { 200: signedIn, 400: responseRef('BadRequest'), 429: responseRef('TooManyRequests') },
    ),
    [`${base}/auth-with-oauth2`]: post(
      'authWithOAuth2',
      'Sign in (or up) with an OAuth2 provider',
      obj(
        {
          provider: { ...string, description: 'A provider name of auth-methods.' },
          code: { ...string, description: 'The code the provider sent back.' },
          codeVerifier: { ...string, description: "The provider's codeVerifier from auth-methods (the signed sign-in ticket)." },
          redirectURL: {
            ...string,
            description:
              'The redirect URL given to the provider: this server’s /api/oauth2-redirect or one of settings oauth2.redirectURLs.',
          },
          state: { ...string, description: 'Optional: the state the provider sent back, checked against the ticket.' },
          createData: {
            type: 'object',
            description: 'Values of a new account (the create rule applies, with @request.context = "oauth2").',
          },
        },
        ['provider', 'code', 'codeVerifier', 'redirectURL'],
      ),
      {
        200: signedIn,
        400: responseRef('BadRequest'),
        401: json(ref('Error'), "MFA required: the answer's `mfaId` (beside the error) goes with the second sign-in."),
        403: responseRef('Forbidden'),
        429: responseRef('TooManyRequests'),
      },
      OPTIONAL_AUTH,
      [EXPAND, AUTH_FIELDS],
    ),
  };
}

/** The account flows: verification, password reset, email change, impersonation. */
function accountPaths({ c, base, signedIn, accepted, post }: AuthRoutes): Json {
  return {
    [`${base}/request-verification`]: post('requestVerification', 'Mail a verification link', obj({ email: string }, ['email']), accepted),
    [`${base}/confirm-verification`]: post(
      'confirmVerification',
      'Verify with the mailed token',
      obj({ token: string }, ['token']),
      accepted,
    ),
    [`${base}/request-password-reset`]: post(
      'requestPasswordReset',
      'Mail a password reset link',
      obj({ email: string }, ['email']),
      accepted,
    ),
    [`${base}/confirm-password-reset`]: post(
      'confirmPasswordReset',
      'Set a new password with the mailed token',
      obj({ token: string, password: string, passwordConfirm: string }, ['token', 'password', 'passwordConfirm']),
      accepted,
    ),
    [`${base}/request-email-change`]: post(
      'requestEmailChange',
      'Mail a confirmation link to a new address',
      obj({ newEmail: string }, ['newEmail']),
      { ...accepted, 401: responseRef('Unauthorized'), 403: responseRef('Forbidden') },
      REQUIRED_AUTH,
    ),
    [`${base}/confirm-email-change`]: post(
      'confirmEmailChange',
      'Change the address with the mailed token and the password',
      obj({ token: string, password: string }, ['token', 'password']),
      accepted,
    ),
    [`${base}/impersonate/{id}`]: post(
      'impersonate',
      `A token of a ${c.name} record, for a superuser (not refreshable)`,
      obj({ duration: { type: 'integer', minimum: 0, description: 'Seconds; 0 for the collection default.' } }, []),
      {
        200: signedIn,
        400: responseRef('BadRequest'),
        401: responseRef('Unauthorized'),
        403: responseRef('Forbidden'),
        404: responseRef('NotFound'),
      },
      REQUIRED_AUTH,
      [idParameter('record')],
    ),
  };
}
