// `npm run dashboard:measure`: the dashboard's size (gzip, as served) and its
// time to interactive on the records screen of a collection of 100,000
// records, in headless Chromium against a real server on SQLite.
// Time to interactive here: from navigation start until the first page of
// rows is in the table (the screen then answers input: the bundle has run
// and the list request is done). Cold = empty browser cache; warm = reload.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import { chromium } from 'playwright-core';

const ROWS = Number(process.env.MS_MEASURE_ROWS ?? 100_000);
const here = new URL('.', import.meta.url).pathname;
const dist = join(here, '../mainspring/dashboard');
const server = join(here, '../mainspring/dist');

// what the first screen loads, apart from the code editor's chunk (fetched when a rule or JSON editor opens)
const assets = readdirSync(join(dist, 'assets'));
const size = (names) => {
  let raw = 0;
  let gz = 0;
  for (const f of names) {
    const body = readFileSync(f);
    raw += body.length;
    gz += gzipSync(body, { level: 9 }).length;
  }
  return { raw, gz };
};
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const first = [join(dist, 'index.html'), ...assets.filter((f) => !f.startsWith('editor-')).map((f) => join(dist, 'assets', f))];
const lazy = assets.filter((f) => f.startsWith('editor-')).map((f) => join(dist, 'assets', f));
const a = size(first);
const b = size(lazy);
console.log(
  `bundle: ${first.length} files, ${kb(a.raw)} raw, ${kb(a.gz)} gzip (index.html + JS + CSS); code editor chunk, loaded on demand: ${kb(b.raw)} raw, ${kb(b.gz)} gzip`,
);

const { App } = await import(join(server, 'core/app.js'));
const { buildServer } = await import(join(server, 'http/server.js'));
const dir = mkdtempSync(join(tmpdir(), 'ms-measure-'));
const app = await App.open({ dataDir: dir, databaseUrl: '', logger: pino({ level: 'silent' }) });
const http = await buildServer(app, { accessLog: false });
await http.listen({ host: '127.0.0.1', port: 0 });
const url = `http://127.0.0.1:${http.server.address().port}`;
try {
  const install = await app.install.newToken();
  const auth = await (
    await fetch(`${url}/api/ms/install`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: install, email: 'measure@example.com', password: 'measure-pass-1', passwordConfirm: 'measure-pass-1' }),
    })
  ).json();
  const created = await fetch(`${url}/api/collections`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: auth.token },
    body: JSON.stringify({
      name: 'posts',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'n', type: 'number' },
        { name: 'done', type: 'bool' },
      ],
    }),
  });
  if (!created.ok) throw new Error(`collection: ${await created.text()}`);
  // rows straight into the table, in one transaction (the API would take minutes)
  const t0 = Date.now();
  const now = new Date().toISOString().replace('T', ' ');
  await app.engine.transaction(async (tx) => {
    for (let i = 0; i < ROWS; i += 500) {
      const values = [];
      const tuples = [];
      for (let j = i; j < Math.min(ROWS, i + 500); j++) {
        const b = values.length;
        values.push(`r${String(j).padStart(14, '0')}`, `post number ${j}`, j, j % 2, now, now);
        tuples.push(`($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6})`);
      }
      await tx.run(`INSERT INTO posts (id, title, n, done, created, updated) VALUES ${tuples.join(', ')}`, values);
    }
  });
  console.log(`seeded ${ROWS.toLocaleString()} records in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${url}/_/`);
    await page.evaluate((a) => localStorage.setItem('ms_dashboard_auth', JSON.stringify({ token: a.token, record: a.record })), auth);
    const times = [];
    for (let run = 0; run < 4; run++) {
      if (run === 0) {
        const cdp = await page.context().newCDPSession(page);
        await cdp.send('Network.clearBrowserCache');
      }
      await page.goto('about:blank');
      await page.goto(`${url}/_/#/collections/posts`);
      await page.waitForFunction(() => document.querySelectorAll('table.grid tbody tr td.sel').length === 40, null, { timeout: 30_000 });
      const ms = await page.evaluate(() => performance.now());
      const shift = await page.evaluate(
        () =>
          new Promise((done) => {
            let total = 0;
            new PerformanceObserver((list) => {
              for (const e of list.getEntries()) total += e.value;
            }).observe({ type: 'layout-shift', buffered: true });
            setTimeout(() => done(total), 200);
          }),
      );
      times.push({ ms, shift });
    }
    const warm = times
      .slice(1)
      .map((t) => t.ms)
      .sort((a, b) => a - b);
    console.log(
      `records screen, ${ROWS.toLocaleString()} records: cold ${times[0].ms.toFixed(0)} ms, warm median ${warm[1].toFixed(0)} ms (time to the first page of rows); cumulative layout shift ${Math.max(...times.map((t) => t.shift)).toFixed(3)}`,
    );
  } finally {
    await browser.close();
  }
} finally {
  await http.close();
  await app.close();
  rmSync(dir, { recursive: true, force: true });
}
