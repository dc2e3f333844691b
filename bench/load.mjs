// The load generator and what is measured around it, shared by `run.mjs` and
// `peers/run.mjs`: wrk where it is installed (a C program: its own cost is
// small and steady), autocannon otherwise. On a machine with two or more
// cores the load runs on core 0 and the measured servers on the others, so
// the two never take turns on one core.
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { cpuSeconds, rssBytes, treeCpuSeconds } from './lib.mjs';

/**
 * A request of a scenario. Every `{n}` in its path, header values and body is
 * replaced by a key used once in the whole run (for unique e-mails or
 * Idempotency-Keys); requests without one are built once and sent as they are.
 * @typedef {{ method: string, path: string, headers?: Record<string, string>, body?: string }} LoadRequest
 */

const WRK = ['/usr/bin/wrk', '/usr/local/bin/wrk'].find((p) => fs.existsSync(p));
const CORES = os.availableParallelism();
// MS_BENCH_NO_PIN=1 leaves every process to the scheduler (no core set aside for the load generator)
const TASKSET = !process.env.MS_BENCH_NO_PIN && fs.existsSync('/usr/bin/taskset') ? '/usr/bin/taskset' : undefined;

/** Which load generator this run uses. */
export const generator = WRK ? 'wrk' : 'autocannon';

/** The cores the load generator runs on, and those left to the servers; undefined where nothing is pinned. */
export const cores = TASKSET && CORES >= 2 ? { load: '0', servers: CORES === 2 ? '1' : `1-${CORES - 1}` } : undefined;

/** Pins this process (and so an in-process autocannon) to the load generator's core. */
export function pinSelf() {
  if (cores) spawnSync(TASKSET, ['-cp', cores.load, String(process.pid)], { stdio: 'ignore' });
}

/** The command and arguments that run `args` (a node script and its arguments) on the servers' cores. */
export function onServerCores(args) {
  return cores ? [TASKSET, ['-c', cores.servers, process.execPath, ...args]] : [process.execPath, args];
}

/** Samples a process's RSS every 100 ms until `stop()`, which gives the peak in MiB. */
function rssSampler(pid) {
  let peak = rssBytes(pid) ?? 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid) ?? 0);
  }, 100);
  return () => {
    clearInterval(timer);
    peak = Math.max(peak, rssBytes(pid) ?? 0);
    return peak > 0 ? Math.round(peak / 1048576) : null;
  };
}

const running = new Set(); // { stop() } of each load in progress, for Ctrl-C

/** Stops the loads in progress, if any (their measurements are then thrown away). */
export function stopLoad() {
  for (const load of running) load.stop();
}

/**
 * Sends `requests` (cycled, shared by all connections) to `url` for
 * `duration` seconds over `connections` keep-alive connections and measures
 * the server `pid` meanwhile; a request unanswered after `timeoutS` counts as an error.
 * @param {{ url: string, requests: LoadRequest[], connections: number, duration: number, pid?: number, timeoutS?: number, runKey?: string }} options
 */
export async function measure({ url, requests, connections, duration, pid, timeoutS = 10, runKey = Date.now().toString(36) }) {
  const cpuBefore = pid && cpuSeconds(pid);
  const treeBefore = pid && treeCpuSeconds(pid);
  const peakRss = pid ? rssSampler(pid) : () => null;
  const r = await (WRK ? runWrk : runAutocannon)({ url, requests, connections, duration, timeoutS, runKey });
  const cpuAfter = pid && cpuSeconds(pid);
  const treeAfter = pid && treeCpuSeconds(pid);
  const cpu = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore;
  return {
    requests_per_sec: Math.round(r.total / r.seconds),
    p50_ms: round2(r.p50_ms),
    p90_ms: round2(r.p90_ms),
    p99_ms: round2(r.p99_ms),
    // the slowest answer: a stall (a long event-loop turn, a connection accepted late) shows here first
    max_ms: round2(r.max_ms),
    errors: r.errors, // connection errors and timeouts
    ...(r.errors > 0 && r.error_kinds && { error_kinds: r.error_kinds }),
    non2xx: r.non2xx,
    status_codes: r.status_codes,
    total: r.total,
    // the answering process's CPU: time per request (steadier than req/s on a shared machine) and share of one core
    server_cpu_us_per_request: cpu === undefined || r.total === 0 ? null : Math.round((cpu * 1e6) / r.total),
    server_cpu_percent: cpu === undefined ? null : Math.round((cpu / r.seconds) * 100),
    // with the processes under it (SQLite's readers run a list's SQL)
    server_tree_cpu_us_per_request:
      treeBefore === undefined || treeAfter === undefined || r.total === 0 ? null : Math.round(((treeAfter - treeBefore) * 1e6) / r.total),
    server_peak_rss_mib: peakRss(),
  };
}

