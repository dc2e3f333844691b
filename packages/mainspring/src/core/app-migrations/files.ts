import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CollectionJSON } from './model.js';

/**
 * The files of `ms_migrations/` and the text of the ones Mainspring writes:
 * `mainspring migrate create NAME` and automigrate's, one per collection
 * created, updated or deleted through the API (PocketBase's
 * `pb_migrations/<unix seconds>_<created|updated|deleted>_<name>.js`).
 */

/** A migration file: TypeScript or JavaScript, not a helper (`_x.ts`), a declaration or a test. */
const ENTRY = /^[^_.].*\.(ts|mts|js|mjs)$/;

/** True for a name in `_migrations` that is an app migration (a file name); system migrations' names have no extension. */
export const isFileName = (name: string): boolean => /\.(ts|mts|js|mjs)$/.test(name);

/** The migration files in `dir`, in the order they apply (by name); empty when the folder does not exist. */
export function migrationFiles(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir)
    .filter((f) => ENTRY.test(f) && !f.endsWith('.d.ts') && !f.endsWith('.test.ts'))
    .sort();
}

/** What `migrate create NAME` takes: letters, digits, `_` and `-`, so the name is a file name and nothing else. */
export const VALID_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

/**
 * `<unix seconds>_<suffix>.ts`: now, or one second after the newest file in
 * `dir` if that is later, so files written within one second still sort in
 * the order they were written.
 */
export function nextFileName(dir: string, suffix: string): string {
  let seconds = Math.floor(Date.now() / 1000);
  for (const f of migrationFiles(dir)) {
    const m = /^(\d+)_/.exec(f);
    if (m && m[1] !== undefined && m[1].length === String(seconds).length) seconds = Math.max(seconds, Number(m[1]) + 1);
  }
  return `${seconds}_${suffix}.ts`;
}

/** Writes `text` as a new migration `<unix seconds>_<suffix>.ts` in `dir` (made if missing), never over a file; answers its path. */
export function writeMigrationFile(dir: string, suffix: string, text: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, nextFileName(dir, suffix));
  writeFileSync(path, text, { flag: 'wx' });
  return path;
}

const HEADER = "import type { Migration } from 'mainspring';\n";

/** The file `mainspring migrate create NAME` writes. */
export function blankMigration(): string {
  return `${HEADER}
export default {
  async up(app) {
    // app.collections.create({ name: 'posts', type: 'base', fields: [{ name: 'title', type: 'text' }] }), app.records, app.db
  },
  async down(app) {
    // undo what up did
  },
} satisfies Migration;
`;
}

/** A collection as a migration file states it: without its dates, which the database it lands in sets. */
function snapshot(c: CollectionJSON): CollectionJSON {
  const { created: _created, updated: _updated, ...rest } = c;
  return rest;
}

/** A value as TypeScript source, indented to sit `depth` levels in. */
function literal(value: unknown, depth: number): string {
  return JSON.stringify(value, null, 2).replaceAll('\n', `\n${'  '.repeat(depth)}`);
}

/** One automigrate change: a collection created (no `before`), updated, or deleted (no `after`). */
export interface CollectionChange {
  before: CollectionJSON | null;
  after: CollectionJSON | null;
}

/** The suffix of an automigrate file: `created_posts`. */
export function changeSuffix(change: CollectionChange): string {
  const c = (change.after ?? change.before) as CollectionJSON;
  const action = change.before === null ? 'created' : change.after === null ? 'deleted' : 'updated';
  const name = String(c.name ?? 'collection')
    .replace(/[^A-Za-z0-9_]/g, '_')
    .slice(0, 60);
  return `${action}_${name}`;
}

/** The migration that makes a change again (`up`) and undoes it (`down`), with whole snapshots both ways. */
export function changeMigration(change: CollectionChange): string {
  const { before, after } = change;
  const c = (after ?? before) as CollectionJSON;
  const id = JSON.stringify(String(c.id));
  const action = before === null ? 'created' : after === null ? 'deleted' : 'updated';
  // up goes from before to after, down back: the same step either way
  const step = (from: CollectionJSON | null, to: CollectionJSON | null): string =>
    to === null
      ? `await app.collections.delete(${id});`
      : from === null
        ? `await app.collections.create(${literal(snapshot(to), 2)});`
        : `await app.collections.update(${id}, ${literal(snapshot(to), 2)});`;
  const up = step(before, after);
  const down = step(after, before);
  return `${HEADER}
// Written by Mainspring when the collection ${JSON.stringify(String(c.name))} was ${action} (automigrate).
export default {
  async up(app) {
    ${up}
  },
  async down(app) {
    ${down}
  },
} satisfies Migration;
`;
}

/**
 * `mainspring migrate collections`: every collection as it is, imported (created, or updated where one has
 * its id) so relations among them resolve in any order. `down` does nothing: a snapshot has no earlier state
 * to go back to (PocketBase's does the same).
 */
export function snapshotMigration(all: CollectionJSON[]): string {
  return `${HEADER}
// Written by \`mainspring migrate collections\`: the app's collections as they were.
export default {
  async up(app) {
    await app.collections.import(${literal(all.map(snapshot), 2)});
  },
  async down() {
    // nothing: there is no earlier schema to return to
  },
} satisfies Migration;
`;
}
