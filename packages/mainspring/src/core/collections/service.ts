import type { Engine, Executor } from '../../storage/engine.js';
import { type ErrorData, Errors } from '../errors.js';
import type { EventBus } from '../events.js';
import { randomString } from '../ids.js';
import { publicAuthOptions } from './auth-options.js';
import { CollectionBuilder } from './build.js';
import { applyImport, planImport } from './import.js';
import { formatIndex, type ParsedIndex, parseIndex } from './indexes.js';
import type { Collection } from './model.js';
import { CollectionRegistry } from './registry.js';
import { COLLECTIONS_TABLE, type SchemaListeners, SchemaWriter } from './schema.js';

/**
 * Collections: their validation, their JSON, and the schema migrations that
 * keep each collection's table in step with its fields — every change in one
 * transaction, data kept.
 *
 * The work is split by concern: turning submitted JSON into a checked
 * collection ({@link CollectionBuilder}, build.ts with build-fields.ts and
 * build-indexes.ts), applying it to the database ({@link SchemaWriter},
 * schema.ts), the import (import.ts) and the list endpoint's query
 * (list.ts). This class is the one door: it runs changes one at a time,
 * keeps the registry loaded and tells listeners of each change.
 */
export class CollectionService implements SchemaListeners {
  readonly registry = new CollectionRegistry();
  private lock: Promise<unknown> = Promise.resolve();
  private readonly builder: CollectionBuilder;
  private readonly schema: SchemaWriter;

  /** Called once a collection's deletion has committed (the app deletes its files). */
  onDeleted: ((c: Collection) => void) | null = null;
  /** Called once a change that removed file fields has committed, with the files those fields held, per record. */
  onFilesDropped: ((collectionId: string, files: { recordId: string; names: string[] }[]) => void) | null = null;

  constructor(
    private readonly engine: Engine,
    private readonly events: EventBus,
  ) {
    this.builder = new CollectionBuilder(this.registry, engine.dialect);
    this.schema = new SchemaWriter(engine, this.registry, this.builder, this);
  }

  /** Reads every collection into the registry. */
  async load(db: Executor = this.engine): Promise<void> {
    const rows = await db.all<{ data: string }>(`SELECT data FROM ${COLLECTIONS_TABLE}`);
    this.registry.replace(rows.map((r) => JSON.parse(r.data) as Collection));
  }

  /** Reloads the schema after a change and tells every listener. */
  private async changed(): Promise<void> {
    await this.load();
    this.events.emit({ type: 'schema' });
  }

