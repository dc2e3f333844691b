import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, test } from 'vitest';
import { Admission } from './admission.js';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** An admission whose clock moves only when a started request says it worked `ms`. */
function fakeClock() {
  let t = 1000;
  const started: string[] = [];
  const admission = new Admission<[string, number]>(
    (name, ms) => {
      started.push(name);
      t += ms;
    },
    2,
    () => t,
  );
  return { admission, started, advance: (ms: number) => (t += ms) };
}

describe('time-sliced admission', () => {
  test('starts requests at once while the slice has time, then queues them; the queue starts in arrival order in later turns', async () => {
    const { admission, started } = fakeClock();
    admission.admit('a', 1);
    admission.admit('b', 1);
    // the slice (2 ms) is spent: these wait
    admission.admit('c', 1);
    admission.admit('d', 1);
    expect(started).toEqual(['a', 'b']);
    expect(admission.waiting).toBe(2);

    await nextTurn();
    // a new slice in the check phase: both fit
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    expect(admission.waiting).toBe(0);
  });

  test('a request that arrives while others wait goes behind them, even with time left', async () => {
    const { admission, started } = fakeClock();
    admission.admit('a', 5);
    admission.admit('b', 0);
    await nextTurn();
    // b started in the check phase; its slice has time left, but e arrives while c waits
    admission.admit('c', 5);
    expect(started).toEqual(['a', 'b', 'c']);
    admission.admit('d', 0);
    admission.admit('e', 0);
    expect(started).toEqual(['a', 'b', 'c']);
    await nextTurn();
    await nextTurn();
    expect(started).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  test('a long queue drains a slice per turn, every request once, in order', async () => {
    const { admission, started } = fakeClock();
    const names = Array.from({ length: 2500 }, (_, i) => `r${i}`);
    for (const name of names) admission.admit(name, 1);
    expect(started).toEqual(['r0', 'r1']);
    let turns = 0;
    while (admission.waiting > 0) {
      const before = started.length;
      await nextTurn();
      turns++;
      // two 1 ms requests per 2 ms slice
      expect(started.length - before).toBeLessThanOrEqual(2);
    }
    expect(started).toEqual(names);
    expect(turns).toBeGreaterThanOrEqual(1249);
  });

  test('a queue is not left behind when no new request comes', async () => {
    const { admission, started, advance } = fakeClock();
    admission.admit('a', 3);
    admission.admit('b', 0);
    advance(100);
    for (let i = 0; i < 5 && started.length < 2; i++) await nextTurn();
    expect(started).toEqual(['a', 'b']);
  });

  test('a real server under load accepts new connections between slices, not after every busy connection', async () => {
    // every request costs 3 ms of synchronous work; each connection sends its next request when answered
    const events: ('accept' | 'start')[] = [];
    const admission = new Admission<[IncomingMessage, ServerResponse]>((_req, res) => {
      events.push('start');
      const end = performance.now() + 3;
      while (performance.now() < end) {
        // the work
      }
      res.end('{}');
    });
    const server = createServer({ keepAlive: true }, admission.admit);
    server.on('connection', () => events.push('accept'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    let stop = false;
    const client = async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      while (!stop) {
        await new Promise<void>((resolve, reject) => {
          const req = request({ port, host: '127.0.0.1', agent, path: '/' }, (res) => {
            res.resume();
            res.on('end', resolve);
          });
          req.on('error', reject);
          req.end();
        });
      }
      agent.destroy();
    };
    const clients = Array.from({ length: 20 }, client);
    while (events.filter((e) => e === 'accept').length < 20) await new Promise((r) => setTimeout(r, 10));
    stop = true;
    await Promise.all(clients);
    await new Promise<void>((resolve) => server.close(() => resolve()));

    // requests started between two accepts: without admission, up to 9 here (the k-th accept waits for about k)
    const between: number[] = [];
    let count = 0;
    for (const e of events.slice(events.indexOf('accept') + 1)) {
      if (e === 'start') count++;
      else {
        between.push(count);
        count = 0;
        if (between.length === 19) break;
      }
    }
    expect(between).toHaveLength(19);
    expect(Math.max(...between)).toBeLessThanOrEqual(4);
  });
});
