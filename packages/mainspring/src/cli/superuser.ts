import { App } from '../core/app.js';
import type { Collection } from '../core/collections/model.js';
import { ApiError } from '../core/errors.js';
import { EMPTY_REQUEST, type RequestInfo, SUPERUSERS } from '../core/rules/request-info.js';
import { CliError } from './errors.js';

/** A request made by the CLI with superuser rights. */
function cliSuperuser(superusers: Collection): RequestInfo {
  return { ...EMPTY_REQUEST, method: 'POST', auth: { collection: superusers, record: { id: '' } } };
}

/**
 * `mainspring superuser ips [clear | ADDRESS_OR_CIDR…]`: shows, replaces or
 * clears the superuser IP allow-list. It works on the database itself, not
 * through HTTP, so it is the way back in when a wrong list shuts every
 * superuser out of the API; a server running on the same data folder or
 * database reads the new list at once.
 */
async function superuserIps(entries: string[], dataDir: string, databaseUrl: string): Promise<void> {
  const app = await App.open({ dataDir, databaseUrl });
  try {
    if (entries.length > 0) {
      const superuserIPs = entries.length === 1 && entries[0] === 'clear' ? [] : entries;
      try {
        await app.settings.update({ superuserIPs });
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        const detail = (err.data as { superuserIPs?: { message?: string } }).superuserIPs?.message ?? err.message;
        throw new CliError(`superuser ips: ${detail}`, 2);
      }
    }
    const list = app.settings.get().superuserIPs;
    console.log(list.length === 0 ? 'Superusers may sign in from any address.' : `Superusers may sign in only from: ${list.join(' ')}`);
  } finally {
    await app.close();
  }
}

/** `mainspring superuser upsert|create|update|delete EMAIL [PASSWORD]`, and `superuser ips`. */
export async function superuserCommand(positionals: string[], dataDir: string, databaseUrl = ''): Promise<void> {
  const [action, email, password, ...extra] = positionals;
  if (action === 'ips') return superuserIps(positionals.slice(1), dataDir, databaseUrl);
  const actions = ['upsert', 'create', 'update', 'delete', 'ips'];
  if (!action || !actions.includes(action)) throw new CliError(`superuser needs one of: ${actions.join(', ')}`, 2);
  if (!email) throw new CliError(`superuser ${action} needs an EMAIL`, 2);
  if (action !== 'delete' && !password) throw new CliError(`superuser ${action} needs an EMAIL and a PASSWORD`, 2);
  if (extra.length > 0 || (action === 'delete' && password)) throw new CliError(`too many arguments for superuser ${action}`, 2);

  const app = await App.open({ dataDir, databaseUrl });
  try {
    const superusers = app.records.collection(SUPERUSERS);
    const info = cliSuperuser(superusers);
    const existing = await app.records.list(
      superusers,
      { filter: `email = "${email.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`, perPage: '1', skipTotal: '1' },
      info,
    );
    const found = existing.items[0] as { id: string } | undefined;
    const data = { email, password, passwordConfirm: password };
    if (action === 'delete') {
      if (!found) throw new CliError(`no superuser with the email ${email}`);
      await app.records.delete(superusers, found.id, info);
      console.log(`Deleted superuser ${email}.`);
    } else if (found && action !== 'create') {
      await app.records.update(superusers, found.id, { data, source: 'json' }, {}, info);
      console.log(`Updated superuser ${email}.`);
    } else if (!found && action !== 'update') {
      await app.records.create(superusers, { data, source: 'json' }, {}, info);
      console.log(`Created superuser ${email}.`);
    } else {
      throw new CliError(found ? `a superuser with the email ${email} already exists` : `no superuser with the email ${email}`);
    }
  } finally {
    await app.close();
  }
}