  /**
   * Runs schema changes one at a time: in this process, and across instances
   * sharing a database (a database-wide lock, then the schema read afresh, so
   * a change builds on what another instance changed a moment before).
   */
  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const shared = this.engine.withLock?.bind(this.engine);
    const guarded = shared
      ? () =>
          shared('mainspring:schema', async () => {
            await this.load();
            return fn();
          })
      : fn;
    const run = this.lock.then(guarded, guarded);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** A collection as the API shows it (PocketBase's flat shape, no secrets). */
  toJSON(c: Collection): Record<string, unknown> {
    const { auth, ...rest } = c;
    const out: Record<string, unknown> = { ...rest };
    if (auth) Object.assign(out, publicAuthOptions(auth));
    return out;
  }

  /** A collection built from submitted JSON (over `current`) whose relations point at existing collections; a 400 otherwise. */
  private buildChecked(input: unknown, current: Collection | undefined, message: string): Collection {
    const c = this.builder.build(input, current);
    const errors: ErrorData = {};
    this.builder.checkRelations(c, [], errors);
    if (Object.keys(errors).length > 0) throw Errors.validation(message, errors);
    return c;
  }

  /** Creates a collection and its table. */
  create(input: unknown): Promise<Collection> {
    return this.serialize(async () => {
      const message = 'Failed to create collection.';
      const c = this.buildChecked(input, undefined, message);
      await this.schema.applying(message, (tx) =>
        // a new table changes no view
        c.type === 'view' ? this.schema.withViews(tx, message, [...this.registry.all(), c], [c.id]) : this.schema.createIn(tx, c),
      );
      await this.changed();
      return this.registry.find(c.id) as Collection;
    });
  }

  /**
   * Validates a new collection (`idOrName` undefined) or a change to one
   * exactly as {@link create} or {@link update} would, without applying it:
   * the dashboard's live rule check and change preview. Returns what would be saved.
   */
  async check(idOrName: string | undefined, input: unknown): Promise<Collection> {
    const current = idOrName === undefined ? undefined : this.registry.find(idOrName);
    if (idOrName !== undefined && !current) throw Errors.notFound();
    const message = current ? 'Failed to update collection.' : 'Failed to create collection.';
    const next = this.buildChecked(input, current, message);
    if (next.type === 'view') {
      const after = [...this.registry.all().filter((o) => o.id !== next.id), next];
      next.fields = (await this.schema.inferView(this.engine, message, next, after, true)).fields;
    }
    return next;
  }

  /** Updates a collection, migrating its table with its data. */
  update(idOrName: string, input: unknown): Promise<Collection> {
    return this.serialize(async () => {
      const current = this.registry.find(idOrName);
      if (!current) throw Errors.notFound();
      const message = 'Failed to update collection.';
      const next = this.buildChecked(input, current, message);
      const after = this.registry.all().map((o) => (o.id === next.id ? next : o));
      await this.schema.applying(message, (tx) =>
        next.type === 'view'
          ? this.schema.withViews(tx, message, after, [next.id])
          : this.schema.withViews(tx, message, after, [], () => this.schema.migrateIn(tx, current, next)),
      );
      await this.changed();
      return this.registry.find(next.id) as Collection;
    });
  }

  /** Deletes a collection and its table, unless it is a system one or another collection relates to it. */
  delete(idOrName: string): Promise<void> {
    return this.serialize(async () => {
      const c = this.registry.find(idOrName);
      if (!c) throw Errors.notFound();
      this.builder.assertDeletable(c, []);
      const after = this.registry.all().filter((o) => o.id !== c.id);
      await this.engine.transaction((tx) =>
        this.schema.withViews(tx, 'Failed to delete collection.', after, [], () => this.schema.deleteIn(tx, c)),
      );
      await this.changed();
    });
  }

  /**
   * Replaces the schema with the submitted collections in one transaction:
   * matching ones (by id, else name) are updated, new ones created, and with
   * `deleteMissing` the others deleted.
   */
  importAll(input: unknown): Promise<void> {
    return this.serialize(async () => {
      const plan = planImport(input, this.registry, this.builder);
      await applyImport(this.schema, this.registry, plan);
      await this.changed();
    });
  }

  /**
   * Runs `fn` with schema changes shut out: in this process and, on a shared
   * database, across instances; then the schema is read again and every
   * listener told (an app migration's changes, made through {@link createInTx} and its kin).
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.serialize(async () => {
      try {
        return await fn();
      } finally {
        await this.changed();
      }
    });
  }

  /**
   * Creates a collection inside `tx` (an app migration's), checked as {@link create}
   * checks it; the registry then holds the schema as `tx` sees it, so the next change
   * in `tx` builds on this one. Only inside {@link exclusive}.
   */
  async createInTx(tx: Executor, input: unknown): Promise<Collection> {
    const message = 'Failed to create collection.';
    const c = this.buildChecked(input, undefined, message);
    if (c.type === 'view') await this.schema.withViews(tx, message, [...this.registry.all(), c], [c.id]);
    else await this.schema.createIn(tx, c);
    await this.load(tx);
    return this.registry.find(c.id) as Collection;
  }

  /** Updates a collection inside `tx`, as {@link update}; see {@link createInTx}. */
  async updateInTx(tx: Executor, idOrName: string, input: unknown): Promise<Collection> {
    const current = this.registry.find(idOrName);
    if (!current) throw Errors.notFound(`No collection "${idOrName}".`);
    const message = 'Failed to update collection.';
    const next = this.buildChecked(input, current, message);
    const after = this.registry.all().map((o) => (o.id === next.id ? next : o));
    if (next.type === 'view') await this.schema.withViews(tx, message, after, [next.id]);
    else await this.schema.withViews(tx, message, after, [], () => this.schema.migrateIn(tx, current, next));
    await this.load(tx);
    return this.registry.find(next.id) as Collection;
  }

  /** Deletes a collection inside `tx`, as {@link delete}; see {@link createInTx}. */
  async deleteInTx(tx: Executor, idOrName: string): Promise<void> {
    const c = this.registry.find(idOrName);
    if (!c) throw Errors.notFound(`No collection "${idOrName}".`);
    this.builder.assertDeletable(c, []);
    const after = this.registry.all().filter((o) => o.id !== c.id);
    await this.schema.withViews(tx, 'Failed to delete collection.', after, [], () => this.schema.deleteIn(tx, c));
    await this.load(tx);
  }

  /** Imports collections inside `tx`, as {@link importAll}; see {@link createInTx}. */
  async importInTx(tx: Executor, input: unknown): Promise<void> {
    await applyImport(this.schema, this.registry, planImport(input, this.registry, this.builder), tx);
    await this.load(tx);
  }

  /** Inserts a built collection and creates its table, inside `tx`. Used by system migrations too. */
  createIn(tx: Executor, c: Collection): Promise<void> {
    return this.schema.createIn(tx, c);
  }

  /** Drops the database views of every view collection, inside `tx` (before what they read is dropped). */
  dropViewsIn(tx: Executor): Promise<void> {
    return this.schema.dropViewsIn(tx);
  }

  /**
   * Creates the view collections of `all` (the whole schema) and their
   * database views, inside `tx`, once what they read exists: how a copied
   * schema's views are made (`mainspring migrate-data`).
   */
  createViewsIn(tx: Executor, all: readonly Collection[]): Promise<void> {
    return this.schema.withViews(tx, 'Failed to create the view collections.', all, []);
  }

  /**
   * PocketBase's scaffolds (`GET /api/collections/meta/scaffolds`): a new
   * collection of each type with every default a create gives it, id, name
   * and dates empty; index names end in a random suffix, as PocketBase's.
   * A view's scaffold has an empty query (a view's fields come from it).
   */
  scaffolds(): Record<'auth' | 'base' | 'view', Record<string, unknown>> {
    const suffix = randomString(10, 'abcdefghijklmnopqrstuvwxyz0123456789');
    const make = (type: 'base' | 'auth') => {
      // a name no user collection can take (system names only), so that none is in the way
      const c = this.builder.build({ id: suffix, name: `_scaffold${suffix}`, type }, undefined, [], true);
      const indexes = c.indexes.map((sql) => formatIndex(parseIndex(sql) as ParsedIndex, ''));
      return this.toJSON({ ...c, id: '', name: '', created: '', updated: '', indexes });
    };
    const view = {
      id: '',
      name: '',
      type: 'view',
      system: false,
      fields: [],
      indexes: [],
      listRule: null,
      viewRule: null,
      createRule: null,
      updateRule: null,
      deleteRule: null,
      viewQuery: '',
      created: '',
      updated: '',
    };
    return { auth: make('auth'), base: make('base'), view };
  }

  /** A new collection object with the system defaults, for first start. */
  scaffold(input: Record<string, unknown>, system: boolean): Collection {
    const c = this.builder.build(input, undefined, [], system);
    c.system = system;
    return c;
  }
}
