import { FilterError } from '../../query/index.js';
import type { Executor } from '../../storage/engine.js';
import { parseIndex } from '../collections/indexes.js';
import { type Collection, fieldByName, isMultiple, type RelationField } from '../collections/model.js';
import type { CollectionRegistry } from '../collections/registry.js';
import { Errors } from '../errors.js';
import { isRelation } from '../fields/index.js';
import { isSuperuser, type RecordData, type RequestInfo } from '../rules/request-info.js';
import type { RecordAccess } from './access.js';
import { ownsOrManages, publicRecord } from './output.js';
import { RECORD_ALIAS, readRecords, selectList } from './rows.js';

/** An `expand` parameter as a tree: relation name → what to expand below it. */
export type ExpandTree = Map<string, ExpandTree>;

/** How deep `expand` may go, as in PocketBase. */
export const MAX_EXPAND_DEPTH = 6;
/** How many relation names one `expand` may list in all. */
export const MAX_EXPAND_PATHS = 40;
/** How many records one back-relation may bring per level. */
export const MAX_BACK_RELATION_RECORDS = 1000;

const VIA = /^(\w+)_via_(\w+)$/;

/** Parses `author,comments_via_post.user` into a tree, checking its bounds. */
export function parseExpand(raw: string): ExpandTree {
  if (typeof raw !== 'string') throw Errors.invalidQuery('expand', 'must be a string');
  const root: ExpandTree = new Map();
  if (raw.length > 2000) throw Errors.invalidQuery('expand', 'too long');
  let count = 0;
  for (const part of raw.split(',')) {
    const path = part.trim();
    if (path === '') continue;
    const names = path.split('.');
    if (names.length > MAX_EXPAND_DEPTH) throw Errors.invalidQuery('expand', `at most ${MAX_EXPAND_DEPTH} levels`);
    let node = root;
    for (const name of names) {
      if (!/^\w{1,100}$/.test(name)) throw Errors.invalidQuery('expand', `invalid relation "${path.slice(0, 50)}"`);
      let next = node.get(name);
      if (!next) {
        if (++count > MAX_EXPAND_PATHS) throw Errors.invalidQuery('expand', `at most ${MAX_EXPAND_PATHS} relations`);
        next = new Map();
        node.set(name, next);
      }
      node = next;
    }
  }
  return root;
}

/**
 * The most records one answer may hold, counting each expanded record as
 * often as it appears: a small request must not multiply into a huge answer
 * (30 posts each expanding an author's 1000 posts would be 30,000).
 */
export const MAX_ANSWER_RECORDS = 10_000;

/**
 * Expands relations of `records` and returns each record's public JSON. Each
 * expanded record obeys its own collection's view rule for the caller and is
 * silently left out when the rule hides it. Ids of a level are fetched in one
 * query per relation. An answer over {@link MAX_ANSWER_RECORDS} is a 400.
 */
export async function serializeWithExpand(
  access: RecordAccess,
  registry: CollectionRegistry,
  db: Executor,
  c: Collection,
  records: RecordData[],
  tree: ExpandTree | null,
  info: RequestInfo | null,
): Promise<Record<string, unknown>[]> {
  const { out, weights } = await expandLevel(access, registry, db, c, records, tree, info);
  let total = 0;
  for (const w of weights) total += w;
  if (total > MAX_ANSWER_RECORDS) throw tooLarge();
  return out;
}

const tooLarge = () =>
  Errors.invalidQuery('expand', `the answer would hold more than ${MAX_ANSWER_RECORDS} records; expand less or ask for fewer per page`);

