import type { Logger } from 'pino';
import { FilterError } from '../../query/index.js';
import { type Engine, type Executor, readingExecutor, StatementTimeoutError } from '../../storage/engine.js';
import type { AuthService } from '../auth/service.js';
import type { Collection } from '../collections/model.js';
import type { CollectionRegistry } from '../collections/registry.js';
import { ApiError, Errors, fieldError } from '../errors.js';
import type { EventBus, RecordEvent } from '../events.js';
import { randomString } from '../ids.js';
import type { Metrics } from '../metrics.js';
import type { RecordAccess } from '../records/access.js';
import { parseClientFilter } from '../records/access.js';
import { parseExpand, serializeWithExpand } from '../records/expand.js';
import type { QueryLimits } from '../records/limits.js';
import { checkFields, parseFields, pickFields } from '../records/output.js';
import { type AuthState, isSuperuserAuth, type RequestInfo } from '../rules/request-info.js';

/**
 * PocketBase's realtime protocol, server side. A client connects (an SSE
 * stream, see http/routes/realtime.ts), then sets its subscriptions with the
 * token of that request; topics are `{collection}/*` (list rule) and
 * `{collection}/{id}` (view rule), each with optional `options`
 * (`{query: {expand, fields, filter}, headers}`). Every committed record
 * change on the event bus (from this instance or, on PostgreSQL, any other)
 * is checked for each subscriber against the rule, for the record as
 * written and the subscriber's token as it is at that moment (an expired or
 * revoked token is a guest), and sent only where it is admitted.
 */

/** Limits of one client, as PocketBase validates a subscription request. */
export const MAX_SUBSCRIPTIONS = 1000;
export const MAX_SUBSCRIPTION_LENGTH = 2500;

/** One parsed subscription. */
export interface Subscription {
  /** The subscription as the client sent it: its events carry this name. */
  readonly name: string;
  readonly collection: string;
  /** A record id, or `*` for every record. */
  readonly recordId: string;
  readonly query: Record<string, string>;
  readonly headers: Record<string, string>;
}

/** What a connection does for the broker. */
export interface ClientSink {
  /** Writes one SSE message; false when the client is gone or cut off. */
  send(name: string, data: string): boolean;
}

export class RealtimeClient {
  /** This client's messages, in bus order: each event's goes out after the ones before it. */
  outbox: Promise<void> = Promise.resolve();
  /** The bearer token of the last subscription request, checked again at every event. */
  token: string | null = null;
  /** `collectionId/recordId` of the first authenticated subscription request: the auth may not change after. */
  authKey: string | null = null;
  subscriptions: Subscription[] = [];

  constructor(
    readonly id: string,
    readonly ip: string,
    readonly sink: ClientSink,
  ) {}
}

/** Reads `topic?options={json}` into a subscription; null when the topic names no collection. */
export function parseSubscription(raw: string): Subscription | null {
  const q = raw.indexOf('?');
  const topic = q < 0 ? raw : raw.slice(0, q);
  const [collection = '', recordId = '*', ...rest] = topic.split('/');
  if (collection === '' || recordId === '' || rest.length > 0) return null;
  let query: Record<string, string> = {};
  let headers: Record<string, string> = {};
  if (q >= 0) {
    const options = new URLSearchParams(raw.slice(q + 1)).get('options');
    if (options) {
      try {
        const parsed = JSON.parse(options) as { query?: unknown; headers?: unknown };
        query = stringValues(parsed.query, (k) => k);
        headers = stringValues(parsed.headers, (k) => k.toLowerCase().replaceAll('-', '_'));
      } catch {
        // unreadable options are no options, as in PocketBase
      }
    }
  }
  return { name: raw, collection, recordId, query, headers };
}

function stringValues(raw: unknown, key: (k: string) => string): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return out;
  for (const [k, v] of Object.entries(raw)) {
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[key(k)] = String(v);
  }
  return out;
}

export interface BrokerDeps {
  events: EventBus;
  auth: AuthService;
  access: RecordAccess;
  registry: CollectionRegistry;
  engine: Engine;
  logger: Logger;
  /** The limits on a client's filter over a collection, checked when a subscription is set. */
  limits: (c: Collection) => QueryLimits;
  /** How long one event's check for one subscriber may take before the event is dropped for it, in ms. */
  checkTimeoutMs?: number;
  /** Told how long each delivered message took from the event to its subscriber. */
  metrics?: Pick<Metrics, 'realtimeDelivered'>;
}

/** The default of {@link BrokerDeps.checkTimeoutMs}: a check that takes longer is a filter, or a rule, that asks too much. */
export const CHECK_TIMEOUT_MS = 1000;