const round2 = (x) => Math.round(x * 100) / 100;

/**
 * The JSON line of one measured scenario: `identity` (target, engine,
 * scenario) then the figures of `r` (from {@link measure}) and the ratio to
 * `bareRps`, the bare endpoint's requests/s in the same run.
 */
export function resultLine(identity, r, bareRps) {
  const line = {
    ...identity,
    requests_per_sec: r.requests_per_sec,
    p50_ms: r.p50_ms,
    p90_ms: r.p90_ms,
    p99_ms: r.p99_ms,
    max_ms: r.max_ms,
    errors: r.errors,
    non2xx: r.non2xx,
    server_cpu_us_per_request: r.server_cpu_us_per_request,
    server_tree_cpu_us_per_request: r.server_tree_cpu_us_per_request,
    server_cpu_percent: r.server_cpu_percent,
    server_peak_rss_mib: r.server_peak_rss_mib,
    bare_requests_per_sec: bareRps,
    ratio: Number((r.requests_per_sec / bareRps).toFixed(3)),
  };
  if (r.errors > 0 || r.non2xx > 0) line.detail = { status_codes: r.status_codes };
  return line;
}

/** The markdown table of {@link resultLine}s, one row per scenario. */
export function resultsTable(rows) {
  return [
    '| scenario | ratio to bare | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | non-2xx | server CPU µs/req | server CPU % | peak RSS MiB |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.scenario} | ${r.ratio.toFixed(2)} | ${r.requests_per_sec} | ${r.p50_ms} | ${r.p90_ms} | ${r.p99_ms} | ${r.max_ms} | ${r.errors} | ${r.non2xx} | ${r.server_cpu_us_per_request ?? '-'} | ${r.server_cpu_percent ?? '-'} | ${r.server_peak_rss_mib ?? '-'} |`,
    ),
  ];
}

// ---------------------------------------------------------------------------
// wrk: the requests go into a Lua script that cycles through them.

/** A Lua string literal of `s` (bytes as they are; quotes, backslashes and control characters as decimal escapes). */
function lua(s) {
  let out = '"';
  for (const c of String(s)) {
    const code = c.charCodeAt(0);
    out += code < 32 || code === 127 || c === '"' || c === '\\' ? `\\${String(code).padStart(3, '0')}` : c;
  }
  return `${out}"`;
}

function wrkScript(requests, runKey) {
  const entries = requests.map((r) => {
    const headers = Object.entries(r.headers ?? {})
      .map(([k, v]) => `[${lua(k)}]=${lua(v)}`)
      .join(',');
    const templated = [r.path, r.body ?? '', ...Object.values(r.headers ?? {})].some((s) => s.includes('{n}'));
    return `{method=${lua(r.method)},path=${lua(r.path)},headers={${headers}},body=${r.body === undefined ? 'nil' : lua(r.body)},templated=${templated}}`;
  });
  return `
local reqs = {${entries.join(',\n')}}
local threads = {}
local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
  table.insert(threads, thread)
end

local i, n, prefix = 0, 0, ""
local built = {}
statuses = {}
function init(args)
  prefix = ${lua(`${runKey}-`)} .. tostring(tid) .. "-"
  for k, r in ipairs(reqs) do
    if not r.templated then built[k] = wrk.format(r.method, r.path, r.headers, r.body) end
  end
end

local function fill(s)
  if s == nil then return nil end
  return (string.gsub(s, "{n}", prefix .. n))
end

function request()
  i = i % #reqs + 1
  local b = built[i]
  if b then return b end
  local r = reqs[i]
  n = n + 1
  local headers = {}
  for k, v in pairs(r.headers) do headers[k] = fill(v) end
  return wrk.format(r.method, fill(r.path), headers, fill(r.body))
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local codes = {}
  for _, t in ipairs(threads) do
    for code, count in pairs(t:get("statuses")) do codes[code] = (codes[code] or 0) + count end
  end
  local parts = {}
  for code, count in pairs(codes) do table.insert(parts, string.format('"%d":%d', code, count)) end
  local e = summary.errors
  io.write(string.format('WRK_RESULT {"total":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"status_codes":{%s}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, table.concat(parts, ",")))
end
`;
}

