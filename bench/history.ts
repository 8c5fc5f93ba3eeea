// History at scale (#18): what the periodic reads and a handoff cost as the history grows.
//
// Builds the history with set-based SQL that writes what the RPCs write for a handoff (directive
// in its final state, attempt with context and plan, two gate results, handoff record, audit row:
// 89 % accepted, 10 % rejected, 1 % failed), one handoff every 31.5 s back from now (a million
// is a year), in chunks; fn_check_invariants(null) must accept it. At each size (0, 10k, 100k,
// 1M by default; BENCH_HISTORY_SIZES) it measures: the metrics scrape (fn_metrics_snapshot), the
// health function's two queries, the promotion gate, each runbook view, and a handoff's begin and
// complete on fresh directives. Targets: each at the largest size within 1.5x its figure on the
// empty database (p50; plus 0.5 ms of slack, the timer and network floor of a sub-millisecond
// call) and the scrape's p99 under 100 ms. The empty database has no traffic in the last hour or
// today, which the windowed reads read, so a second ratio compares the largest size with 10k (same
// traffic per hour, 100x less history). After each build: 20 handoffs as the build left the server
// (its write-back pending), then CHECKPOINT, then the measures.
//
// Kept database: BENCH_HISTORY_BUILD_ONLY=1 builds to the largest size and stops; a later run on a
// database that already holds history (or a `create database … template` copy) reuses it and
// measures the sizes from there on.
//
// Then a second run: handoffs (begin, record, complete) at 20/s for BENCH_HISTORY_PURGE_SECONDS
// (90), once alone and once while the retention sweep purges its backlog (every attempt's context
// and every gate payload past 30 days: about 2.8 million rows at 1M) as it is scheduled (every
// minute, default batches); target p99 with the purge at most 1.2x without. A third window runs the
// sweep back to back (a stress figure, no target).
//
// Writes bench/results/history.json and the growth chart bench/charts/history.svg.
// Usage: DATABASE_URL=postgres://... node_modules/.bin/tsx bench/history.ts
import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { percentile, writeResult } from './env.ts';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('set DATABASE_URL (a database with the stagegate migrations applied)');
const SIZES = (process.env.BENCH_HISTORY_SIZES ?? '0,10000,100000,1000000').split(',').map(Number);
const REPS = Number(process.env.BENCH_HISTORY_REPS ?? 40);
const HANDOFF_REPS = Number(process.env.BENCH_HISTORY_HANDOFF_REPS ?? 40);
const PURGE_SECONDS = Number(process.env.BENCH_HISTORY_PURGE_SECONDS ?? 90);
// A kept database: history already built there (SD-HIST-* directives) is reused, so
// BENCH_HISTORY_BUILD_ONLY=1 once, then `create database … template …` copies to measure on.
const BUILD_ONLY = process.env.BENCH_HISTORY_BUILD_ONLY === '1';
// Only the second run (handoffs at 20/s with and without the retention purge), on a kept database.
const PURGE_ONLY = process.env.BENCH_HISTORY_PURGE_ONLY === '1';
const RATE = 20;
const CHUNK = 50000;
const SPACING_S = 31.536; // 1,000,000 handoffs a year

const sql = postgres(url, { max: 4, onnotice: () => {} });
const VIEWS = ['v_transition_success_rate', 'v_handoff_duration', 'v_orchestration_speed', 'v_idempotent_hit_rate',
  'v_gate_validation_failure_rate', 'v_latest_failed_transitions'];

type Stat = { p50: number; p99: number; n: number };
const stat = (ms: number[]): Stat => {
  const s = [...ms].sort((a, b) => a - b);
  return { p50: round(percentile(s, 50)), p99: round(percentile(s, 99)), n: s.length };
};
const round = (x: number) => Math.round(x * 1000) / 1000;

async function timeIt(reps: number, fn: () => Promise<unknown>): Promise<Stat> {
  for (let i = 0; i < 3; i++) await fn(); // warm: plans, function compilation
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return stat(ms);
}

