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
  /** What its check reads besides the caller (the rule it goes through, its options): equal for subscriptions whose checks agree. */
  readonly checkKey: string;
}

/** What a connection does for the broker. */
export interface ClientSink {
  /**
   * Writes one SSE message, given as its `event:` and `data:` lines (the
   * connection adds its `id:`); the same bytes go to every client of a
   * cohort. False when the client is gone or cut off.
   */
  send(message: Buffer): boolean;
}

/** The lines of one SSE message after its `id:` line. */
export function sseMessage(name: string, data: string): Buffer {
  return Buffer.from(`event:${name}\ndata:${data}\n\n`);
}

/**
 * The subscribers of one event that share its check and its message: the
 * same token and the same subscription. `message` is undefined while the
 * check runs, then the bytes to send, or null when the rule says no.
 */
interface Cohort {
  message: Buffer | null | undefined;
  /** When the event reached this instance's broker (performance.now()), for the delivery metric. */
  readonly started: number;
  readonly members: RealtimeClient[];
}

export class RealtimeClient {
  /**
   * The cohorts this client waits on, in bus order: a message goes out once
   * every one before it is decided, so a slow check holds only its own
   * subscribers, and no promise is made per client and event.
   */
  readonly pending: Cohort[] = [];
  /** The bearer token of the last subscription request, checked again at every event. */
  token: string | null = null;
  /** `collectionId/recordId` of the first authenticated subscription request: the auth may not change after. */
  authKey: string | null = null;
  subscriptions: readonly Subscription[] = [];

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
  const checkKey = `${recordId === '*' ? 'list' : 'view'}\n${JSON.stringify(query)}\n${JSON.stringify(headers)}`;
  return { name: raw, collection, recordId, query, headers, checkKey };
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

/**
 * Tokens and parsed subscriptions, each held once however many clients
 * have it: thousands of tabs of one app send the same subscription, and
 * each device of a user the same token, and these were most of a client's
 * memory. What no client holds any more is dropped once the values have
 * doubled since the last sweep (amortized, one sweep walks every client).
 */
class SharedValues {
  private tokens = new Map<string, string>();
  private subscriptions = new Map<string, Subscription>();
  private sweepAt = 4096;

  /** Whether enough may have been let go since the last sweep that a sweep is due. */
  get due(): boolean {
    return this.tokens.size + this.subscriptions.size > this.sweepAt;
  }

  token(token: string): string {
    const held = this.tokens.get(token);
    if (held !== undefined) return held;
    this.tokens.set(token, token);
    return token;
  }

  subscription(raw: string): Subscription | null {
    const held = this.subscriptions.get(raw);
    if (held) return held;
    const sub = parseSubscription(raw);
    if (sub) this.subscriptions.set(raw, sub);
    return sub;
  }

  /** Forgets what none of `clients` holds. */
  keepOnly(clients: Iterable<RealtimeClient>): void {
    const tokens = new Map<string, string>();
    const subscriptions = new Map<string, Subscription>();
    for (const client of clients) {
      if (client.token !== null) tokens.set(client.token, client.token);
      for (const sub of client.subscriptions) subscriptions.set(sub.name, sub);
    }
    this.tokens = tokens;
    this.subscriptions = subscriptions;
    this.sweepAt = 2 * (tokens.size + subscriptions.size) + 4096;
  }
}

/** The default of {@link BrokerDeps.checkTimeoutMs}: a check that takes longer is a filter, or a rule, that asks too much. */
export const CHECK_TIMEOUT_MS = 1000;

/**
 * The connected clients of this instance and the delivery of record events
 * to them. Each event's checks start at once, away from the event loop
 * (Engine.read) where they join, one per caller, rule and options; each
 * cohort's message is encoded once and its bytes written to all its
 * clients. Each client gets its messages in bus order (its queue of
 * cohorts), so a slow check holds only the subscribers it is for, and one
 * past its time limit drops that event for them, with a log line.
 */
export class RealtimeBroker {
  private readonly clients = new Map<string, RealtimeClient>();
  private readonly shared = new SharedValues();
  /** Checks run so far (each shared by its cohorts), for metrics. */
  private checksRun = 0;
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
    return client.sink.send(sseMessage(topic, data));
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
    const parsed: Subscription[] = [];
    for (const raw of new Set((subscriptions as string[] | undefined) ?? [])) {
      const sub = this.shared.subscription(raw);
      if (sub) parsed.push(sub);
    }
    for (const sub of parsed) this.checkFilter(sub, caller);
    client.token = caller && token ? this.shared.token(token) : null;
    client.subscriptions = parsed;
    if (this.shared.due) this.shared.keepOnly(this.clients.values());
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

