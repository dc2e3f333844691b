import type { Collection } from './model.js';

/**
 * The in-memory schema: every collection by id and by lowercased name. It is
 * the only source of identifiers that reach SQL. Replaced whole on each
 * schema change, so readers never see a half-applied change.
 */
export class CollectionRegistry {
  private byId = new Map<string, Collection>();
  private byName = new Map<string, Collection>();

  /** Replaces the whole schema. */
  replace(collections: readonly Collection[]): void {
    const byId = new Map<string, Collection>();
    const byName = new Map<string, Collection>();
    for (const c of collections) {
      byId.set(c.id, c);
      byName.set(c.name.toLowerCase(), c);
    }
    this.byId = byId;
    this.byName = byName;
  }

  /** A collection by id or (case-insensitive) name. */
  find(idOrName: string): Collection | undefined {
    return this.byId.get(idOrName) ?? this.byName.get(idOrName.toLowerCase());
  }

  /** Every collection, system ones first, then by name. */
  all(): Collection[] {
    return [...this.byId.values()].sort((a, b) => Number(b.system) - Number(a.system) || a.name.localeCompare(b.name));
  }
}
