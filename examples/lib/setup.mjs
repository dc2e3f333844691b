// What every example's setup script does: talk JSON to the server, create or
// update its collections (re-runnable), and sign in as a superuser from the
// command line.

/** One JSON request; answers `{ status, body }`. */
export async function call(url, method, path, token, body) {
  const res = await fetch(url + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: token } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/**
 * Creates or updates the collections, in order; `token` is a superuser's.
 * A relation may name its target collection by name (one made before it, or
 * a system one); it is sent by id. Re-running updates each collection to the
 * definition, keeping the ids of its existing fields.
 */
export async function applyCollections(url, token, collections) {
  for (const def of collections) {
    const fields = [];
    for (const f of def.fields) {
      if (f.type !== 'relation' || f.collectionId.startsWith('_pb_')) {
        fields.push(f);
        continue;
      }
      const target = await call(url, 'GET', `/api/collections/${f.collectionId}`, token);
      if (target.status !== 200) throw new Error(`${def.name}.${f.name}: ${f.collectionId} is missing (${target.status})`);
      fields.push({ ...f, collectionId: target.body.id });
    }
    const existing = await call(url, 'GET', `/api/collections/${def.name}`, token);
    const res =
      existing.status === 200
        ? await call(url, 'PATCH', `/api/collections/${def.name}`, token, { ...def, fields: mergeFields(existing.body.fields, fields) })
        : await call(url, 'POST', '/api/collections', token, { ...def, fields });
    if (res.status !== 200) throw new Error(`${def.name}: ${res.status} ${JSON.stringify(res.body)}`);
  }
}

/** Keeps the ids of fields that already exist, so an update changes them instead of replacing them. */
function mergeFields(current, wanted) {
  return [
    ...current.filter((f) => f.system || ['created', 'updated'].includes(f.name)),
    ...wanted.map((f) => ({ ...current.find((c) => c.name === f.name), ...f })),
  ];
}

/** True when the module at `metaUrl` is the script node was started with. */
export function isMain(metaUrl) {
  return metaUrl === `file://${process.argv[1]}`;
}

/**
 * For `node examples/NAME/setup.mjs URL EMAIL PASSWORD`: the server URL and
 * a superuser token, or a usage line and exit.
 */
export async function superuserFromArgs(script) {
  const [url = 'http://127.0.0.1:8090', email, password] = process.argv.slice(2);
  if (!email || !password) {
    console.error(`usage: node ${script} URL SUPERUSER_EMAIL SUPERUSER_PASSWORD`);
    process.exit(2);
  }
  const auth = await call(url, 'POST', '/api/collections/_superusers/auth-with-password', undefined, { identity: email, password });
  if (auth.status !== 200) {
    console.error(`error: superuser sign-in failed (${auth.status})`);
    process.exit(1);
  }
  return { url, token: auth.body.token };
}
