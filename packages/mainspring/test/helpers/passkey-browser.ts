import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { CDPSession, Page } from 'playwright-core';
import type { HooksModule } from '../../src/core/hooks/api.js';

/**
 * What the passkey tests run in Chromium: a page served by the test server
 * (so its origin is the server's, http://localhost:PORT, a secure context)
 * with the `pocketbase` SDK and the README's passkey helper exactly as
 * documented, plus a little glue the tests call through `page.evaluate`;
 * and virtual authenticators through the DevTools protocol.
 */

const ROOT = new URL('../../../../', import.meta.url);

/** The helper between `<!-- passkey-helper -->` and the end of its code block in the README. */
export function readmeHelper(): string {
  const readme = readFileSync(new URL('README.md', ROOT), 'utf8');
  const found = /<!-- passkey-helper -->\n```js\n([\s\S]*?)```/.exec(readme);
  if (!found?.[1]) throw new Error('README.md has no passkey helper block');
  return found[1];
}

// plain JavaScript for the page: no transpiler touches it
const GLUE = `
function pbWith(token, record) {
  const pb = new PocketBase(location.origin);
  if (token) pb.authStore.save(token, record);
  return pb;
}
function failure(e) {
  return { error: { name: e && e.name, status: e && e.status, data: (e && e.response) || null, message: String(e && e.message) } };
}
async function testRegister(token, record, name) {
  try { return { ok: await registerPasskey(pbWith(token, record), 'users', name) }; } catch (e) { return failure(e); }
}
async function testSignIn(mfaId) {
  const pb = pbWith();
  try {
    const auth = await signInWithPasskey(pb, 'users', mfaId);
    return { ok: auth, stored: pb.authStore.isValid && pb.authStore.record.id === auth.record.id };
  } catch (e) { return failure(e); }
}
async function testAssertion(collection) {
  const res = await fetch('/api/ms/passkeys/' + collection + '/authentication-options', { method: 'POST' });
  const o = await res.json();
  if (!res.ok) return { error: o };
  try {
    const c = await navigator.credentials.get({ publicKey: { ...o, challenge: b64url.toBytes(o.challenge), allowCredentials: [] } });
    return { ok: passkeyJSON(c) };
  } catch (e) { return failure(e); }
}
async function testAttestation(token) {
  const res = await fetch('/api/ms/passkeys/users/registration-options', { method: 'POST', headers: { authorization: token } });
  const o = await res.json();
  if (!res.ok) return { error: o };
  try {
    const publicKey = { ...o, challenge: b64url.toBytes(o.challenge), user: { ...o.user, id: b64url.toBytes(o.user.id) },
      excludeCredentials: (o.excludeCredentials || []).map((c) => ({ ...c, id: b64url.toBytes(c.id) })) };
    return { ok: passkeyJSON(await navigator.credentials.create({ publicKey })) };
  } catch (e) { return failure(e); }
}
`;

/** Serves the test page at `/passkeys-page` (and the SDK it loads) from the server the hooks are loaded into. */
export function passkeyPageHooks(): HooksModule {
  const sdk = readFileSync(new URL('node_modules/pocketbase/dist/pocketbase.iife.js', ROOT), 'utf8');
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>passkeys</title></head><body>
<script src="/passkeys-sdk.js"></script><script>${readmeHelper()}</script><script>${GLUE}</script></body></html>`;
  return (ms) => {
    ms.onServe((e) => {
      const server = e.server as FastifyInstance;
      server.get('/passkeys-page', (_request, reply) => reply.type('text/html; charset=utf-8').send(html));
      server.get('/passkeys-sdk.js', (_request, reply) => reply.type('text/javascript; charset=utf-8').send(sdk));
      return e.next();
    });
  };
}

/** Answers from the page: `ok` with the value, or `error` with what was thrown (an SDK error's status and body). */
export type PageResult<T = any> = { ok: T; error?: undefined; stored?: boolean } | { ok?: undefined; error: any; stored?: undefined };

/** A virtual platform authenticator (a laptop's), with resident keys and user verification that always passes. */
export async function addAuthenticator(page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

/** Calls a function of the page's glue with JSON arguments. */
export function call<T = any>(page: Page, fn: string, ...args: unknown[]): Promise<PageResult<T>> {
  return page.evaluate(`${fn}(...${JSON.stringify(args)})`) as Promise<PageResult<T>>;
}
