import type { ChangeChannel } from '../storage/engine.js';
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

/**
 * A publish/subscribe bus; a failing listener never breaks the publisher.
 * In-process by default; with a {@link ChangeChannel} (PostgreSQL) every
 * event is also sent to the other instances, whose buses deliver it to their
 * own listeners after `prepare` (reloading the schema or the settings).
 */
export class EventBus {
  private readonly listeners = new Set<Listener>();
  private channel: ChangeChannel | null = null;
  /** Remote events, delivered one after another in the order they came. */
  private inbound: Promise<void> = Promise.resolve();

  /** Subscribes; returns the function that unsubscribes. */
  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Connects the bus to the other instances. `prepare` runs before a remote
   * event reaches the listeners (the app reloads its schema for a schema
   * event); after a gap in the channel, every cache is treated as stale.
   */
  async connect(channel: ChangeChannel, prepare: (event: AppEvent) => Promise<void>): Promise<void> {
    const deliver = (event: AppEvent) => {
      this.inbound = this.inbound
        .then(() => prepare(event))
        .then(() => this.deliver(event))
        .catch((err) => this.onListenerError(err));
    };
    await channel.subscribe(
      (payload) => {
        let event: AppEvent;
        try {
          event = JSON.parse(payload) as AppEvent;
        } catch {
          return;
        }
        deliver(event);
      },
      () => {
        deliver({ type: 'schema' });
        deliver({ type: 'settings' });
      },
    );
    this.channel = channel;
  }

  /** Stops talking to the other instances. */
  async disconnect(): Promise<void> {
    const channel = this.channel;
    this.channel = null;
    await channel?.close();
    await this.inbound;
  }

  /** Delivers to this process's listeners and sends to the other instances. */
  emit(event: AppEvent): void {
    this.deliver(event);
    this.channel?.publish(JSON.stringify(event)).catch((err) => this.onListenerError(err));
  }

  private deliver(event: AppEvent): void {
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
