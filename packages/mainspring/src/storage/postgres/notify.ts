import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { ChangeChannel } from '../engine.js';
import { unescapeNul } from './pool.js';

/** The channel every instance listens on. */
const CHANNEL = 'mainspring_events';
/** Payloads that go to the table instead (NOTIFY takes at most 8000 bytes, and some go to the envelope). */
const MAX_INLINE_BYTES = 7900;
/** The table for larger payloads, and how long a row of it is kept. */
const TABLE = '_ms_event_payloads';
const KEEP_SECONDS = 300;
/** The most notifications one statement sends (each under {@link MAX_INLINE_BYTES}). */
const NOTIFY_BATCH = 100;

/** What one NOTIFY carries: the sender, and the payload or the id of its row. */
interface Envelope {
  o: string;
  /**
   * This instance's count of its envelopes: PostgreSQL delivers identical
   * notifications of one transaction once, and a batch is one transaction.
   */
  s: number;
  p?: string;
  r?: number;
}

/** What the channel needs from the engine. */
export interface NotifyHost {
  /** A new connection outside the pool (LISTEN holds its own). */
  newClient(): pg.Client;
  run(sql: string, params?: readonly (string | number | null)[]): Promise<number>;
  all<T>(sql: string, params?: readonly (string | number | null)[]): Promise<T[]>;
  transaction<T>(fn: (tx: { run(sql: string, params?: readonly (string | number | null)[]): Promise<number> }) => Promise<T>): Promise<T>;
}

/**
 * Changes between instances over PostgreSQL LISTEN/NOTIFY. A payload up to
 * {@link MAX_INLINE_BYTES} travels in the notification; a larger one is
 * stored in {@link TABLE} and the notification carries its id. The listening
 * connection reconnects on its own; after a gap the subscriber is told that
 * messages may have been missed.
 */
export class PgChangeChannel implements ChangeChannel {
  private readonly origin = randomUUID();
  private client: pg.Client | null = null;
  private closed = false;
  private onMessage: (payload: string) => void = () => {};
  private onGap: () => void = () => {};
  private published = 0;
  private sequence = 0;

  constructor(private readonly host: NotifyHost) {}

  async subscribe(onMessage: (payload: string) => void, onGap: () => void): Promise<void> {
    this.onMessage = onMessage;
    this.onGap = onGap;
    await this.host.transaction(async (tx) => {
      // instances that start together must not race to create the table
      await tx.run("SELECT pg_advisory_xact_lock(hashtext('mainspring:events'))");
      await tx.run(
        `CREATE TABLE IF NOT EXISTS ${TABLE} (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload TEXT NOT NULL, created TIMESTAMPTZ NOT NULL DEFAULT now())`,
      );
    });
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = this.host.newClient();
    client.on('notification', (msg) => {
      // a payload is bound as text, so it comes with the engine's NUL escapes
      if (msg.channel === CHANNEL && msg.payload) void this.receive(unescapeNul(msg.payload));
    });
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.client = client;
  }

  /** The listening connection broke: reconnect, then say that messages may have been missed. */
  private lost(client: pg.Client): void {
    if (this.client !== client || this.closed) return;
    this.client = null;
    client.end().catch(() => {});
    const retry = (delay: number) => {
      if (this.closed) return;
      setTimeout(() => {
        if (this.closed) return;
        this.connect().then(
          () => this.onGap(),
          () => retry(Math.min(delay * 2, 5000)),
        );
      }, delay).unref();
    };
    retry(200);
  }

  private async receive(raw: string): Promise<void> {
    let env: Envelope;
    try {
      env = JSON.parse(raw) as Envelope;
    } catch {
      return;
    }
    if (env.o === this.origin) return;
    if (typeof env.p === 'string') {
      this.onMessage(env.p);
      return;
    }
    if (typeof env.r === 'number') {
      try {
        const rows = await this.host.all<{ payload: string }>(`SELECT payload FROM ${TABLE} WHERE id = $1`, [env.r]);
        if (rows[0]) this.onMessage(rows[0].payload);
        else this.onGap();
      } catch {
        this.onGap();
      }
    }
  }

  /** Sends to every other instance; resolves once the database took it, rejects when it could not. */
  async publish(payload: string): Promise<void> {
    if (this.closed) return;
    const s = ++this.sequence;
    let envelope = JSON.stringify({ o: this.origin, s, p: payload } satisfies Envelope);
    if (Buffer.byteLength(envelope) > MAX_INLINE_BYTES) {
      const rows = await this.host.all<{ id: number }>(`INSERT INTO ${TABLE} (payload) VALUES ($1) RETURNING id`, [payload]);
      envelope = JSON.stringify({ o: this.origin, s, r: rows[0]?.id } satisfies Envelope);
      if (++this.published % 100 === 1) {
        await this.host.run(`DELETE FROM ${TABLE} WHERE created < now() - make_interval(secs => $1)`, [KEEP_SECONDS]);
      }
    }
    return new Promise((resolve, reject) => {
      this.outbox.push({ envelope, resolve, reject });
      if (!this.sending) void this.flush();
    });
  }

  /** Envelopes waiting to be sent, with their publishers' callbacks. */
  private readonly outbox: { envelope: string; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private sending = false;

  /**
   * Sends the waiting envelopes, in order, up to {@link NOTIFY_BATCH} in one
   * statement, while any wait. A round trip costs more than a notification,
   * and under load many writes commit while one send is on its way: they then
   * share the next one. An envelope alone is sent at once, as before.
   */
  private async flush(): Promise<void> {
    this.sending = true;
    while (this.outbox.length > 0) {
      const batch = this.outbox.splice(0, NOTIFY_BATCH);
      try {
        await this.host.run(
          'SELECT pg_notify($1, e.value) FROM json_array_elements_text($2::json) WITH ORDINALITY AS e(value, n) ORDER BY e.n',
          [CHANNEL, JSON.stringify(batch.map((b) => b.envelope))],
        );
        for (const b of batch) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.sending = false;
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }
}