/** Handoffs k in (from, to]: set-based, what the RPCs write. */
async function buildHistory(from: number, to: number): Promise<void> {
  for (let lo = from + 1; lo <= to; lo += CHUNK) {
    const hi = Math.min(to, lo + CHUNK - 1);
    await sql.begin(async (tx) => {
      await tx.unsafe(`
        create temp table h on commit drop as
        select k, 'SD-HIST-' || k as sd_id, gen_random_uuid() as sd_uuid, gen_random_uuid() as attempt_id,
               gen_random_uuid() as audit_id,
               now() - make_interval(secs => k * ${SPACING_S}) as t,
               case when k % 100 = 7 then 'failed' when k % 10 = 3 then 'rejected' else 'completed' end as outcome,
               (150 + (k::bigint * 7919) % 4000)::int as ms
        from generate_series(${lo}, ${hi}) k`);
      await tx.unsafe(`
        insert into public.strategic_directives_v2 (id, uuid, title, description, scope, success_criteria, status, current_phase, transition_version, created_at, updated_at)
        select h.sd_id, h.sd_uuid, 'history', 'what and why', 'these files', '["it works"]',
               case when h.outcome = 'completed' then 'active' else 'draft' end,
               case when h.outcome = 'completed' then 'PLAN' else 'LEAD' end,
               case when h.outcome = 'completed' then 1 else 0 end, h.t, h.t
        from h`);
      await tx.unsafe(`
        insert into public.handoff_attempts (id, request_id, sd_id, sd_uuid, sd_type, handoff_type, session_id, status, from_phase,
          to_phase, sd_version, context, gates, result, audit_id, started_at, finished_at)
        select h.attempt_id, 'hist-' || h.k, h.sd_id, h.sd_uuid, 'feature', 'LEAD-TO-PLAN', 'hist', h.outcome, 'LEAD', 'PLAN', 0,
               jsonb_build_object('sd', jsonb_build_object('id', h.sd_id, 'title', 'history', 'description', 'what and why',
                 'scope', 'these files', 'success_criteria', '["it works"]'::jsonb, 'sd_type', 'feature', 'current_phase', 'LEAD'),
                 'prd', null, 'user_stories', '[]'::jsonb),
               '[{"code": "SD_DEFINED", "kind": "sql", "skip": false, "weight": 1, "required": true}]',
               jsonb_build_object('verdict', case h.outcome when 'completed' then 'accepted' else h.outcome end,
                 'attempt_id', h.attempt_id, 'request_id', 'hist-' || h.k, 'audit_id', h.audit_id, 'sd_id', h.sd_id),
               h.audit_id, h.t - make_interval(secs => h.ms / 1000.0), h.t
        from h`);
      await tx.unsafe(`
        insert into public.sub_agent_execution_results (attempt_id, sd_id, sub_agent_code, verdict, passed, score, max_score, issues,
          warnings, fixes, skipped, skip_reason, attempts, duration_ms, hit_count, metadata, created_at, updated_at)
        select h.attempt_id, h.sd_id, 'SD_DEFINED', case when h.outcome = 'rejected' then 'FAIL' else 'PASS' end,
               h.outcome <> 'rejected', case when h.outcome = 'rejected' then 40 else 100 end, 100,
               case when h.outcome = 'rejected' then '["SD_DEFINED: success criteria are missing"]'::jsonb else '[]' end,
               '["consider a narrower scope"]'::jsonb, case when h.k % 20 = 0 then '["pass -> passed"]'::jsonb else '[]' end,
               false, null::text, 1, h.ms / 3, case when h.k % 50 = 0 then 1 else 0 end,
               jsonb_build_object('orchestrated', true, 'idempotency_key', null, 'idempotent_hit', h.k % 50 = 0,
                 'session_id', 'hist', 'phase', 'LEAD-TO-PLAN'),
               h.t - make_interval(secs => h.ms / 2000.0), h.t - make_interval(secs => h.ms / 2000.0)
        from h
        union all
        select h.attempt_id, h.sd_id, 'PRD_COMPLETE', 'SKIPPED', true, 0, 100, '[]', '[]', '[]', true, 'NOT_IN_PLAN', 0, null, 0,
               jsonb_build_object('orchestrated', true, 'idempotent_hit', false, 'session_id', 'hist', 'phase', 'LEAD-TO-PLAN'),
               h.t - make_interval(secs => h.ms / 2000.0), h.t - make_interval(secs => h.ms / 2000.0)
        from h`);
      await tx.unsafe(`
        insert into public.sd_phase_handoffs (attempt_id, sd_id, sd_uuid, handoff_type, from_phase, to_phase, status, score, threshold,
          validation_mode, failed_gate, session_id, execution_time_ms, created_at)
        select h.attempt_id, h.sd_id, h.sd_uuid, 'LEAD-TO-PLAN', 'LEAD', 'PLAN',
               case h.outcome when 'completed' then 'accepted' else h.outcome end,
               case when h.outcome = 'rejected' then 40 else 100 end, 85, 'ENFORCE',
               case when h.outcome = 'rejected' then 'SD_DEFINED' end, 'hist', h.ms, h.t
        from h`);
      await tx.unsafe(`
        insert into public.sd_transition_audit (id, sd_id, sd_uuid, transition_type, session_id, request_id, attempt_id, pre_state,
          post_state, status, error_details, error_message, validation_mode, score, threshold, failed_gate, would_reject,
          started_at, completed_at, created_at, updated_at)
        select h.audit_id, h.sd_id, h.sd_uuid, 'LEAD-TO-PLAN', 'hist', 'hist-' || h.k, h.attempt_id,
               jsonb_build_object('sd_phase', 'LEAD', 'sd_status', 'draft', 'transition_version', 0, 'prd_id', null,
                                  'prd_status', null, 'user_stories', '{}'::jsonb),
               jsonb_build_object('sd_phase', case when h.outcome = 'completed' then 'PLAN' else 'LEAD' end,
                                  'sd_status', case when h.outcome = 'completed' then 'active' else 'draft' end,
                                  'transition_version', case when h.outcome = 'completed' then 1 else 0 end,
                                  'prd_id', null, 'prd_status', null, 'user_stories', '{}'::jsonb),
               h.outcome,
               case when h.outcome = 'failed' then jsonb_build_object('error_code', '40P01', 'failed_step', '4c. Transition SD',
                 'recovery_action', 'run the handoff again with a new request id') end,
               case when h.outcome = 'failed' then 'deadlock detected' end,
               'ENFORCE', case when h.outcome = 'rejected' then 40 else 100 end, 85,
               case when h.outcome = 'rejected' then 'SD_DEFINED' end, false,
               h.t - make_interval(secs => h.ms / 1000.0), h.t, h.t, h.t
        from h`);
    });
    process.stdout.write(`  history ${hi.toLocaleString('en')} / ${to.toLocaleString('en')}\r`);
  }
  process.stdout.write('\n');
  await sql.unsafe('vacuum analyze');
}

