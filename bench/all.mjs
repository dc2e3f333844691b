// `npm run bench:all`: the full comparison behind bench/RESULTS.md.
//
//   1. Mainspring on SQLite   (bench/run.mjs)
//   2. Mainspring on PostgreSQL (bench/run.mjs --postgres)
//   3. the peers on the same PostgreSQL: the hand-written Express stack and
//      Parse Server (bench/peers/run.mjs; their packages are installed into
//      bench/peers/node_modules on first use, never by the root npm install)
//   4. range reads of one large file by 50 seeking clients, Mainspring on
//      SQLite (bench/files.mjs; with --quick its quick form)
//
// Each part measures its own bare node:http ceiling, so every figure is also
// a ratio within one run; the comparison between servers divides those
// ratios. The parts' JSON lines and tables go to stdout, then the report;
// --write also keeps them as bench/results.jsonl and bench/RESULTS.md;
// --report remakes RESULTS.md from results.jsonl. Arguments after `--` of npm
// (--quick, --records=N, --duration=S…) are passed to every part.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(BENCH, '..');
const PEERS = path.join(BENCH, 'peers');
const RESULTS_JSONL = path.join(BENCH, 'results.jsonl');
const RESULTS_MD = path.join(BENCH, 'RESULTS.md');

const log = (msg) => process.stderr.write(`[bench:all] ${msg}\n`);

