import { type ErrorData, type FieldError, fieldError } from '../errors.js';
import { formatIndex, type ParsedIndex, parseIndex, renameIndexColumns } from './indexes.js';
import type { Collection } from './model.js';
import type { CollectionRegistry } from './registry.js';

/**
 * A collection's indexes from submitted JSON: each statement parsed and
 * checked against the collection's fields and every index name in the
 * database, plus the unique indexes an auth collection always has.
 */

/**
 * The index statements of `c` (built so far, fields included), written
 * for its table; errors go under `errors.indexes` by position.
 */
export function buildIndexes(
  registry: CollectionRegistry,
  input: Record<string, unknown>,
  current: Collection | undefined,
  c: Collection,
  errors: ErrorData,
): string[] {
  let raw: unknown[] = current ? [...current.indexes] : [];
  if (input.indexes !== undefined) {
    if (!Array.isArray(input.indexes) || input.indexes.length > 100) {
      errors.indexes = fieldError('validation_invalid_value', 'Must be a list of at most 100 index statements.');
      return [];
    }
    raw = input.indexes;
  } else if (current) {
    // follow field renames in existing indexes
    raw = raw.map((sql) => renameIndexColumns(sql as string, current, c));
  }
  const parsed: ParsedIndex[] = [];
  const indexErrors: ErrorData = {};
  raw.forEach((sql, i) => {
    const p = parseIndex(sql as string);
    const problem = typeof p === 'string' ? fieldError('validation_invalid_index_expression', p) : indexProblem(registry, p, parsed, c);
    if (problem) indexErrors[i] = problem;
    else if (typeof p !== 'string') parsed.push(p);
  });
  if (c.type === 'auth') addAuthIndexes(parsed, c.id);
  if (Object.keys(indexErrors).length > 0) errors.indexes = indexErrors;
  return parsed.map((p) => formatIndex(p, c.name));
}

/** The field types a search index (`USING search`) may hold: those stored as one text. */
const SEARCHABLE_TYPES: ReadonlySet<string> = new Set(['text', 'editor', 'email', 'url']);

/** What is wrong with a parsed index of `c`, given the ones accepted before it; null when nothing. */
function indexProblem(registry: CollectionRegistry, p: ParsedIndex, accepted: ParsedIndex[], c: Collection): FieldError | null {
  for (const col of [...p.columns.map((x) => x.name), ...(p.whereNotEmpty ? [p.whereNotEmpty] : [])]) {
    if (!c.fields.some((f) => f.name === col)) return fieldError('validation_invalid_index_expression', `Unknown column "${col}".`);
  }
  if (p.search) {
    if (c.type === 'view') return fieldError('validation_invalid_index_expression', 'A view collection cannot have a search index.');
    for (const col of p.columns) {
      const type = c.fields.find((f) => f.name === col.name)?.type;
      if (!SEARCHABLE_TYPES.has(type ?? '')) {
        return fieldError(
          'validation_invalid_index_expression',
          `A search index takes text, editor, email and url fields; "${col.name}" is ${type ?? 'unknown'}.`,
        );
      }
    }
  }
  const lower = p.name.toLowerCase();
  if (accepted.some((q) => q.name.toLowerCase() === lower)) {
    return fieldError('validation_duplicated_index_name', `Duplicated index name "${p.name}".`);
  }
  if (registry.find(p.name) || lower === c.name.toLowerCase() || p.name.startsWith('_') || /^(sqlite|pg)_/i.test(p.name)) {
    return fieldError('validation_existing_index_name', `The index name "${p.name}" is taken or reserved.`);
  }
  // index names are global in a database
  const owner = registry
    .all()
    .find((o) => o.id !== c.id && o.indexes.some((sql) => (parseIndex(sql) as ParsedIndex).name?.toLowerCase() === lower));
  if (owner) {
    return fieldError('validation_existing_index_name', `The index name "${p.name}" is used by the "${owner.name}" collection.`);
  }
  return null;
}

/** An auth collection's unique indexes on `tokenKey` and `email`, unless it has its own. */
function addAuthIndexes(parsed: ParsedIndex[], id: string): void {
  const has = (col: string) => parsed.some((p) => p.unique && p.columns.length === 1 && p.columns[0]?.name === col);
  if (!has('tokenKey'))
    parsed.push({ name: `idx_tokenKey_${id}`, unique: true, columns: [{ name: 'tokenKey', desc: false, nocase: false }] });
  if (!has('email')) {
    parsed.push({
      name: `idx_email_${id}`,
      unique: true,
      columns: [{ name: 'email', desc: false, nocase: true }],
      whereNotEmpty: 'email',
    });
  }
}