async function runWrk({ url, requests, connections, duration, timeoutS, runKey }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mainspring-wrk-'));
  const script = path.join(dir, 'load.lua');
  fs.writeFileSync(script, wrkScript(requests, runKey));
  const args = ['-t1', `-c${connections}`, `-d${duration}s`, '--timeout', `${timeoutS}s`, '-s', script, url];
  const [cmd, cmdArgs] = cores ? [TASKSET, ['-c', cores.load, WRK, ...args]] : [WRK, args];
  try {
    const [stdout, stderr] = await new Promise((resolve, reject) => {
      const child = execFile(cmd, cmdArgs, { maxBuffer: 16 * 1024 * 1024, timeout: (duration + 30) * 1000 }, (err, out, errOut) =>
        err && !child.stoppedOnPurpose ? reject(new Error(`wrk failed: ${err.message}\n${errOut}`)) : resolve([out, errOut]),
      );
      const handle = {
        stop() {
          child.stoppedOnPurpose = true;
          child.kill('SIGINT');
        },
      };
      running.add(handle);
      child.on('exit', () => running.delete(handle));
    });
    const line = stdout.split('\n').find((l) => l.startsWith('WRK_RESULT '));
    if (!line) throw new Error(`wrk printed no result:\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`);
    const w = JSON.parse(line.slice('WRK_RESULT '.length));
    const non2xx = Object.entries(w.status_codes).reduce((sum, [code, count]) => sum + (code >= 200 && code < 300 ? 0 : count), 0);
    return {
      total: w.total,
      seconds: w.duration_us / 1e6,
      p50_ms: w.p50_us / 1000,
      p90_ms: w.p90_us / 1000,
      p99_ms: w.p99_us / 1000,
      max_ms: w.max_us / 1000,
      errors: w.connect + w.read + w.write + w.timeout,
      error_kinds: { connect: w.connect, read: w.read, write: w.write, timeout: w.timeout },
      non2xx,
      status_codes: w.status_codes,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// autocannon: in this process, with the same request cycle.

function runAutocannon({ url, requests, connections, duration, timeoutS, runKey }) {
  let i = 0;
  let n = 0;
  const fill = (s) => (s === undefined ? undefined : s.replaceAll('{n}', `${runKey}-${n}`));
  const templates = [
    {
      setupRequest(req) {
        const r = requests[i++ % requests.length];
        n++;
        req.method = r.method;
        req.path = fill(r.path);
        req.headers = Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k, fill(v)]));
        req.body = fill(r.body);
        return req;
      },
    },
  ];
  return new Promise((resolve, reject) => {
    const instance = autocannon({ url, connections, duration, timeout: timeoutS, requests: templates }, (err, r) => {
      running.delete(instance);
      if (err) return reject(err);
      const codes = Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([code, s]) => [code, s.count]));
      resolve({
        total: r.requests.total,
        seconds: r.duration,
        p50_ms: r.latency.p50,
        p90_ms: r.latency.p90,
        p99_ms: r.latency.p99,
        max_ms: r.latency.max,
        errors: r.errors,
        non2xx: r.non2xx,
        status_codes: codes,
      });
    });
    running.add(instance);
  });
}
