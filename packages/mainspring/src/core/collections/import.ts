import type { Executor } from '../../storage/engine.js';
import { ApiError, type ErrorData, Errors, type FieldError, fieldError } from '../errors.js';
import { isObject } from '../json.js';
import type { CollectionBuilder } from './build.js';
import type { Collection, Field } from './model.js';
import type { CollectionRegistry } from './registry.js';
import type { SchemaWriter } from './schema.js';

/**
 * `PUT /api/collections/import`: the submitted collections checked together
 * (each sees the others, as relations and rules may name them), then applied
 * in one transaction.
 */

const IMPORT_FAILED = 'Failed to import collections.';

/** One collection of an import: its new state, over `current` when it exists. */
interface ImportStep {
  current?: Collection;
  next: Collection;
}

/** What a checked import does: collections updated or created, in the submitted order, and those deleted. */
export interface ImportPlan {
  steps: ImportStep[];
  removed: Collection[];
}

/**
 * Checks an import against the schema: matching collections (by id, else
 * name) are updated, new ones created, and with `deleteMissing` the others
 * deleted. Throws PocketBase's one 400 naming each collection that failed.
 */
export function planImport(input: unknown, registry: CollectionRegistry, builder: CollectionBuilder): ImportPlan {
  const { collections, deleteMissing } = readImport(input);
  const errors: ErrorData = {};
  const pending: Collection[] = [];
  const steps = buildSteps(collections, deleteMissing, registry, builder, pending, errors);
  for (const [i, step] of steps.entries()) {
    const e: ErrorData = {};
    builder.checkRelations(step.next, pending, e);
    if (Object.keys(e).length > 0) errors[i] = e;
  }
  const removed = deleteMissing ? registry.all().filter((c) => !c.system && !pending.some((p) => p.id === c.id)) : [];
  for (const c of removed) {
    try {
      builder.assertDeletable(
        c,
        removed.map((r) => r.id),
      );
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      errors[c.name] = fieldError('validation_collection_delete', err.message);
    }
  }
  if (Object.keys(errors).length > 0) {
    throw Errors.validation(IMPORT_FAILED, { collections: importFailure(errors, collections) });
  }
  return { steps, removed };
}

/**
 * Applies a checked import in one transaction (`tx`, else one of its own): deletions, then each collection in
 * order, the views around them.
 */
export async function applyImport(schema: SchemaWriter, registry: CollectionRegistry, plan: ImportPlan, tx?: Executor): Promise<void> {
  const { steps, removed } = plan;
  const gone = new Set(removed.map((c) => c.id));
  const after = [
    ...registry.all().filter((c) => !gone.has(c.id) && !steps.some((step) => step.next.id === c.id)),
    ...steps.map((step) => step.next),
  ];
  const views = steps.filter((step) => step.next.type === 'view').map((step) => step.next.id);
  const apply = (db: Executor) =>
    schema.withViews(db, IMPORT_FAILED, after, views, async () => {
      for (const c of removed) await schema.deleteIn(db, c);
      for (const step of steps) {
        if (step.next.type === 'view') continue;
        if (step.current) await schema.migrateIn(db, step.current, step.next);
        else await schema.createIn(db, step.next);
      }
    });
  await (tx ? apply(tx) : schema.applying(IMPORT_FAILED, apply));
}

/** The import body's shape: a non-empty list of at most 1000 collections, and `deleteMissing` a boolean if given. */
function readImport(input: unknown): { collections: unknown[]; deleteMissing: boolean } {
  if (!isObject(input) || !Array.isArray(input.collections) || input.collections.length === 0 || input.collections.length > 1000) {
    throw Errors.validation(IMPORT_FAILED, {
      collections: fieldError('validation_required', 'Must be a non-empty list of collections.'),
    });
  }
  if (input.deleteMissing !== undefined && typeof input.deleteMissing !== 'boolean') {
    throw Errors.validation(IMPORT_FAILED, {
      deleteMissing: fieldError('validation_invalid_value', 'Must be a boolean.'),
    });
  }
  return { collections: input.collections, deleteMissing: input.deleteMissing === true };
}

/** Each submitted collection built over its current version, in order, into `pending`; errors by position. */
function buildSteps(
  collections: unknown[],
  deleteMissing: boolean,
  registry: CollectionRegistry,
  builder: CollectionBuilder,
  pending: Collection[],
  errors: ErrorData,
): ImportStep[] {
  const steps: ImportStep[] = [];
  collections.forEach((raw, i) => {
    if (!isObject(raw)) {
      errors[i] = fieldError('validation_invalid_value', 'Must be an object.');
      return;
    }
    const current =
      (typeof raw.id === 'string' && registry.find(raw.id)) || (typeof raw.name === 'string' && registry.find(raw.name)) || undefined;
    try {
      const merged = current ? { ...raw, id: undefined, type: raw.type ?? current.type } : raw;
      if (current && Array.isArray(raw.fields) && !deleteMissing) merged.fields = keepUnlisted(current, raw.fields);
      const next = builder.build(merged, current, pending);
      pending.push(next);
      steps.push(current ? { current, next } : { next });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      errors[i] = err.data;
    }
  });
  return steps;
}

/**
 * PocketBase's one field error for a failed import
 * (`validation_collections_import_failure`), its message naming each
 * collection that failed (by position or, for a deletion, by name) with its
 * errors, so a client reading `data.collections.code` finds it.
 */
function importFailure(errors: ErrorData, submitted: unknown[]): FieldError {
  const lines = Object.entries(errors).map(([key, errs]) => {
    const raw = /^\d+$/.test(key) ? submitted[Number(key)] : undefined;
    const name = isObject(raw) && typeof raw.name === 'string' ? raw.name : key;
    return `Data validations failed for collection ${JSON.stringify(name.slice(0, 100))}: ${JSON.stringify(errs)}`;
  });
  return fieldError('validation_collections_import_failure', lines.join('\n').slice(0, 5000));
}

/**
 * An imported field list over an existing collection, PocketBase's way when
 * `deleteMissing` is off: fields not listed stay, and a listed field with the
 * name and type of an existing one keeps that field's id (and so its data).
 */
function keepUnlisted(current: Collection, submitted: unknown[]): unknown[] {
  const out = submitted.map((raw) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
    const f = raw as Record<string, unknown>;
    if (f.id) return f;
    const same = current.fields.find((x) => x.name === f.name && x.type === f.type);
    return same ? { ...f, id: same.id } : f;
  });
  const listed = (x: Field) =>
    out.some(
      (raw) =>
        typeof raw === 'object' && raw !== null && ((raw as { id?: unknown }).id === x.id || (raw as { name?: unknown }).name === x.name),
    );
  return [...out, ...current.fields.filter((x) => !listed(x))];
}
