/**
 * Time-sliced admission of requests into the server.
 *
 * Node 20's libuv accepts one new connection per turn of the event loop, in
 * the same poll phase that reads every readable socket; the requests read
 * there run their synchronous work (SQLite reads, serialization) before the
 * turn ends. Under load one turn then holds the work of every connection
 * with a request waiting, and a client that has just connected (the kernel
 * completed the handshake, so it has sent its request) waits one whole turn
 * for each connection ahead of it in the accept queue. Measured with 50 new
 * connections on a server whose requests cost 0.5 ms: the last was accepted
 * 820 ms after the first, and that first second was the p99 of a benchmark.
 *
 * So a turn starts requests only until it has spent `sliceMs` on them (the
 * time of the requests it started, their promise chains included, since
 * Node runs those between two sockets' callbacks); later requests wait in
 * a first-come queue that the check phase drains, slice by slice, and
 * requests that arrive while it holds any wait behind them. A turn is then
 * about one slice long however many connections are busy: the same 50
 * connections were all accepted within 160 ms.
 */
export const ADMISSION_SLICE_MS = 2;

/**
 * How many queued requests one check phase may start. Each runner is one
 * `setImmediate` callback starting one request, so that Node runs the
 * request's promise chain before the next runner looks at the clock.
 */
const RUNNERS = 32;

export class Admission<A extends unknown[]> {
  private readonly queue: A[] = [];
  private head = 0;
  private runners = 0;
  /** When the current slice began (`now()`), or -1 when none is open. */
  private sliceStart = -1;

  constructor(
    private readonly start: (...args: A) => void,
    private readonly sliceMs = ADMISSION_SLICE_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Starts the request now if this turn's slice has time left and nothing waits; else queues it. */
  readonly admit = (...args: A): void => {
    if (this.head === this.queue.length && this.hasTime()) {
      this.start(...args);
      return;
    }
    this.queue.push(args);
    if (this.runners < RUNNERS) {
      this.runners++;
      setImmediate(this.run);
    }
  };

  /** Requests waiting to start. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  /** Opens a slice if none is open (it closes at the next check phase); whether it has time left. */
  private hasTime(): boolean {
    const now = this.now();
    if (this.sliceStart < 0) {
      this.sliceStart = now;
      setImmediate(this.closeSlice);
      return true;
    }
    return now - this.sliceStart < this.sliceMs;
  }

  private readonly closeSlice = (): void => {
    this.sliceStart = -1;
  };

  /** One runner: starts the first waiting request if the slice has time, and comes back next turn while any wait. */
  private readonly run = (): void => {
    const args = this.head < this.queue.length && this.hasTime() ? this.take() : undefined;
    // scheduled before the request starts, so a request that throws cannot stall the queue
    if (this.head < this.queue.length) setImmediate(this.run);
    else this.runners--;
    if (args) this.start(...args);
  };

  private take(): A {
    const args = this.queue[this.head] as A;
    this.queue[this.head++] = undefined as unknown as A;
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return args;
  }
}
