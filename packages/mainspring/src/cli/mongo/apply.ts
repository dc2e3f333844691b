import { crc32 } from 'node:zlib';
import type { App } from '../../core/app.js';
import { hashPassword } from '../../core/auth/passwords.js';
import { parseIndex } from '../../core/collections/indexes.js';
import type { Collection } from '../../core/collections/model.js';
import { randomString } from '../../core/ids.js';
import type { Executor } from '../../storage/engine.js';
import { CliError } from '../errors.js';
import { RowBatch } from './batch.js';
import { documentsOf } from './dump.js';
import { type CollectionPlan, MONGO_EXTRA, MONGO_ID } from './plan.js';
import { Misfits, type RecordContext, recordOf } from './records.js';
import type { CollectionStats } from './stats.js';

/**
 * The plan applied in one transaction: the collections made (or, for those
 * already there, their fields and indexes added), then every document
 * written as a row. All of it commits, or none: a dry run rolls it back at
 * the end, so it meets every check a real run meets (types, unique indexes)
 * and writes nothing.
 */

/** What the import wrote, per collection (by name here). */
export interface Outcome {
  written: Map<string, number>;
  misfits: Map<string, Misfits>;
}

/** Thrown to roll a dry run back once everything was checked. */
class DryRun extends Error {
  constructor(readonly outcome: Outcome) {
    super('dry run');
  }
}

/** A new collection's id: fixed by its name, so a second run and the relations of the first name the same one. */
const collectionIdOf = (name: string) => `pbc_${crc32(`mongo:${name}`)}`;

/** Index names and column lists already on a collection, to add only what is new. */
function newIndexes(current: string[], wanted: string[]): string[] {
  const seen = new Set<string>();
  for (const sql of current) {
    const p = parseIndex(sql);
    if (typeof p === 'string') continue;
    seen.add(p.name.toLowerCase());
    seen.add(`(${p.columns.map((c) => c.name.toLowerCase()).join(',')})`);
  }
  return wanted.filter((sql) => {
    const p = parseIndex(sql);
    return (
      typeof p !== 'string' && !seen.has(p.name.toLowerCase()) && !seen.has(`(${p.columns.map((c) => c.name.toLowerCase()).join(',')})`)
    );
  });
}

/** The collections API's JSON of each planned collection, over what is there already. */
function collectionsJson(plans: CollectionPlan[], find: (name: string) => Collection | undefined): Record<string, unknown>[] {
  const ids = new Map(plans.map((p) => [p.stats.source.collection, find(p.name)?.id ?? collectionIdOf(p.name)]));
  return plans.map((plan) => {
    const current = find(plan.name);
    const fields: Record<string, unknown>[] = current ? current.fields.map((f) => ({ ...f })) : [];
    const has = (name: string) => fields.some((f) => String(f.name).toLowerCase() === name.toLowerCase());
    if (!has(MONGO_ID)) fields.push({ name: MONGO_ID, type: 'text', max: 0 });
    if (plan.keys.some((k) => k.target.to === 'extra') && !has(MONGO_EXTRA)) {
      // a document is at most 16 MiB of BSON; as JSON its rarer keys can take a few times that
      fields.push({ name: MONGO_EXTRA, type: 'json', maxSize: 64 * 1024 * 1024 });
    }
    for (const k of plan.keys) {
      if (k.target.to !== 'field' || has(k.target.field.name)) continue;
      const field: Record<string, unknown> = { ...k.target.field };
      if (k.target.refers) field.collectionId = ids.get(k.target.refers);
      fields.push(field);
    }
    const indexes = [...(current?.indexes ?? []), ...newIndexes(current?.indexes ?? [], plan.indexes)];
    return { id: ids.get(plan.stats.source.collection), name: plan.name, type: plan.type, fields, indexes };
  });
}

/**
 * A collection already there is imported into only when it is of the planned type and empty, or imported
 * into before; true when it holds rows (records of an earlier run, which this one replaces).
 */