  /**
   * Sends one committed change to every subscriber allowed to see it. The
   * subscribers are grouped into cohorts (same token, same subscription),
   * each with one message; a cohort's check is shared with every cohort of
   * the same caller (the auth record the token stands for at this moment,
   * or a guest) and the same rule and options, so the rule runs once per
   * event for all of them.
   */
  private broadcast(event: RecordEvent): void {
    const c = this.d.registry.find(event.collectionId);
    if (!c) return;
    const started = performance.now();
    // by token, then by subscription: both are shared strings (SharedValues), so no key is built per client
    const cohorts = new Map<string, Map<string, Cohort>>();
    const callers = new Map<string, Promise<AuthState | null>>();
    const checks = new Map<string, Promise<string | null>>();
    for (const client of this.clients.values()) {
      const subs = client.subscriptions;
      for (let i = 0; i < subs.length; i++) {
        const sub = subs[i] as Subscription;
        if (sub.collection !== c.name && sub.collection !== c.id) continue;
        if (sub.recordId !== '*' && sub.recordId !== event.record.id) continue;
        let ofToken = cohorts.get(client.token ?? '');
        if (!ofToken) {
          ofToken = new Map();
          cohorts.set(client.token ?? '', ofToken);
        }
        let cohort = ofToken.get(sub.name);
        if (!cohort) {
          const made: Cohort = { message: undefined, started, members: [] };
          cohort = made;
          ofToken.set(sub.name, made);
          this.decide(c, event, sub, this.caller(callers, client.token), checks).then(
            (data) => this.settle(made, data === null ? null : sseMessage(sub.name, data)),
            (err: unknown) => this.settle(made, this.dropped(c, event, err)),
          );
        }
        cohort.members.push(client);
        client.pending.push(cohort);
      }
    }
  }

  /** The caller a token stands for now (verified again: expired or revoked is a guest), once per event and token. */
  private caller(callers: Map<string, Promise<AuthState | null>>, token: string | null): Promise<AuthState | null> {
    let caller = callers.get(token ?? '');
    if (!caller) {
      caller = token ? this.d.auth.authenticate(token) : Promise.resolve(null);
      callers.set(token ?? '', caller);
    }
    return caller;
  }

  /** The event's JSON for a subscription, or null; one check per caller, rule and options, whatever token named the caller. */
  private async decide(
    c: Collection,
    event: RecordEvent,
    sub: Subscription,
    caller: Promise<AuthState | null>,
    checks: Map<string, Promise<string | null>>,
  ): Promise<string | null> {
    const auth = await caller;
    const key = `${auth ? `${auth.collection.id}/${auth.record.id}` : ''}\n${sub.checkKey}`;
    let check = checks.get(key);
    if (!check) {
      this.checksRun++;
      check = this.message(c, event, sub, auth).catch((err: unknown) => this.dropped(c, event, err));
      checks.set(key, check);
    }
    return check;
  }

  /** A cohort's check is done: each of its clients gets what is now at the head of its queue. */
  private settle(cohort: Cohort, message: Buffer | null): void {
    cohort.message = message;
    const metrics = this.d.metrics;
    for (const client of cohort.members) {
      const pending = client.pending;
      while (pending.length > 0) {
        const head = pending[0] as Cohort;
        if (head.message === undefined) break;
        pending.shift();
        if (head.message !== null && client.sink.send(head.message)) metrics?.realtimeDelivered((performance.now() - head.started) / 1000);
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

  /** Connected clients, their subscriptions and the checks run so far, for metrics. */
  counts(): { clients: number; subscriptions: number; checks: number } {
    let subscriptions = 0;
    for (const client of this.clients.values()) subscriptions += client.subscriptions.length;
    return { clients: this.clients.size, subscriptions, checks: this.checksRun };
  }

  /** Stops listening to the bus; the connections are closed by their routes. */
  close(): void {
    this.unsubscribe();
    this.clients.clear();
  }
}
