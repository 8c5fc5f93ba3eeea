// Reads bench/results/*.json and writes bench/REPORT.md plus one SVG chart per benchmark
// (bench/charts/<name>.svg): each measurement beside the baseline measured in the same run, as a
// ratio, with its target and whether it was met. Hand-written SVG bars: no chart dependency.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HOSTED_MEMORY_CAP_MB } from './env.ts';

const here = path.dirname(new URL(import.meta.url).pathname);
const resultsDir = path.join(here, 'results');
const chartsDir = path.join(here, 'charts');
fs.mkdirSync(chartsDir, { recursive: true });

// deno-lint-ignore no-explicit-any
type Json = any;
const read = (name: string): Json | undefined => {
  const file = path.join(resultsDir, `${name}.json`);
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : undefined;
};

interface Bar { label: string; value: number; baseline?: boolean }

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Horizontal bars, one group per line; baselines grey, measurements blue. */
function chart(name: string, title: string, unit: string, bars: Bar[]): string {
  const width = 720, left = 300, right = 90, row = 26, top = 40;
  const height = top + bars.length * row + 20;
  const max = Math.max(...bars.map((b) => b.value), 1e-9);
  const scale = (v: number) => ((width - left - right) * v) / max;
  const rows = bars.map((b, i) => {
    const y = top + i * row;
    const w = Math.max(1, scale(b.value));
    return `  <text x="${left - 8}" y="${y + 15}" text-anchor="end">${escape(b.label)}</text>
  <rect x="${left}" y="${y + 3}" width="${w.toFixed(1)}" height="${row - 8}" fill="${b.baseline ? '#9ca3af' : '#2563eb'}"/>
  <text x="${(left + w + 6).toFixed(1)}" y="${y + 15}">${b.value.toLocaleString('en-US', { maximumFractionDigits: 1 })} ${escape(unit)}</text>`;
  }).join('\n');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">
  <rect width="100%" height="100%" fill="white"/>
  <text x="10" y="22" font-size="15" font-weight="bold">${escape(title)}</text>
  <text x="${width - 10}" y="22" text-anchor="end" fill="#6b7280">grey: baseline, blue: measured</text>
${rows}
</svg>
`;
  fs.writeFileSync(path.join(chartsDir, `${name}.svg`), svg);
  return `![${title}](charts/${name}.svg)`;
}

const yes = (ok: boolean | undefined) => (ok === undefined ? 'n/a' : ok ? '**met**' : '**not met**');
const x = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const pct = (mb: number) => `${Math.round((100 * mb) / HOSTED_MEMORY_CAP_MB)} %`;
const sections: string[] = [];

const normalizer = read('normalizer');
if (normalizer) {
  const fns = Object.keys(normalizer).filter((k) => normalizer[k]?.p50_us !== undefined);
  const rows = fns.map((f) => `| ${f} | ${normalizer[f].p50_us} | ${normalizer[f].p99_us} | ${normalizer.baseline?.[f]?.p50_us ?? '—'} | ${normalizer.baseline?.[f] ? x(normalizer[f].p50_us, normalizer.baseline[f].p50_us) : '—'} |`);
  sections.push(`## Stage normaliser
Per-call latency against the committed baseline file (same machine class); the benchmark fails itself on a regression.

| function | p50 µs | p99 µs | baseline p50 µs | ratio |
|---|---|---|---|---|
${rows.join('\n')}

Target (no regression against the baseline): ${yes(normalizer.passed)}

${chart('normalizer', 'Stage normaliser, p50 per call', 'µs', fns.flatMap((f) => [{ label: `${f} (baseline)`, value: normalizer.baseline?.[f]?.p50_us ?? 0, baseline: true }, { label: f, value: normalizer[f].p50_us }]))}`);
}

const sqlHandoff = read('sql-handoff');
if (sqlHandoff) {
  const table = (summary: Json[]) => summary.map((r: Json) => `| ${r.clients} | ${r.rpcOpsPerSec} | ${r.rpcP50ms} | ${r.rpcP99ms} | ${r.rpcCommitNotifyOpsPerSec ?? '—'} | ${r.bareOpsPerSec} | ${r.autocommitOpsPerSec} | ${r.bareFnOpsPerSec ?? '—'} | ${r.rpcVsBare}× | ${r.rpcVsAutocommit}× | ${r.rpcVsBareFn === undefined ? '—' : `${r.rpcVsBareFn}×`} | ${yes(r.meetsTargets)} |`).join('\n');
  const head = `| clients | rpc ops/s | rpc p50 ms | rpc p99 ms | rpc, NOTIFY in the transaction, ops/s | bare ops/s | autocommit ops/s | bare-fn ops/s | rpc/bare | rpc/autocommit | rpc/bare-fn | target (≥ 0.6× bare and > autocommit) |
|---|---|---|---|---|---|---|---|---|---|---|---|`;
  sections.push(`## Complete-handoff RPC (SQL)
\`fn_complete_handoff\` (lock, version check, scoring, three state changes, audit, notification outbox; the outbox's relay sweep runs every second beside the clients) against two baselines on identical fresh directives in the same run: *bare* (the same three UPDATEs in one transaction, no rules) and *autocommit* (the seed's non-atomic "before"); and a third, *bare-fn*, the same three UPDATEs as one PL/pgSQL function call (one round trip, no lock, audit or scoring), so rpc/bare-fn is the price of the guarantees alone. ${sqlHandoff.warmOps ? `Each connection runs ${sqlHandoff.warmOps} untimed operations of its variant first (a new backend compiles the functions it calls and re-plans each statement for its first five runs; deployments keep their backends), so the cells measure the steady state. ` : ''}Also the RPC with \`stagegate.notify_transitions = commit\` (NOTIFY from the completing transaction). ${sqlHandoff.cellSeconds} s per cell${sqlHandoff.rounds > 1 ? `, ${sqlHandoff.rounds} rounds per cell in rotating order with the best round shown (interference on a shared machine only slows a cell down; every round is in \`results/sql-handoff.json\`)` : ''}, synchronous_commit ${sqlHandoff.synchronousCommit}.

Over loopback (\`select 1\` round trip ${sqlHandoff.roundTripMs?.loopback ?? '?'} ms):

${head}
${table(sqlHandoff.summary)}
${sqlHandoff.delayed ? `
Through a local TCP proxy that holds each packet ${sqlHandoff.netDelayMs} ms each way, as a client on another machine sees the database (\`select 1\` round trip ${sqlHandoff.roundTripMs.delayed} ms):

${head}
${table(sqlHandoff.delayed)}
` : ''}
${chart('sql-handoff', 'Complete-handoff throughput (loopback)', 'ops/s', sqlHandoff.summary.flatMap((r: Json) => [
    { label: `${r.clients} clients: bare`, value: r.bareOpsPerSec, baseline: true },
    { label: `${r.clients} clients: autocommit`, value: r.autocommitOpsPerSec, baseline: true },
    ...(r.bareFnOpsPerSec === undefined ? [] : [{ label: `${r.clients} clients: bare-fn`, value: r.bareFnOpsPerSec, baseline: true }]),
    { label: `${r.clients} clients: fn_complete_handoff`, value: r.rpcOpsPerSec },
    ...(r.rpcCommitNotifyOpsPerSec === undefined ? [] : [{ label: `${r.clients} clients: NOTIFY in the transaction`, value: r.rpcCommitNotifyOpsPerSec }]),
  ]))}`);
}

const orch = read('orchestrator');
if (orch) {
  const f = orch.five_independent, c = orch.chain_of_three, m = orch.memory_32_concurrent;
  sections.push(`## Orchestrator (parallel sub-agents)
Five independent ${f.agent_ms} ms HTTP sub-agents, run by the handoff function in parallel, beside the same function with concurrency 1 (sequential baseline) and beside the critical path; a chain of three beside its critical path; the function server's peak RSS under 32 concurrent handoffs.

| measure | value | baseline | ratio | target | met |
|---|---|---|---|---|---|
| five agents, wall ms | ${f.parallel_wall_ms} | sequential ${f.sequential_wall_ms} | ${f.speedup_vs_sequential}× faster | ≥ ${f.targets.speedup}× | ${yes(f.speedup_vs_sequential >= f.targets.speedup)} |
| five agents, over critical path ms | ${f.over_critical_path_ms} | critical path ${f.critical_path_ms} | ${x(f.parallel_wall_ms, f.critical_path_ms)} | ≤ ${f.targets.over_critical_path_ms} ms | ${yes(f.over_critical_path_ms <= f.targets.over_critical_path_ms)} |
| chain of three, over critical path ms | ${c.over_critical_path_ms} | critical path ${c.critical_path_ms} | ${x(c.wall_ms, c.critical_path_ms)} | ≤ ${c.target_over_ms} ms | ${yes(c.over_critical_path_ms <= c.target_over_ms)} |
| 32 concurrent, peak RSS MB | ${m.peak_rss_mb} | before burst ${m.before_burst_peak_mb} | ${x(m.peak_rss_mb, m.before_burst_peak_mb)} | ≤ ${HOSTED_MEMORY_CAP_MB} MB (hosted cap), ${pct(m.peak_rss_mb)} of it | ${yes(m.peak_rss_mb <= HOSTED_MEMORY_CAP_MB)} |

${chart('orchestrator', 'Handoff wall time with 200 ms sub-agents', 'ms', [
    { label: 'five agents: sequential', value: f.sequential_wall_ms, baseline: true },
    { label: 'five agents: critical path', value: f.critical_path_ms, baseline: true },
    { label: 'five agents: parallel', value: f.parallel_wall_ms },
    { label: 'chain of three: critical path', value: c.critical_path_ms, baseline: true },
    { label: 'chain of three', value: c.wall_ms },
  ])}`);
}

const contention = read('contention');
if (contention) {
  const l = contention.latency_ms;
  sections.push(`## Contention: 64 concurrent requests for one directive
From \`tests/e2e/contention.test.ts\` (${contention.measured_at}): ${contention.requests} requests at once for ONE directive — same body (derived request id), distinct Idempotency-Keys, skip_idempotency and intruding sessions. The test asserts exactly one transition, one completed audit row and no 5xx; the latencies are recorded, not asserted.

| answers | ${Object.keys(contention.answers).join(' | ')} |
|---|${Object.keys(contention.answers).map(() => '---').join('|')}|
| count | ${Object.values(contention.answers).join(' | ')} |

| measure | ms | baseline: one uncontended handoff | ratio |
|---|---|---|---|
| p50, all 64 | ${l.p50} | ${contention.baseline_uncontended_ms} | ${x(l.p50, contention.baseline_uncontended_ms)} |
| p99, all 64 | ${l.p99} | ${contention.baseline_uncontended_ms} | ${x(l.p99, contention.baseline_uncontended_ms)} |
| p99, refusals only | ${contention.refused_latency_ms.p99} | ${contention.baseline_uncontended_ms} | ${x(contention.refused_latency_ms.p99, contention.baseline_uncontended_ms)} |

Target (one transition, every other answer a stable refusal or replay, zero 5xx): ${yes(contention.five_xx === 0)} — the test fails otherwise.
Target (issue #12: refusals' p99 at most 5× one uncontended handoff, same run): ${yes(contention.refused_latency_ms.p99 <= 5 * contention.baseline_uncontended_ms)}. A second attempt of a directive is refused at begin (SD_BUSY) and identical requests share one run, so refusals take milliseconds in the function; what remains is queueing for the CPU of one Deno process and the client on a shared 2-core machine.

${chart('contention', '64 concurrent requests for one directive', 'ms', [
    { label: 'one uncontended handoff', value: contention.baseline_uncontended_ms, baseline: true },
    { label: 'p50 of 64', value: l.p50 },
    { label: 'p99 of 64', value: l.p99 },
    { label: 'p99 of the refusals', value: contention.refused_latency_ms.p99 },
  ])}`);
}

