import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { addAuthenticator, call, passkeyPageHooks } from '../../mainspring/test/helpers/passkey-browser.js';
import { signedUpUser, startServer, superuserToken, type TestServer } from '../../mainspring/test/helpers/server.js';
import { CHROMIUM, launchChromium, signInDashboard, shot as takeShot, watchProblems } from './browser.js';

/**
 * The dashboard's auth options and a user's sign-in means, in real Chromium
 * against a real server: a GitHub provider and passkeys configured in the
 * collection editor (the server's field errors shown at the fields as they
 * are typed), saved and read back through the API, the client secret never
 * in any answer; the redirect URL to paste into the provider's console
 * shown and copied; in a user's panel an OAuth2 identity (made through the
 * records API) unlinked, and a real passkey (registered through the
 * README's helper with a virtual authenticator) removed. The page is served
 * at http://localhost:PORT (a secure context, rp id `localhost`).
 * Screenshots as dashboard.e2e.test.ts takes them.
 */

const SECRET = 'gh-secret-0f1e2d3c4b5a';

let s: TestServer;
let origin = '';
let su = '';
let browser: Browser;
let page: Page;
const problems: string[] = [];
/** Every answer the dashboard received, as text: the secret must be in none. */
const answers: string[] = [];

beforeAll(async () => {
  s = await startServer({ hooks: [passkeyPageHooks()] });
  origin = s.url.replace('127.0.0.1', 'localhost');
  su = await superuserToken(s);
  browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  page = await context.newPage();
  watchProblems(page, problems);
  page.on('dialog', (d) => d.accept());
  page.on('response', async (r) => {
    if (r.url().includes('/api/')) answers.push(await r.text().catch(() => ''));
  });
  await signInDashboard(page, s, origin);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await s?.close();
});

const shot = (name: string) => takeShot(page, name);
const dialog = () => page.locator('[role=dialog]');
const stored = () => s.app.records.collection('users').auth?.oauth2;