/**
 * The connected clients of this instance and the delivery of record events
 * to them. Each event's checks start at once, away from the event loop
 * (Engine.read), shared by subscribers with the same token and options; each
 * client gets its messages in bus order (its outbox), so a slow check holds
 * only the subscribers it is for, and one past its time limit drops that
 * event for them, with a log line.
 */
export class RealtimeBroker {
  private readonly clients = new Map<string, RealtimeClient>();
  private readonly unsubscribe: () => void;
  private readonly reads: Executor;

  constructor(private readonly d: BrokerDeps) {
    this.reads = readingExecutor(d.engine);
    this.unsubscribe = d.events.on((event) => {
      if (event.type !== 'record' || this.clients.size === 0) return;
      this.broadcast(event);
    });
  }

  get size(): number {
    return this.clients.size;
  }

  /** A new client; its id is the SSE stream's `PB_CONNECT` clientId. */
  connect(ip: string, sink: ClientSink): RealtimeClient {
    const client = new RealtimeClient(randomString(40), ip, sink);
    this.clients.set(client.id, client);
    return client;
  }

  disconnect(client: RealtimeClient): void {
    this.clients.delete(client.id);
  }

  /**
   * Sends `data` to client `clientId` under `topic` once, if the client
   * subscribed to it (PocketBase's `@oauth2`), and ends that subscription:
   * a second message to it, or one to a client that never asked, is
   * refused (false).
   */
  sendOnce(clientId: string, topic: string, data: string): boolean {
    const client = this.clients.get(clientId);
    if (!client?.subscriptions.some((s) => s.name === topic)) return false;
    client.subscriptions = client.subscriptions.filter((s) => s.name !== topic);
    return client.sink.send(topic, data);
  }

  /** `POST /api/realtime`: replaces a client's subscriptions (PocketBase's checks and statuses). */
  setSubscriptions(body: Record<string, unknown>, caller: AuthState | null, token: string | null, ip: string): void {
    const { clientId, subscriptions } = body;
    const errors: Record<string, ReturnType<typeof fieldError>> = {};
    if (typeof clientId !== 'string' || clientId === '') errors.clientId = fieldError('validation_required', 'Cannot be blank.');
    else if (clientId.length > 255) errors.clientId = fieldError('validation_length_out_of_range', 'The length must be between 1 and 255.');
    if (subscriptions !== undefined && subscriptions !== null) {
      if (!Array.isArray(subscriptions) || subscriptions.some((s) => typeof s !== 'string')) {
        errors.subscriptions = fieldError('validation_invalid_value', 'Must be a list of strings.');
      } else if (subscriptions.length > MAX_SUBSCRIPTIONS) {
        errors.subscriptions = fieldError('validation_length_too_long', `The length must be no more than ${MAX_SUBSCRIPTIONS}.`);
      } else if (subscriptions.some((s: string) => s.length > MAX_SUBSCRIPTION_LENGTH)) {
        errors.subscriptions = fieldError('validation_length_too_long', `Each must be at most ${MAX_SUBSCRIPTION_LENGTH} characters.`);
      }
    }
    if (Object.keys(errors).length > 0) throw Errors.validation('An error occurred while validating the submitted data.', errors);
    const client = this.clients.get(clientId as string);
    if (!client) throw Errors.notFound('Missing or invalid client id.');
    // a guessed clientId from elsewhere changes nothing
    if (client.ip !== ip) throw Errors.badRequest('Invalid realtime client.');
    const key = caller ? `${caller.collection.id}/${caller.record.id}` : null;
    // as PocketBase: a guest may sign in, but a signed-in client may not become someone else
    if (client.authKey !== null && key !== client.authKey) {
      throw Errors.forbidden("The current and the previous request authorization don't match.");
    }
    client.authKey = key;
    client.token = caller ? token : null;
    const parsed: Subscription[] = [];
    for (const raw of new Set((subscriptions as string[] | undefined) ?? [])) {
      const sub = parseSubscription(raw);
      if (sub) parsed.push(sub);
    }
    for (const sub of parsed) this.checkFilter(sub, caller);
    client.subscriptions = parsed;
  }

  /**
   * A subscription's filter is compiled now, with the limits of a list's
   * (core/records/limits.ts): one that cannot run, or asks too much, is a
   * 400 when it is set rather than silence at every event.
   */
  private checkFilter(sub: Subscription, caller: AuthState | null): void {
    const c = this.d.registry.find(sub.collection);
    const filter = sub.query.filter;
    if (!c || !filter) return;
    const superuser = isSuperuserAuth(caller);
    // a non-superuser's @collection or @request makes every event silent, as in PocketBase
    if (!superuser && /@collection\.|@request\./.test(filter)) return;
    const info: RequestInfo = { auth: caller, method: 'GET', context: 'realtime', query: sub.query, headers: sub.headers, body: {} };
    const refuse = (message: string) =>
      Errors.validation('An error occurred while validating the submitted data.', {
        subscriptions: fieldError('validation_invalid_filter', `${sub.collection}/${sub.recordId}: ${message}`),
      });
    try {
      this.d.access.filter(this.d.access.scope(info), c, parseClientFilter(filter), superuser, this.d.limits(c));
    } catch (err) {
      if (err instanceof FilterError || err instanceof ApiError) throw refuse(err.message);
      throw err;
    }
  }

