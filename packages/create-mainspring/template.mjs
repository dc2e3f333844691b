// The app template ships inside this package, but its one source is the
// repository's templates/app: `npm pack` copies it in (prepack) and removes
// the copy afterwards (postpack), so no stale copy lingers in the workspace,
// where index.js reads templates/app itself. npm leaves every `.gitignore`
// out of a package, so the copy names it `gitignore` and index.js gives it
// its dot back.
//   node template.mjs copy|remove [PACKAGE_DIR]   (this package's folder by default)
import { cpSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const here = new URL('.', import.meta.url).pathname;
const [action, dir = here] = process.argv.slice(2);
if (action !== 'copy' && action !== 'remove') {
  console.error('usage: node template.mjs copy|remove [PACKAGE_DIR]');
  process.exit(2);
}
const copy = join(resolve(dir), 'template');
rmSync(copy, { recursive: true, force: true });
if (action === 'copy') {
  cpSync(join(here, '../../templates/app'), copy, {
    recursive: true,
    filter: (path) => !/[/\\](node_modules|ms_data)$/.test(path),
  });
  renameSync(join(copy, '.gitignore'), join(copy, 'gitignore'));
}