test.runIf(existsSync(CHROMIUM) || process.env.CI === 'true')(
  'OAuth2 providers and passkeys set in the editor; a user’s identity unlinked and passkey removed in the panel',
  async () => {
    const ann = await signedUpUser(s, 'ann@example.com');
    await page.goto(`${origin}/_/#/collections/users`);
    await page.reload();
    await page.click('text=⚙ Edit collection');
    await page.click('role=tab[name="Auth options"]');

    // the redirect URL to paste into the provider's console: this server's page, copied with a click
    expect(await page.inputValue('#oauth2-redirect')).toBe(`${origin}/api/oauth2-redirect`);
    await dialog().locator('.oauth2 button', { hasText: 'Copy' }).click();
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(`${origin}/api/oauth2-redirect`);

    // a provider from the known list; the server's errors at its fields as it is filled in
    await page.check('input[name=oauth2-enabled]');
    await page.selectOption('select[name=oauth2-add]', 'github');
    await dialog().locator('button', { hasText: '+ Add' }).click();
    expect(await page.locator('select[name=oauth2-add] option[value=github]').count()).toBe(0);
    await expect.poll(() => dialog().locator('[data-provider=github] .error').allInnerTexts()).toEqual(['Cannot be blank.']);
    await page.fill('input[name=oauth2-github-clientId]', 'gh-client-1');
    await page.fill('input[name=oauth2-github-clientSecret]', SECRET);
    await page.fill('input[name=oauth2-github-displayName]', 'GitHub <b>SSO</b>');
    await page.uncheck('input[name=oauth2-github-pkce]');
    await page.selectOption('select[name=oauth2-mapped-name]', 'name');
    await page.selectOption('select[name=oauth2-mapped-avatarURL]', 'avatar');

    // passkeys: a URL is no rp id, a javascript: origin no origin
    await page.check('input[name=passkeys-enabled]');
    await page.fill('input[name=passkeys-rpID]', 'http://evil.example');
    await page.fill('textarea[name=passkeys-origins]', 'javascript:alert(1)');
    await page.locator('textarea[name=passkeys-origins]').blur();
    await expect.poll(() => dialog().locator('.passkeys .error').allInnerTexts()).toEqual([expect.stringMatching(/domain name/)]);
    await page.fill('input[name=passkeys-rpID]', 'localhost');
    await expect
      .poll(() => dialog().locator('.passkeys .error').allInnerTexts())
      .toEqual([expect.stringMatching(/^javascript:alert\(1\) /)]);
    await page.fill('textarea[name=passkeys-origins]', `${origin}\nhttps://app.localhost`);
    await page.locator('textarea[name=passkeys-origins]').blur();
    await page.fill('input[name=passkeys-rpName]', 'Acme');
    await expect.poll(() => dialog().locator('.error').count()).toBe(0);
    await dialog().locator('.oauth2').scrollIntoViewIfNeeded();
    await shot('collection-auth-oauth2');
    // (the panel's footer sticks over the bottom: centred, the whole section shows)
    await page.locator('.passkeys').evaluate((el) => el.scrollIntoView({ block: 'center' }));
    await shot('collection-auth-passkeys');
    await page.click('text=Review changes');
    await page.waitForSelector('.preview >> text=~ oauth2');
    expect(await page.textContent('.preview')).toContain('~ passkeys');
    await page.click('text=Apply');
    await page.waitForSelector('[role=dialog]', { state: 'detached' });

    // stored as sent; the secret kept by the server and never answered
    const users = await s.request('GET', '/api/collections/users', { token: su });
    expect(users.body.oauth2).toEqual({
      enabled: true,
      mappedFields: { id: '', name: 'name', username: '', avatarURL: 'avatar' },
      providers: [
        {
          name: 'github',
          clientId: 'gh-client-1',
          authURL: '',
          tokenURL: '',
          userInfoURL: '',
          displayName: 'GitHub <b>SSO</b>',
          pkce: false,
          extra: {},
        },
      ],
    });
    expect(users.body.passkeys).toEqual({ enabled: true, rpID: 'localhost', rpName: 'Acme', origins: [origin, 'https://app.localhost'] });
    expect(stored()?.providers[0]?.clientSecret).toBe(SECRET);
    const methods = await s.request('GET', '/api/collections/users/auth-methods');
    expect(methods.body.oauth2.providers.map((p: any) => p.name)).toEqual(['github']);
    for (const body of [JSON.stringify(users.body), JSON.stringify(methods.body), ...answers]) expect(body).not.toContain(SECRET);

    // opened again: the secret reads as stored; a save without typing it keeps it
    await page.click('text=⚙ Edit collection');
    await page.click('role=tab[name="Auth options"]');
    expect(await page.getAttribute('input[name=oauth2-github-clientSecret]', 'placeholder')).toMatch(/Stored/);
    expect(await page.inputValue('input[name=oauth2-github-clientSecret]')).toBe('');
    expect(await page.isChecked('input[name=oauth2-github-pkce]')).toBe(false);
    await page.fill('input[name=oauth2-github-displayName]', 'GitHub');
    await page.click('text=Review changes');
    await page.click('text=Apply');
    await page.waitForSelector('[role=dialog]', { state: 'detached' });
    expect(stored()?.providers[0]).toMatchObject({ displayName: 'GitHub', clientSecret: SECRET });

    // ann's sign-in means: an identity linked through the records API, a passkey registered in the browser
    const users2 = await s.request('GET', '/api/collections/users', { token: su });
    const linked = await s.request('POST', '/api/collections/_externalAuths/records', {
      token: su,
      body: { collectionRef: users2.body.id, recordRef: ann.id, provider: 'github', providerId: '<img src=x onerror="window.__pwned=1">' },
    });
    expect(linked.status, JSON.stringify(linked.body)).toBe(200);
    const keyPage = await page.context().newPage();
    await keyPage.goto(`${origin}/passkeys-page`);
    await addAuthenticator(keyPage);
    const annRecord = (await s.request('GET', `/api/collections/users/records/${ann.id}`, { token: ann.token })).body;
    const registered = await call(keyPage, 'testRegister', ann.token, annRecord, 'Laptop');
    expect(registered.error, JSON.stringify(registered.error)).toBeUndefined();
    await keyPage.close();

    await page.locator('table.grid button.link', { hasText: ann.id }).click();
    await page.waitForSelector('[data-identity=github]');
    expect(await page.textContent('[data-identity=github] .code')).toBe('<img src=x onerror="window.__pwned=1">');
    expect(await dialog().locator('img[src=x]').count()).toBe(0);
    const key = dialog().locator('[data-passkey]');
    expect(await key.textContent()).toMatch(/Laptop\s*· added \d{4}-\d\d-\d\d \d\d:\d\d · never used/);
    await dialog().locator('.passkey-list').scrollIntoViewIfNeeded();
    await shot('record-identities');

    // unlink: gone in the panel and on the server; the passkey likewise
    await page.click('[data-identity=github] >> text=Unlink');
    await page.waitForSelector('text=No OAuth2 identity linked.');
    const left = await s.request('GET', `/api/collections/_externalAuths/records?filter=recordRef='${ann.id}'`, { token: su });
    expect(left.body.totalItems).toBe(0);
    await key.locator('button', { hasText: 'Remove' }).click();
    await page.waitForSelector('text=No passkey.');
    expect((await s.request('GET', `/api/ms/passkeys/users?recordId=${ann.id}`, { token: su })).body.items).toEqual([]);
    expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
    expect(problems).toEqual([]);
  },
  90_000,
);
