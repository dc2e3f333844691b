#!/usr/bin/env node
// @ts-check
// `npm create mainspring@latest my-app`: copies the app template into a new
// folder and names the app after it. Nothing is installed here: the next
// steps printed at the end are the template README's two commands.
import { cpSync, existsSync, readdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

/**
 * The template: the copy packed with this package (see template.mjs), else,
 * run from a clone of Mainspring, the repository's templates/app itself.
 */
const TEMPLATE = [join(here, 'template'), join(here, '../../templates/app')].find((dir) => existsSync(join(dir, 'package.json')));

const USAGE = `Usage: npm create mainspring@latest [folder]

Creates a Mainspring app in a new folder (my-app by default): a package.json
depending on mainspring, typed hooks in ms_hooks/, the schema as migrations in
ms_migrations/, and a README.`;

/**
 * An npm package name made of a folder's name: lower case, and any run of
 * characters npm does not allow as one '-'.
 * @param {string} folder
 * @returns {string}
 */
export function packageName(folder) {
  const name = basename(folder)
    .toLowerCase()
    .replace(/[^a-z0-9._~-]+/g, '-')
    .replace(/^[._-]+|-+$/g, '')
    .slice(0, 214);
  return name || 'my-app';
}

/**
 * Copies the template into `target` (which must not exist or be empty) and
 * names the app; returns the folder made.
 * @param {string} target
 * @returns {string}
 */
export function createApp(target) {
  if (!TEMPLATE) throw new Error('the app template is missing from this package');
  const dir = resolve(target);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new Error(`${target} already exists and is not empty; pick another name`);
  }
  cpSync(TEMPLATE, dir, { recursive: true, filter: (path) => !/[/\\](node_modules|ms_data)$/.test(path) });
  if (existsSync(join(dir, 'gitignore'))) renameSync(join(dir, 'gitignore'), join(dir, '.gitignore'));
  const pkgPath = join(dir, 'package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
  writeFileSync(pkgPath, `${JSON.stringify({ ...pkg, name: packageName(dir) }, null, 2)}\n`);
  return dir;
}

/** @param {string[]} args */
function main(args) {
  if (args.some((a) => a === '--help' || a === '-h')) {
    console.log(USAGE);
    return 0;
  }
  const unknown = args.find((a) => a.startsWith('-'));
  if (unknown || args.length > 1) {
    console.error(`${unknown ? `unknown option ${unknown}` : 'one folder at a time'}\n\n${USAGE}`);
    return 2;
  }
  const target = args[0] ?? 'my-app';
  let dir;
  try {
    dir = createApp(target);
  } catch (err) {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  const cd = relative(process.cwd(), dir);
  const cdLine = cd ? `  cd ${cd.includes(' ') ? JSON.stringify(cd) : cd}\n` : '';
  console.log(`Created a Mainspring app in ${dir}

Next:
${cdLine}  npm install && npm start

Then open the link it prints to create the first superuser, and read README.md.`);
  return 0;
}

// run as a command (npm links it as node_modules/.bin/create-mainspring), not imported by a test
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
