import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Engine, StandbyStats } from '../storage/engine.js';

/**
 * What an operator alerts on, in Prometheus's text format (served at
 * `GET /api/ms/metrics`, http/routes/ms-metrics.ts). Events are counted as
 * they happen (a request, a commit, a cron run, a mail, a refusal, a
 * realtime delivery); states (queues, pools, subscribers) are read from
 * their owners when scraped, so nothing is kept twice. Each app has a
 * registry of its own (tests run several apps in one process); what belongs
 * to the process (memory, event-loop lag, handles) is collected once per
 * process, by prom-client's defaults.
 */
export class Metrics {
  private readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'mainspring_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'mainspring_http_request_duration_seconds',
    help: 'Time from a request read to its answer sent, by method and route pattern.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly groupCommit = new Histogram({
    name: 'mainspring_db_group_commit_writes',
    help: 'Writes committed together in one SQLite transaction (group commit).',
    buckets: [1, 2, 4, 8, 16],
    registers: [this.registry],
  });
  private readonly realtimeLag = new Histogram({
    name: 'mainspring_realtime_delivery_lag_seconds',
    help: 'Time from a committed change reaching this instance to its message written to a subscriber (rule checks and queueing).',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  private readonly cronRuns = new Counter({
    name: 'mainspring_cron_runs_total',
    help: 'Cron job runs on this instance, by job and result (ok, failed).',
    labelNames: ['job', 'result'] as const,
    registers: [this.registry],
  });
  private readonly mails = new Counter({
    name: 'mainspring_mail_total',
    help: 'Mails handed to SMTP (or saved to files when SMTP is off), by result (sent, failed).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  private readonly refusals = new Counter({
    name: 'mainspring_rate_limit_refusals_total',
    help: 'Requests refused with 429 by a rate-limit rule, by the rule label.',
    labelNames: ['rule'] as const,
    registers: [this.registry],
  });
  /** Each method, route and status's counter and histogram, found once: a label lookup hashes its values. */
  private readonly requestSeries = new Map<string, { count: Counter.Internal; time: Histogram.Internal<'method' | 'route'> }>();

  constructor(engine: Engine, state: { realtime: () => { clients: number; subscriptions: number; checks: number } }) {
    const registers = [this.registry];
    const stats = () => engine.stats();
    gauge(
      registers,
      'mainspring_db_writes_waiting',
      'Writes waiting for the writer (SQLite) or for a pooled connection (PostgreSQL).',
      () => stats().writesWaiting,
    );
    gauge(
      registers,
      'mainspring_db_pool_connections',
      'Open connections: PostgreSQL pool, SQLite reader processes.',
      () => stats().pool.size,
    );
    gauge(registers, 'mainspring_db_pool_idle', 'Idle connections of the pool.', () => stats().pool.idle);
    gauge(
      registers,
      'mainspring_db_pool_waiting',
      'Callers waiting for a pooled connection or reader process.',
      () => stats().pool.waiting,
    );
    gauge(registers, 'mainspring_db_reads_apart_running', 'Reads running apart from the event loop now.', () => stats().reads.running);
    counterOf(registers, 'mainspring_db_reads_stopped_total', 'Reads stopped at their statement timeout.', () => stats().reads.stopped);
    gauge(registers, 'mainspring_realtime_clients', 'Connected realtime (SSE) clients of this instance.', () => state.realtime().clients);
    gauge(registers, 'mainspring_realtime_subscriptions', 'Realtime subscriptions of this instance.', () => state.realtime().subscriptions);
    counterOf(
      registers,
      'mainspring_realtime_checks_total',
      'Checks of realtime events: one per event, caller, rule and options, however many subscribers share it.',
      () => state.realtime().checks,
    );
    engine.observeCommits?.((writes) => this.groupCommit.observe(writes));
    // declared without standbys too, so a dashboard's queries stay valid: no standby series, and 0 reads on the primary
    standbyMetrics(
      registers,
      () => stats().replication?.standbys ?? [],
      () => stats().replication?.readsOnPrimary ?? 0,
    );
    // started now, so the event-loop lag is measured from the start, not from the first scrape
    processRegistry();
  }

  /** One answered request; `route` is the route's pattern, never the URL (its ids would make a series each). */
  request(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`;
    let series = this.requestSeries.get(key);
    if (!series) {
      series = { count: this.requests.labels(method, route, String(status)), time: this.latency.labels(method, route) };
      this.requestSeries.set(key, series);
    }
    series.count.inc();
    series.time.observe(seconds);
  }

  cronRun(job: string, ok: boolean): void {
    this.cronRuns.inc({ job, result: ok ? 'ok' : 'failed' });
  }

  mail(ok: boolean): void {
    this.mails.inc({ result: ok ? 'sent' : 'failed' });
  }

  rateLimited(rule: string): void {
    this.refusals.inc({ rule });
  }

  realtimeDelivered(seconds: number): void {
    this.realtimeLag.observe(seconds);
  }

  /** The exposition text: this app's series, then the process's. */
  async text(): Promise<string> {
    return `${await this.registry.metrics()}\n${await processRegistry().metrics()}`;
  }

  /** The Content-Type of {@link text}. */
  readonly contentType = this.registry.contentType;
}

type Registers = Registry[];

function gauge(registers: Registers, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers,
    collect() {
      this.set(read());
    },
  });
}

/** A counter whose owner keeps the count (a running total read when scraped). */
function counterOf(registers: Registers, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** Each standby's health, labelled by its `host:port/database`, and where reads went (PostgreSQL with standbys; empty without). */
function standbyMetrics(registers: Registers, standbys: () => readonly StandbyStats[], onPrimary: () => number): void {
  const gaugeOf = (name: string, help: string, read: (s: StandbyStats) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['standby'],
      registers,
      collect() {
        this.reset();
        for (const s of standbys()) {
          const value = read(s);
          if (value !== null) this.set({ standby: s.name }, value);
        }
      },
    });
  gaugeOf('mainspring_db_standby_up', 'A standby answered its last check (1) or not (0).', (s) => (s.reachable ? 1 : 0));
  gaugeOf('mainspring_db_standby_in_rotation', 'A standby gets reads (1): reachable and within the lag bound.', (s) =>
    s.inRotation ? 1 : 0,
  );
  gaugeOf('mainspring_db_standby_lag_bytes', 'WAL bytes the primary wrote that a standby has not replayed.', (s) => s.lagBytes);
  gaugeOf('mainspring_db_standby_lag_seconds', 'How far behind the primary a standby is, in seconds.', (s) => s.lagSeconds);
  new Counter({
    name: 'mainspring_db_standby_reads_total',
    help: 'Reads a standby served.',
    labelNames: ['standby'],
    registers,
    collect() {
      this.reset();
      for (const s of standbys()) this.inc({ standby: s.name }, s.reads);
    },
  });
  counterOf(registers, 'mainspring_db_reads_on_primary_total', 'Reads that went to the primary while standbys are configured.', onPrimary);
}

let processMetricsRegistry: Registry | null = null;

/** prom-client's process metrics (CPU, memory, handles, event-loop lag, GC), one set per process. */
function processRegistry(): Registry {
  if (processMetricsRegistry === null) {
    processMetricsRegistry = new Registry();
    collectDefaultMetrics({ register: processMetricsRegistry, eventLoopMonitoringPrecision: 10 });
  }
  return processMetricsRegistry;
}