/** One level of expansion: each record's JSON and its weight (itself plus every record under it). */
async function expandLevel(
  access: RecordAccess,
  registry: CollectionRegistry,
  db: Executor,
  c: Collection,
  records: RecordData[],
  tree: ExpandTree | null,
  info: RequestInfo | null,
): Promise<{ out: Record<string, unknown>[]; weights: number[] }> {
  const managed = c.auth?.manageRule ? await managedIds(access, db, c, records, info) : undefined;
  const weights = records.map(() => 1);
  if (!tree || tree.size === 0 || records.length === 0)
    return { out: records.map((r) => publicRecord(c, r, info, undefined, managed)), weights };
  const superuser = isSuperuser(info);
  const expands: Record<string, unknown>[] = records.map(() => ({}));
  const attach = (i: number, name: string, related: { json: Record<string, unknown>; weight: number }[], many: boolean) => {
    if (related.length === 0) return;
    (expands[i] as Record<string, unknown>)[name] = many ? related.map((x) => x.json) : related[0]?.json;
    for (const x of many ? related : related.slice(0, 1)) weights[i] = (weights[i] as number) + x.weight;
    if ((weights[i] as number) > MAX_ANSWER_RECORDS) throw tooLarge();
  };

  for (const [name, children] of tree) {
    const field = fieldByName(c, name);
    if (isRelation(field) && (!field.hidden || superuser)) {
      const target = registry.find(field.collectionId);
      if (!target || (!superuser && target.viewRule === null)) continue;
      const ids = [...new Set(records.flatMap((r) => asIds(r[name])))];
      const found = await access.findMany(db, target, ids, info, superuser ? null : target.viewRule);
      const level = await expandLevel(access, registry, db, target, found, children, info);
      const byId = new Map(
        found.map((r, i) => [r.id, { json: level.out[i] as Record<string, unknown>, weight: level.weights[i] as number }]),
      );
      records.forEach((r, i) => {
        const related = asIds(r[name])
          .map((id) => byId.get(id))
          .filter((x) => x !== undefined);
        attach(i, name, related, isMultiple(field));
      });
      continue;
    }
    const via = VIA.exec(name);
    const back = via ? registry.find(via[1] as string) : undefined;
    const backField = back && via ? fieldByName(back, via[2] as string) : undefined;
    if (!back || !isRelation(backField) || backField.collectionId !== c.id || (backField.hidden && !superuser)) {
      throw Errors.invalidQuery('expand', `unknown relation "${name}"`);
    }
    if (!superuser && back.viewRule === null) continue;
    const found = await findBackRelated(
      access,
      db,
      back,
      backField,
      records.map((r) => r.id),
      info,
      superuser ? null : back.viewRule,
    );
    const level = await expandLevel(access, registry, db, back, found, children, info);
    const single = !isMultiple(backField) && hasUniqueIndex(back, backField.name);
    records.forEach((r, i) => {
      const related = found
        .map((x, j) =>
          asIds(x[backField.name]).includes(r.id)
            ? { json: level.out[j] as Record<string, unknown>, weight: level.weights[j] as number }
            : undefined,
        )
        .filter((x) => x !== undefined);
      attach(i, name, related, !single);
    });
  }
  return { out: records.map((r, i) => publicRecord(c, r, info, expands[i], managed)), weights };
}

/**
 * The ids among `records` whose email the caller sees through the auth
 * collection's manageRule (as PocketBase), in one query, and only when some
 * email would otherwise be hidden.
 */
async function managedIds(
  access: RecordAccess,
  db: Executor,
  c: Collection,
  records: RecordData[],
  info: RequestInfo | null,
): Promise<Set<string> | undefined> {
  const rule = c.auth?.manageRule;
  if (!rule) return undefined;
  const hidden = records.filter((r) => r.emailVisibility !== true && !ownsOrManages(c, r, info)).map((r) => r.id);
  if (hidden.length === 0) return undefined;
  try {
    return await access.admittedIds(db, c, hidden, info, rule);
  } catch (err) {
    if (err instanceof FilterError) return undefined;
    throw err;
  }
}

function asIds(v: unknown): string[] {
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string' && x !== '');
  return typeof v === 'string' && v !== '' ? [v] : [];
}

function hasUniqueIndex(c: Collection, column: string): boolean {
  return c.indexes.some((sql) => {
    const p = parseIndex(sql);
    return typeof p !== 'string' && p.unique && p.columns.length === 1 && p.columns[0]?.name === column && !p.whereNotEmpty;
  });
}

/** Records of `back` whose relation `field` points at any of `ids`, through `rule`. */
async function findBackRelated(
  access: RecordAccess,
  db: Executor,
  back: Collection,
  field: RelationField,
  ids: string[],
  info: RequestInfo | null,
  rule: string | null,
): Promise<RecordData[]> {
  const scope = access.scope(info);
  const d = scope.dialect;
  const col = `${RECORD_ALIAS}.${d.ident(field.name)}`;
  const list = ids.map((id) => scope.params.add(id)).join(', ');
  let where = isMultiple(field)
    ? `EXISTS (SELECT 1 FROM ${d.jsonEach(col, '__bje')} WHERE __bje.value IN (${list}))`
    : `${col} IN (${list})`;
  if (rule) where += ` AND (${access.rule(scope, back, rule)})`;
  const limit = scope.params.add(MAX_BACK_RELATION_RECORDS);
  return readRecords(
    db,
    back,
    d,
    `SELECT ${selectList(back, d)} FROM ${d.ident(back.name)} ${RECORD_ALIAS} WHERE ${where} LIMIT ${limit}`,
    scope.params.values,
  );
}
