import type { Outcome } from './apply.js';
import type { DumpListing } from './dump.js';
import { type CollectionPlan, type KeyPlan, MAX_KEY_FIELDS, MONGO_EXTRA, MONGO_ID } from './plan.js';

/**
 * What the import prints: for each collection, where each key went and
 * why; then everything that was not imported, counted, with the first
 * documents' `_id`s to look at; then what to do next.
 */

const pad = (text: string, width: number) => (text.length >= width ? `${text} ` : text.padEnd(width));

/** Where one key went, in words. */
function destination(k: KeyPlan, plans: CollectionPlan[]): string {
  const t = k.target;
  switch (t.to) {
    case 'skip':
      return `skipped: ${t.reason}`;
    case 'password': {
      const stats = plans.find((p) => p.keys.includes(k))?.stats.keys.get(k.key);
      return `password (${stats?.bcrypt ?? 0} of ${k.present} are bcrypt hashes, kept as they are)`;
    }
    case 'field': {
      const f = t.field;
      let type: string = f.type;
      if (f.type === 'relation') {
        const target = plans.find((p) => p.stats.source.collection === t.refers)?.name ?? t.refers;
        type = `relation to ${target}${Number(f.maxSelect) > 1 ? ', several' : ''}`;
      } else if (f.type === 'select') type = `multi-select of ${(f.values as string[]).length} values`;
      return `${f.name} (${type})${k.note ? `: ${k.note}` : ''}`;
    }
    default:
      return t.to;
  }
}

/** The plan, collection by collection (what a dry run shows, and a run before it writes). */
export function describePlan(plans: CollectionPlan[], listing: DumpListing): string {
  const lines: string[] = [];
  for (const plan of plans) {
    const how = plan.existing ? 'into the existing collection' : 'new';
    lines.push(`${plan.stats.source.collection} → ${plan.name} (${plan.type}, ${how}): ${plan.stats.documents} documents`);
    const width = Math.min(24, Math.max(8, ...plan.keys.map((k) => k.key.length + 2)));
    lines.push(`  ${pad('_id', width)}${pad('', 20)} → id (derived from it) and ${MONGO_ID} (kept as text)`);
    const extra = plan.keys.filter((k) => k.target.to === 'extra');
    for (const k of plan.keys) {
      if (k.target.to !== 'extra') lines.push(`  ${pad(k.key, width)}${pad(k.seen, 20)} → ${destination(k, plans)}`);
    }
    if (extra.length > 0)
      lines.push(`  ${extra.length} rarer keys (past ${MAX_KEY_FIELDS} fields) → ${MONGO_EXTRA} (json), one object per record`);
    const indexes = plan.indexes.map((sql) => /INDEX `([^`]+)`/.exec(sql)?.[1] ?? sql);
    if (indexes.length > 0) lines.push(`  indexes: ${indexes.join(', ')}`);
    for (const note of plan.notes) lines.push(`  ${note}`);
  }
  for (const i of listing.ignored) lines.push(`ignored ${i.file}: ${i.reason}`);
  return `${lines.join('\n')}\n`;
}

/** What was written, and what was not. */
export function describeOutcome(plans: CollectionPlan[], outcome: Outcome, dryRun: boolean): string {
  const lines: string[] = [];
  const problems: string[] = [];
  let total = 0;
  for (const plan of plans) {
    const written = outcome.written.get(plan.name) ?? 0;
    total += written;
    const misfits = outcome.misfits.get(plan.name);
    if (!misfits) continue;
    if (misfits.skipped > 0) problems.push(`  ${plan.stats.source.collection}: ${misfits.skipped} documents not imported`);
    for (const m of misfits.byKey.values()) {
      const ids = m.ids.join(', ');
      problems.push(
        `  ${plan.stats.source.collection}.${m.key}: ${m.count} × ${m.reason} (_id ${ids}${m.count > m.ids.length ? ', …' : ''})`,
      );
    }
  }
  if (problems.length > 0) lines.push('Not imported:', ...problems);
  else lines.push('Every value found a field.');
  const counts = plans.map((p) => `${p.name} ${outcome.written.get(p.name) ?? 0}`).join(', ');
  if (dryRun) {
    lines.push(`Dry run: ${total} records would be written (${counts}); nothing was written.`);
  } else {
    lines.push(`Imported ${total} records into ${plans.length} collections (${counts}), in one transaction.`);
    lines.push('Their API rules are superusers-only: open them to users in the dashboard (/_/) or the collections API.');
  }
  return `${lines.join('\n')}\n`;
}
