import type { FullTextSql, FullTextSqlMatch, IndexSpec, SqlValue } from '../engine.js';
import { storedName } from './dialect.js';

/**
 * PostgreSQL's search indexes (`USING search`): a GIN index of pg_trgm's
 * trigrams over the columns, which ILIKE itself uses (so `~` and `!~` need
 * nothing more), and a GIN index over the columns' `to_tsvector('simple')`
 * for `search()`. Both are ordinary indexes, kept in step by PostgreSQL in
 * every write's transaction. pg_trgm is an extension: it is created if it
 * can be (it is trusted: a database owner may); where it cannot, the
 * trigram index is left out with a warning and `~` scans, as it always did.
 */

const ident = (name: string) => `"${storedName(name).replaceAll('"', '""')}"`;

/** The name of the full-text index beside the trigram one; `$` is in no index name a collection may declare. */
const wordsIndex = (index: string) => `${index}$w`;

/** The text `search()` reads: the columns joined by spaces, as the index expression has it. */
const document = (columns: readonly string[]) => `to_tsvector('simple'::regconfig, ${columns.join(` || ' ' || `)})`;

/** The statements that create a search index's two GIN indexes (built from the rows already there). */
export function createSearchIndex(index: IndexSpec): string[] {
  const table = ident(index.table);
  const trigram = `CREATE INDEX ${ident(index.name)} ON ${table} USING gin (${index.columns.map((c) => `${ident(c.name)} gin_trgm_ops`).join(', ')})`;
  return [
    `DO $ms$ BEGIN
      BEGIN CREATE EXTENSION IF NOT EXISTS pg_trgm; EXCEPTION WHEN OTHERS THEN NULL; END;
      IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN EXECUTE $ddl$${trigram}$ddl$;
      ELSE RAISE WARNING 'mainspring: the pg_trgm extension is not available, so the search index % has no trigram index: ~ on its fields scans the table', ${`'${index.name}'`};
      END IF;
    END $ms$`,
    `CREATE INDEX ${ident(wordsIndex(index.name))} ON ${table} USING gin (${document(index.columns.map((c) => ident(c.name)))})`,
  ];
}

/** The statements that drop both indexes. */
export function dropSearchIndex(index: IndexSpec): string[] {
  return [`DROP INDEX IF EXISTS ${ident(index.name)}`, `DROP INDEX IF EXISTS ${ident(wordsIndex(index.name))}`];
}

/**
 * `search()`: rows whose columns hold every word of `query`
 * (`plainto_tsquery`: the text is words, never query syntax), ranked by
 * `ts_rank`. The index serves it when the columns are the index's, in its order.
 */
export function fullText(index: FullTextSql, query: string, param: (value: SqlValue) => string): FullTextSqlMatch {
  // a typed NULL: PostgreSQL refuses an untyped constant in ORDER BY
  if (!/[\p{L}\p{N}]/u.test(query)) return { match: 'FALSE', rank: 'CAST(NULL AS double precision)' };
  const doc = document(index.columns.map((c) => c.sql));
  const q = `plainto_tsquery('simple'::regconfig, ${param(query)}::text)`;
  return { match: `${doc} @@ ${q}`, rank: `ts_rank(${doc}, ${q})` };
}