const load = read('load');
/** A longer run (LOAD_SECONDS=150 LOAD_RESULT_NAME=load-150s), if one was made: does memory level off? */
function longRun(): string {
  const long = read('load-150s');
  if (!long) return '';
  const trail = long.memory.samples.map((m: Json) => m.functions_rss_mb).join(' → ');
  return `A longer run (${long.seconds} s at ${long.rate_per_s}/s, ${long.measured_at}, ${long.load.errors} errors in ${long.load.requests}) shows whether the function server's growth levels off; its RSS every 5 s, MB: ${trail}. PostgreSQL PSS ${long.memory.postgres_pss.start_mb} → ${long.memory.postgres_pss.end_mb} MB. `;
}

if (load) {
  const l = load.load, b = load.baseline_idle, mf = load.memory.functions_rss, mp = load.memory.postgres_pss;
  const peakRss: number = Math.max(...load.memory.samples.map((m: Json) => m.functions_rss_mb));
  sections.push(`## Sustained load
${load.rate_per_s} handoffs/s offered for ${load.seconds} s (open loop, from a second process), sql and builtin gates only (${Object.entries(load.gates).map(([k, v]) => `${k}: ${(v as string[]).join(', ')}`).join('; ')}). Baseline: the same handoff one at a time on the idle server, same run.

| measure | value | idle baseline | ratio | target | met |
|---|---|---|---|---|---|
| error rate | ${(l.error_rate * 100).toFixed(2)} % (${l.errors}/${l.requests}) | | | ≤ ${load.targets.error_rate * 100} % | ${yes(load.met.error_rate)} |
| throughput | ${l.throughput_per_s}/s | offered ${l.offered_rate_per_s}/s | ${x(l.throughput_per_s, l.offered_rate_per_s)} | ≥ ${load.targets.throughput_ratio}× offered | ${yes(load.met.throughput)} |
| p50 ms | ${l.p50_ms} | ${b.p50_ms} | ${load.p50_vs_idle}× | | |
| p99 ms | ${l.p99_ms} | ${b.p99_ms} | ${load.p99_vs_idle}× | | |
| function server RSS MB | ${mf.start_mb} → ${mf.end_mb} | at load start ${mf.at_load_start_mb} | ${mf.growth_pct >= 0 ? '+' : ''}${mf.growth_pct} % | ≤ ${load.targets.memory_growth_pct} % growth | ${yes(Math.abs(mf.growth_pct) <= load.targets.memory_growth_pct)} |
| function server peak RSS MB | ${peakRss} | hosted cap ${HOSTED_MEMORY_CAP_MB} | ${pct(peakRss)} of the cap | ≤ ${HOSTED_MEMORY_CAP_MB} MB | ${yes(peakRss <= HOSTED_MEMORY_CAP_MB)} |
| PostgreSQL PSS MB (postmaster + children) | ${mp.start_mb} → ${mp.end_mb} | at load start ${mp.at_load_start_mb} | ${mp.growth_pct >= 0 ? '+' : ''}${mp.growth_pct} % | ≤ ${load.targets.memory_growth_pct} % growth | ${yes(Math.abs(mp.growth_pct) <= load.targets.memory_growth_pct)} |

${longRun()}Memory growth is judged from ${load.memory.judged_from} to the end (the first seconds fill the connection pool and warm the JIT). Latency per 10 s window: ${load.windows.map((w: Json) => `${w.from_s}s p50 ${w.p50_ms}/p99 ${w.p99_ms}`).join(', ')}.

${chart('load', `Handoff latency at ${load.rate_per_s}/s for ${load.seconds} s`, 'ms', [
    { label: 'idle p50', value: b.p50_ms, baseline: true },
    { label: 'under load p50', value: l.p50_ms },
    { label: 'idle p99', value: b.p99_ms, baseline: true },
    { label: 'under load p99', value: l.p99_ms },
  ])}`);
}