let pool = 0;
/** Fresh directives in LEAD for timed handoffs. */
async function freshSds(n: number): Promise<string[]> {
  const first = pool + 1;
  pool += n;
  await sql`insert into public.strategic_directives_v2 (id, title, description, scope, success_criteria)
    select 'SD-HB-' || i, 'bench', 'what and why', 'these files', '["it works"]' from generate_series(${first}::int, ${pool}::int) i`;
  return Array.from({ length: n }, (_, i) => `SD-HB-${first + i}`);
}

async function oneHandoff(sd: string, times?: { begin: number[]; complete: number[]; total: number[] }): Promise<void> {
  const t0 = performance.now();
  const [b] = await sql<{ r: { attempt_id: string } }[]>`select public.fn_begin_handoff(${sd}, 'LEAD-TO-PLAN', 'bench', ${'req-' + sd}) as r`;
  const t1 = performance.now();
  await sql`select public.fn_record_gate_result(${b!.r.attempt_id}::uuid, 'SD_DEFINED',
    '{"passed": true, "score": 100, "maxScore": 100, "issues": [], "warnings": []}'::jsonb, null, 40)`;
  const t2 = performance.now();
  const [c] = await sql<{ r: { verdict: string } }[]>`select public.fn_complete_handoff(${b!.r.attempt_id}::uuid, null) as r`;
  const t3 = performance.now();
  if (c!.r.verdict !== 'accepted') throw new Error(`bench handoff ${sd}: ${JSON.stringify(c!.r)}`);
  times?.begin.push(t1 - t0);
  times?.complete.push(t3 - t2);
  times?.total.push(t3 - t0);
}

