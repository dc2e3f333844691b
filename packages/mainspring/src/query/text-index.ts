/**
 * What the search indexes of a collection let the filter compiler write
 * (`USING search`, core/collections/indexes.ts): the columns an index
 * holds, and what an engine's flavor answers for `~` over them and for
 * `search()`. The SQL itself is the engine's (SqlFlavor).
 */

/** A column that a search index holds, where a filter reads it (see `SqlFlavor.likeIndexed`, compile.ts). */
export interface TextIndex {
  /** The index's name, as the collection declares it. */
  readonly index: string;
  /** The table, unquoted. */
  readonly table: string;
  /** The column's name, unquoted. */
  readonly column: string;
  /** The SQL of the row's rowid, valid where the operand's SQL is. */
  readonly row: string;
}

/** What `SqlFlavor.likeIndexed` writes. */
export interface IndexedLike {
  /** The condition. */
  readonly sql: string;
  /** Where a page may test it on each row of another index's walk instead (`~`; not `!~`, which no planner reads rows from). */
  readonly walk?: LikeWalk;
}

/**
 * An indexed `~` that a page sorted by a B-tree index may test on each entry
 * of that index's walk, stopping at the page's end, instead of reading every
 * candidate the search index gives and sorting them all: cheaper where the
 * candidates are many, dearer where they are few (the walk may go through
 * the whole index to find a page). `probe` says which, per page.
 */
export interface LikeWalk {
  /** The part of the condition that lets the planner read the rows from the candidates; it occurs once in the statement (it holds its own parameter). */
  readonly term: string;
  /** The same test, written so that the planner cannot read the rows from it: the same answers, a walk of the sort's index. */
  readonly walkTerm: string;
  /**
   * A statement that answers one row when a page ending at row `need` is
   * cheaper walked, none when not; `total`, where known, is how many rows the
   * statement's whole condition admits (a kept count), which spares counting
   * the candidates. Both are SQL of bound values.
   */
  probe(need: string, total?: string): string;
}

/** The columns of one search index, as `search()` reads them. */
export interface FullTextIndex {
  /** The index's name, as the collection declares it. */
  readonly index: string;
  /** The table, unquoted. */
  readonly table: string;
  /** The columns' SQL (valid where the filter is) and names, in the index's order. */
  readonly columns: readonly { readonly sql: string; readonly name: string }[];
  /** The SQL of the row's rowid. */
  readonly row: string;
}

/** What a `search()` compiles to (SqlFlavor.fullText). */
export interface FullTextMatch {
  /** True for the rows that hold every word. */
  readonly match: string;
  /** The row's rank, larger for better matches: an expression over the record's row. */
  readonly rank: string;
  /**
   * Where the engine can rank the matches apart from the rows: a FROM item
   * (`from`) giving each match's row id (`row`) and rank (`key`) in the
   * order `key DESC, row DESC`, and the condition (`on`) joining it to the
   * record's row. A page sorted best first then reads its rows in that
   * order and stops at the page's end, instead of reading, ranking and
   * sorting every match. Only rows that match come out of it: it may be
   * joined only where the search is a condition every row must meet.
   */
  readonly ranked?: RankedSource;
}

/** See {@link FullTextMatch.ranked}. */
export interface RankedSource {
  readonly from: string;
  readonly on: string;
  readonly row: string;
  readonly key: string;
}
