import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startServer, superuserToken, type TestServer } from '../../packages/mainspring/test/helpers/server.js';
import { servePage } from './serve.mjs';
import { setupChat } from './setup.mjs';

/**
 * The chat page in real Chromium: two people sign up in two browsers, one
 * opens a room with the other, and what each types appears on the other's
 * screen through realtime.
 */

const CHROMIUM = '/usr/bin/chromium';

let s: TestServer;
let page: Server;
let browser: Browser;
let pageUrl: string;

beforeAll(async () => {
  s = await startServer();
  await setupChat(s.url, await superuserToken(s));
  page = await servePage(0);
  const address = page.address();
  pageUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/?api=${encodeURIComponent(s.url)}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => page?.close(r));
  await s?.close();
});

async function signUp(name: string): Promise<{ tab: Page; id: string }> {
  const context = await browser.newContext();
  const tab = await context.newPage();
  await tab.goto(pageUrl);
  await tab.fill('input[name=email]', `${name}@example.com`);
  await tab.fill('input[name=password]', `${name}-password-1`);
  await tab.fill('#auth input[name=name]', name);
  await tab.click('button[value=up]');
  await tab.waitForSelector('#chat:not([hidden])');
  return { tab, id: (await tab.textContent('#myid')) ?? '' };
}

// skipped on a machine without Chromium; CI installs it, and there the test must run
test.runIf(existsSync(CHROMIUM) || process.env.CI === 'true')(
  'two people chat through the page, each seeing the other in real time',
  async () => {
    const ann = await signUp('ann');
    const bob = await signUp('bob');
    expect(ann.id).toMatch(/^[a-z0-9]{15}$/);

    await ann.tab.fill('#newroom input[name=name]', 'ann and bob');
    await ann.tab.fill('#newroom input[name=members]', bob.id);
    await ann.tab.click('#newroom button');
    await ann.tab.waitForFunction(() => document.querySelectorAll('#rooms option').length === 1);

    // bob opens the page again (signed in from local storage) and finds the room
    await bob.tab.reload();
    await bob.tab.waitForFunction(() => document.querySelector('#rooms option')?.textContent === 'ann and bob');

    await ann.tab.fill('#say input[name=text]', 'hello bob');
    await ann.tab.click('#say button');
    await bob.tab.waitForFunction(() => document.querySelector('#log')?.textContent?.includes('annhello bob'));

    await bob.tab.fill('#say input[name=text]', 'hi ann <b>!</b>');
    await bob.tab.click('#say button');
    await ann.tab.waitForFunction(() => document.querySelector('#log')?.textContent?.includes('bobhi ann <b>!</b>'));
    // text is text: nothing a member types becomes markup on the other screen
    expect(await ann.tab.locator('#log b').count()).toBe(0);
    expect(await ann.tab.textContent('#error')).toBe('');
  },
  60_000,
);