async function measureAt(size: number): Promise<Record<string, Stat>> {
  const out: Record<string, Stat> = {};
  out.scrape = await timeIt(REPS, () => sql`select public.fn_metrics_snapshot()`);
  out.health = await timeIt(REPS, () => Promise.all([
    sql`select p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid) from pg_catalog.pg_proc p
        join pg_catalog.pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'public' and p.proname = any(${['fn_begin_handoff', 'fn_complete_handoff', 'fn_metrics_snapshot']})`,
    sql`select version, name from supabase_migrations.schema_migrations order by version desc limit 1`,
  ]));
  out.promotion_gate = await timeIt(REPS, () => sql`select public.fn_promotion_gate('*')`);
  for (const v of VIEWS) out[v] = await timeIt(REPS, () => sql.unsafe(`select * from public.${v}`));
  out.invariants_last_day = await timeIt(5, () => sql`select * from public.fn_check_invariants()`);
  const sds = await freshSds(HANDOFF_REPS + 3);
  const times = { begin: [] as number[], complete: [] as number[], total: [] as number[] };
  for (const [i, sd] of sds.entries()) await oneHandoff(sd, i < 3 ? undefined : times);
  out.handoff_begin = stat(times.begin);
  out.handoff_complete = stat(times.complete);
  console.log(`  at ${size.toLocaleString('en')}: ` + Object.entries(out).map(([k, s]) => `${k} ${s.p50}/${s.p99}`).join(', '));
  return out;
}

/** Handoffs at RATE/s for seconds, each on its own fresh directive; p50/p99 of begin..complete. */
async function handoffsAtRate(seconds: number, sds: string[]): Promise<Stat> {
  const total: number[] = [];
  const started = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < seconds * RATE; i++) {
    const due = started + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const times = { begin: [] as number[], complete: [] as number[], total };
    inflight.push(oneHandoff(sds[i]!, times));
  }
  await Promise.all(inflight);
  return stat(total);
}

