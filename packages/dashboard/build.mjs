// Builds the dashboard into packages/mainspring/dashboard/ unless it is
// already newer than every source file, so `npm start` and `npm test` pay
// for Vite only after a change.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const here = new URL('.', import.meta.url).pathname;
const out = join(here, '../mainspring/dashboard/index.html');

function newest(path) {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

const sources = ['src', 'index.html', 'vite.config.js', 'package.json', 'public'].map((p) => join(here, p)).filter(existsSync);
if (process.argv.includes('--force') || !existsSync(out) || Math.max(...sources.map(newest)) > statSync(out).mtimeMs) {
  const { build } = await import('vite');
  await build({ root: here, configFile: join(here, 'vite.config.js'), logLevel: 'warn' });
  console.log('dashboard: built into packages/mainspring/dashboard/');
}