  /** Sends one committed change to every subscriber allowed to see it. */
  private broadcast(event: RecordEvent): void {
    const c = this.d.registry.find(event.collectionId);
    if (!c) return;
    const started = performance.now();
    const metrics = this.d.metrics;
    // subscribers that share a token and options share the check and the message
    const verdicts = new Map<string, Promise<string | null>>();
    const callers = new Map<string, Promise<AuthState | null>>();
    for (const client of this.clients.values()) {
      for (const sub of client.subscriptions) {
        if (sub.collection !== c.name && sub.collection !== c.id) continue;
        if (sub.recordId !== '*' && sub.recordId !== event.record.id) continue;
        const token = client.token;
        let caller = callers.get(token ?? '');
        if (!caller) {
          caller = token ? this.d.auth.authenticate(token) : Promise.resolve(null);
          callers.set(token ?? '', caller);
        }
        const key = `${token ?? ''}\n${sub.recordId === '*' ? 'list' : 'view'}\n${JSON.stringify(sub.query)}\n${JSON.stringify(sub.headers)}`;
        let verdict = verdicts.get(key);
        if (!verdict) {
          verdict = caller.then((auth) => this.message(c, event, sub, auth)).catch((err: unknown) => this.dropped(c, event, err));
          verdicts.set(key, verdict);
        }
        const settled = verdict;
        client.outbox = client.outbox.then(async () => {
          const data = await settled;
          if (data !== null && client.sink.send(sub.name, data)) metrics?.realtimeDelivered((performance.now() - started) / 1000);
        });
      }
    }
  }

  /** An event a subscriber's check could not decide in time (or at all): not sent, and said in the log. */
  private dropped(c: Collection, event: RecordEvent, err: unknown): null {
    const slow = err instanceof StatementTimeoutError;
    this.d.logger[slow ? 'warn' : 'error'](
      { collection: c.name, record: event.record.id, err: { message: (err as Error).message } },
      slow ? 'realtime: a subscriber check ran past its time limit; the event was not sent to it' : 'realtime: a subscriber check failed',
    );
    return null;
  }

  /** The event's JSON for one subscriber, or null when its rule or filter does not admit the record. */
  private async message(c: Collection, event: RecordEvent, sub: Subscription, auth: AuthState | null): Promise<string | null> {
    const superuser = isSuperuserAuth(auth);
    const rule = sub.recordId === '*' ? c.listRule : c.viewRule;
    if (rule === null && !superuser) return null;
    const info: RequestInfo = { auth, method: 'GET', context: 'realtime', query: sub.query, headers: sub.headers, body: {} };
    try {
      const filter = sub.query.filter ? parseClientFilter(sub.query.filter) : null;
      // as PocketBase: only superusers may name @collection or @request in a subscription's filter
      if (filter && !superuser && /@collection\.|@request\./.test(sub.query.filter ?? '')) return null;
      const timeoutMs = this.d.checkTimeoutMs ?? CHECK_TIMEOUT_MS;
      if (!(await this.d.access.admitsRecord(c, event.record, info, superuser ? null : rule, filter, superuser, timeoutMs))) return null;
      const expand = sub.query.expand ? parseExpand(sub.query.expand) : null;
      const fields = sub.query.fields ? parseFields(sub.query.fields) : null;
      if (fields) checkFields(fields, c, info);
      const [record] = await serializeWithExpand(this.d.access, this.d.registry, this.reads, c, [event.record], expand, info);
      return JSON.stringify({ action: event.action, record: fields ? pickFields(record, fields) : record });
    } catch (err) {
      // a subscription with an unusable filter, expand or fields gets nothing, as in PocketBase
      if (err instanceof FilterError || (err as { status?: number }).status === 400) return null;
      throw err;
    }
  }

  /** Connected clients and their subscriptions, for metrics. */
  counts(): { clients: number; subscriptions: number } {
    let subscriptions = 0;
    for (const client of this.clients.values()) subscriptions += client.subscriptions.length;
    return { clients: this.clients.size, subscriptions };
  }

  /** Stops listening to the bus; the connections are closed by their routes. */
  close(): void {
    this.unsubscribe();
    this.clients.clear();
  }
}