async function purgeRun(): Promise<Record<string, unknown>> {
  // Everything past 30 days is the backlog. Two ways of purging it while handoffs run at 20/s:
  //  * as scheduled (the target): fn_sweep_retention at its sweep_schedule interval with the
  //    default batches (1,000 rows, at most 20 per kind and run), the first run when the window
  //    opens; the window covers two runs;
  //  * back to back (a stress figure, no target): one run after another, 5 batches each, many times
  //    the scheduled rate (the report shows both in rows/s): the sweep takes a core of the two.
  const [backlog] = await sql<{ n: number }[]>`
    select (select count(*) from public.handoff_attempts where started_at < now() - interval '30 days' and status <> 'in_progress')
         + (select count(*) from public.sub_agent_execution_results where created_at < now() - interval '30 days') as n`;
  const [schedule] = await sql<{ ms: number }[]>`
    select (extract(epoch from interval) * 1000)::int as ms from public.sweep_schedule where name = 'retention'`;
  // BENCH_HISTORY_PURGE_INTERVAL_S / _MAX_BATCHES try another schedule than the one in the database
  const intervalMs = process.env.BENCH_HISTORY_PURGE_INTERVAL_S ? Number(process.env.BENCH_HISTORY_PURGE_INTERVAL_S) * 1000 : schedule!.ms;
  const [setting] = await sql<{ n: number }[]>`select max(max_batches)::int as n from public.retention_settings`;
  const maxBatches = process.env.BENCH_HISTORY_PURGE_MAX_BATCHES ? Number(process.env.BENCH_HISTORY_PURGE_MAX_BATCHES) : setting!.n;
  const warm = await freshSds(40);
  for (const sd of warm) await oneHandoff(sd);
  const baseline = await handoffsAtRate(PURGE_SECONDS, await freshSds(PURGE_SECONDS * RATE));

  // the watermark stays where it is (null on a fresh build): each window goes on from where the
  // last one stopped, as the scheduled sweep does
  const purging = async (settings: { maxBatches: number; pauseMs: (runMs: number) => number }) => {
    await sql`update public.retention_settings set batch_size = 1000, max_batches = ${settings.maxBatches}`;
    let on = true;
    let purged = 0;
    let runs = 0;
    let wake: () => void = () => {};
    const sweeper = postgres(url!, { max: 1, onnotice: () => {} });
    const loop = (async () => {
      while (on) {
        const t = performance.now();
        const [r] = await sweeper<{ r: Record<string, number> }[]>`select public.fn_sweep_retention() as r`;
        purged += Object.values(r!.r).reduce((a, b) => a + b, 0);
        runs++;
        const pause = settings.pauseMs(performance.now() - t);
        if (pause > 0 && on) await new Promise<void>((res) => { const timer = setTimeout(res, pause); wake = () => { clearTimeout(timer); res(); }; });
      }
    })();
    const during = await handoffsAtRate(PURGE_SECONDS, await freshSds(PURGE_SECONDS * RATE));
    on = false;
    wake();
    await loop;
    await sweeper.end({ timeout: 1 });
    return { with_purge: during, purged_rows: purged, sweep_runs: runs, ratio_p99: round(during.p99 / baseline.p99) };
  };
  const scheduled = await purging({ maxBatches, pauseMs: (runMs) => intervalMs - runMs });
  // BENCH_HISTORY_PURGE_STRESS=off leaves the back-to-back window out (trying schedules)
  const backToBack = process.env.BENCH_HISTORY_PURGE_STRESS === 'off' ? undefined : await purging({ maxBatches: 5, pauseMs: () => 0 });
  await sql`update public.retention_settings set batch_size = 1000, max_batches = ${setting!.n}`;
  console.log(`  purge: baseline p99 ${baseline.p99} ms; as scheduled (every ${intervalMs / 1000} s) p99 ${scheduled.with_purge.p99} ms, ${scheduled.purged_rows} rows in ${scheduled.sweep_runs} runs; back to back p99 ${backToBack?.with_purge.p99} ms, ${backToBack?.purged_rows} rows in ${backToBack?.sweep_runs} runs (backlog ${backlog!.n})`);
  return { seconds: PURGE_SECONDS, rate_per_s: RATE, backlog_rows: Number(backlog!.n), interval_s: intervalMs / 1000, max_batches: maxBatches, without_purge: baseline,
    ...scheduled, back_to_back: backToBack };
}

