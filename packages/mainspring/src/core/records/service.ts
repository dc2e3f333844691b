import type { Readable } from 'node:stream';
import type { Engine, Executor } from '../../storage/engine.js';
import type { Collection } from '../collections/model.js';
import type { CollectionRegistry } from '../collections/registry.js';
import { Errors } from '../errors.js';
import type { EventBus } from '../events.js';
import type { Hooks } from '../hooks/registry.js';
import { type FindOptions, TxRecords } from '../hooks/transaction.js';
import type { RecordData, RequestInfo } from '../rules/request-info.js';
import type { Page } from '../search/provider.js';
import { RecordAccess } from './access.js';
import { type AggregateQuery, type AggregateRow, RecordAggregates } from './aggregate.js';
import type { RecordContext } from './context.js';
import { RecordDeletes } from './deletes.js';
import { type ExportQuery, prepareExport, type RecordExport } from './export.js';
import type { RecordFiles } from './files.js';
import { WriteFlow } from './flow.js';
import { type ImportOptions, type ImportReport, RecordImports } from './import.js';
import { DEFAULT_QUERY_LIMITS, type QueryLimits } from './limits.js';
import { type ListQuery, type ListResult, RecordReads, type ShapeQuery } from './reads.js';
import { RowWrites } from './row-writes.js';
import { ServerReads } from './server.js';
import { RecordWrites, type WriteInput } from './writes.js';

/**
 * Record CRUD with PocketBase's semantics: rules, validation, relations,
 * expand and field selection. Every method may run inside a caller's
 * transaction (`db`), which is how batch makes several writes atomic.
 *
 * The work is split by concern, each a file of its own: reads
 * ({@link RecordReads}), creates and updates ({@link RecordWrites}) over
 * the rows they write ({@link RowWrites}), deletes with their relations
 * and cascades ({@link RecordDeletes}), what server code reads
 * ({@link ServerReads}), and the hooks, after-hooks and events every write
 * goes through ({@link WriteFlow}). This class builds them and is the one
 * door the routes and server code use.
 */
export class RecordService {
  readonly access: RecordAccess;
  private readonly reads: RecordReads;
  private readonly writes: RecordWrites;
  private readonly deletes: RecordDeletes;
  private readonly server: ServerReads;
  private readonly aggregates: RecordAggregates;
  private readonly ctx: RecordContext;
  private readonly imports: RecordImports;

  constructor(
    private readonly engine: Engine,
    private readonly registry: CollectionRegistry,
    events: EventBus,
    hooks: Hooks,
    files: RecordFiles,
    limits: (c: Collection) => QueryLimits = () => DEFAULT_QUERY_LIMITS,
  ) {
    this.access = new RecordAccess(engine, registry);
    const ctx: RecordContext = { engine, registry, events, hooks, files, access: this.access, reads: this.access.reads, limits };
    const flow = new WriteFlow(ctx, (tx) => new TxRecords(this, tx));
    this.reads = new RecordReads(ctx);
    this.deletes = new RecordDeletes(ctx, this.reads, flow);
    const rows = new RowWrites(ctx);
    this.writes = new RecordWrites(ctx, this.reads, rows, this.deletes, flow);
    this.server = new ServerReads(ctx, this.reads);
    this.aggregates = new RecordAggregates(ctx, this.reads);
    this.ctx = ctx;
    this.imports = new RecordImports(ctx, this.reads, rows, flow);
  }

  /** The collection, or PocketBase's 404 "Missing collection context.". */
  collection(idOrName: string): Collection {
    const c = this.registry.find(idOrName);
    if (!c) throw Errors.collectionNotFound();
    return c;
  }

  /** `GET /records`: a page of what the list rule and the filter admit. */
  list(c: Collection, q: ListQuery, info: RequestInfo | null): Promise<ListResult> {
    return this.reads.list(c, q, info);
  }

  /** `GET /api/ms/collections/{c}/aggregate`: groups and totals over what the list rule and the filter admit. */
  aggregate(c: Collection, q: AggregateQuery, info: RequestInfo | null): Promise<Page<AggregateRow>> {
    return this.aggregates.aggregate(c, q, info);
  }

  /** `GET /api/ms/collections/{c}/export.csv`: checked now, its rows read as the stream asks (export.ts). */
  export(c: Collection, q: ExportQuery, info: RequestInfo | null): RecordExport {
    return prepareExport(this.ctx, this.reads, c, q, info);
  }

  /** `POST /api/ms/collections/{c}/import`'s options, checked before the body is read. */
  checkImport(c: Collection, options: ImportOptions): void {
    this.imports.check(c, options);
  }

  /** `POST /api/ms/collections/{c}/import`: rows of a CSV or JSON-lines file written as `options` say (import.ts). */
  import(c: Collection, open: () => Readable, options: ImportOptions, info: RequestInfo): Promise<ImportReport> {
    return this.imports.run(c, open, options, info);
  }

  /** `GET /records/:id`: the record, if the view rule admits it (404 otherwise). */
  view(c: Collection, id: string, q: ShapeQuery, info: RequestInfo | null, db?: Executor): Promise<Record<string, unknown>> {
    return this.reads.view(c, id, q, info, db);
  }

  /** The stored record without rules, for internal use. */
  findById(c: Collection, id: string, db?: Executor): Promise<RecordData | undefined> {
    return this.reads.find(db ?? this.engine, c, id, null, null);
  }

  /** `POST /records`: validates, writes, then checks the create rule against the written row. */
  create(c: Collection, input: WriteInput, q: ShapeQuery, info: RequestInfo | null, db?: Executor): Promise<Record<string, unknown>> {
    return this.writes.create(c, input, q, info, db);
  }

  /** `PATCH /records/:id`, applied to the row as it is inside the transaction. */
  update(
    c: Collection,
    id: string,
    input: WriteInput,
    q: ShapeQuery,
    info: RequestInfo | null,
    db?: Executor,
  ): Promise<Record<string, unknown>> {
    return this.writes.update(c, id, input, q, info, db);
  }

  /** `DELETE /records/:id`, with PocketBase's relation handling (cascade, unlink, or refuse). */
  delete(c: Collection, id: string, info: RequestInfo | null, db?: Executor): Promise<void> {
    return this.deletes.delete(c, id, info, db);
  }

  /** `DELETE /api/collections/{c}/truncate`: every record deleted as server code would, in one transaction. */
  truncate(c: Collection): Promise<void> {
    return this.deletes.truncate(c);
  }

  /** Server code's read of one record (no rules), as a superuser sees it. */
  systemFind(db: Executor | undefined, c: Collection, id: string): Promise<Record<string, unknown> | null> {
    return this.server.find(db, c, id);
  }

  /** Server code's query (no rules): a filter with bound `{:name}` placeholders, a sort, a window. */
  systemQuery(db: Executor | undefined, c: Collection, options: FindOptions): Promise<Record<string, unknown>[]> {
    return this.server.query(db, c, options);
  }

  /** How many records a server-code filter admits. */
  systemCount(db: Executor | undefined, c: Collection, filter?: string, params?: Record<string, unknown>): Promise<number> {
    return this.server.count(db, c, filter, params);
  }

  /** Sets stored values directly, as the system (verification, password reset, logout-everywhere). */
  systemUpdate(c: Collection, id: string, values: Record<string, unknown>, db?: Executor): Promise<RecordData> {
    return this.writes.systemUpdate(c, id, values, db);
  }
}
