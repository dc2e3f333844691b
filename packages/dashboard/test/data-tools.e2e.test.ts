import { existsSync, readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { superuserCommand } from '../../mainspring/src/cli/superuser.js';
import { startServer, superuserToken, type TestServer } from '../../mainspring/test/helpers/server.js';
import { CHROMIUM, launchChromium, signInDashboard, shot as takeShot, watchProblems } from './browser.js';

/**
 * The dashboard's data tools (issue 28), in real Chromium against a real
 * server: a filtered list exported as CSV (the file holds the filtered rows
 * and no other), a CSV imported through the dialog (a dry run lists a bad
 * row by its number and writes nothing, a good file's records appear), the
 * SQL console with the schema beside it (a SELECT's rows shown, a write
 * refused as the console is read-only), and the superuser IP allow-list
 * and the rate limits' excluded addresses set in the settings (a list that
 * leaves out the dashboard's own address shuts it out with the documented
 * 403, undone with the CLI as the README says). Screenshots as
 * dashboard.e2e.test.ts takes them.
 */

/** The fixture: ids written here so that the export's rows can be named (an export is in order of id). */
const BOOKS = [
  { id: 'book00000000001', title: 'Dune', pages: 412 },
  { id: 'book00000000002', title: 'Ubik', pages: 202 },
  { id: 'book00000000003', title: 'Solaris', pages: 204 },
  { id: 'book00000000004', title: 'Neuromancer', pages: 271 },
  { id: 'book00000000005', title: 'Flatland', pages: 96 },
];

let s: TestServer;
let su = '';
let browser: Browser;
let page: Page;
const problems: string[] = [];
/** The messages of the browser's dialogs (confirm), each accepted. */
const asked: string[] = [];

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  const created = await s.request('POST', '/api/collections', {
    token: su,
    body: {
      name: 'books',
      type: 'base',
      fields: [
        { name: 'title', type: 'text', required: true },
        { name: 'pages', type: 'number', min: 1, onlyInt: true },
      ],
      indexes: ['CREATE UNIQUE INDEX `idx_books_title` ON `books` (`title`)'],
    },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(200);
  for (const b of BOOKS) expect((await s.request('POST', '/api/collections/books/records', { token: su, body: b })).status).toBe(200);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  watchProblems(page, problems);
  page.on('dialog', (d) => {
    asked.push(d.message());
    return d.accept();
  });
  await signInDashboard(page, s);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await s?.close();
});

const shot = (name: string) => takeShot(page, name);
const dialog = () => page.locator('[role=dialog]');
/** The cells of the records table's first data column (the ids), top to bottom. */
const listedIds = () => page.locator('table.grid tbody button.link').allInnerTexts();
/** The books on the server, by title: what the dashboard wrote, seen through the API. */
const booksOnServer = async () =>
  (await s.request('GET', '/api/collections/books/records?perPage=100&sort=title', { token: su })).body.items.map((r: any) => [
    r.title,
    r.pages,
  ]);
/**
 * A CSV's rows, by a parser as simple as the fixture allows: its values hold no comma, quote or line
 * break (so none is quoted) — anything else in the file is a difference the comparison shows.
 */
const csvRows = (text: string) =>
  text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .filter((line) => line !== '')
    .map((line) => line.split(','));
/** Opens a page of the dashboard afresh (a load, not only a change of the hash: each test stands alone). */
async function open(hash: string) {
  await page.goto(`${s.url}/_/#/${hash}`);
  await page.reload();
}
/** Replaces a code editor's or a field's text as a person would. */
async function typeInto(selector: string, text: string) {
  await page.click(selector);
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Backspace');
  await page.keyboard.type(text);
}

/** A date as PocketBase writes it. */
const DATE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$/;

const run = test.runIf(existsSync(CHROMIUM) || process.env.CI === 'true');

run(
  'the export button downloads the rows the filter shows; the import dialog dry-runs a bad file, writes nothing, then imports a good one',
  async () => {
    await open('collections/books');
    await page.waitForSelector('#records-title >> text=books');
    await expect.poll(listedIds).toHaveLength(5);

    // a filter typed and applied: the list shows three books, and the export holds exactly those
    await page.fill('input[name=filter]', 'pages > 200 && pages < 300');
    await page.press('input[name=filter]', 'Enter');
    await expect.poll(listedIds).toEqual(['book00000000004', 'book00000000003', 'book00000000002']);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('button >> text=Export CSV')]);
    expect(download.suggestedFilename()).toBe('books.csv');
    const rows = csvRows(readFileSync((await download.path()) as string, 'utf8'));
    // (every collection made through the API gets created/updated, PocketBase's autodate fields)
    expect(rows[0]).toEqual(['id', 'title', 'pages', 'created', 'updated']);
    expect(rows.slice(1).map((r) => r.slice(0, 3))).toEqual([
      ['book00000000002', 'Ubik', '202'],
      ['book00000000003', 'Solaris', '204'],
      ['book00000000004', 'Neuromancer', '271'],
    ]);
    for (const r of rows.slice(1)) expect(r.slice(3)).toEqual([expect.stringMatching(DATE), expect.stringMatching(DATE)]);

    // the import dialog: a file with a bad row (row 3: no title; row 4: pages below the minimum of 1), dry run
    await page.fill('input[name=filter]', '');
    await page.press('input[name=filter]', 'Enter');
    await expect.poll(listedIds).toHaveLength(5);
    const before = await booksOnServer();
    await page.click('button >> text=Import CSV');
    await dialog().waitFor();
    // records may be updated by id, or by a field a unique index holds alone
    expect(await dialog().locator('select').nth(1).locator('option').allInnerTexts()).toEqual(['(create only)', 'id', 'title']);
    const bad = 'title,pages\nBlindsight,384\n,120\nAccelerando,-5\n';
    await dialog()
      .locator('input[type=file]')
      .setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
    await dialog().locator('button', { hasText: 'Dry run' }).click();
    await dialog().locator('[role=status]').waitFor();
    expect(await dialog().locator('[role=status]').textContent()).toBe(
      '3 rows read: 1 without errors (1 to create, 0 to update), 2 with errors.',
    );
    // every row or none (the default): the good row will not be written either, and the dialog says so
    expect(await dialog().locator('.warn').textContent()).toBe(
      'As it stands the import writes nothing: every row or none, and some rows fail.',
    );
    const errorRows = () =>
      dialog()
        .locator('table.grid tbody tr')
        .evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent?.trim())));
    expect(await errorRows()).toEqual([
      ['3', '3', expect.stringMatching(/^title: .*blank/i)],
      ['4', '4', expect.stringMatching(/^pages: .*1/)],
    ]);
    await shot('csv-import-dry-run');
    // a dry run writes nothing
    expect(await booksOnServer()).toEqual(before);
    // the same file for real: every row or none, so none, and the dialog says why
    await dialog()
      .locator('button', { hasText: /^Import$/ })
      .click();
    await dialog().locator('[role=alert]').waitFor();
    expect(await dialog().locator('[role=alert]').textContent()).toMatch(/nothing was written/);
    expect(await errorRows()).toHaveLength(2);
    expect(await booksOnServer()).toEqual(before);

    // a good file: the dry run is clean, the import closes the dialog and the records appear in the list
    const good = 'title,pages\nBlindsight,384\nAccelerando,415\n';
    await dialog()
      .locator('input[type=file]')
      .setInputFiles({ name: 'good.csv', mimeType: 'text/csv', buffer: Buffer.from(good) });
    await dialog().locator('button', { hasText: 'Dry run' }).click();
    await expect
      .poll(() => dialog().locator('[role=status]').textContent())
      .toBe('2 rows read: 2 without errors (2 to create, 0 to update), 0 with errors.');
    expect(await dialog().locator('.warn').count()).toBe(0);
    expect(await dialog().locator('[role=alert]').count()).toBe(0);
    expect(await booksOnServer()).toEqual(before);
    await dialog()
      .locator('button', { hasText: /^Import$/ })
      .click();
    await dialog().waitFor({ state: 'detached' });
    await expect.poll(() => page.textContent('.toast')).toBe('Imported: 2 created, 0 updated.');
    await expect.poll(listedIds).toHaveLength(7);
    await expect
      .poll(() => page.locator('table.grid tbody').textContent())
      .toMatch(/Blindsight[\s\S]*Accelerando|Accelerando[\s\S]*Blindsight/);
    const byTitle = (a: unknown[], b: unknown[]) => String(a[0]).localeCompare(String(b[0]));
    expect(await booksOnServer()).toEqual([...before, ['Accelerando', 415], ['Blindsight', 384]].sort(byTitle));

    // updated by title (its unique index): no new record, the one of that title changed
    await page.click('button >> text=Import CSV');
    await dialog()
      .locator('input[type=file]')
      .setInputFiles({ name: 'fix.csv', mimeType: 'text/csv', buffer: Buffer.from('title,pages\nFlatland,97\n') });
    await dialog().locator('select').nth(1).selectOption('title');
    await dialog()
      .locator('button', { hasText: /^Import$/ })
      .click();
    await dialog().waitFor({ state: 'detached' });
    await expect.poll(() => page.textContent('.toast')).toBe('Imported: 0 created, 1 updated.');
    const fixed = before.map(([title, pages]: unknown[]) => [title, title === 'Flatland' ? 97 : pages]);
    expect(await booksOnServer()).toEqual([...fixed, ['Accelerando', 415], ['Blindsight', 384]].sort(byTitle));
    expect(await listedIds()).toHaveLength(7);
    expect(problems).toEqual([]);
  },
  90_000,
);