/** Runs one part; resolves with its JSON lines (its tables are passed through to stdout). */
function part(label, script, args) {
  log(`${label}: node ${path.relative(ROOT, script)} ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      process.stdout.write(chunk);
    });
    for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => child.kill(signal));
    child.on('exit', (code) => {
      const lines = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l));
      if (code !== 0) return reject(new Error(`${label} failed (exit code ${code})`));
      resolve(lines);
    });
  });
}

function installPeers() {
  if (fs.existsSync(path.join(PEERS, 'node_modules'))) return;
  log('installing the peers into bench/peers/node_modules (npm ci)');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], {
    cwd: PEERS,
    stdio: 'inherit',
    env: { ...process.env, npm_config_nodedir: '/usr' },
  });
}

// ---------------------------------------------------------------------------
// RESULTS.md

const SHARED = ['health', 'view', 'list', 'list_expand', 'search', 'create', 'update', 'login'];
/**
 * Which of our scenarios answers a peer's: the peers' `search` scans every title (neither has a text
 * index), so it stands beside our `search_scan`, the same request before `title` is declared searchable.
 * Our indexed `search` and `search_ranked` have no peer to be compared with; they show in their own rows.
 */
const OURS_FOR_PEER = { search: 'search_scan' };
const fmt = (x, digits = 2) => (x === undefined || x === null || Number.isNaN(x) ? '–' : Number(x).toFixed(digits));

/** The markdown report of one full run's JSON lines. */
export function report(lines, { date, machine, command }) {
  const find = (target, engine, scenario) =>
    lines.find((l) => l.target === target && (engine === undefined || l.engine === engine) && l.scenario === scenario);
  const ms = (engine, s) => find('mainspring', engine, s);
  /** Our line that answers the peers' scenario `s`. */
  const msLike = (engine, s) => ms(engine, OURS_FOR_PEER[s] ?? s);
  const peer = (t, s) => find(t, undefined, s);
  // from the raw figures: `ratio` is rounded to 3 decimals, which is 0.000 for sign-ins
  const exact = (l) => l.requests_per_sec / l.bare_requests_per_sec;
  const times = (a, b) => (a && b && b.requests_per_sec > 0 ? exact(a) / exact(b) : undefined);
  const r3 = (l) => (l === undefined ? undefined : exact(l) < 0.01 ? exact(l).toPrecision(2) : exact(l).toFixed(3));

  const out = [];
  out.push('# Benchmark results', '');
  out.push(`${date}; ${machine}. Command: \`${command}\` (bench/README.md explains every figure).`, '');
  out.push(
    'Every figure below is a ratio measured within one run: requests/s of the scenario over requests/s of a bare `node:http` endpoint answering the same record, started by the same script minutes apart at most. "× Express" and "× Parse" divide Mainspring\'s ratio by the peer\'s, so the machine\'s speed cancels out. The peers run on PostgreSQL; Mainspring is shown on both of its engines.',
    '',
  );
  out.push('## Ratios to the bare endpoint', '');
  out.push(
    '| scenario | Mainspring SQLite | Mainspring PostgreSQL | Express + pg | Parse Server | SQLite × Express | PostgreSQL × Express | SQLite × Parse | PostgreSQL × Parse |',
  );
  out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  // the shared scenarios beside the peers, then ours alone (the indexed search has no peer to be set beside)
  const rows = [
    ...SHARED.map((s) => ({ s, label: OURS_FOR_PEER[s] ? `${s} (ours: ${OURS_FOR_PEER[s]})` : s, peers: true })),
    ...['search', 'search_ranked', 'list_skip_total', 'view_during_login', 'transfers'].map((s) => ({
      s,
      label: s === 'search' ? 'search (indexed)' : s,
      peers: false,
    })),
  ];
  for (const { s, label, peers } of rows) {
    const [a, b] = peers ? [msLike('SQLite', s), msLike('PostgreSQL', s)] : [ms('SQLite', s), ms('PostgreSQL', s)];
    const [e, p] = peers ? [peer('express', s), peer('parse', s)] : [undefined, undefined];
    if (!a && !b) continue;
    out.push(
      `| ${label} | ${r3(a) ?? '–'} | ${r3(b) ?? '–'} | ${r3(e) ?? '–'} | ${r3(p) ?? '–'} | ${fmt(times(a, e), 1)} | ${fmt(times(b, e), 1)} | ${fmt(times(a, p), 1)} | ${fmt(times(b, p), 1)} |`,
    );
  }
  out.push('');

  out.push('## Targets (issue 9)', '');
  out.push('| target | measured | met |', '| --- | --- | --- |');
  const target = (name, measured, met) => out.push(`| ${name} | ${measured} | ${met === undefined ? '–' : met ? 'yes' : '**no**'} |`);
  const viewS = ms('SQLite', 'view');
  const viewP = ms('PostgreSQL', 'view');
  target('view ≥ 0.50 of bare on SQLite', fmt(viewS?.ratio, 3), viewS && viewS.ratio >= 0.5);
  target('view ≥ 0.20 of bare on PostgreSQL', fmt(viewP?.ratio, 3), viewP && viewP.ratio >= 0.2);
  const listS = ms('SQLite', 'list');
  target('list 50 of 100k ≥ 0.25 of bare on SQLite', fmt(listS?.ratio, 3), listS && listS.ratio >= 0.25);
  target('list p99 < 10 ms at 50 connections (SQLite)', listS ? `${listS.p99_ms} ms` : '–', listS && listS.p99_ms < 10);
  for (const [peerName, factor] of [
    ['express', 3],
    ['parse', 5],
  ]) {
    for (const engine of ['SQLite', 'PostgreSQL']) {
      const shared = SHARED.filter((s) => msLike(engine, s) && peer(peerName, s));
      if (shared.length === 0) continue;
      const each = shared.map((s) => [s, times(msLike(engine, s), peer(peerName, s))]);
      const worst = each.reduce((w, x) => (x[1] < w[1] ? x : w));
      target(
        `≥ ${factor}× ${peerName === 'express' ? 'Express + pg' : 'Parse Server'} on every shared scenario (Mainspring on ${engine})`,
        each.map(([s, x]) => `${s} ${fmt(x, 1)}×`).join(', '),
        worst[1] >= factor,
      );
    }
  }
  const idle = ms('SQLite', 'idle');
  target(
    `idle RSS < 100 MB with ${idle?.records ?? '?'} records (SQLite)`,
    idle ? `${idle.idle_rss_mib} MiB` : '–',
    idle && idle.idle_rss_mib < 100,
  );
  out.push('');

  // issue 26 set its targets against the run of 2026-11-30 08:59 UTC (its ratios, quoted here)
  out.push('## Targets (issue 26, against the ratios of the 2026-11-30 08:59 run)', '');
  out.push('| target | measured | met |', '| --- | --- | --- |');
  const BEFORE = {
    SQLite: { search: 0.0013, list: 0.039, list_expand: 0.025 },
    PostgreSQL: { search: 0.00062, list: 0.023, list_expand: 0.013 },
  };
  for (const engine of ['SQLite', 'PostgreSQL']) {
    const searched = ms(engine, 'search');
    const gain = searched ? exact(searched) / BEFORE[engine].search : undefined;
    target(
      `indexed search ≥ 30× its ratio before (${BEFORE[engine].search}) on ${engine}`,
      `${fmt(gain, 1)}× (${r3(searched) ?? '–'})`,
      gain >= 30,
    );
    for (const s of ['list', 'list_expand']) {
      const l = ms(engine, s);
      const g = l ? exact(l) / BEFORE[engine][s] : undefined;
      target(`${s} ≥ 2× its ratio before (${BEFORE[engine][s]}) on ${engine}`, `${fmt(g, 2)}× (${r3(l) ?? '–'})`, g >= 2);
    }
  }
  const ranked = ms('SQLite', 'search_ranked');
  target(
    'ranked search ≥ 1,000 req/s on SQLite (100k rows)',
    ranked ? `${ranked.requests_per_sec} req/s` : '–',
    ranked && ranked.requests_per_sec >= 1000,
  );
  for (const s of ['create', 'update']) {
    const x = times(ms('PostgreSQL', s), peer('express', s));
    target(`PostgreSQL ${s} ≥ 1.5× Express + pg`, `${fmt(x, 2)}×`, x === undefined ? undefined : x >= 1.5);
  }
  target('realtime: 19,000 subscribers, last p99 < 250 ms, < 5 KB RSS each', 'a run of its own: bench/README.md', undefined);
  out.push('');

  out.push('## Every measurement', '');
  out.push(
    '| server | scenario | req/s | ratio | p50 ms | p90 ms | p99 ms | max ms | errors | non-2xx | server CPU µs/req | server CPU % | peak RSS MiB |',
  );
  out.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const l of lines.filter((x) => x.requests_per_sec !== undefined && x.scenario !== 'files')) {
    const server = l.target === 'mainspring' ? `Mainspring ${l.engine}` : l.target;
    out.push(
      `| ${server} | ${l.scenario} | ${l.requests_per_sec} | ${fmt(l.ratio, 3)} | ${l.p50_ms} | ${l.p90_ms ?? '–'} | ${l.p99_ms} | ${l.max_ms ?? '–'} | ${l.errors} | ${l.non2xx} | ${l.server_cpu_us_per_request ?? '–'} | ${l.server_cpu_percent ?? '–'} | ${l.server_peak_rss_mib ?? '–'} |`,
    );
  }
  out.push('');
  out.push('| server | records | idle RSS MiB |', '| --- | ---: | ---: |');
  for (const l of lines.filter((x) => x.scenario === 'idle')) {
    out.push(`| ${l.target === 'mainspring' ? `Mainspring ${l.engine}` : l.target} | ${l.records} | ${l.idle_rss_mib} |`);
  }
  /** A table of one scenario's lines, when the run has any: its header cells (the first left-aligned) and a row per line. */
  const section = (scenario, header, row) => {
    const rows = lines.filter((l) => l.scenario === scenario);
    if (rows.length === 0) return;
    const align = header.map((_, i) => (i === 0 ? '---' : '---:'));
    out.push('', `| ${header.join(' | ')} |`, `| ${align.join(' | ')} |`);
    for (const l of rows) out.push(`| ${row(l).join(' | ')} |`);
  };
  section(
    'realtime',
    ['realtime', 'subscribers', 'delivery p50 ms', 'delivery p99 ms', 'last subscriber p99 ms', 'missed', 'RSS KB per idle subscriber'],
    (l) => [
      l.target === 'bare' ? 'bare node:http fan-out' : `Mainspring ${l.engine}`,
      l.subscribers,
      l.delivery_p50_ms,
      l.delivery_p99_ms,
      l.last_subscriber_p99_ms,
      l.missed_events,
      l.rss_per_subscriber_kb ?? '–',
    ],
  );
  section(
    'files',
    [
      'range reads (Mainspring)',
      'file MiB',
      'clients',
      'requests/s',
      'TTFB alone p50 ms',
      'TTFB p50 ms',
      'TTFB p99 ms',
      'served MiB/s',
      'RSS before → peak MiB',
      'open files peak',
      'errors',
    ],
    (l) => [
      l.engine === 'postgres' ? 'PostgreSQL' : 'SQLite',
      l.file_mib,
      l.clients,
      l.requests_per_sec,
      l.ttfb_alone_p50_ms,
      l.ttfb_p50_ms,
      l.ttfb_p99_ms,
      l.served_mib_per_sec,
      `${l.rss_baseline_mib} → ${l.rss_peak_mib}`,
      l.open_files_peak,
      l.errors,
    ],
  );
  out.push('');
  return out.join('\n');
}

