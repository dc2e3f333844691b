import type { RecordData } from './rules/request-info.js';

/**
 * The one bus that carries changes: record writes and schema changes,
 * published after their transaction commits. In-process on SQLite; the
 * PostgreSQL engine relays the same events across instances. Caches and
 * realtime listen to it.
 */

/** A committed record change. */
export interface RecordEvent {
  readonly type: 'record';
  readonly action: 'create' | 'update' | 'delete';
  readonly collectionId: string;
  readonly record: RecordData;
}

/** The schema changed; collections should be reloaded. */
export interface SchemaEvent {
  readonly type: 'schema';
}

/** The settings changed. */
export interface SettingsEvent {
  readonly type: 'settings';
}

/** A record's sessions changed (one revoked, or all): cached tokens of it are forgotten. */
export interface SessionsEvent {
  readonly type: 'sessions';
  readonly collectionId: string;
  readonly recordId: string;
}

export type AppEvent = RecordEvent | SchemaEvent | SettingsEvent | SessionsEvent;

type Listener = (event: AppEvent) => void;

/** An in-process publish/subscribe bus; a failing listener never breaks the publisher. */
export class EventBus {
  private readonly listeners = new Set<Listener>();

  /** Subscribes; returns the function that unsubscribes. */
  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: AppEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  /** Where listener failures go (the app logs them). */
  onListenerError: (err: unknown) => void = () => {};
}