run(
  'the SQL console shows the schema beside the editor, runs a SELECT, and refuses writes',
  async () => {
    await open('sql');
    await page.waitForSelector('#sql-title');
    const editor = page.locator('textarea[aria-label="SQL console"]');
    const schema = page.locator('aside.sql-schema');
    // beside: to the editor's right, at its height
    const [e, a] = [await editor.boundingBox(), await schema.boundingBox()];
    expect(a && e && a.x >= e.x + e.width && a.y < e.y + e.height).toBe(true);
    // the tables and their columns: the app's own first, then the system's
    expect(await schema.locator('summary code').allInnerTexts()).toEqual([
      'books',
      'users',
      '_authOrigins',
      '_externalAuths',
      '_mfas',
      '_otps',
      '_superusers',
    ]);
    await schema.locator('summary', { hasText: 'books' }).click();
    expect(await schema.locator('details[open] li code').allInnerTexts()).toEqual(['id', 'title', 'pages', 'created', 'updated']);

    // the fixture's books (the import test's have ids of their own)
    await typeInto(
      'textarea[aria-label="SQL console"]',
      "SELECT title, pages FROM books WHERE id LIKE 'book%' AND pages > 250 ORDER BY title",
    );
    await page.click('button >> text=Run');
    await page.waitForSelector('.sql table.grid');
    expect(await page.locator('.sql table.grid thead th').allInnerTexts()).toEqual(['title', 'pages']);
    const cells = () =>
      page.locator('.sql table.grid tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent?.trim())));
    expect(await cells()).toEqual([
      ['Dune', '412'],
      ['Neuromancer', '271'],
    ]);
    expect(await page.textContent('.sql [role=status]')).toMatch(/^2 rows in \d+ ms$/);
    await shot('sql-console');

    // a long answer comes a page (100 rows) at a time; Ctrl+Enter runs the statement
    await typeInto(
      'textarea[aria-label="SQL console"]',
      'WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 250) SELECT x FROM n',
    );
    await page.keyboard.press('Control+Enter');
    const firstColumn = () => page.locator('.sql table.grid tbody tr td:first-child').allInnerTexts();
    await expect.poll(firstColumn).toHaveLength(100);
    expect((await firstColumn()).slice(0, 2)).toEqual(['1', '2']);
    await page.click('.sql .pager button >> text=Next');
    await expect.poll(async () => (await firstColumn())[0]).toBe('101');
    await page.click('.sql .pager button >> text=Next');
    await expect.poll(firstColumn).toEqual(Array.from({ length: 50 }, (_, i) => String(201 + i)));
    expect(await page.locator('.sql .pager button >> text=Next').isDisabled()).toBe(true);
    await page.click('.sql .pager button >> text=Previous');
    await expect.poll(async () => (await firstColumn())[0]).toBe('101');

    // a write: refused as the console reads only; asked as a write, refused as the settings allow none
    const count = (await booksOnServer()).length;
    await typeInto('textarea[aria-label="SQL console"]', "DELETE FROM books WHERE title = 'Dune'");
    await page.click('button >> text=Run');
    await expect.poll(() => page.textContent('.sql [role=alert]')).toMatch(/refused/i);
    expect(await page.locator('.sql table.grid').count()).toBe(0);
    await page.check('.sql input[type=checkbox]');
    await page.click('button >> text=Run');
    await expect.poll(() => page.textContent('.sql [role=alert]')).toMatch(/Writes from the SQL console are off/);
    expect((await booksOnServer()).length).toBe(count);
    expect(problems).toEqual([]);
  },
  60_000,
);

const REFUSED = 'Superusers may not sign in or act from this address.';

run(
  'the superuser IP allow-list and the rate limits’ excluded addresses are set in the settings; a list without this address shuts it out',
  async () => {
    await open('settings');
    await page.waitForSelector('form.settings');
    // pasted with commas, typed a line each: either reads
    await page.fill('textarea[name=superuserIPs]', '127.0.0.1, 10.0.0.0/8\n2001:db8::/32\n');
    await page.fill('textarea[name=excludedIPs]', '192.0.2.0/24');
    await page.click('button[type=submit] >> text=Save');
    await expect.poll(() => page.textContent('.toast')).toBe('Saved.');
    const settings = await s.request('GET', '/api/settings', { token: su });
    expect(settings.body.superuserIPs).toEqual(['127.0.0.1', '10.0.0.0/8', '2001:db8::/32']);
    expect(settings.body.rateLimits.excludedIPs).toEqual(['192.0.2.0/24']);
    // a changed allow-list is saved only once the superuser has been told it may shut this session out
    expect(asked).toEqual([expect.stringMatching(/^Superusers will be refused from every address not in the list/)]);
    expect(await page.inputValue('textarea[name=superuserIPs]')).toBe('127.0.0.1\n10.0.0.0/8\n2001:db8::/32');

    // a bad entry: the server's 400, shown at the field; nothing saved
    await page.fill('textarea[name=superuserIPs]', '127.0.0.1\n10.0.0.0/33');
    await page.click('button[type=submit] >> text=Save');
    await expect.poll(() => page.locator('[data-setting=superuserIPs] .error').textContent()).toMatch(/10\.0\.0\.0\/33/);
    expect((await s.request('GET', '/api/settings', { token: su })).body.superuserIPs).toEqual([
      '127.0.0.1',
      '10.0.0.0/8',
      '2001:db8::/32',
    ]);
    await shot('settings-ip-lists');

    // a list that leaves this address out: saved (the save itself came from an allowed address), then every superuser request is a 403
    await page.fill('textarea[name=superuserIPs]', '203.0.113.0/24');
    await page.click('button[type=submit] >> text=Save');
    await expect.poll(async () => (await s.request('GET', '/api/settings', { token: su })).status).toBe(403);
    const refused = await s.request('GET', '/api/settings', { token: su });
    expect(refused.body).toEqual({ status: 403, message: REFUSED, data: {} });
    await page.reload();
    // said where the settings would be, and where the collections would be, after the toast has gone
    await expect.poll(() => page.textContent('section[aria-labelledby=settings-title] [role=alert]')).toBe(REFUSED);
    await shot('settings-locked-out');
    await page.evaluate(() => {
      location.hash = '#/collections';
    });
    await expect.poll(() => page.textContent('main [role=alert]')).toBe(REFUSED);

    // undone as the README says: the CLI works on the database, and the server reads the list again
    await superuserCommand(['ips', 'clear'], s.dir, s.databaseUrl ?? '');
    await expect.poll(async () => (await s.request('GET', '/api/settings', { token: su })).status, { timeout: 10_000 }).toBe(200);
    await open('settings');
    await page.waitForSelector('form.settings');
    expect(await page.inputValue('textarea[name=superuserIPs]')).toBe('');
    expect(await page.inputValue('textarea[name=excludedIPs]')).toBe('192.0.2.0/24');
    expect(problems).toEqual([]);
  },
  60_000,
);