// History at scale (#18): bench/history.ts draws its own growth chart (charts/history.svg).
const history = read('history');
if (history) {
  const h = history;
  const label = (n: number) => (n === 0 ? 'empty' : n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`);
  const fairLabel = h.growth[0]?.fair_size ? label(h.growth[0].fair_size) : undefined;
  const rows = h.growth.map((g: Json) => `| ${g.measure} | ${h.levels.map((l: Json) => `${l.stats[g.measure].p50} / ${l.stats[g.measure].p99}`).join(' | ')} | ${g.ratio}× | ${yes(g.ok)} |${fairLabel ? ` ${g.fair_ratio}× | ${yes(g.fair_ok)} |` : ''}`).join('\n');
  const built = h.levels.filter((l: Json) => l.after_build);
  const afterBuild = built.length === 0 ? '' : ` Right after each build, as the build left the server (before a CHECKPOINT), begin / complete p50 were ${built.map((l: Json) => `${label(l.size)} ${l.after_build.handoff_begin.p50} / ${l.after_build.handoff_complete.p50} ms (checkpoint ${l.after_build.checkpoint_s} s)`).join(', ')}; the table's figures are measured after the CHECKPOINT.`;
  const traffic = h.levels[0]?.traffic ? ` Handoff records in the last hour / today (UTC) at each size: ${h.levels.map((l: Json) => `${l.traffic.last_hour} / ${l.traffic.today}`).join(', ')}.` : '';
  const p = h.purge;
  sections.push(`## History at scale
The periodic reads and a handoff at ${h.sizes.map(label).join(', ')} handoffs of history (built set-based, one handoff every 31.5 s back from now, so 1M is a year; \`fn_check_invariants(null)\` passes on it), p50 / p99 ms over ${h.reps} calls each (${h.handoff_reps} handoffs on fresh directives). Target: p50 at the largest size ≤ 1.5× the empty database's (+ ${h.targets.slack_ms} ms of timer slack); scrape p99 < ${h.targets.scrape_p99_ms} ms.${fairLabel ? ` The empty database has no traffic in the last hour or today, which the windowed reads (the scrape's last-hour rates, today's part of the views) read, so the last two columns compare the largest size with ${fairLabel} instead: the same traffic per hour and day, a history 100× shorter.` : ''} Measured ${h.measured_at} on a shared, busy machine${h.note ? ` (${h.note})` : ''}.

![history growth](charts/history.svg)

| measure | ${h.sizes.map(label).join(' | ')} | largest / empty (p50) | ≤ 1.5× |${fairLabel ? ` largest / ${fairLabel} (p50) | ≤ 1.5× |` : ''}
|---|${h.sizes.map(() => '---|').join('')}---|---|${fairLabel ? '---|---|' : ''}
${rows}

Scrape p99 at ${label(h.sizes[h.sizes.length - 1])}: ${h.scrape_p99_ms_at_largest} ms (target < ${h.targets.scrape_p99_ms} ms): ${yes(h.scrape_p99_ms_at_largest < h.targets.scrape_p99_ms)}. \`fn_check_invariants(null)\` (whole database) at the largest size: ${h.invariants_whole_database_ms_at_largest} ms; \`fn_check_invariants()\` (last day) p50 ${h.levels[h.levels.length - 1].stats.invariants_last_day.p50} ms. Building the history took ${h.levels.map((l: Json) => `${l.build_s} s`).join(' + ')}.${afterBuild}${traffic}

Handoffs (begin, record, complete) at ${p.rate_per_s}/s for ${p.seconds} s${p.measured_at ? ` (measured ${p.measured_at} on a kept 1M database)` : ''}: p99 ${p.without_purge.p99} ms alone, ${p.with_purge.p99} ms while the retention sweep purged ${p.purged_rows} of a ${p.backlog_rows}-row backlog ${p.interval_s ? `as scheduled (every ${p.interval_s} s, at most ${p.max_batches ?? 20} batches of 1,000 per kind and run; ${p.sweep_runs} runs)` : `in ${p.sweep_runs} runs (batches of 1,000)`}: ${p.ratio_p99}× (target ≤ ${h.targets.purge_ratio_p99}×): ${yes(p.ratio_p99 <= h.targets.purge_ratio_p99)}.${p.back_to_back ? ` Back to back (a stress figure, no target: one run after another, the sweep holding one of the two cores): p99 ${p.back_to_back.with_purge.p99} ms, ${p.back_to_back.purged_rows} rows in ${p.back_to_back.sweep_runs} runs (${Math.round(p.back_to_back.purged_rows / p.seconds)} rows/s against ${Math.round(p.purged_rows / p.seconds)} as scheduled), ${p.back_to_back.ratio_p99}×.` : ''}`);
}

const machine = load?.machine ?? { cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', ram_gb: Math.round(os.totalmem() / 2 ** 30 * 10) / 10, node: process.version, postgres: 'unknown' };
const report = `# Benchmark report

Generated by \`npm run bench\` (\`bench/report.ts\`) on ${new Date().toISOString()} from \`bench/results/*.json\`.
Machine: ${machine.cpus} cores (${machine.cpu}), ${machine.ram_gb} GB RAM, Node ${machine.node}, PostgreSQL ${machine.postgres} (embedded, durable settings), loopback only.
Every number is beside a baseline measured in the same run; the charts are in \`bench/charts/\`. The machine is shared (2 cores), so read ratios rather than absolute times.

${sections.join('\n\n')}
`;
fs.writeFileSync(path.join(here, 'REPORT.md'), report);
console.log(`wrote ${path.join(here, 'REPORT.md')} (${sections.length} sections) and ${sections.length} charts in ${chartsDir}`);
