import type { Engine, Executor } from '../../storage/engine.js';
import type { Collection } from '../collections/model.js';
import type { CollectionRegistry } from '../collections/registry.js';
import type { EventBus } from '../events.js';
import type { Hooks } from '../hooks/registry.js';
import type { RecordAccess } from './access.js';
import type { RecordFiles } from './files.js';
import type { QueryLimits } from './limits.js';

/** What every part of the record service shares: built once by {@link RecordService}. */
export interface RecordContext {
  readonly engine: Engine;
  readonly registry: CollectionRegistry;
  readonly events: EventBus;
  readonly hooks: Hooks;
  /** Puts uploads in place and deletes files records let go. */
  readonly files: RecordFiles;
  /** Reading through rules: the one authorization path. */
  readonly access: RecordAccess;
  /** Reads that may be long (expands, rule checks with subqueries), through {@link Engine.read}. */
  readonly reads: Executor;
  /** The limits on a client's filter and sort over a collection (the settings' queryLimits). */
  readonly limits: (c: Collection) => QueryLimits;
}
