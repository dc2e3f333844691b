import { compileFilter, FilterError, parseFilter, parseSort, SqlParams } from '../../query/index.js';
import type { Engine } from '../../storage/engine.js';
import { Errors } from '../errors.js';
import { readPage } from '../search/provider.js';
import type { Collection } from './model.js';
import { COLLECTIONS_TABLE } from './schema.js';
import type { CollectionService } from './service.js';

/** The columns of `_collections` a superuser may filter and sort by. */
const LISTABLE: Record<string, 'text' | 'bool' | 'date'> = {
  id: 'text',
  name: 'text',
  type: 'text',
  system: 'bool',
  created: 'date',
  updated: 'date',
};

/** `GET /api/collections`: the collections a page holds, with PocketBase's filter, sort and paging parameters. */
export async function listCollections(
  engine: Engine,
  service: CollectionService,
  q: { filter?: string; sort?: string; page?: string; perPage?: string; skipTotal?: string },
): Promise<{ page: number; perPage: number; totalItems: number; totalPages: number; items: unknown[] }> {
  const d = engine.dialect;
  const params = new SqlParams(d);
  const where: string[] = [];
  const resolver = {
    resolve(name: string) {
      const type = LISTABLE[name];
      if (!type) throw new FilterError(`unknown field "${name}"`);
      return { kind: 'sql' as const, sql: d.ident(name), type };
    },
  };
  let order = 'rowid ASC';
  try {
    if (q.filter) where.push(compileFilter(parseFilter(q.filter), resolver, d, params));
    if (q.sort) {
      order = parseSort(q.sort)
        .map((k) => {
          // PocketBase's search keys beside the fields: random order, and the order of creation
          if (k.name === '@random') return d.random();
          if (k.name === '@rowid') return `rowid ${k.desc ? 'DESC' : 'ASC'}`;
          if (!LISTABLE[k.name]) throw new FilterError(`cannot sort by "${k.name}"`);
          return `${d.ident(k.name)} ${k.desc ? 'DESC' : 'ASC'}`;
        })
        .concat(order)
        .join(', ');
    }
  } catch (err) {
    if (err instanceof FilterError) throw Errors.invalidFilter(err.message);
    throw err;
  }
  const page = await readPage(
    engine,
    { from: COLLECTIONS_TABLE, select: 'id', where, order: [order], params, light: true, guarded: false, arrays: false },
    q,
    { defaultPerPage: 30, maxPerPage: 1000 },
  );
  const items = (page.items as { id: string }[])
    .map((r) => service.registry.find(r.id))
    .filter((c): c is Collection => c !== undefined)
    .map((c) => service.toJSON(c));
  return { ...page, items };
}
