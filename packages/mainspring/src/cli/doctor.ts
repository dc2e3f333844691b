import pino from 'pino';
import { App } from '../core/app.js';
import { ORPHAN_GRACE_MS, type OrphanFile, orphanFiles, removeOrphanFiles } from '../core/files/orphans.js';
import { CliError } from './errors.js';

/**
 * `mainspring doctor [--fix] [--grace=MINUTES]`: lists the stored files no
 * committed record names (left by a process that died mid-write,
 * core/files/orphans.ts) and, with `--fix`, removes those older than the
 * grace period (default 60 minutes; a younger one may belong to a write
 * still running). Runs beside a server.
 */
export async function doctor(options: { dir: string; db: string; fix: boolean; grace: string | undefined }): Promise<void> {
  const graceMs = options.grace === undefined ? ORPHAN_GRACE_MS : Number(options.grace) * 60_000;
  if (!Number.isFinite(graceMs) || graceMs < 0) throw new CliError(`invalid --grace "${options.grace}"; expected minutes, such as 60`, 2);
  const app = await App.open({ dataDir: options.dir, databaseUrl: options.db, logger: pino({ level: 'warn' }) });
  try {
    const now = Date.now();
    const found: OrphanFile[] = [];
    for await (const orphan of orphanFiles(app.files, app.collections.registry, app.records)) {
      found.push(orphan);
      const { collectionId, recordId, name } = orphan.key;
      const age = Math.round((now - orphan.modifiedMs) / 60_000);
      console.log(`orphan file ${collectionId}/${recordId}/${name} (${orphan.size} bytes, ${age} min old)`);
    }
    const old = found.filter((o) => now - o.modifiedMs > graceMs).length;
    const minutes = Math.round(graceMs / 60_000);
    if (found.length === 0) console.log('No orphan files: every stored file belongs to a record.');
    else console.log(`${found.length} stored files no record names; ${old} older than ${minutes} min.`);
    if (options.fix && old > 0) {
      const removed = await removeOrphanFiles(app.files, app.collections.registry, app.records, graceMs, now);
      console.log(`Removed ${removed.length} orphan files (and their thumbs).`);
    } else if (old > 0) console.log('Run again with --fix to remove them.');
  } finally {
    await app.close();
  }
}
