import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import type { TestServer } from '../../mainspring/test/helpers/server.js';

/**
 * What the dashboard's browser tests share: Debian's Chromium, where their
 * screenshots go, the page's own errors collected, and the dashboard
 * signed in as the test superuser.
 */

export const CHROMIUM = '/usr/bin/chromium';
const ROOT = new URL('../../../', import.meta.url).pathname;
/** `.vitest-tmp/screenshots/`, or MS_SCREENSHOTS (`docs/screenshots` to refresh the README's). */
export const SHOTS = join(ROOT, process.env.MS_SCREENSHOTS ?? '.vitest-tmp/screenshots');

/** Chromium, headless, with the screenshots' folder made. */
export async function launchChromium(): Promise<Browser> {
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/** The page's console errors and uncaught exceptions, pushed to `problems` (a resource's failed load is the test's own doing). */
export function watchProblems(page: Page, problems: string[]): void {
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
}

/** The screen as it is, in the light theme and in the dark one (the system's preference, emulated). */
export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: join(SHOTS, `${name}-dark.png`) });
  await page.emulateMedia({ colorScheme: 'light' });
}

/** The dashboard at `origin` signed in as the test superuser, as its login form leaves it (the token in localStorage). */
export async function signInDashboard(page: Page, s: TestServer, origin = s.url): Promise<void> {
  const auth = await s.request('POST', '/api/collections/_superusers/auth-with-password', {
    body: { identity: 'admin@example.com', password: 'admin-password-1' },
  });
  await page.goto(`${origin}/_/`);
  await page.evaluate((a) => localStorage.setItem('ms_dashboard_auth', JSON.stringify({ token: a.token, record: a.record })), auth.body);
}
