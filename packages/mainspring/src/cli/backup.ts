import pino from 'pino';
import { App } from '../core/app.js';
import { ApiError } from '../core/errors.js';
import { CliError } from './errors.js';

/**
 * `mainspring backup create [NAME] | list | restore KEY`: the backups of
 * `/api/backups` (core/backups) from the command line, for when the server
 * is down. `create` and `list` may run beside a server; `restore` takes the
 * data folder for itself (a SQLite server must be stopped first), stages the
 * archive, and opens the app once on it, which applies it.
 */
export async function backupCommand(args: string[], where: { dir: string; db: string }): Promise<void> {
  const [action, name, ...extra] = args;
  if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}"`, 2);
  const logger = pino({ level: 'warn' });
  const exclusive = action === 'restore';
  const app = await App.open({ dataDir: where.dir, databaseUrl: where.db, logger, exclusive });
  try {
    switch (action) {
      case 'create':
        console.log(`Backup ${await app.backups.create(name)} created.`);
        return;
      case 'list': {
        if (name !== undefined) throw new CliError(`unexpected argument "${name}"`, 2);
        const all = await app.backups.list();
        if (all.length === 0) console.log('No backups yet.');
        for (const b of all) console.log(`${b.key}\t${b.size} bytes\t${b.modified}`);
        return;
      }
      case 'restore':
        if (!name) throw new CliError('backup restore needs the backup to restore: mainspring backup restore KEY', 2);
        await app.backups.restore(name);
        break;
      default:
        throw new CliError(`unknown backup action "${action ?? ''}"; expected create, list or restore`, 2);
    }
  } catch (err) {
    if (err instanceof ApiError) throw new CliError(`${err.message}${dataText(err)}`);
    throw err;
  } finally {
    await app.close();
  }
  // opening the app applies what restore staged, keeping the old data until it has opened
  const restored = await App.open({ dataDir: where.dir, databaseUrl: where.db, logger, exclusive: true });
  await restored.close();
  console.log(`Backup ${name} restored.`);
}

function dataText(err: ApiError): string {
  const fields = Object.entries(err.data).map(([k, v]) => `${k}: ${(v as { message?: string }).message ?? ''}`);
  return fields.length > 0 ? ` (${fields.join('; ')})` : '';
}
