import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import pino from 'pino';
import { App } from '../../src/core/app.js';
import { buildServer } from '../../src/http/server.js';
import { relaxProtections, requester, type TestServer } from './server.js';

const run = promisify(execFile);

/** The script that makes the cluster: the same one the README's recipe runs. */
const SCRIPT = new URL('../../../../deploy/replicas/cluster.sh', import.meta.url).pathname;

/**
 * Why the replica tests cannot run here ('' when they can): they make a
 * PostgreSQL primary and standbys of their own, which takes PostgreSQL's
 * server binaries (initdb, pg_ctl, pg_basebackup), and as root the
 * `postgres` user the clusters then belong to.
 */
export function replicasUnavailable(): string {
  // PostgreSQL's own tests: once, in the PostgreSQL leg, not again beside SQLite's
  if (!process.env.MS_TEST_POSTGRES_URL) return 'replica tests run with the PostgreSQL tests (set MS_TEST_POSTGRES_URL)';
  const root = '/usr/lib/postgresql';
  const bins = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'pg_basebackup'))) : [];
  if (bins.length === 0) return 'no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)';
  return '';
}

/** A primary and standbys on 127.0.0.1, made by deploy/replicas/cluster.sh. */
export interface ReplicaCluster {
  readonly dir: string;
  readonly primaryPort: number;
  readonly standbyPorts: readonly number[];
  /** The URL of `database` on a node's port. */
  url(port: number, database?: string): string;
  /** Stops (fast) or starts one node: `standby1`, `standby2`, … */
  stop(name: string): Promise<void>;
  start(name: string): Promise<void>;
  down(): Promise<void>;
}

/** Ports `base` … `base + count - 1` all free on 127.0.0.1. */
async function freeRange(count: number): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
  for (let tries = 0; tries < 50; tries++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = await free(base + i);
    if (ok) return base;
  }
  throw new Error('no free ports for the cluster');
}

/** Makes a primary and `standbys` hot standbys, each holding back commits `applyDelay` (e.g. '200ms'). */
export async function startCluster(options: { standbys?: number; applyDelay?: string } = {}): Promise<ReplicaCluster> {
  const standbys = options.standbys ?? 2;
  const dir = mkdtempSync(join(tmpdir(), 'ms-replicas-'));
  const primaryPort = await freeRange(standbys + 1);
  const env = { ...process.env, STANDBYS: String(standbys), APPLY_DELAY: options.applyDelay ?? '0', FSYNC: 'off' };
  const script = (...args: string[]) => run('bash', [SCRIPT, ...args], { env, timeout: 120_000 });
  try {
    await script('up', dir, String(primaryPort));
  } catch (err) {
    await script('down', dir).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    primaryPort,
    standbyPorts: Array.from({ length: standbys }, (_, i) => primaryPort + i + 1),
    url: (port, database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    stop: async (name) => {
      await script('stop', dir, name);
    },
    start: async (name) => {
      await script('start', dir, name);
    },
    down: async () => {
      await script('down', dir);
    },
  };
}

/** Runs one statement on a node. */
export async function onNode<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/**
 * A real Mainspring server whose database is a fresh one on the cluster's
 * primary, with every standby for reads, once each standby is in rotation.
 */
export async function startReplicatedServer(cluster: ReplicaCluster): Promise<TestServer> {
  const name = `ms_replica_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  await onNode(cluster.url(cluster.primaryPort), `CREATE DATABASE ${name}`);
  const dir = mkdtempSync(join(tmpdir(), 'ms-test-'));
  const app = await App.open({
    dataDir: dir,
    databaseUrl: cluster.url(cluster.primaryPort, name),
    replicaUrls: cluster.standbyPorts.map((p) => cluster.url(p, name)),
    logger: pino({ level: process.env.MS_TEST_LOG ?? 'silent' }),
  });
  await relaxProtections(app);
  const server = await buildServer(app, { accessLog: false, idleCloseGraceMs: 0 });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const address = server.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  await waitFor(() => (app.engine.stats().replication?.standbys ?? []).every((s) => s.inRotation), 30_000, 'standbys in rotation');
  return {
    url,
    app,
    server,
    dir,
    request: requester(url),
    async close() {
      await server.close();
      await app.close();
      await onNode(cluster.url(cluster.primaryPort), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves once `ok()` holds, checking every 50 ms; throws after `ms`. */
export async function waitFor(ok: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
