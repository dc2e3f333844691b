import type { Collection } from '../../core/collections/model.js';
import { passkeyOptionsOf } from '../../core/collections/passkey-options.js';
import { idParameter, type Json, json, jsonBody, noContent, OPTIONAL_AUTH, REQUIRED_AUTH, responseRef, string } from './parts.js';

/** A passkey as the list, rename and register routes show it. */
const PASSKEY: Json = {
  type: 'object',
  properties: {
    id: string,
    name: string,
    created: string,
    lastUsed: { ...string, description: "'' until first used." },
    deviceType: { ...string, enum: ['singleDevice', 'multiDevice'] },
    backedUp: { type: 'boolean' },
    transports: { type: 'array', items: string },
    aaguid: string,
  },
  required: ['id', 'name', 'created', 'lastUsed', 'deviceType', 'backedUp', 'transports', 'aaguid'],
};

const CREDENTIAL: Json = {
  type: 'object',
  description: "The browser's credential as JSON (`PublicKeyCredential.toJSON()`, or the README's helper): base64url fields.",
  properties: {
    id: string,
    rawId: string,
    type: { const: 'public-key' },
    response: { type: 'object' },
    clientExtensionResults: { type: 'object' },
  },
  required: ['id', 'type', 'response'],
};

/**
 * The passkey routes of an auth collection whose `passkeys` option is
 * enabled (`/api/ms/passkeys/{collection}/…`, http/routes/ms-passkeys.ts);
 * none for the others.
 */
export function passkeyPaths(c: Collection, name: string): Json {
  if (!passkeyOptionsOf(c.auth).enabled) return {};
  const base = `/api/ms/passkeys/${encodeURIComponent(c.name)}`;
  const tags = [c.name];
  const errors = {
    400: responseRef('BadRequest'),
    401: responseRef('Unauthorized'),
    403: responseRef('Forbidden'),
    404: responseRef('NotFound'),
  };
  const op = (id: string, summary: string, security: Json[], responses: Json, body?: Json) => ({
    operationId: `${id}${name}`,
    summary,
    tags,
    security,
    ...(body ? { requestBody: jsonBody(body) } : {}),
    responses: { ...responses, ...errors, 429: responseRef('TooManyRequests') },
  });
  return { ...flowPaths(base, c, name, op), ...managePaths(base, op) };
}

type PasskeyOp = (id: string, summary: string, security: Json[], responses: Json, body?: Json) => Json;

/** Registering a passkey and signing in with one: options, then the browser's answer. */
function flowPaths(base: string, c: Collection, name: string, op: PasskeyOp): Json {
  return {
    [`${base}/registration-options`]: {
      post: op('passkeyRegistrationOptions', `Options to register a passkey for the signed-in ${c.name} record`, REQUIRED_AUTH, {
        200: json(
          { type: 'object', description: 'PublicKeyCredentialCreationOptionsJSON, for navigator.credentials.create().' },
          'The options.',
        ),
      }),
    },
    [`${base}/register`]: {
      post: op(
        'registerPasskey',
        'Register the passkey the browser made from those options',
        REQUIRED_AUTH,
        { 200: json(PASSKEY, 'The passkey.') },
        { type: 'object', properties: { credential: CREDENTIAL, name: { ...string, maxLength: 100 } }, required: ['credential'] },
      ),
    },
    [`${base}/authentication-options`]: {
      post: op('passkeyAuthenticationOptions', `Options to sign in to ${c.name} with a passkey`, OPTIONAL_AUTH, {
        200: json(
          { type: 'object', description: 'PublicKeyCredentialRequestOptionsJSON, for navigator.credentials.get().' },
          'The options.',
        ),
      }),
    },
    [`${base}/auth-with-passkey`]: {
      post: op(
        'authWithPasskey',
        `Sign in to ${c.name} with a passkey (no identity typed)`,
        OPTIONAL_AUTH,
        {
          200: json(
            { $ref: `#/components/schemas/${name}AuthResponse` },
            'Signed in: a token and the record (401 `{mfaId}` when MFA wants another method).',
          ),
        },
        { type: 'object', properties: { credential: CREDENTIAL, mfaId: string }, required: ['credential'] },
      ),
    },
  };
}

/** The caller's passkeys: list, rename, remove. */
function managePaths(base: string, op: PasskeyOp): Json {
  const passkeyId = idParameter('passkey');
  return {
    [base]: {
      get: {
        ...op('listPasskeys', "The caller's passkeys", REQUIRED_AUTH, {
          200: json({ type: 'object', properties: { items: { type: 'array', items: PASSKEY } }, required: ['items'] }, 'The passkeys.'),
        }),
        parameters: [{ name: 'recordId', in: 'query', schema: string, description: "Superusers: another record's passkeys." }],
      },
    },
    [`${base}/{id}`]: {
      patch: {
        ...op(
          'renamePasskey',
          'Rename one of them',
          REQUIRED_AUTH,
          { 200: json(PASSKEY, 'The passkey.') },
          {
            type: 'object',
            properties: { name: { ...string, maxLength: 100 } },
            required: ['name'],
          },
        ),
        parameters: [passkeyId],
      },
      delete: {
        ...op('deletePasskey', 'Remove one of them', REQUIRED_AUTH, { 204: noContent }),
        parameters: [passkeyId],
      },
    },
  };
}
