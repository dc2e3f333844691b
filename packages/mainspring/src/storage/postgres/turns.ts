import { EngineBusyError } from '../engine.js';

/**
 * A counted number of turns, first come first served: {@link PostgresEngine.read}
 * takes one for as long as it holds a connection.
 */
export class Turns {
  private free: number;
  private readonly waiting: { grant: () => void }[] = [];
  constructor(private readonly size: number) {
    this.free = size;
  }

  /** Turns held now. */
  get taken(): number {
    return this.size - this.free;
  }

  /** Resolves with the function that gives the turn back; an EngineBusyError after `timeoutMs`. */
  take(timeoutMs: number): Promise<() => void> {
    const release = () => {
      const next = this.waiting.shift();
      if (next) next.grant();
      else this.free++;
    };
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(release);
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          clearTimeout(timer);
          resolve(release);
        },
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(entry), 1);
        reject(new EngineBusyError('the database is busy; try again'));
      }, timeoutMs);
      this.waiting.push(entry);
    });
  }
}

/**
 * The retry lane's queue inside this process (first come, first served), so
 * that one transaction per instance waits on the advisory lock while the
 * others wait without holding a pooled connection.
 */
export class LocalLane {
  private tail: Promise<void> = Promise.resolve();

  /** Resolves with the function that leaves the lane once it is this caller's turn; an EngineBusyError after `timeoutMs`. */
  enter(timeoutMs: number): Promise<() => void> {
    const before = this.tail;
    let leave!: () => void;
    const left = new Promise<void>((r) => {
      leave = r;
    });
    this.tail = before.then(() => left);
    return new Promise((resolve, reject) => {
      let gaveUp = false;
      const timer = setTimeout(() => {
        gaveUp = true;
        reject(new EngineBusyError('the database is busy; try again'));
      }, timeoutMs);
      before.then(() => {
        clearTimeout(timer);
        // a caller that gave up passes its turn on at once
        if (gaveUp) leave();
        else resolve(leave);
      });
    });
  }
}
