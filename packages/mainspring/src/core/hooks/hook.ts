/**
 * One hook: an ordered chain of handlers, PocketBase's way. Each handler
 * receives the event and calls `await e.next()` to run the rest of the chain
 * and, at its end, the default action; code before `next()` runs before the
 * action, code after it sees its outcome, and a throw stops everything after
 * it. A handler that returns without calling `next()` skips the action.
 */

/** What every hook event has: `next()` runs the rest of the chain. */
export interface HookEvent {
  next(): Promise<void>;
}

/** A handler of one hook. */
export type Handler<E> = (e: E) => void | Promise<void>;

interface Bound<E> {
  readonly id: number;
  readonly fn: Handler<E>;
  /** Collection ids and names the handler is limited to; empty for all. */
  readonly tags: ReadonlySet<string>;
}

let nextHandlerId = 0;

export class Hook<E extends HookEvent> {
  private handlers: Bound<E>[] = [];

  /** Adds a handler for events of the given collections (any, when none are named); returns its id for {@link unbind}. */
  bind(fn: Handler<E>, tags: readonly string[] = []): number {
    if (typeof fn !== 'function') throw new TypeError('a hook handler must be a function');
    const id = ++nextHandlerId;
    // a new array, so a trigger already under way keeps the list it started with
    this.handlers = [...this.handlers, { id, fn, tags: new Set(tags) }];
    return id;
  }

  unbind(id: number): void {
    this.handlers = this.handlers.filter((h) => h.id !== id);
  }

  /** True when some handler would run for these tags; lets callers skip building an event nobody hears. */
  has(tags: readonly string[] = []): boolean {
    return this.handlers.some((h) => matches(h, tags));
  }

  /**
   * Runs the chain for `event` (only the handlers whose tags match), then
   * `action` when the last handler calls `next()`. Calling `next()` twice
   * from one handler runs nothing the second time.
   */
  async trigger(event: Omit<E, 'next'>, action: (e: E) => Promise<void> | void, tags: readonly string[] = []): Promise<void> {
    const chain = this.handlers.filter((h) => matches(h, tags));
    const e = event as E;
    const step = async (i: number): Promise<void> => {
      if (i === chain.length) {
        await action(e);
        return;
      }
      let called = false;
      const next = async () => {
        if (called) return;
        called = true;
        await step(i + 1);
        // later handlers set their own next; this handler's code after `await e.next()` sees its own again
        e.next = next;
      };
      e.next = next;
      await (chain[i] as Bound<E>).fn(e);
    };
    await step(0);
  }
}

function matches<E>(h: Bound<E>, tags: readonly string[]): boolean {
  if (h.tags.size === 0) return true;
  return tags.some((t) => h.tags.has(t));
}
