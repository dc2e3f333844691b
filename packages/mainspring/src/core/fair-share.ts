import { Errors } from './errors.js';

/** How many reads one caller may have running, and waiting, at once. */
export interface FairShareLimits {
  /** Reads one caller may have running at once. */
  perCaller: number;
  /** Reads one caller may have waiting for a turn; one more is a 429. */
  queue: number;
  /** How long a read waits for its turn before it is a 429, in ms. */
  waitMs: number;
}

/**
 * Defaults: four lists of one caller run at once (more than a reader pool of
 * two cores runs, so a lone heavy client still fills it), the rest wait their
 * turn; a 429 only past 256 waiting, since many users behind one address (a
 * NAT, an office) are one caller as guests.
 */
export const DEFAULT_FAIR_SHARE: FairShareLimits = { perCaller: 4, queue: 256, waitMs: 10_000 };

/** One caller's reads: how many run, and who waits. */
interface Lane {
  running: number;
  waiting: (() => void)[];
}

/**
 * Turns for expensive reads (lists), per caller (an auth record, else an IP
 * address): a caller with {@link FairShareLimits.perCaller} reads running
 * waits for one of them to end, first come first served, so one caller's
 * slow filters hold at most that many of the database's readers (or pooled
 * connections) and everyone else's reads go on. A caller whose queue is full,
 * or who waited too long, gets a 429 with `Retry-After`.
 */
export class FairShare {
  private readonly lanes = new Map<string, Lane>();

  constructor(private readonly limits: () => FairShareLimits) {}

  /** Runs `fn` in a turn of `caller`'s. */
  async run<T>(caller: string, fn: () => Promise<T>): Promise<T> {
    const { perCaller, queue, waitMs } = this.limits();
    let lane = this.lanes.get(caller);
    if (!lane) {
      lane = { running: 0, waiting: [] };
      this.lanes.set(caller, lane);
    }
    if (lane.running >= perCaller) {
      if (lane.waiting.length >= queue) throw Errors.tooManyRequests(1);
      const mine = lane;
      await new Promise<void>((resolve, reject) => {
        const granted = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          mine.waiting.splice(mine.waiting.indexOf(granted), 1);
          reject(Errors.tooManyRequests(1));
        }, waitMs);
        mine.waiting.push(granted);
      });
    } else {
      lane.running++;
    }
    try {
      return await fn();
    } finally {
      const next = lane.waiting.shift();
      // the turn passes to the next in line, or is given back
      if (next) next();
      else if (--lane.running === 0) this.lanes.delete(caller);
    }
  }

  /** Callers with reads running (for tests and metrics). */
  get callers(): number {
    return this.lanes.size;
  }
}
