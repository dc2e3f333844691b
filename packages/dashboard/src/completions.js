// What the rule editor completes: every path a rule of the collection being edited may name.

const MACROS = [
  '@request.auth.id',
  '@request.auth.collectionName',
  '@request.body.',
  '@request.query.',
  '@request.headers.',
  '@request.method',
  '@request.context',
  '@now',
  '@todayStart',
  '@todayEnd',
  '@yesterday',
  '@tomorrow',
  '@second',
  '@minute',
  '@hour',
  '@day',
  '@month',
  '@year',
  '@weekday',
  '@monthStart',
  '@monthEnd',
  '@yearStart',
  '@yearEnd',
];

/** `prefix + name` of each field, and one level further through relations (`author.email`). */
function fieldPaths(fields, collections, prefix, out) {
  for (const f of fields) {
    if (!f.name) continue;
    out.push(prefix + f.name);
    if (f.type !== 'relation') continue;
    const target = collections.find((c) => c.id === f.collectionId);
    for (const sub of target?.fields ?? []) if (!sub.hidden) out.push(`${prefix}${f.name}.${sub.name}`);
  }
}

/**
 * The paths for a rule of `draft` (fields as drafted, or a view's inferred `fields`): its fields and
 * relation paths, `@request.body.*`, `@request.auth.*` with the fields of the collections a signed-in
 * user can come from (the auth collections, the drafted one too when it is one; `_superusers` is left
 * out, as a superuser passes every rule anyway), `@collection.<name>.*` of every collection, the macros.
 */
export function rulePaths(draft, fields, collections) {
  const out = [];
  fieldPaths(fields, collections, '', out);
  for (const f of fields) if (f.name) out.push(`@request.body.${f.name}`);
  const auth = collections.filter((c) => c.type === 'auth' && !c.system && c.id !== draft.id);
  if (draft.type === 'auth') auth.push({ ...draft, fields });
  for (const c of auth)
    fieldPaths(
      c.fields.filter((f) => !f.hidden),
      collections,
      '@request.auth.',
      out,
    );
  for (const c of collections) {
    if (c.system) continue;
    out.push(`@collection.${c.name}`);
    fieldPaths(c.id === draft.id ? fields : c.fields, collections, `@collection.${c.name}.`, out);
  }
  return [...new Set([...out, ...MACROS])];
}
