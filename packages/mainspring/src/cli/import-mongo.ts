import { App } from '../core/app.js';
import { CliError } from './errors.js';
import { applyPlan, type Outcome } from './mongo/apply.js';
import { DumpError, listDump } from './mongo/dump.js';
import { type CollectionPlan, planImport } from './mongo/plan.js';
import { describeOutcome, describePlan } from './mongo/report.js';
import { type CollectionStats, gatherCollection } from './mongo/stats.js';

/** What `mainspring import-mongo` takes. */
export interface ImportMongoOptions {
  /** The dump folder: one database's `mongodump` output, or `mongoexport` files. */
  from: string | undefined;
  /** Check everything, print the report, write nothing. */
  dryRun?: boolean;
  /** `--auth=a,b`: the collections to import as auth collections ('' for none); undefined to recognise users collections. */
  auth?: string | undefined;
  /** Put before every collection's name. */
  prefix?: string | undefined;
  /** Where the report goes (default stdout). */
  out?: NodeJS.WritableStream;
}

/** Progress of long work: one updating line on a terminal (cleared at the end), a line per 10,000 records otherwise. */
function progress(out: NodeJS.WritableStream) {
  const tty = (out as NodeJS.WriteStream).isTTY === true;
  let shown = false;
  let last = 0;
  return {
    step(collection: string, done: number) {
      if (done === last) return;
      if (tty) {
        out.write(`\r  ${collection}: ${done} records`);
        shown = true;
      } else if (Math.floor(done / 10_000) > Math.floor(last / 10_000)) out.write(`  ${collection}: ${done} records\n`);
      last = done;
    },
    end() {
      if (shown) out.write('\r\x1b[K');
    },
  };
}

const NEEDS_FROM = 'import-mongo needs --from=DIR, a mongodump folder (one database) or mongoexport files';

/**
 * Imports a MongoDB dump into an open app: reads every document once to
 * infer the schema, prints the plan, then writes everything in one
 * transaction (or, with `dryRun`, checks it all and rolls back) and prints
 * what was and was not imported.
 */
export async function importMongoInto(app: App, options: ImportMongoOptions): Promise<{ plans: CollectionPlan[]; outcome: Outcome }> {
  const out = options.out ?? process.stdout;
  if (!options.from) throw new CliError(NEEDS_FROM, 2);
  if (options.prefix !== undefined && !/^[A-Za-z]\w{0,49}$/.test(options.prefix)) {
    throw new CliError('--prefix must start with a letter and hold only letters, digits and _', 2);
  }
  const auth = options.auth === undefined ? undefined : options.auth.split(',').filter((n) => n !== '');
  try {
    const listing = listDump(options.from);
    const stats: CollectionStats[] = [];
    for (const source of listing.sources) stats.push(await gatherCollection(source));
    const total = stats.reduce((n, s) => n + s.documents, 0);
    out.write(`Read ${total} documents of ${stats.length} collections from ${options.from}.\n\n`);
    const plans = planImport(stats, { auth, prefix: options.prefix }, (name) => app.collections.registry.find(name));
    out.write(describePlan(plans, listing));
    out.write('\n');
    const bar = progress(out);
    const outcome = await applyPlan(app, plans, { dryRun: options.dryRun === true, onProgress: bar.step }).finally(bar.end);
    out.write(describeOutcome(plans, outcome, options.dryRun === true));
    return { plans, outcome };
  } catch (err) {
    if (err instanceof DumpError) throw new CliError(`cannot read the dump: ${err.message}`);
    throw err;
  }
}

/**
 * `mainspring import-mongo --from=DIR`: the import into the app in the data
 * directory (or on PostgreSQL). On SQLite the folder is locked for it: a
 * server running on it would not see the new collections, so it must be
 * stopped first.
 */
export async function importMongo(options: ImportMongoOptions & { dir: string; db: string }): Promise<void> {
  if (!options.from) throw new CliError(NEEDS_FROM, 2);
  const app = await App.open({ dataDir: options.dir, databaseUrl: options.db, exclusive: true });
  try {
    await importMongoInto(app, options);
  } finally {
    await app.close();
  }
}
