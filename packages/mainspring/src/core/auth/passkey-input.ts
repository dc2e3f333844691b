import { Errors, fieldError } from '../errors.js';
import { isObject } from '../json.js';

/**
 * The browser's answers, as JSON (`PublicKeyCredential.toJSON()`, or
 * `@simplewebauthn/browser`), checked for shape and size before any of
 * them reaches the WebAuthn library: strings of base64url within the
 * bounds real authenticators stay in, known enum values, nothing else.
 */

/** A registration answer: `navigator.credentials.create()`'s credential as JSON. */
export interface RegistrationJson {
  id: string;
  rawId: string;
  type: 'public-key';
  response: { clientDataJSON: string; attestationObject: string; transports: string[] };
  clientExtensionResults: Record<string, never>;
  authenticatorAttachment?: 'platform' | 'cross-platform';
}

/** A sign-in answer: `navigator.credentials.get()`'s credential as JSON. */
export interface AuthenticationJson {
  id: string;
  rawId: string;
  type: 'public-key';
  response: { clientDataJSON: string; authenticatorData: string; signature: string; userHandle?: string };
  clientExtensionResults: Record<string, never>;
  authenticatorAttachment?: 'platform' | 'cross-platform';
}

// WebAuthn's transports; others a future browser sends are dropped, not refused
const TRANSPORTS = new Set(['usb', 'nfc', 'ble', 'smart-card', 'hybrid', 'internal', 'cable']);
const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;

const refuse = (message: string) =>
  Errors.validation('An error occurred while validating the submitted data.', {
    credential: fieldError('validation_invalid_value', message),
  });

/** A base64url string of 1..max characters under `name`, or a 400. */
function b64(value: unknown, name: string, max: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max || !BASE64URL.test(value)) {
    throw refuse(`${name} must be base64url text of at most ${max} characters.`);
  }
  return value;
}

/** What both answers share: ids, type, attachment, and the `response` object. */
function common(raw: unknown): { id: string; response: Record<string, unknown>; attachment?: 'platform' | 'cross-platform' } {
  if (!isObject(raw)) throw refuse('Must be the credential as JSON (PublicKeyCredential.toJSON()).');
  // a credential id is at most 1023 bytes: 1364 characters of base64url
  const id = b64(raw.id, 'id', 1400);
  if (raw.rawId !== undefined && raw.rawId !== id) throw refuse('rawId must equal id.');
  if (raw.type !== 'public-key') throw refuse('type must be "public-key".');
  if (!isObject(raw.response)) throw refuse('response must be an object.');
  const a = raw.authenticatorAttachment;
  if (a !== undefined && a !== null && a !== 'platform' && a !== 'cross-platform') {
    throw refuse('authenticatorAttachment must be "platform" or "cross-platform".');
  }
  return { id, response: raw.response, ...(a ? { attachment: a } : {}) };
}

export function readRegistration(raw: unknown): RegistrationJson {
  const { id, response: r, attachment } = common(raw);
  const transports = r.transports ?? [];
  if (!Array.isArray(transports) || transports.length > 10 || transports.some((t) => typeof t !== 'string')) {
    throw refuse('response.transports must be a list of at most 10 names.');
  }
  return {
    id,
    rawId: id,
    type: 'public-key',
    response: {
      clientDataJSON: b64(r.clientDataJSON, 'response.clientDataJSON', 8192),
      attestationObject: b64(r.attestationObject, 'response.attestationObject', 65_536),
      transports: [...new Set(transports as string[])].filter((t) => TRANSPORTS.has(t)),
    },
    clientExtensionResults: {},
    ...(attachment ? { authenticatorAttachment: attachment } : {}),
  };
}

export function readAuthentication(raw: unknown): AuthenticationJson {
  const { id, response: r, attachment } = common(raw);
  const userHandle =
    r.userHandle === undefined || r.userHandle === null || r.userHandle === '' ? undefined : b64(r.userHandle, 'response.userHandle', 128);
  return {
    id,
    rawId: id,
    type: 'public-key',
    response: {
      clientDataJSON: b64(r.clientDataJSON, 'response.clientDataJSON', 8192),
      authenticatorData: b64(r.authenticatorData, 'response.authenticatorData', 8192),
      signature: b64(r.signature, 'response.signature', 2048),
      ...(userHandle ? { userHandle } : {}),
    },
    clientExtensionResults: {},
    ...(attachment ? { authenticatorAttachment: attachment } : {}),
  };
}

/**
 * The challenge the browser signed, read from `clientDataJSON` to find the
 * stored one it answers (the library then checks the whole of it). A
 * challenge we issue is 32 bytes: 43 characters.
 */
export function challengeOf(clientDataJSON: string): string {
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8'));
  } catch {
    throw refuse('response.clientDataJSON is not JSON.');
  }
  const challenge = isObject(data) ? data.challenge : undefined;
  if (typeof challenge !== 'string' || challenge.length === 0 || challenge.length > 128 || !BASE64URL.test(challenge)) {
    throw refuse('response.clientDataJSON holds no challenge.');
  }
  return challenge.replace(/=+$/, '');
}

/** The passkey's name: given text (trimmed, at most 100 characters), or the default. */
export function readPasskeyName(raw: unknown, fallback: string): string {
  if (raw === undefined || raw === null || raw === '') return fallback;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (typeof raw !== 'string' || raw.trim().length > 100 || /[\u0000-\u001f\u007f]/.test(raw)) {
    throw Errors.validation('An error occurred while validating the submitted data.', {
      name: fieldError('validation_invalid_value', 'Must be text of at most 100 characters.'),
    });
  }
  return raw.trim() || fallback;
}
