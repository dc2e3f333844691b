import { writeFileSync } from 'node:fs';
import pino from 'pino';
import { App } from '../core/app.js';
import { typescriptTypes } from '../core/collections/typegen.js';
import { CliError } from './errors.js';

/** Opens the app for a command whose stdout is its output: logs go to stderr, hooks are not loaded. */
export function openQuietly(dataDir: string, databaseUrl: string): Promise<App> {
  return App.open({ dataDir, databaseUrl, logger: pino({ level: process.env.MS_LOG_LEVEL ?? 'warn' }, pino.destination(2)) });
}

/** `mainspring typegen [--out=FILE] [--for=sdk,hooks]`: the records' TypeScript types, to stdout or a file. */
export async function typegen(options: { dir: string; db: string; out?: string | undefined; for?: string | undefined }): Promise<void> {
  const parts = new Set((options.for ?? 'sdk,hooks').split(',').map((s) => s.trim()));
  for (const part of parts) if (part !== 'sdk' && part !== 'hooks') throw new CliError(`--for takes sdk, hooks or both, not "${part}"`, 2);
  const app = await openQuietly(options.dir, options.db);
  let text: string;
  try {
    text = typescriptTypes(app.collections.registry.all(), { sdk: parts.has('sdk'), hooks: parts.has('hooks') });
  } finally {
    await app.close();
  }
  if (options.out) {
    writeFileSync(options.out, text);
    console.error(`Wrote the types of ${app.collections.registry.all().length} collections to ${options.out}.`);
  } else process.stdout.write(text);
}
