import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { signedUpUser, startServer, type TestServer } from '../../mainspring/test/helpers/server.js';
import { CHROMIUM, launchChromium, shot as takeShot, watchProblems } from './browser.js';

/**
 * The dashboard in real Chromium against a real server: the install link,
 * a collection with a relation, a file field and rules made in the editor
 * (the rule checked by the server as it is typed), records added with a
 * file, filtered, one made by another client appearing live, hostile text
 * shown as text, a view collection over them (its fields inferred by the
 * server as the query is typed, its records read-only), and the session
 * ending, and renewed silently before its token expires. Relations read
 * by the related record's presentable field, records newest first, the
 * keyboard in the list, the rule and JSON editors (CodeMirror: highlighting,
 * completion of `@request.auth.*`), the system's dark theme. Each screenshot
 * is taken light and dark (`NAME.png`, `NAME-dark.png`) into
 * `.vitest-tmp/screenshots/`, or MS_SCREENSHOTS (`docs/screenshots` to
 * refresh the README's).
 */

// a 1×1 PNG
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

let s: TestServer;
let browser: Browser;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  s = await startServer();
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  // no CSP violation, no uncaught error, no dialog other than the ones we accept
  watchProblems(page, problems);
  page.on('dialog', (d) => d.accept(d.type() === 'prompt' ? (d.defaultValue() ?? '') : undefined));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await s?.close();
});

/** The screen as it is, light and dark (browser.ts). */
const shot = (name: string, p: Page = page) => takeShot(p, name);
/** The texts of the code editor's completion popup. */
const completions = () => page.locator('.cm-tooltip-autocomplete li').allInnerTexts();
/**
 * Replaces a code editor's text as a person would: select all, delete, type. (Playwright's fill edits
 * through the browser's own editing, which tries to keep the spans' look as inline styles: refused by
 * the CSP, rightly, but noisy.)
 */
async function code(selector: string, text: string) {
  await page.click(selector);
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Backspace');
  if (text) await page.keyboard.type(text);
}
/** Takes a completion with the mouse (Enter is ignored in the popup's first 75 ms, by design). */
const pick = (label: string) => page.locator('.cm-tooltip-autocomplete li', { hasText: new RegExp(`^${label}$`) }).click();
const dialog = () => page.locator('[role=dialog]');

