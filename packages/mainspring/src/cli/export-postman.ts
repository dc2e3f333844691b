import { writeFileSync } from 'node:fs';
import { openApiDocument } from '../http/openapi.js';
import { postmanCollection, postmanEnvironment } from '../http/postman.js';
import { CliError } from './errors.js';
import { openQuietly } from './typegen.js';

/**
 * `mainspring export-postman [--url=URL] [--environment=FILE]`: the Postman
 * collection (v2.1) of the whole schema on stdout; with `--environment`, a
 * Postman environment holding the base URL, the sign-in and the token.
 */
export async function exportPostman(options: {
  dir: string;
  db: string;
  url?: string | undefined;
  environment?: string | undefined;
  authCollection?: string | undefined;
  identity?: string | undefined;
}): Promise<void> {
  const baseUrl = (options.url ?? `http://${process.env.MS_HTTP ?? '127.0.0.1:8090'}`).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/.test(baseUrl))
    throw new CliError(`--url must be an http(s) URL such as http://127.0.0.1:8090, got "${baseUrl}"`, 2);
  const app = await openQuietly(options.dir, options.db);
  let doc: ReturnType<typeof openApiDocument>;
  try {
    doc = openApiDocument(app.collections.registry.all(), { audience: 'superuser', title: app.settings.get().meta.appName });
  } finally {
    await app.close();
  }
  const shared = {
    baseUrl,
    ...(options.authCollection ? { authCollection: options.authCollection } : {}),
    ...(options.identity ? { identity: options.identity } : {}),
  };
  process.stdout.write(`${JSON.stringify(postmanCollection(doc, shared), null, 2)}\n`);
  if (options.environment) {
    writeFileSync(
      options.environment,
      `${JSON.stringify(postmanEnvironment({ ...shared, name: `${String((doc.info as { title?: string }).title)}` }), null, 2)}\n`,
    );
    console.error(`Wrote the environment to ${options.environment}; set its password, then run the "Sign in" request.`);
  }
}
