import type { Readable, Transform } from 'node:stream';
import { type CsvError, parse } from 'csv-parse';
import { isObject } from '../json.js';

/**
 * The rows of an import (core/records/import.ts), read a row at a time: CSV read
 * by csv-parse (a byte order mark dropped, CRLF or LF, quoted cells over
 * several lines), or JSON lines, one object a line. Nothing is held but
 * the row being read: a cell or a line past {@link MAX_ROW_BYTES} ends the
 * import with an error that names its line. A CSV row that cannot be read
 * (a stray quote, a different number of cells than the header) is
 * reported and skipped, and reading goes on, so one pass lists every
 * broken row.
 */

/** The most one row (a CSV record or a JSON line) may hold. */
export const MAX_ROW_BYTES = 8 << 20;

/** One row read: its values by column, or why it could not be read. */
export type SourceRow =
  | { row: number; line: number; values: Record<string, unknown>; source: 'form' | 'json' }
  | { row: number; line: number; error: string };

/** The file could not be read on: the import stops here. */
export class SourceError extends Error {
  override readonly name = 'SourceError';
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

/** CSV: the header's names, then each record as `{column: cell}`; row 1 is the header, as a spreadsheet counts. */
export async function* csvRows(input: Readable, checkHeader: (names: string[]) => void): AsyncGenerator<SourceRow> {
  type Item = { record: string[]; info: { lines: number } } | { skipped: { line: number; error: string } };
  // a skipped record goes into the parser's output as it is found, so it keeps its place among the rows
  const parser: Transform = parse({
    bom: true,
    info: true,
    max_record_size: MAX_ROW_BYTES,
    skip_records_with_error: true,
    on_skip: (err: CsvError | undefined) => {
      // past the size limit csv-parse would skip the same record again with each chunk: it ends the import
      if (err?.code === 'CSV_MAX_RECORD_SIZE') parser.destroy(err);
      else if (err) parser.push({ skipped: { line: Number((err as CsvError & { lines?: number }).lines ?? 0), error: err.message } });
    },
  });
  input.on('error', (err) => parser.destroy(err));
  input.pipe(parser);
  let header: string[] | null = null;
  let row = 0;
  try {
    for await (const item of parser as AsyncIterable<Item>) {
      row++;
      if ('skipped' in item) {
        yield { row, line: item.skipped.line, error: item.skipped.error };
        continue;
      }
      if (header === null) {
        header = item.record;
        checkHeader(header);
        continue;
      }
      const values: Record<string, unknown> = {};
      header.forEach((name, i) => {
        values[name] = item.record[i];
      });
      yield { row, line: item.info.lines, values, source: 'form' };
    }
  } catch (err) {
    // csv-parse's own errors are the file's; anything else (the header refused, the client gone) stays what it is
    const code = String((err as { code?: unknown })?.code ?? '');
    if (!code.startsWith('CSV_')) throw err;
    throw new SourceError(String((err as Error).message), Number((err as { lines?: number }).lines ?? 0));
  }
  if (header === null) throw new SourceError('The file is empty: a CSV import starts with a header row naming the fields.', 1);
}

/** JSON lines: each non-blank line one object of field values (typed as JSON, as a create takes them); row = line. */
export async function* jsonLines(input: Readable): AsyncGenerator<SourceRow> {
  let line = 0;
  let pending = '';
  const decoder = new TextDecoder('utf-8');
  const one = (text: string): SourceRow | null => {
    line++;
    const trimmed = line === 1 ? text.replace(/^\uFEFF/, '').trim() : text.trim();
    if (trimmed === '') return null;
    try {
      const value: unknown = JSON.parse(trimmed);
      if (!isObject(value)) return { row: line, line, error: 'A line must hold one JSON object.' };
      return { row: line, line, values: value, source: 'json' };
    } catch (err) {
      return { row: line, line, error: `Invalid JSON: ${(err as Error).message}` };
    }
  };
  for await (const chunk of input as AsyncIterable<Buffer>) {
    pending += decoder.decode(chunk, { stream: true });
    let nl = pending.indexOf('\n');
    while (nl !== -1) {
      const r = one(pending.slice(0, nl));
      if (r) yield r;
      pending = pending.slice(nl + 1);
      nl = pending.indexOf('\n');
    }
    if (pending.length > MAX_ROW_BYTES) throw new SourceError(`A line is longer than ${MAX_ROW_BYTES} bytes.`, line + 1);
  }
  pending += decoder.decode();
  const r = one(pending);
  if (r) yield r;
}
