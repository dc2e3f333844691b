import type { SqlValue } from '../../storage/engine.js';
import { type Collection, type Field, isMultiple } from '../collections/model.js';
import { Errors } from '../errors.js';
import { kindOf } from '../fields/index.js';
import { isSuperuser, type RequestInfo } from '../rules/request-info.js';
import type { RecordContext } from './context.js';
import { publicRecord } from './output.js';
import type { RecordReads } from './reads.js';
import { decodeRecords, RECORD_ALIAS } from './rows.js';

/**
 * Records as CSV rows (`GET /api/ms/collections/{c}/export.csv`): what the
 * caller's list rule and filter admit, exactly the rows a list would give
 * them (RecordReads.source), walked in order of id a batch at a time by
 * keyset (`id > last`, through the primary key's index), each batch one read
 * apart from the event loop (Engine.read). Memory holds one batch, whatever
 * the size of the collection; the route streams each as it comes, and
 * reads the next only when the client has taken the last. Each batch sees
 * the table as it is then: a record written during a long export is in it
 * if its id comes after those already sent.
 *
 * Cells: relations as ids, files as names, a multi-valued field as a JSON
 * list (`["a","b"]`) or joined by the separator asked for, JSON and geo
 * points as JSON text, booleans `true`/`false`, an empty value as an empty
 * cell. The columns are the fields the caller may see (hidden fields for
 * superusers only; passwords and token keys never), or those `fields`
 * names; an auth record's email is empty where the caller may not see it.
 */

/** Rows per read. */
export const EXPORT_BATCH = 500;

/** What an export asks for (the query string). */
export interface ExportQuery {
  filter?: string;
  /** Comma-separated field names: the columns, in this order. */
  fields?: string;
  /** Joins multi-valued fields' items instead of writing them as JSON (one to five characters). */
  separator?: string;
}

/** An export ready to stream: its header, then its rows, read as they are asked for. */
export interface RecordExport {
  readonly columns: string[];
  rows(): AsyncGenerator<string[]>;
}

/** The fields the caller may see, as columns. */
function visibleFields(c: Collection, info: RequestInfo | null): Field[] {
  const superuser = isSuperuser(info);
  return c.fields.filter((f) => kindOf(f).output !== 'never' && !(c.type === 'auth' && f.name === 'tokenKey') && (!f.hidden || superuser));
}

/** The columns `fields` names (each one the caller may see), else every visible field. */
function columnsOf(c: Collection, q: ExportQuery, info: RequestInfo | null): Field[] {
  const visible = visibleFields(c, info);
  if (q.fields === undefined || q.fields.trim() === '') return visible;
  if (q.fields.length > 5000) throw Errors.invalidQuery('fields', 'too long');
  const byName = new Map(visible.map((f) => [f.name, f]));
  const out: Field[] = [];
  for (const name of q.fields.split(',').map((s) => s.trim())) {
    if (name === '') continue;
    const f = byName.get(name);
    if (!f) throw Errors.invalidQuery('fields', `unknown field "${name.slice(0, 50)}"`);
    if (!out.includes(f)) out.push(f);
  }
  if (out.length === 0) throw Errors.invalidQuery('fields', 'names no field');
  return out;
}

/** A value as a CSV cell (see the module's comment). */
export function cellOf(f: Field, value: unknown, separator: string | null): string {
  if (value === null || value === undefined) return '';
  // a JSON field's string is JSON too: `"7"` stays a string when it comes back
  if (f.type === 'json') return JSON.stringify(value);
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value) && isMultiple(f)) {
    if (value.length === 0) return '';
    return separator === null ? JSON.stringify(value) : value.join(separator);
  }
  return JSON.stringify(value);
}

function separatorOf(raw: string | undefined): string | null {
  if (raw === undefined || raw === '') return null;
  if (raw.length > 5 || /[\r\n"]/.test(raw))
    throw Errors.invalidQuery('separator', 'must be one to five characters, no quotes or line breaks');
  return raw;
}

/** Prepares an export: everything about the request is checked here, before any row is sent. */
export function prepareExport(
  ctx: RecordContext,
  reads: RecordReads,
  c: Collection,
  q: ExportQuery,
  info: RequestInfo | null,
): RecordExport {
  const separator = separatorOf(q.separator);
  const fields = columnsOf(c, q, info);
  const source = reads.source(c, { filter: q.filter }, info);
  const { engine } = ctx;
  const d = engine.dialect;
  // by id, the primary key: each batch starts where the last ended through the index, on either engine
  const keyColumn = `${RECORD_ALIAS}.${d.ident('id')}`;
  const base = source.guarded ? [d.deadline(), ...source.where] : [...source.where];
  const baseValues = [...source.params.values];
  // the key of the last row sent is bound after the source's own values
  const keyParam = d.param(baseValues.length + 1);
  const statement = (after: boolean) => {
    const where = after ? [...base, `${keyColumn} > ${keyParam}`] : base;
    const whereSql = where.length > 0 ? ` WHERE ${where.map((w) => `(${w})`).join(' AND ')}` : '';
    return `SELECT ${source.select}, ${keyColumn} FROM ${source.from}${whereSql} ORDER BY ${keyColumn} LIMIT ${EXPORT_BATCH}`;
  };
  const first = statement(false);
  const next = statement(true);
  return {
    columns: fields.map((f) => f.name),
    async *rows() {
      let last: SqlValue | undefined;
      for (;;) {
        const params = last === undefined ? baseValues : [...baseValues, last];
        const [batch = []] = await engine.read([{ sql: last === undefined ? first : next, params, arrays: true }], {
          light: source.light,
        });
        const rows = batch as unknown[][];
        if (rows.length === 0) return;
        last = rows[rows.length - 1]?.[c.fields.length] as SqlValue;
        for (const data of decodeRecords(c, rows, d)) {
          const shown = publicRecord(c, data, info);
          yield fields.map((f) => cellOf(f, shown[f.name], separator));
        }
        if (rows.length < EXPORT_BATCH) return;
      }
    },
  };
}