function lineChart(file: string, sizes: number[], series: Record<string, number[]>): void {
  const W = 760, H = 420, L = 60, R = 230, T = 40, B = 50;
  const all = Object.values(series).flat().filter((v) => v > 0);
  const lo = Math.log10(Math.min(...all) / 1.5), hi = Math.log10(Math.max(...all) * 1.5);
  const x = (i: number) => L + (i * (W - L - R)) / Math.max(1, sizes.length - 1);
  const y = (v: number) => T + (H - T - B) * (1 - (Math.log10(Math.max(v, 1e-3)) - lo) / (hi - lo));
  const colours = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#000000', '#aa3377'];
  const parts: string[] = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (Math.log10(v) < lo || Math.log10(v) > hi) continue;
      parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${v >= 1 ? v : v.toFixed(Math.max(0, -e))}</text>`);
    }
  }
  sizes.forEach((s, i) => parts.push(`<text x="${x(i)}" y="${H - B + 18}" text-anchor="middle">${s === 0 ? 'empty' : s >= 1e6 ? `${s / 1e6}M` : `${s / 1e3}k`}</text>`));
  Object.entries(series).forEach(([name, vals], k) => {
    const c = colours[k % colours.length];
    parts.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${vals.map((v, i) => `${x(i)},${y(v)}`).join(' ')}"/>`);
    vals.forEach((v, i) => parts.push(`<circle cx="${x(i)}" cy="${y(v)}" r="3" fill="${c}"/>`));
    parts.push(`<rect x="${W - R + 12}" y="${T + k * 18 - 9}" width="12" height="3" fill="${c}"/><text x="${W - R + 30}" y="${T + k * 18 - 4}">${name}</text>`);
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${L}" y="22" font-size="14">p50 ms (log scale) by handoffs of history</text>
<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#333"/><line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/>
<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">handoffs of history</text>
${parts.join('\n')}
</svg>
`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, svg);
}

const t0 = performance.now();
await sql`select public.fn_sweep_partitions()`;
await sql`select public.fn_ensure_history_partitions((now() - interval '13 months')::date, now()::date)`;
const levels: { size: number; build_s: number; after_build?: Record<string, unknown>; traffic: { last_hour: number; today: number };
  stats: Record<string, Stat> }[] = [];
const [kept] = await sql<{ built: number; pool: number }[]>`
  select (select count(*)::int from public.strategic_directives_v2 where id like 'SD-HIST-%') as built,
         coalesce((select max(substr(id, 7)::int) from public.strategic_directives_v2 where id like 'SD-HB-%'), 0) as pool`;
let built = kept!.built;
pool = kept!.pool;
if (built > 0) console.log(`reusing ${built.toLocaleString('en')} handoffs of history already in the database`);
if (BUILD_ONLY) {
  const target = Math.max(...SIZES);
  if (target > built) await buildHistory(built, target);
  console.log(`built ${target.toLocaleString('en')} handoffs; measure on a copy (create database … template …)`);
  await sql.end({ timeout: 1 });
  process.exit(0);
}
if (PURGE_ONLY) {
  // the purge measurement again, into the last full run's results (the report shows when)
  const purge = { ...(await purgeRun()), measured_at: new Date().toISOString() };
  console.log(JSON.stringify(purge));
  const file = path.join(path.dirname(new URL(import.meta.url).pathname), 'results', 'history.json');
  if (fs.existsSync(file)) writeResult('history', { ...JSON.parse(fs.readFileSync(file, 'utf8')), purge });
  await sql.end({ timeout: 1 });
  process.exit(0);
}
for (const size of SIZES) {
  if (size < built) {
    console.log(`skipping ${size.toLocaleString('en')}: the database already holds ${built.toLocaleString('en')}`);
    continue;
  }
  const b0 = performance.now();
  if (size > built) {
    console.log(`building history to ${size.toLocaleString('en')} handoffs`);
    await buildHistory(built, size);
    built = size;
  }
  const buildS = round((performance.now() - b0) / 1000);
  // Right after a bulk build the server still writes back what the build wrote (the checkpointer
  // flushing gigabytes at 1M): a handoff then pays for the build's I/O, which a history accrued
  // over a year never has. Measured once as it is, then CHECKPOINT, then the figures.
  let afterBuild: { handoff_begin: Stat; handoff_complete: Stat; checkpoint_s: number } | undefined;
  if (buildS > 1) {
    const times = { begin: [] as number[], complete: [] as number[], total: [] as number[] };
    for (const sd of await freshSds(20)) await oneHandoff(sd, times);
    const c0 = performance.now();
    await sql`checkpoint`;
    afterBuild = { handoff_begin: stat(times.begin), handoff_complete: stat(times.complete), checkpoint_s: round((performance.now() - c0) / 1000) };
    console.log(`  right after the build: begin ${afterBuild.handoff_begin.p50}/${afterBuild.handoff_begin.p99}, complete ${afterBuild.handoff_complete.p50}/${afterBuild.handoff_complete.p99}; checkpoint ${afterBuild.checkpoint_s} s`);
  }
  if (size > 0 && size === SIZES[SIZES.length - 1]) {
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from public.fn_check_invariants(null)`;
    if (row!.n !== 0) throw new Error(`fn_check_invariants(null) found ${row!.n} violations in the built history`);
  }
  // What the hourly metric_days sweep keeps in a running database, at every size (the empty one
  // too): the closed days of the window and today's closed hours rolled up, closed days' counter
  // shards merged.
  await sql`delete from public.metric_days`;
  await sql`delete from public.metric_hours`;
  await sql`select public.fn_sweep_metric_days()`;
  // the traffic the windowed reads see: handoff records of the last hour and of today (UTC)
  const [traffic] = await sql<{ last_hour: number; today: number }[]>`
    select count(*) filter (where created_at > now() - interval '1 hour')::int as last_hour,
           count(*) filter (where created_at >= date_trunc('day', now(), 'UTC'))::int as today
    from public.sd_phase_handoffs where created_at >= least(now() - interval '1 hour', date_trunc('day', now(), 'UTC'))`;
  levels.push({ size, build_s: buildS, after_build: afterBuild, traffic: traffic!, stats: await measureAt(size) });
}
const s0 = performance.now();
await sql`select count(*) from public.fn_check_invariants(null)`;
const invariants_all_ms = round(performance.now() - s0);

