// Brings the app's schema to schema/collections.json: collections there are
// created or updated (fields matched by name, data kept; a field no longer
// listed is removed with its data); other collections are left alone.
//   MS_URL=http://127.0.0.1:8090 MS_SUPERUSER_EMAIL=… MS_SUPERUSER_PASSWORD=… npm run migrate
// Then `npm run types` regenerates ms_hooks/_types.ts from the new schema.
import { readFileSync } from 'node:fs';
import PocketBase from 'pocketbase';

const url = process.env.MS_URL ?? 'http://127.0.0.1:8090';
const email = process.env.MS_SUPERUSER_EMAIL;
const password = process.env.MS_SUPERUSER_PASSWORD;
if (!email || !password) {
  console.error('Set MS_SUPERUSER_EMAIL and MS_SUPERUSER_PASSWORD (create one with: npm run superuser -- EMAIL PASSWORD).');
  process.exit(2);
}

const pb = new PocketBase(url);
await pb.collection('_superusers').authWithPassword(email, password);
const wanted = JSON.parse(readFileSync(new URL('./schema/collections.json', import.meta.url), 'utf8'));
const existing = await pb.collections.getFullList();
const byName = new Map(existing.map((c) => [c.name, c]));
for (const collection of wanted) {
  const current = byName.get(collection.name);
  if (!current) {
    await pb.collections.create(collection);
    console.log(`created ${collection.name}`);
    continue;
  }
  // keep the ids (and so the data) of fields that are still there; system fields and the created/updated dates stay
  const fields = collection.fields.map((f) => ({ ...current.fields.find((c) => c.name === f.name), ...f }));
  const kept = (f) => !fields.some((g) => g.name === f.name);
  const system = current.fields.filter((f) => f.system && kept(f));
  const dates = current.fields.filter((f) => !f.system && f.type === 'autodate' && kept(f));
  await pb.collections.update(current.id, { ...collection, fields: [...system, ...fields, ...dates] });
  console.log(`updated ${collection.name}`);
}