async function checkExisting(db: Executor, app: App, plan: CollectionPlan): Promise<boolean> {
  const c = app.collections.registry.find(plan.name);
  if (!c) return false;
  const d = app.engine.dialect;
  const hint = 'give the import a --prefix, or remove that collection';
  if (c.type !== plan.type)
    throw new CliError(`a ${c.type} collection "${c.name}" exists, and ${plan.stats.source.collection} would be ${plan.type}; ${hint}`);
  const row = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${d.ident(c.name)}`);
  const rows = Number(row?.n ?? 0);
  if (rows > 0 && !c.fields.some((f) => f.name === MONGO_ID)) {
    throw new CliError(`the collection "${c.name}" exists and holds records the import did not write; ${hint}`);
  }
  return rows > 0;
}

/** The emails an auth collection holds already (lowercased → record id), so an import never takes one. */
async function emailsOf(db: Executor, app: App, c: Collection): Promise<Map<string, string>> {
  const emails = new Map<string, string>();
  if (c.type !== 'auth') return emails;
  const d = app.engine.dialect;
  for (const r of await db.all<{ id: string; email: string }>(
    `SELECT ${d.ident('id')} AS id, ${d.ident('email')} AS email FROM ${d.ident(c.name)}`,
  )) {
    if (r.email) emails.set(r.email.toLowerCase(), r.id);
  }
  return emails;
}

/** Writes one collection's documents, replacing the rows of an earlier run (same ids). */
async function writeCollection(
  tx: Executor,
  app: App,
  plan: CollectionPlan,
  context: { byMongoName: Map<string, CollectionStats>; lockedHash: string; replacing: boolean },
  onProgress: (done: number) => void,
): Promise<{ written: number; misfits: Misfits }> {
  const collection = app.collections.registry.find(plan.name) as Collection;
  const emails = await emailsOf(tx, app, collection);
  const { byMongoName, lockedHash } = context;
  const ctx: RecordContext = { plan, collection, byMongoName, emails, lockedHash, misfits: new Misfits() };
  const batch = new RowBatch(tx, app.engine.dialect, collection, context.replacing, plan.stats.source.collection);
  const seen = new Set<string>();
  for await (const { doc, at } of documentsOf(plan.stats.source)) {
    const data = recordOf(ctx, doc);
    if (!data || seen.has(data.id as string)) {
      if (data) ctx.misfits.add('_id', data[MONGO_ID] as string, 'an _id another document has: the later one is not imported');
      ctx.misfits.skipped++;
      continue;
    }
    seen.add(data.id as string);
    await batch.add(data, at);
    onProgress(batch.written);
  }
  await batch.flush();
  onProgress(batch.written);
  return { written: batch.written, misfits: ctx.misfits };
}

/**
 * Applies the plan in one transaction (rolled back at the end when `dryRun`).
 * Schema changes are shut out meanwhile, and every instance is told of the
 * new schema once it commits.
 */
export async function applyPlan(
  app: App,
  plans: CollectionPlan[],
  options: { dryRun: boolean; onProgress: (collection: string, done: number) => void },
): Promise<Outcome> {
  const byMongoName = new Map(plans.map((p) => [p.stats.source.collection, p.stats]));
  // hashed once, before the transaction: a secret nobody keeps, so the accounts it is given have no usable password
  const lockedHash = plans.some((p) => p.type === 'auth') ? await hashPassword(randomString(48)) : '';
  try {
    return await app.collections.exclusive(() =>
      app.engine.transaction(async (tx) => {
        // afresh on each attempt: PostgreSQL may run the transaction again after a serialization failure
        await app.collections.load(tx);
        // a collection that holds no row yet needs no delete ahead of its inserts
        const replacing = new Set<string>();
        for (const plan of plans) if (await checkExisting(tx, app, plan)) replacing.add(plan.name);
        const find = (name: string) => app.collections.registry.find(name);
        await app.collections.importInTx(tx, { collections: collectionsJson(plans, find), deleteMissing: false });
        const outcome: Outcome = { written: new Map(), misfits: new Map() };
        for (const plan of plans) {
          const progress = (done: number) => options.onProgress(plan.name, done);
          const context = { byMongoName, lockedHash, replacing: replacing.has(plan.name) };
          const { written, misfits } = await writeCollection(tx, app, plan, context, progress);
          outcome.written.set(plan.name, written);
          outcome.misfits.set(plan.name, misfits);
        }
        if (options.dryRun) throw new DryRun(outcome);
        return outcome;
      }),
    );
  } catch (err) {
    if (err instanceof DryRun) return err.outcome;
    throw err;
  }
}