// ---------------------------------------------------------------------------

async function main() {
  const argv = process.argv.slice(2);
  const write = argv.includes('--write');
  if (argv.includes('--report')) {
    // RESULTS.md again from bench/results.jsonl (its first line holds the run's date, machine and command)
    const [meta, ...kept] = fs
      .readFileSync(RESULTS_JSONL, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    fs.writeFileSync(RESULTS_MD, report(kept, meta));
    log(`wrote ${path.relative(ROOT, RESULTS_MD)} from ${path.relative(ROOT, RESULTS_JSONL)}`);
    return 0;
  }
  const args = argv.filter((a) => a !== '--write');
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(
      'Usage: npm run bench:all -- [--write] [--quick] [--records=N] [--duration=S] [--warmup=S]\n       npm run bench:all -- --report   (RESULTS.md again from bench/results.jsonl)\n',
    );
    return 0;
  }
  const scenario = args.find((a) => a.startsWith('--scenario='))?.slice('--scenario='.length);
  const started = new Date();
  installPeers();
  const lines = [
    ...(await part('Mainspring on SQLite', path.join(BENCH, 'run.mjs'), args)),
    ...(await part('Mainspring on PostgreSQL', path.join(BENCH, 'run.mjs'), ['--postgres', ...args])),
    // the peers have only the scenarios they share with Mainspring
    ...(scenario && !['bare', ...SHARED].includes(scenario) ? [] : await part('peers on PostgreSQL', path.join(PEERS, 'run.mjs'), args)),
    // its own flags: only --quick carries over
    ...(scenario
      ? []
      : await part(
          'range reads on SQLite',
          path.join(BENCH, 'files.mjs'),
          args.filter((a) => a === '--quick'),
        )),
  ];
  const cpu = os.cpus();
  const machine = `${cpu.length} × ${cpu[0]?.model ?? 'CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB memory, Linux ${os.release()}, Node ${process.version}`;
  const meta = {
    date: `${started.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    machine,
    command: `npm run bench:all${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
  };
  const md = report(lines, meta);
  process.stdout.write(`\n${md}`);
  if (write) {
    fs.writeFileSync(RESULTS_JSONL, `${[meta, ...lines].map((l) => JSON.stringify(l)).join('\n')}\n`);
    fs.writeFileSync(RESULTS_MD, md);
    log(`wrote ${path.relative(ROOT, RESULTS_MD)} and ${path.relative(ROOT, RESULTS_JSONL)}`);
  }
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      log(`failed: ${err.message}`);
      process.exit(1);
    },
  );
}
