import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { signedUpUser, startServer, superuserToken, type TestServer } from './helpers/server.js';

/**
 * Passkeys without a browser: the `passkeys` option of auth collections
 * (validated, stored, shown, named by auth-methods), and every route's
 * answer to hostile input (no token, the wrong collection, malformed JSON,
 * wrong types, huge values, made-up challenges and ids). The flows
 * themselves run in Chromium: passkeys-browser.test.ts.
 */

let s: TestServer;
let su = '';
let ann: { id: string; token: string };
const ORIGIN = 'http://localhost:5173';

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  ann = await signedUpUser(s, 'ann@example.com');
}, 30_000);

afterAll(async () => {
  await s?.close();
});

const patchUsers = (passkeys: unknown) => s.request('PATCH', '/api/collections/users', { token: su, body: { passkeys } });

/** A 4xx in PocketBase's shape. */
function refused(res: { status: number; body: any }, status: number, message?: RegExp) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toMatchObject({ status, message: expect.any(String), data: expect.any(Object) });
  if (message) expect(res.body.message).toMatch(message);
}

describe('the passkeys option', () => {
  test('is off by default, shown on the collection, and absent from auth-methods until enabled', async () => {
    const users = (await s.request('GET', '/api/collections/users', { token: su })).body;
    expect(users.passkeys).toEqual({ enabled: false, rpID: '', rpName: '', origins: [] });
    expect((await s.request('GET', '/api/collections/users/auth-methods')).body).not.toHaveProperty('passkeys');
    refused(await s.request('POST', '/api/ms/passkeys/users/authentication-options'), 403, /not configured/);
    refused(await s.request('POST', '/api/ms/passkeys/users/registration-options', { token: ann.token }), 403);
  });

  test.each([
    ['not an object', 'yes', 'passkeys'],
    ['enabled not a boolean', { enabled: 'true' }, 'enabled'],
    ['enabled without an rp id', { enabled: true, origins: [ORIGIN] }, 'rpID'],
    ['enabled without origins', { enabled: true, rpID: 'localhost' }, 'origins'],
    ['an rp id that is a URL', { rpID: 'https://example.com' }, 'rpID'],
    ['an rp id with a port', { rpID: 'example.com:443' }, 'rpID'],
    ['an rp id that is an IP address', { rpID: '127.0.0.1' }, 'rpID'],
    ['an rp id in capitals', { rpID: 'Example.com' }, 'rpID'],
    ['an rp id too long', { rpID: `${'a'.repeat(63)}.`.repeat(5) }, 'rpID'],
    ['an rp id of another type', { rpID: 42 }, 'rpID'],
    ['an rp name too long', { rpName: 'x'.repeat(101) }, 'rpName'],
    ['an rp name with control characters', { rpName: 'a\u0000b' }, 'rpName'],
    ['origins not a list', { origins: ORIGIN }, 'origins'],
    ['too many origins', { rpID: 'localhost', origins: Array.from({ length: 11 }, (_, i) => `http://localhost:${3000 + i}`) }, 'origins'],
    ['an origin of another type', { origins: [{ url: ORIGIN }] }, 'origins'],
    ['an origin with a path', { rpID: 'localhost', origins: [`${ORIGIN}/login`] }, 'origins'],
    ['an origin outside the rp id', { rpID: 'example.com', origins: ['https://example.com.evil.net'] }, 'origins'],
    ['an http origin that is not localhost', { rpID: 'example.com', origins: ['http://app.example.com'] }, 'origins'],
    ['an origin that is no URL', { origins: ['not a url'] }, 'origins'],
    ['a huge origin', { origins: [`https://${'a'.repeat(100_000)}.com`] }, 'origins'],
  ])('refuses %s', async (_, passkeys, key) => {
    const res = await patchUsers(passkeys);
    refused(res, 400);
    if (key === 'passkeys') expect(res.body.data.passkeys).toMatchObject({ code: 'validation_invalid_value' });
    else expect(res.body.data.passkeys[key]).toMatchObject({ code: 'validation_invalid_value' });
    expect((await s.request('GET', '/api/collections/users', { token: su })).body.passkeys.enabled).toBe(false);
  });

  test('is stored as given and enables the routes; auth-methods names it', async () => {
    const res = await patchUsers({ enabled: true, rpID: 'localhost', rpName: 'Demo', origins: [ORIGIN, 'http://app.localhost:8080'] });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.passkeys).toEqual({ enabled: true, rpID: 'localhost', rpName: 'Demo', origins: [ORIGIN, 'http://app.localhost:8080'] });
    expect((await s.request('GET', '/api/collections/users/auth-methods')).body.passkeys).toEqual({ enabled: true });
    // a sub-domain rp id keeps its https origins
    const other = await s.request('POST', '/api/collections', {
      token: su,
      body: {
        name: 'staff',
        type: 'auth',
        passkeys: { enabled: true, rpID: 'example.com', origins: ['https://app.example.com', 'https://example.com:8443'] },
      },
    });
    expect(other.status, JSON.stringify(other.body)).toBe(200);
  });

  test('the OpenAPI document lists the routes of collections with passkeys on, and stays valid', async () => {
    const doc = (await s.request('GET', '/api/ms/openapi.json', { token: su })).body;
    const result = await new Validator().validate(doc);
    expect(result.valid, JSON.stringify(result.errors)).toBe(true);
    for (const path of ['registration-options', 'register', 'authentication-options', 'auth-with-passkey', '{id}']) {
      expect(doc.paths).toHaveProperty([`/api/ms/passkeys/users/${path}`]);
    }
    expect(doc.paths['/api/ms/passkeys/users'].get.operationId).toBe('listPasskeysUsers');
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/api/ms/passkeys/_superusers'))).toEqual([]);
  });

  test('options: what the browser needs, a fresh challenge each time, nothing of the server’s', async () => {
    const a = await s.request('POST', '/api/ms/passkeys/users/authentication-options');
    const b = await s.request('POST', '/api/ms/passkeys/users/authentication-options');
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({
      rpId: 'localhost',
      userVerification: 'required',
      timeout: 300_000,
      challenge: expect.stringMatching(/^[\w-]{43}$/),
    });
    expect(a.body.challenge).not.toBe(b.body.challenge);
    const r = await s.request('POST', '/api/ms/passkeys/users/registration-options', { token: ann.token });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      rp: { id: 'localhost', name: 'Demo' },
      user: { id: Buffer.from(ann.id).toString('base64url'), name: 'ann@example.com' },
      attestation: 'none',
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
      excludeCredentials: [],
    });
  });
});

