import { existsSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOidc, type TestOidc, useOidc } from './helpers/oidc.js';
import { startServer, superuserToken, TEST_ENGINE, type TestServer } from './helpers/server.js';

/**
 * The SDK's all-in-one `authWithOAuth2({provider})` in Chromium: the SDK
 * opens a popup on the provider, the person signs in and consents there,
 * the provider sends the popup to `/api/oauth2-redirect`, which hands the
 * code to the page over realtime (`@oauth2`), and the SDK finishes with
 * `auth-with-oauth2`.
 */

const CHROMIUM = '/usr/bin/chromium';
const SDK = new URL('../../../node_modules/pocketbase/dist/pocketbase.umd.js', import.meta.url).pathname;
const haveChromium = existsSync(CHROMIUM);

let s: TestServer;
let op: TestOidc;
let browser: Browser;
let context: BrowserContext;

beforeAll(async () => {
  if (!haveChromium) return;
  s = await startServer();
  const admin = await superuserToken(s);
  op = await startOidc(
    [{ client_id: 'ms-app', client_secret: 'ms-app-secret', redirect_uris: [`${s.url}/api/oauth2-redirect`] }],
    [{ sub: 'grace', email: 'grace@example.com', email_verified: true, name: 'Grace Hopper', preferred_username: 'grace' }],
  );
  await useOidc(s.request, admin, op, 'http://127.0.0.1:1/unused', [], { name: 'name' });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  context = await browser.newContext({ bypassCSP: true });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await s?.close();
  await op?.close();
});

/** Signs in on the provider's development login page, then consents. */
async function signInAtProvider(popup: Page, login: string) {
  await popup.waitForSelector('input[name="login"]');
  await popup.fill('input[name="login"]', login);
  await popup.fill('input[name="password"]', 'any');
  await popup.click('button[type="submit"]');
  await popup.waitForSelector('button[type="submit"]');
  await popup.click('button[type="submit"]');
}

describe.skipIf(!haveChromium)(`OAuth2 all-in-one flow in Chromium (${TEST_ENGINE})`, () => {
  it('signs up through the popup and the realtime @oauth2 topic', async () => {
    const page = await context.newPage();
    await page.goto(`${s.url}/api/health`);
    await page.addScriptTag({ path: SDK });
    const popupOpened = context.waitForEvent('page');
    const result = page.evaluate(async () => {
      const w = globalThis as any;
      const pb = new w.PocketBase(w.location.origin);
      const auth = await pb.collection('users').authWithOAuth2({ provider: 'oidc' });
      return { email: auth.record.email, name: auth.record.name, isNew: auth.meta.isNew, valid: pb.authStore.isValid };
    });
    const popup = await popupOpened;
    await signInAtProvider(popup, 'grace');
    expect(await result).toEqual({ email: 'grace@example.com', name: 'Grace Hopper', isNew: true, valid: true });
    await page.close();
  });

  it('the redirect page reaches a waiting client once; a forged or replayed state reaches no one', async () => {
    const page = await context.newPage();
    await page.goto(`${s.url}/api/health`);
    await page.addScriptTag({ path: SDK });
    const clientId = await page.evaluate(async () => {
      const w = globalThis as any;
      const pb = new w.PocketBase(w.location.origin);
      w.heard = [];
      await pb.realtime.subscribe('@oauth2', (e: unknown) => w.heard.push(e));
      return pb.realtime.clientId as string;
    });
    const hit = (state: string) =>
      fetch(`${s.url}/api/oauth2-redirect?state=${encodeURIComponent(state)}&code=the-code`).then((r) => r.text());
    expect(await hit('not-a-client')).toContain('Failed to sign in');
    expect(await hit(clientId)).toContain('Signed in');
    expect(await hit(clientId)).toContain('Failed to sign in');
    await page.waitForFunction(() => (globalThis as any).heard.length > 0);
    await new Promise((r) => setTimeout(r, 200));
    expect(await page.evaluate(() => (globalThis as any).heard)).toEqual([{ state: clientId, code: 'the-code' }]);
    await page.close();
  });
});
