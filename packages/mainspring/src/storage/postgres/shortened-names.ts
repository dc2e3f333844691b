import type { Executor, SqlValue, StoredNames } from '../engine.js';
import { clipBytes, MAX_NAME_BYTES, postgresDialect } from './dialect.js';

/**
 * Versions before migration 0011 let PostgreSQL cut names past 63 bytes
 * (tables, columns, indexes); the dialect now stores such a name as a prefix
 * and a hash (see storedName). Renames each cut name still present to the
 * name it has now, unless that one exists already.
 */
export async function renameShortenedNames(tx: Executor, tables: readonly StoredNames[]): Promise<void> {
  const d = postgresDialect;
  const cut = (name: string) => clipBytes(name, MAX_NAME_BYTES);
  const exists = async (sql: string, params: SqlValue[]) => (await tx.all(sql, params)).length > 0;
  const relation = (name: string) =>
    exists('SELECT 1 FROM pg_class WHERE relname = $1 AND relnamespace = current_schema()::regnamespace', [name]);
  const renamed = async (name: string, present: (name: string) => Promise<boolean>) =>
    d.storedName(name) !== name && (await present(cut(name))) && !(await present(d.storedName(name)));
  for (const t of tables) {
    if (await renamed(t.table, relation)) await tx.run(`ALTER TABLE ${d.ident(cut(t.table))} RENAME TO ${d.ident(t.table)}`);
    const column = (name: string) =>
      exists('SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2', [
        d.storedName(t.table),
        name,
      ]);
    for (const name of t.columns) {
      if (await renamed(name, column))
        await tx.run(`ALTER TABLE ${d.ident(t.table)} RENAME COLUMN ${d.ident(cut(name))} TO ${d.ident(name)}`);
    }
    for (const name of t.indexes) {
      if (await renamed(name, relation)) await tx.run(`ALTER INDEX ${d.ident(cut(name))} RENAME TO ${d.ident(name)}`);
    }
  }
}