const first = levels[0]!, last = levels[levels.length - 1]!;
// The empty database has no traffic: nothing in the last hour or today for the windowed reads to
// read. The fair second ratio compares the largest size with the smallest that has history (10k:
// the same traffic per hour and day, a history 100x shorter).
const fair = levels.find((l) => l.size > 0 && l !== last);
const SLACK_MS = 0.5;
const growth = Object.keys(first.stats).filter((k) => k !== 'invariants_last_day').map((k) => {
  const a = first.stats[k]!.p50, b = last.stats[k]!.p50, f = fair ? fair.stats[k]!.p50 : undefined;
  return { measure: k, empty_p50_ms: a, largest_p50_ms: b, ratio: round(b / a), ok: b <= 1.5 * a + SLACK_MS,
    ...(f === undefined ? {} : { fair_size: fair!.size, fair_p50_ms: f, fair_ratio: round(b / f), fair_ok: b <= 1.5 * f + SLACK_MS }) };
});
const purge = await purgeRun();
const result = {
  measured_at: new Date().toISOString(),
  note: process.env.BENCH_HISTORY_NOTE ?? null,
  sizes: SIZES,
  reps: REPS,
  handoff_reps: HANDOFF_REPS,
  levels,
  growth,
  scrape_p99_ms_at_largest: last.stats.scrape!.p99,
  invariants_whole_database_ms_at_largest: invariants_all_ms,
  targets: { growth_ratio: 1.5, slack_ms: SLACK_MS, scrape_p99_ms: 100, purge_ratio_p99: 1.2 },
  purge,
  total_s: round((performance.now() - t0) / 1000),
};
console.log(writeResult('history', result));
const chartFile = path.join(path.dirname(new URL(import.meta.url).pathname), 'charts', 'history.svg');
const series: Record<string, number[]> = {};
for (const k of Object.keys(first.stats)) series[k] = levels.map((l) => l.stats[k]!.p50);
lineChart(chartFile, SIZES, series);
console.log(chartFile);
await sql.end({ timeout: 1 });