test.runIf(existsSync(CHROMIUM) || process.env.CI === 'true')(
  'install, build a collection with a relation, file and rules, add and filter records, see another client live, stay safe',
  async () => {
    // a column of the records table, top to bottom
    const column = (name: string) =>
      page.evaluate((n) => {
        const heads = [...document.querySelectorAll('table.grid thead th')].map((th) => th.textContent?.replace(/[▲▼]/g, '').trim());
        const at = heads.indexOf(n);
        return [...document.querySelectorAll('table.grid tbody tr')].map((tr) => tr.children[at]?.textContent?.trim());
      }, name);

    // 1. the one-time install link opens the first-superuser form
    const token = await s.app.install.newToken();
    await page.goto(`${s.url}/_/#/install/${token}`);
    await page.fill('input[name=email]', 'admin@example.com');
    await page.fill('input[name=password]', 'admin-password-1');
    await page.fill('input[name=passwordConfirm]', 'admin-password-1');
    await shot('install');
    await page.click('button[type=submit]');
    await page.waitForSelector('.shell');
    const ann = await signedUpUser(s, 'ann@example.com');
    // users are shown, where a record points at them, by their name: the field marked presentable
    const users = await s.request('GET', '/api/collections/users', { token: await superToken() });
    const fields = users.body.fields.map((f: any) => (f.name === 'name' ? { ...f, presentable: true } : f));
    expect((await s.request('PATCH', '/api/collections/users', { token: await superToken(), body: { fields } })).status).toBe(200);
    await s.request('PATCH', `/api/collections/users/records/${ann.id}`, { token: await superToken(), body: { name: 'Ann Example' } });

    // the auth flows' system collections sit in a folded group of their own; ann's sign-in is in _authOrigins
    expect(await page.locator('.sidebar > .nav-list').first().textContent()).not.toContain('_authOrigins');
    const systemGroup = page.locator('details.nav-system');
    expect(await systemGroup.getAttribute('open')).toBeNull();
    await systemGroup.locator('summary').click();
    await systemGroup.locator('text=_authOrigins').click();
    await page.waitForSelector('#records-title >> text=_authOrigins');
    await page.click('button[aria-label=Refresh]');
    await page.waitForSelector(`td >> text=${ann.id}`);
    await shot('system-collections');

    // 2. a collection with a relation to users, a file field and rules
    await page.click('text=+ New collection');
    await dialog().locator('input[name=name]').fill('posts');
    for (const [i, name, type] of [
      [0, 'title', 'text'],
      [1, 'author', 'relation'],
      [2, 'cover', 'file'],
      [3, 'site', 'url'],
      [4, 'place', 'geoPoint'],
      [5, 'meta', 'json'],
    ] as const) {
      await page.click('text=+ Add field');
      await page.fill(`input[name=field-${i}-name]`, name);
      await page.selectOption(`select[name=field-${i}-type]`, type);
    }
    await page.selectOption('select[name=field-1-collectionId]', { label: 'users' });
    await page.fill('input[name=field-2-mimeTypes]', 'image/png, image/jpeg');
    await page.locator('input[name=field-2-mimeTypes]').blur();
    await page.click('role=tab[name="API rules"]');
    await page.click('[data-rule=listRule] >> text=Set a rule');
    // a wrong field name is refused by the server as it is typed
    await code('#rule-listRule', 'titel != ""');
    await expect.poll(() => page.textContent('[data-rule=listRule] .hint')).toMatch(/Invalid rule/);
    await shot('collection-rules-error');
    // completion of field names
    await code('#rule-listRule', '');
    await page.type('#rule-listRule', 'tit');
    await expect.poll(completions).toContain('title');
    await pick('title');
    await page.type('#rule-listRule', ' != "" && author.verified = false');
    await expect.poll(() => page.textContent('[data-rule=listRule] .hint')).toContain('Valid');
    // highlighted by token: fields, operators, strings, the && between them
    const tokens = (cls: string) => page.locator(`#rule-listRule .tok-${cls}`).allInnerTexts();
    expect(await tokens('propertyName')).toEqual(['title', 'author.verified']);
    expect(await tokens('operator')).toEqual(['!=', '=']);
    expect(await tokens('string')).toEqual(['""']);
    expect(await tokens('keyword')).toEqual(['&&']);
    await page.click('[data-rule=viewRule] >> text=Set a rule');
    await code('#rule-viewRule', '');
    // @request.auth. completes the fields of the auth collections (users here), none of posts', no hidden one
    await page.click('[data-rule=createRule] >> text=Set a rule');
    await page.type('#rule-createRule', '@request.auth.');
    await expect.poll(completions).toContain('verified');
    const authPaths = await completions();
    expect(authPaths).toEqual(expect.arrayContaining(['id', 'collectionName', 'email', 'name', 'verified', 'emailVisibility']));
    expect(authPaths).not.toContain('title');
    expect(authPaths).not.toContain('password');
    expect(authPaths).not.toContain('tokenKey');
    await shot('collection-rules-complete');
    await page.type('#rule-createRule', 'veri');
    await expect.poll(completions).toEqual(['verified']);
    await pick('verified');
    await page.type('#rule-createRule', ' = true && @collection.');
    // @collection. completes the collections and their fields
    await expect.poll(completions).toContain('users');
    await page.keyboard.press('Escape');
    await code('#rule-createRule', '@request.auth.verified = true');
    expect(await page.locator('#rule-createRule .tok-macroName').allInnerTexts()).toEqual(['@request.auth.verified']);
    await expect.poll(() => page.textContent('[data-rule=createRule] .hint')).toContain('Valid');
    await shot('collection-rules');
    await page.click('text=Review changes');
    await page.waitForSelector('.preview >> text=+ field author (relation)');
    await shot('collection-preview');
    await page.click('text=Apply');
    await page.waitForSelector('#records-title >> text=posts');
    const posts = await s.request('GET', '/api/collections/posts', { token: page.evaluate.length ? await superToken() : '' });
    expect(posts.body.listRule).toBe('title != "" && author.verified = false');
    expect(posts.body.viewRule).toBe('');
    expect(posts.body.createRule).toBe('@request.auth.verified = true');
    expect(posts.body.fields.find((f: any) => f.name === 'author').collectionId).toBe('_pb_users_auth_');

    // 3. records through the side panel: relation picker, file upload with preview
    for (const title of ['first post', 'second post']) {
      await page.click('text=+ New record');
      await page.fill('#f-title', title);
      await page.fill('#f-author', 'ann');
      await page.click('.results >> text=Ann Example');
      await page.setInputFiles('#f-cover', { name: `${title.split(' ')[0]}.png`, mimeType: 'image/png', buffer: PNG });
      await page.waitForSelector('.files li.new img');
      if (title === 'first post') {
        await page.fill('#f-place', '23.32');
        await page.fill('input[name="place.lat"]', '42.69');
        // the JSON editor highlights keys apart from values
        await code('#f-meta', '{"tags": ["a", 1], "draft": true}');
        await expect.poll(() => page.locator('#f-meta .tok-propertyName').allInnerTexts()).toEqual(['"tags"', '"draft"']);
        expect(await page.locator('#f-meta .tok-string').allInnerTexts()).toEqual(['"a"']);
      }
      if (title === 'first post') await shot('record-panel');
      await dialog().locator('button[type=submit]').click();
      await page.waitForSelector('[role=dialog]', { state: 'detached' });
    }
    await page.waitForFunction(() => document.querySelectorAll('table.grid tbody tr').length === 2);
    const stored = await s.request('GET', '/api/collections/posts/records?sort=title', { token: await superToken() });
    expect(stored.body.items.map((r: any) => [r.title, r.author, r.cover.length > 0, r.place, r.meta])).toEqual([
      ['first post', ann.id, true, { lon: 23.32, lat: 42.69 }, { tags: ['a', 1], draft: true }],
      ['second post', ann.id, true, { lon: 0, lat: 0 }, null],
    ]);
    await page.waitForSelector('table.grid img.thumb');
    // newest first; the author by the name of the user (presentable), not by the id
    await expect.poll(() => column('title')).toEqual(['second post', 'first post']);
    expect(await column('author')).toEqual(['Ann Example', 'Ann Example']);

    // 4. the filter bar, its errors inline
    await page.fill('input[name=filter]', 'title ~ "second"');
    await page.press('input[name=filter]', 'Enter');
    await page.waitForFunction(() => document.querySelectorAll('table.grid tbody tr').length === 1);
    await page.fill('input[name=filter]', 'nope = 1');
    await page.press('input[name=filter]', 'Enter');
    await expect.poll(() => page.textContent('#filter-error')).toMatch(/filter|nope/i);
    await page.fill('input[name=filter]', '');
    await page.press('input[name=filter]', 'Enter');
    await page.waitForFunction(() => document.querySelectorAll('table.grid tbody tr').length === 2);

    // 5. another client writes; the table shows it without a reload, hostile text as text
    const hostile = {
      title: '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">',
      site: '',
      author: ann.id,
    };
    const other = await s.request('POST', '/api/collections/posts/records', { token: await superToken(), body: hostile });
    expect(other.status).toBe(200);
    await s.request('POST', '/api/collections/posts/records', {
      token: await superToken(),
      body: { title: 'javascript:window.__pwned=3', site: 'https://example.com/?q=<b>x</b>', author: ann.id },
    });
    await page.waitForFunction(() => document.querySelectorAll('table.grid tbody tr').length === 4);
    await page.locator('table.grid button.link', { hasText: other.body.id }).click();
    await page.waitForSelector('#f-title');
    expect(await page.inputValue('#f-title')).toBe(hostile.title);
    await page.keyboard.press('Escape');
    await page.waitForSelector('[role=dialog]', { state: 'detached' });
    await page.click('text=⚙ Edit collection');
    await page.click('[role=dialog] button[aria-label=Close]');
    await page.click('text=Columns');
    await page.waitForTimeout(300);
    expect(await page.textContent('table.grid')).toContain('<script>window.__pwned = 1</script>');
    expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
    expect(await page.locator('table.grid script, table.grid img[src=x]').count()).toBe(0);
    // only http(s) values become links
    expect(await page.locator('table.grid a[href^="javascript:"]').count()).toBe(0);
    await page.click('text=Columns');
    await shot('records');

    // the keyboard in the list: j/k and the arrows move from row to row, Enter opens it, Escape closes it
    const activeRow = () =>
      page.evaluate(() => [...document.querySelectorAll('table.grid tbody tr')].findIndex((tr) => tr.classList.contains('active')));
    // (the list keeps its row: the one opened above by the mouse; k four times reaches the top)
    await page.click('#records-title');
    for (const key of ['k', 'k', 'k', 'k']) await page.keyboard.press(key);
    expect(await activeRow()).toBe(0);
    for (const key of ['j', 'j', 'ArrowUp', 'j', 'k']) await page.keyboard.press(key);
    expect(await activeRow()).toBe(1);
    expect(await page.evaluate(() => (document.activeElement?.closest('tbody tr') as HTMLTableRowElement | null)?.sectionRowIndex)).toBe(1);
    expect(await column('title')).toEqual(['javascript:window.__pwned=3', hostile.title, 'second post', 'first post']);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#f-title');
    expect(await page.inputValue('#f-title')).toBe(hostile.title);
    await page.keyboard.press('Escape');
    await page.waitForSelector('[role=dialog]', { state: 'detached' });
    await page.keyboard.press('ArrowDown');
    expect(await activeRow()).toBe(2);
    // Enter from the page itself (focus nowhere) opens the row the keyboard is on
    await page.click('#records-title');
    expect(await page.evaluate(() => document.activeElement === document.body)).toBe(true);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#f-title');
    expect(await page.inputValue('#f-title')).toBe('second post');
    await page.keyboard.press('Escape');
    await page.waitForSelector('[role=dialog]', { state: 'detached' });
    // keys typed into a field stay there
    await page.click('input[name=filter]');
    await page.keyboard.press('j');
    expect(await activeRow()).toBe(2);
    expect(await page.inputValue('input[name=filter]')).toBe('j');
    await page.fill('input[name=filter]', '');

    // the system's dark theme: the page's colours follow it, the light ones come back with it
    const background = () => page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    expect(await background()).toBe('rgb(246, 247, 249)');
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await background()).toBe('rgb(18, 20, 24)');
    expect(await page.evaluate(() => getComputedStyle(document.querySelector('table.grid td') as Element).color)).toBe(
      'rgb(228, 231, 236)',
    );
    await page.emulateMedia({ colorScheme: 'light' });
    expect(await background()).toBe('rgb(246, 247, 249)');

    // 6. a view collection over posts: the query instead of fields, the fields the server infers, two rules, no indexes
    const bob = await signedUpUser(s, 'bob@example.com');
    await page.click('text=+ New collection');
    await dialog().locator('input[name=name]').fill('post_counts');
    await dialog().locator('select[name=type]').selectOption('view');
    await page.waitForSelector('#view-query');
    expect(await dialog().locator('role=tab').allTextContents()).toEqual(['Query', 'API rules']);
    expect(await dialog().locator('text=+ Add field').count()).toBe(0);
    // a query the server refuses: its reason under the query, no fields
    await page.fill('#view-query', 'SELECT title FROM posts');
    await expect.poll(() => page.textContent('#view-query-hint')).toMatch(/"id" column/);
    expect(await page.getAttribute('#view-query', 'aria-invalid')).toBe('true');
    expect(await dialog().locator('.inferred-fields li').count()).toBe(0);
    await shot('collection-view-error');
    const query = `SELECT u.id AS id, u.id AS member, COUNT(p.id) AS posts
FROM users u LEFT JOIN posts p ON p.author = u.id
GROUP BY u.id`;
    await page.fill('#view-query', query);
    await expect
      .poll(() => dialog().locator('.inferred-fields li').allInnerTexts())
      .toEqual([
        expect.stringMatching(/^id\s+Text$/),
        expect.stringMatching(/^member\s+Relation → users$/),
        expect.stringMatching(/^posts\s+Number$/),
      ]);
    expect(await page.getAttribute('#view-query', 'aria-invalid')).toBeNull();
    await shot('collection-view');
    await page.click('role=tab[name="API rules"]');
    expect(
      await dialog()
        .locator('[data-rule]')
        .evaluateAll((els) => els.map((e) => e.getAttribute('data-rule'))),
    ).toEqual(['listRule', 'viewRule']);
    // rules are checked against the inferred fields
    await page.click('[data-rule=listRule] >> text=Set a rule');
    await code('#rule-listRule', 'postz > 0');
    await expect.poll(() => page.textContent('[data-rule=listRule] .hint')).toMatch(/Invalid rule/);
    await code('#rule-listRule', 'posts >= 0');
    await expect.poll(() => page.textContent('[data-rule=listRule] .hint')).toContain('Valid');
    await page.click('text=Review changes');
    await page.waitForSelector('.preview >> text=+ field posts (number)');
    await page.click('text=Apply');
    await page.waitForSelector('#records-title >> text=post_counts');
    const view = await s.request('GET', '/api/collections/post_counts', { token: await superToken() });
    expect([view.body.type, view.body.viewQuery, view.body.listRule, view.body.viewRule, view.body.createRule]).toEqual([
      'view',
      query,
      'posts >= 0',
      null,
      null,
    ]);
    expect(await page.textContent('.nav-list a[href="#/collections/post_counts"] .badge.view')).toBe('V');

    // 7. a view's records: listed, sorted, filtered and opened like any, but with nothing that would write them
    await page.waitForFunction(() => document.querySelectorAll('table.grid tbody tr').length === 2);
    expect(await page.locator('text=+ New record').count()).toBe(0);
    expect(await page.locator('table.grid input[type=checkbox], .bulk').count()).toBe(0);
    await page.click('table.grid th button >> text=posts');
    await expect.poll(() => column('posts')).toEqual(['0', '4']);
    await page.click('table.grid th button >> text=posts');
    await expect.poll(() => column('posts')).toEqual(['4', '0']);
    // a relation reads as its record's presentable field, the id where that is empty
    expect(await column('member')).toEqual(['Ann Example', bob.id]);
    await page.fill('input[name=filter]', 'posts > 0');
    await page.press('input[name=filter]', 'Enter');
    await page.waitForFunction(() => document.querySelectorAll('table.grid tbody tr').length === 1);
    await shot('records-view');
    await page.locator('table.grid button.link', { hasText: ann.id }).click();
    // the record panel shows its values (the relation by its label) and has no save or delete
    await page.waitForSelector('[data-field=member] .chip >> text=Ann Example');
    expect(await page.inputValue('#f-posts')).toBe('4');
    expect(await page.isDisabled('#f-posts')).toBe(true);
    await shot('record-view-panel');
    expect(await dialog().locator('button[type=submit], button.danger, input[type=search], input[type=file]').count()).toBe(0);
    await dialog().locator('button', { hasText: 'Close' }).last().click();
    await page.waitForSelector('[role=dialog]', { state: 'detached' });

    // 8. editing a view: its query and inferred fields, a new column in the review and then in the table
    await page.click('text=⚙ Edit collection');
    expect(await page.inputValue('#view-query')).toBe(query);
    expect(await page.isDisabled('select[name=type]')).toBe(true);
    await expect.poll(() => dialog().locator('.inferred-fields li').count()).toBe(3);
    await page.fill('#view-query', query.replace('AS posts', 'AS posts, MAX(p.title) AS latest'));
    await expect.poll(() => dialog().locator('.inferred-fields li').count()).toBe(4);
    await page.click('text=Review changes');
    await page.waitForSelector('.preview >> text=~ query');
    expect(await page.textContent('.preview')).toMatch(/\+ field latest/);
    await page.click('text=Apply');
    await page.waitForSelector('[role=dialog]', { state: 'detached' });
    await page.waitForSelector('table.grid th >> text=latest');

    // 9. logs and settings
    await page.click('a[href="#/logs"]');
    await page.waitForSelector('.chart rect');
    await shot('logs');
    await page.click('a[href="#/settings"]');
    await page.waitForSelector('input[name=appName]');
    await page.fill('input[name=appName]', 'Acme backend');
    await page.click('text=Save');
    await expect
      .poll(async () => (await s.request('GET', '/api/settings', { token: await superToken() })).body.meta.appName)
      .toBe('Acme backend');
    await shot('settings');

    // 10. a phone-sized screen: the sidebar is a drawer behind the menu button
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
    await phone.goto(`${s.url}/_/`);
    await phone.evaluate(
      (auth) => localStorage.setItem('ms_dashboard_auth', auth),
      await page.evaluate(() => localStorage.getItem('ms_dashboard_auth') ?? ''),
    );
    await phone.goto(`${s.url}/_/#/collections/posts`);
    await phone.reload();
    await phone.waitForFunction(() => document.querySelectorAll('table.grid tbody tr').length === 4);
    await shot('records-phone', phone);
    expect(await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await phone.click('.menu-toggle');
    await phone.waitForSelector('.sidebar.open');
    await phone.close();

    // 11. the session ends (every token revoked): the dashboard says so and asks to sign in again
    const token2 = await page.evaluate(() => JSON.parse(localStorage.getItem('ms_dashboard_auth') ?? '{}').token);
    // superusers' tokens last 10 s from now on (PocketBase's least), for the renewal below
    const shortTokens = { authToken: { duration: 10 } };
    expect((await s.request('PATCH', '/api/collections/_superusers', { token: token2, body: shortTokens })).status).toBe(200);
    expect((await s.request('POST', '/api/ms/logout-all', { token: token2 })).status).toBe(204);
    await page.click('a[href="#/logs"]');
    await page.waitForSelector('text=Your session has expired');
    await page.fill('input[name=email]', 'admin@example.com');
    await page.fill('input[name=password]', 'admin-password-1');
    const signedIn = Date.now();
    await page.click('button[type=submit]');
    await page.waitForSelector('.shell');

    // 12. the session is renewed silently before its token expires: auth-refresh ~2 s ahead, a new token stored
    const stored10s = () => page.evaluate(() => JSON.parse(localStorage.getItem('ms_dashboard_auth') ?? '{}').token as string);
    const short = await stored10s();
    const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
    expect(claims(short).exp - Math.floor(signedIn / 1000)).toBeLessThanOrEqual(11);
    const refreshed = await page.waitForResponse((r) => r.url().endsWith('/api/collections/_superusers/auth-refresh'), { timeout: 15_000 });
    expect(refreshed.status()).toBe(200);
    expect(Date.now()).toBeLessThan(claims(short).exp * 1000);
    await expect.poll(stored10s).not.toBe(short);
    expect(claims(await stored10s()).exp).toBeGreaterThan(claims(short).exp);
    // past the first token's expiry the dashboard still works, with no notice
    await page.waitForTimeout(Math.max(0, claims(short).exp * 1000 - Date.now() + 1000));
    await page.click('a[href="#/settings"]');
    await page.waitForSelector('input[name=appName]');
    expect(await page.locator('text=Your session has expired').count()).toBe(0);
    expect((await s.request('GET', '/api/settings', { token: await stored10s() })).status).toBe(200);
    await page.click('text=Sign out');
    await page.waitForSelector('#login-title');

    expect(problems).toEqual([]);
  },
  180_000,
);

let cached = '';
async function superToken(): Promise<string> {
  if (cached) return cached;
  const r = await s.request('POST', '/api/collections/_superusers/auth-with-password', {
    body: { identity: 'admin@example.com', password: 'admin-password-1' },
  });
  cached = r.body.token;
  return cached;
}
