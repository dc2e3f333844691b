import { createHash } from 'node:crypto';
import type { Engine } from '../storage/engine.js';

/**
 * Idempotency keys: a client that retries a write with the same
 * `Idempotency-Key` gets the first answer again instead of a second write.
 * A key belongs to one caller and one route; it is claimed before the write
 * runs (so two concurrent requests with one key run once), and its answer is
 * stored after. Kept 24 hours.
 */

export const IDEMPOTENCY_TABLE = '_ms_idempotency';
export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;
/** How long a second request with a key waits for the first to finish before a 409. */
const WAIT_MS = 10_000;

export type Claim = { kind: 'run' } | { kind: 'replay'; status: number; body: string } | { kind: 'mismatch' } | { kind: 'busy' };

interface Row {
  fingerprint: string;
  status: number | string;
  body: string;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export class IdempotencyStore {
  private claims = 0;

  constructor(private readonly engine: Engine) {}

  /** The stored id of a key: who asked, where, and the key itself. */
  static id(caller: string, route: string, key: string): string {
    return sha256(`${caller}\n${route}\n${key}`);
  }

  /** What a request with this key should do: run (the key is now its own), replay, or be refused. */
  async claim(id: string, fingerprint: string, now = Date.now()): Promise<Claim> {
    const t = this.engine.dialect.ident(IDEMPOTENCY_TABLE);
    if (++this.claims % 1000 === 0) await this.engine.run(`DELETE FROM ${t} WHERE created < $1`, [now - IDEMPOTENCY_TTL_MS]);
    const inserted = await this.engine.run(
      `INSERT INTO ${t} (id, fingerprint, status, body, created) VALUES ($1, $2, 0, '', $3) ON CONFLICT (id) DO NOTHING`,
      [id, fingerprint, now],
    );
    if (inserted > 0) return { kind: 'run' };
    const until = now + WAIT_MS;
    for (;;) {
      const row = await this.engine.get<Row & { created: number | string }>(
        `SELECT fingerprint, status, body, created FROM ${t} WHERE id = $1`,
        [id],
      );
      if (!row) return this.claim(id, fingerprint);
      if (Number(row.created) < Date.now() - IDEMPOTENCY_TTL_MS) {
        // an expired key is a new key
        await this.engine.run(`DELETE FROM ${t} WHERE id = $1 AND created = $2`, [id, row.created]);
        return this.claim(id, fingerprint);
      }
      if (row.fingerprint !== fingerprint) return { kind: 'mismatch' };
      if (Number(row.status) !== 0) return { kind: 'replay', status: Number(row.status), body: row.body };
      if (Date.now() > until) return { kind: 'busy' };
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Stores the answer of a claimed key. */
  async complete(id: string, status: number, body: string): Promise<void> {
    await this.engine.run(`UPDATE ${this.engine.dialect.ident(IDEMPOTENCY_TABLE)} SET status = $1, body = $2 WHERE id = $3`, [
      status,
      body,
      id,
    ]);
  }

  /** Gives a claimed key up (the request failed on the server's side): a retry may run. */
  async release(id: string): Promise<void> {
    await this.engine.run(`DELETE FROM ${this.engine.dialect.ident(IDEMPOTENCY_TABLE)} WHERE id = $1 AND status = 0`, [id]);
  }

  /** A request's fingerprint: a repeat must be the same request. */
  static fingerprint(method: string, url: string, body: unknown): string {
    return sha256(`${method}\n${url}\n${JSON.stringify(body ?? null)}`);
  }
}