describe('hostile input', () => {
  const register = (body: unknown, token = ann.token) => s.request('POST', '/api/ms/passkeys/users/register', { token, body });
  const signIn = (body: unknown) => s.request('POST', '/api/ms/passkeys/users/auth-with-passkey', { body });
  const clientData = (data: unknown) => Buffer.from(JSON.stringify(data)).toString('base64url');
  const assertion = (over: Record<string, unknown> = {}, response: Record<string, unknown> = {}) => ({
    id: 'AAAA',
    rawId: 'AAAA',
    type: 'public-key',
    clientExtensionResults: {},
    response: {
      clientDataJSON: clientData({ type: 'webauthn.get', challenge: 'A'.repeat(43), origin: ORIGIN }),
      authenticatorData: 'AA',
      signature: 'AA',
      ...response,
    },
    ...over,
  });

  test('collections: unknown, base, and another collection’s token', async () => {
    refused(await s.request('POST', '/api/ms/passkeys/nope/authentication-options'), 404);
    refused(await s.request('POST', '/api/ms/passkeys/_collections/authentication-options'), 404);
    refused(await s.request('GET', `/api/ms/passkeys/${encodeURIComponent("users' OR 1=1")}`, { token: ann.token }), 404);
    refused(await s.request('POST', '/api/ms/passkeys/staff/registration-options', { token: ann.token }), 403);
    refused(await s.request('GET', '/api/ms/passkeys/staff', { token: ann.token }), 403);
  });

  test('signed-in routes without a token, or with a forged one', async () => {
    for (const [method, path] of [
      ['POST', '/api/ms/passkeys/users/registration-options'],
      ['POST', '/api/ms/passkeys/users/register'],
      ['GET', '/api/ms/passkeys/users'],
      ['PATCH', '/api/ms/passkeys/users/abc'],
      ['DELETE', '/api/ms/passkeys/users/abc'],
    ]) {
      const body = method === 'GET' ? undefined : {};
      refused(await s.request(method as string, path as string, { body }), 401);
      refused(await s.request(method as string, path as string, { body, token: `${ann.token.slice(0, -2)}xx` }), 401);
    }
  });

  test('malformed JSON and bodies that are no object', async () => {
    for (const raw of ['{', '[]', '"x"', '1', 'null{', '{"credential":']) {
      const res = await s.request('POST', '/api/ms/passkeys/users/auth-with-passkey', {
        raw,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status, raw).toBe(400);
    }
    refused(await register([]), 400);
    refused(await signIn('credential'), 400);
  });

  test.each([
    ['no credential', {}],
    ['a credential that is text', { credential: 'abc' }],
    ['a credential that is a list', { credential: [1] }],
    ['an id of another type', { credential: assertion({ id: 12 }) }],
    ['an id that is not base64url', { credential: assertion({ id: 'a+b/c', rawId: 'a+b/c' }) }],
    ['a huge id', { credential: assertion({ id: 'A'.repeat(200_000), rawId: 'A'.repeat(200_000) }) }],
    ['rawId unlike id', { credential: assertion({ rawId: 'BBBB' }) }],
    ['another type', { credential: assertion({ type: 'password' }) }],
    ['an unknown attachment', { credential: assertion({ authenticatorAttachment: 'usb' }) }],
    ['no response', { credential: assertion({ response: null }) }],
    ['clientDataJSON of another type', { credential: assertion({}, { clientDataJSON: 5 }) }],
    ['clientDataJSON that is not JSON', { credential: assertion({}, { clientDataJSON: Buffer.from('{nope').toString('base64url') }) }],
    ['clientDataJSON without a challenge', { credential: assertion({}, { clientDataJSON: clientData({ type: 'webauthn.get' }) }) }],
    ['a challenge of another type', { credential: assertion({}, { clientDataJSON: clientData({ challenge: ['x'] }) }) }],
    ['a huge challenge', { credential: assertion({}, { clientDataJSON: clientData({ challenge: 'A'.repeat(5000) }) }) }],
    ['a signature of another type', { credential: assertion({}, { signature: { a: 1 } }) }],
    ['a huge signature', { credential: assertion({}, { signature: 'A'.repeat(100_000) }) }],
    ['a huge user handle', { credential: assertion({}, { userHandle: 'A'.repeat(1000) }) }],
  ])('sign-in refuses %s with a 400', async (_, body) => {
    refused(await signIn(body), 400);
  });

  test('a challenge never issued (or made up) is refused before anything else is read', async () => {
    refused(await signIn({ credential: assertion() }), 400, /challenge/);
    const issued = (await s.request('POST', '/api/ms/passkeys/users/authentication-options')).body.challenge;
    // issued, but for sign-in: it does not register; and a sign-in's garbage still uses it up
    const forged = assertion({}, { clientDataJSON: clientData({ type: 'webauthn.get', challenge: issued, origin: ORIGIN }) });
    refused(await register({ credential: { ...forged, response: { ...forged.response, attestationObject: 'AA' } } }), 400, /challenge/);
    refused(await signIn({ credential: forged }), 400, /Unknown passkey/);
    refused(await signIn({ credential: forged }), 400, /challenge/);
  });

  test('registration refuses bad shapes, bad names and garbage attestations', async () => {
    const options = (await s.request('POST', '/api/ms/passkeys/users/registration-options', { token: ann.token })).body;
    const made = {
      id: 'AAAA',
      rawId: 'AAAA',
      type: 'public-key',
      clientExtensionResults: {},
      response: {
        clientDataJSON: clientData({ type: 'webauthn.create', challenge: options.challenge, origin: ORIGIN }),
        attestationObject: 'AAAA',
      },
    };
    refused(await register({ credential: { ...made, response: { ...made.response, transports: 'usb' } } }), 400);
    refused(await register({ credential: { ...made, response: { ...made.response, attestationObject: 'A'.repeat(70_000) } } }), 400);
    refused(await register({ credential: made, name: 'x'.repeat(101) }), 400);
    refused(await register({ credential: made, name: 7 }), 400);
    // the shape passes: the library refuses the attestation itself, and the challenge is gone
    refused(await register({ credential: made, name: 'ok' }), 400, /could not be verified/);
    refused(await register({ credential: made, name: 'ok' }), 400, /challenge/);
  });

  test('list, rename and remove: made-up and hostile ids are 404s, bad names 400s', async () => {
    expect((await s.request('GET', '/api/ms/passkeys/users', { token: ann.token })).body).toEqual({ items: [] });
    for (const id of ['nope', "x' OR '1'='1", 'a'.repeat(90), '../users']) {
      refused(await s.request('DELETE', `/api/ms/passkeys/users/${encodeURIComponent(id)}`, { token: ann.token }), 404);
      refused(await s.request('PATCH', `/api/ms/passkeys/users/${encodeURIComponent(id)}`, { token: ann.token, body: { name: 'n' } }), 404);
    }
    // past Fastify's limit on a path parameter: the server's 414 for every route
    expect((await s.request('DELETE', `/api/ms/passkeys/users/${'a'.repeat(1000)}`, { token: ann.token })).status).toBe(414);
    refused(await s.request('PATCH', '/api/ms/passkeys/users/nope', { token: ann.token, body: { name: ['n'] } }), 400);
    refused(await s.request('GET', `/api/ms/passkeys/users?recordId=${'a'.repeat(200)}`, { token: su }), 400);
    expect((await s.request('GET', `/api/ms/passkeys/users?recordId=${ann.id}`, { token: su })).body).toEqual({ items: [] });
  });

  test('the routes are rate limited as sign-ins are (`*:auth`, per address)', async () => {
    const guarded = await startServer({ protections: true });
    try {
      const token = await superuserToken(guarded);
      const body = { passkeys: { enabled: true, rpID: 'localhost', origins: [ORIGIN] } };
      expect((await guarded.request('PATCH', '/api/collections/users', { token, body })).status).toBe(200);
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) statuses.push((await guarded.request('POST', '/api/ms/passkeys/users/authentication-options')).status);
      expect(statuses.slice(0, 9).every((x) => x === 200)).toBe(true);
      expect(statuses.at(-1)).toBe(429);
      refused(await guarded.request('POST', '/api/ms/passkeys/users/auth-with-passkey', { body: {} }), 429);
    } finally {
      await guarded.close();
    }
  });
});
