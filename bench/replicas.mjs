// `npm run bench -- --postgres --replicas=N`: a PostgreSQL primary and N hot
// standbys of its own (deploy/replicas/cluster.sh, on free 127.0.0.1 ports),
// and the primary's CPU (the postmaster and every backend under it) across a
// scenario, so that the same reads with and without standbys show where the
// database's work went.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { cpuSeconds, pgAdmin } from './lib.mjs';

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../deploy/replicas/cluster.sh');
const run = promisify(execFile);

/**
 * Makes the cluster (torn down by `stack`) with a database `name` on the
 * primary; resolves with its URLs and the primary's data folder.
 */
export async function startReplicaCluster(stack, standbys, name, log) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-bench-replicas-'));
  // consecutive free ports: the primary's, then one per standby
  let port = 0;
  for (let tries = 0; tries < 50 && port === 0; tries++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    const ports = [];
    for (let i = 0; i <= standbys; i++) ports.push(await freePortAt(base + i));
    if (ports.every(Boolean)) port = base;
  }
  if (port === 0) throw new Error('no free ports for the replica cluster');
  const env = { ...process.env, STANDBYS: String(standbys), FSYNC: 'off' };
  stack.cleanups.push(() => run('bash', [SCRIPT, 'down', dir], { env }).catch(() => {}));
  log(`PostgreSQL primary on ${port}, ${standbys} standbys on ${port + 1}…${port + standbys} (${dir})`);
  await run('bash', [SCRIPT, 'up', dir, String(port)], { env, timeout: 180_000 });
  const url = (p) => `postgres://postgres@127.0.0.1:${p}/${name}`;
  await pgAdmin(`postgres://postgres@127.0.0.1:${port}/postgres`, `CREATE DATABASE ${name}`);
  return {
    primaryUrl: url(port),
    replicaUrls: Array.from({ length: standbys }, (_, i) => url(port + i + 1)),
    primaryData: path.join(dir, 'primary', 'data'),
  };
}

function freePortAt(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** CPU seconds the primary's processes (its postmaster and every child: backends, WAL senders, …) have used so far. */
export function clusterCpuSeconds(dataDir) {
  const postmaster = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  let total = cpuSeconds(postmaster) ?? 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) total += cpuSeconds(Number(entry)) ?? 0;
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

/** Waits until the server's superuser health shows every standby in rotation. */
export async function waitForStandbys(base, su, count, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await fetch(`${base}/api/health`, { headers: { authorization: su } }).catch(() => null);
    const standbys = res?.ok ? (await res.json()).data?.replication?.standbys : undefined;
    if (Array.isArray(standbys) && standbys.length === count && standbys.every((s) => s.inRotation)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the standbys were not in rotation within ${timeoutMs / 1000} s`);
}
