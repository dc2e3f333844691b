import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http, { type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startServer, superuserToken, type TestServer } from '../../packages/mainspring/test/helpers/server.js';
import { servePage } from './serve.mjs';
import { setupStreaming } from './setup.mjs';
import { makeTestVideo, SECOND_COLORS } from './test-video.mjs';

/**
 * The videos page in real Chromium: a user uploads a video through the page
 * and plays it; a seek far ahead is served by a Range request from the
 * middle of the file, and the frame shown after it is the one at the new
 * time. Another user plays it after the file token in its URL has expired,
 * and the page carries on with a fresh one.
 *
 * The browser talks to the server through a small proxy that writes down
 * each request's Range header and the server's status, so the test sees
 * what the server saw.
 */

const CHROMIUM = '/usr/bin/chromium';
const SECONDS = 20;

let s: TestServer;
let su: string;
let pageServer: Server;
let proxy: Server;
let browser: Browser;
let pageUrl: string;
let dir: string;
let videoPath: string;
let videoSize: number;

/** What the server answered, per request through the proxy. */
const seen: { path: string; range: string | undefined; conditional: boolean; status: number; token: string | null }[] = [];

const portOf = (server: Server) => {
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
};

/** Forwards every request to the test server, streaming both ways, and records what it answered. */
function recordingProxy(target: string): Promise<Server> {
  const server = http.createServer((req, res) => {
    const up = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      const url = new URL(req.url ?? '/', target);
      seen.push({
        path: url.pathname,
        range: req.headers.range,
        conditional: Boolean(req.headers['if-none-match'] || req.headers['if-modified-since']),
        status: answer.statusCode ?? 0,
        token: url.searchParams.get('token'),
      });
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    up.on('error', () => res.destroy());
    // a player drops a response it no longer needs (a seek): so does the proxy
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  await setupStreaming(s.url, su);
  dir = mkdtempSync(join(tmpdir(), 'ms-streaming-'));
  // 20 s of 320×240: about 23 MB, more than Chromium reads ahead for `preload="metadata"`
  const video = makeTestVideo({ seconds: SECONDS });
  videoSize = video.length;
  videoPath = join(dir, 'colours.mp4');
  writeFileSync(videoPath, video);
  proxy = await recordingProxy(s.url);
  pageServer = await servePage(0);
  pageUrl = `http://127.0.0.1:${portOf(pageServer)}/?api=${encodeURIComponent(`http://127.0.0.1:${portOf(proxy)}`)}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => pageServer?.close(r));
  await new Promise((r) => proxy?.close(r));
  proxy?.closeAllConnections();
  await s?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function signUp(name: string): Promise<Page> {
  const context = await browser.newContext();
  const tab = await context.newPage();
  await tab.goto(pageUrl);
  await tab.fill('input[name=email]', `${name}@example.com`);
  await tab.fill('input[name=password]', `${name}-password-1`);
  await tab.click('button[value=up]');
  await tab.waitForSelector('#main:not([hidden])');
  return tab;
}

/** Seeks the page's player to `time` and waits until it shows a frame there; answers the frame's centre colour. */
async function seekAndLook(tab: Page, time: number): Promise<{ readyState: number; currentTime: number; rgb: number[] }> {
  await tab.evaluate((t) => {
    const v = document.querySelector('video') as HTMLVideoElement;
    v.pause();
    v.currentTime = t;
  }, time);
  await tab.waitForFunction(
    (t) => {
      const v = document.querySelector('video') as HTMLVideoElement;
      return !v.seeking && v.readyState >= 2 && Math.abs(v.currentTime - t) < 0.2;
    },
    time,
    { timeout: 20_000 },
  );
  return tab.evaluate(() => {
    const v = document.querySelector('video') as HTMLVideoElement;
    const canvas = document.createElement('canvas');
    canvas.width = v.videoWidth;
    canvas.height = v.videoHeight;
    const g = canvas.getContext('2d') as CanvasRenderingContext2D;
    g.drawImage(v, 0, 0);
    const rgb = Array.from(g.getImageData(v.videoWidth / 2, v.videoHeight / 2, 1, 1).data.slice(0, 3));
    return { readyState: v.readyState, currentTime: v.currentTime, rgb };
  });
}

const closeTo = (actual: number[], expected: number[]) => actual.every((c, i) => Math.abs(c - (expected[i] as number)) <= 12);
const rangeStart = (range: string | undefined) => Number(/^bytes=(\d+)-/.exec(range ?? '')?.[1] ?? -1);
/** Requests for the file itself (not for file tokens). */
const videoRequests = () => seen.filter((r) => /^\/api\/files\/[^/]+\/[^/]+\/[^/]+$/.test(r.path));

// skipped on a machine without Chromium; CI installs it, and there the test must run
test.runIf(existsSync(CHROMIUM) || process.env.CI === 'true')(
  'a video uploaded through the page plays, and a seek far ahead is served from there by a Range request',
  async () => {
    const tab = await signUp('ann');
    await tab.fill('#upload input[name=title]', 'Colours');
    await tab.setInputFiles('#upload input[name=video]', videoPath);
    await tab.click('#upload button');
    // the page plays what it uploaded
    await tab.waitForFunction(() => document.querySelector('#playing')?.textContent === 'Colours');
    await tab.waitForFunction(() => (document.querySelector('video') as HTMLVideoElement).readyState >= 1, null, { timeout: 20_000 });
    expect(await tab.evaluate(() => (document.querySelector('video') as HTMLVideoElement).duration)).toBeCloseTo(SECONDS, 1);
    expect(await tab.textContent('#list')).toContain('Colours');

    // it plays from the start
    await tab.evaluate(() => (document.querySelector('video') as HTMLVideoElement).play());
    await tab.waitForFunction(() => (document.querySelector('video') as HTMLVideoElement).currentTime > 0.5, null, { timeout: 20_000 });
    const requestsBeforeSeek = videoRequests().length;

    // a seek to 16.5 s, well past what the browser has read: a new Range request from the middle of the file
    const after = await seekAndLook(tab, 16.5);
    expect(after.readyState).toBeGreaterThanOrEqual(2);
    expect(closeTo(after.rgb, SECOND_COLORS[16 % SECOND_COLORS.length] as number[])).toBe(true);
    const fromTheMiddle = videoRequests()
      .slice(requestsBeforeSeek)
      .filter((r) => r.status === 206 && rangeStart(r.range) > videoSize / 2);
    expect(fromTheMiddle.length).toBeGreaterThan(0);

    // and back near the start, then on from there
    const back = await seekAndLook(tab, 2.5);
    expect(closeTo(back.rgb, SECOND_COLORS[2] as number[])).toBe(true);
    await tab.evaluate(() => (document.querySelector('video') as HTMLVideoElement).play());
    await tab.waitForFunction(() => (document.querySelector('video') as HTMLVideoElement).currentTime > 3, null, { timeout: 20_000 });

    // every request for the file was a Range request, answered with 206, or with 304 when the browser
    // revalidated a range it had cached (protected files are `private, no-cache`: kept, but asked about again)
    const files = videoRequests();
    expect(files.length).toBeGreaterThan(1);
    for (const r of files) {
      expect(r.range).toMatch(/^bytes=\d+-\d*$/);
      expect(r.status === 206 || (r.status === 304 && r.conditional)).toBe(true);
    }
    expect(await tab.textContent('#error')).toBe('');
    await tab.context().close();
  },
  90_000,
);

test.runIf(existsSync(CHROMIUM) || process.env.CI === 'true')(
  'a seek after the file token in the URL has expired carries on with a fresh token',
  async () => {
    // file tokens of users last 10 s (the least allowed) instead of 180 s, so this test can outlive one
    const patch = await s.request('PATCH', '/api/collections/users', { token: su, body: { fileToken: { duration: 10 } } });
    expect(patch.status).toBe(200);
    try {
      const tab = await signUp('bob');
      if ((await tab.locator('#list li').count()) === 0) {
        // run alone: upload the video first (as bob)
        await tab.fill('#upload input[name=title]', 'Colours');
        await tab.setInputFiles('#upload input[name=video]', videoPath);
        await tab.click('#upload button');
        await tab.waitForFunction(() => document.querySelectorAll('#list li').length === 1);
      }
      seen.length = 0;
      await tab.click('#list li button');
      await tab.waitForFunction(() => (document.querySelector('video') as HTMLVideoElement).readyState >= 1, null, { timeout: 20_000 });
      const firstToken = videoRequests()[0]?.token;
      expect(firstToken).toBeTruthy();

      await tab.waitForTimeout(11_000);
      const after = await seekAndLook(tab, 12.5);
      expect(closeTo(after.rgb, SECOND_COLORS[2] as number[])).toBe(true);

      // the stale URL was refused, and the page went on with a fresh token
      const requests = videoRequests();
      expect(requests.some((r) => r.token === firstToken && r.status === 404)).toBe(true);
      const fresh = requests.filter((r) => r.token !== firstToken);
      expect(fresh.some((r) => r.status === 206 && rangeStart(r.range) > 0)).toBe(true);
      expect(fresh.every((r) => r.status === 206 || (r.status === 304 && r.conditional))).toBe(true);
      expect(await tab.textContent('#error')).toBe('');
      await tab.context().close();
    } finally {
      await s.request('PATCH', '/api/collections/users', { token: su, body: { fileToken: { duration: 180 } } });
    }
  },
  90_000,
);
