// Sustained load (issue 7): handoffs with sql and builtin gates only, at a fixed request rate
// (LOAD_RATE, default 20/s) for a bounded time (LOAD_SECONDS, default 60), driven by
// bench/load-client.ts in a second process. Reports error rate, p50/p99, throughput, the idle
// baseline measured in the same run, and the memory of the function server (deno) and of
// PostgreSQL (postmaster + its children, from /proc) at the start and the end of the load.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { projectRoot } from '../stack/db.ts';
import { startFunctions } from '../stack/functions.ts';
import { freePort } from '../stack/ports.ts';
import { localKeys } from '../stack/stack.ts';
import { benchDatabase, writeResult } from './env.ts';

const RATE = Number(process.env.LOAD_RATE ?? '20');
const SECONDS = Number(process.env.LOAD_SECONDS ?? '60');
const BASELINE = 20;
const jwtSecret = 'bench-secret-that-is-at-least-32-characters';

const db = await benchDatabase('stagegate_bench_load');
const sql = postgres(db.url, { max: 2, onnotice: () => {} });
const [, serviceKey] = await localKeys(jwtSecret);

// ---------------------------------------------------------------- directives and gates
// LEAD-TO-PLAN runs the shipped sql gate SD_DEFINED plus the builtin STORY_POINTS_ESTIMATED;
// PLAN-TO-EXEC runs the sql gates PRD_COMPLETE → STORIES_HAVE_ACCEPTANCE_CRITERIA. Half each.
const count = Math.ceil(RATE * SECONDS * 1.05) + BASELINE + 10;
await sql`insert into public.leo_sub_agents (code, name, kind, target, handoff_types, weight, required)
  values ('STORY_POINTS_ESTIMATED', 'Every story is estimated', 'builtin', 'STORY_POINTS_ESTIMATED', '{LEAD-TO-PLAN}', 1, true)
  on conflict (code) do update set active = true`;
await sql`insert into public.strategic_directives_v2 (id, title, description, scope, success_criteria, current_phase)
  select 'SD-LOAD-' || i, 'load ' || i, 'load test directive', 'bench', '["it holds"]', case when i % 2 = 0 then 'LEAD' else 'PLAN' end
  from generate_series(1, ${count}) i`;
await sql`insert into public.product_requirements_v2 (id, sd_id, title, executive_summary, functional_requirements, acceptance_criteria, test_scenarios)
  select 'PRD-LOAD-' || i, 'SD-LOAD-' || i, 'PRD', 'summary', '["fr"]', '["ac"]', '["ts"]' from generate_series(1, ${count}) i`;
// Stories only for PLAN directives: the builtin reads story points, which LEAD ones have none to miss.
await sql`insert into public.user_stories (story_key, sd_id, prd_id, title, status, acceptance_criteria)
  select 'US-' || s, 'SD-LOAD-' || i, 'PRD-LOAD-' || i, 'story', 'draft', '["given when then"]'
  from generate_series(1, ${count}) i, generate_series(1, 2) s where i % 2 = 1`;
const [{ version }] = await sql<{ version: string }[]>`select current_setting('server_version') as version` as unknown as [{ version: string }];

// ---------------------------------------------------------------- memory from /proc
function kb(file: string, field: string): number {
  try {
    return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(file, 'utf8'))?.[1] ?? '0');
  } catch {
    return 0; // the process ended between listing and reading
  }
}
const [{ backend }] = await sql<{ backend: number }[]>`select pg_backend_pid() as backend` as unknown as [{ backend: number }];
const postmaster = Number(/^PPid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${backend}/status`, 'utf8'))?.[1]);
function postgresPids(): number[] {
  const children = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    try { return Number(/^PPid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) === postmaster; } catch { return false; }
  });
  return [postmaster, ...children];
}
function memory(functionsPid: number) {
  const pg = postgresPids();
  const mb = (k: number) => Math.round((k / 1024) * 10) / 10;
  return {
    at: new Date().toISOString(),
    functions_rss_mb: mb(kb(`/proc/${functionsPid}/status`, 'VmRSS')),
    // Pss splits shared buffers among the processes mapping them: their sum is the real footprint.
    postgres_pss_mb: mb(pg.reduce((sum, pid) => sum + kb(`/proc/${pid}/smaps_rollup`, 'Pss'), 0)),
    postgres_rss_sum_mb: mb(pg.reduce((sum, pid) => sum + kb(`/proc/${pid}/status`, 'VmRSS'), 0)),
    postgres_processes: pg.length,
  };
}

// ---------------------------------------------------------------- run
const port = await freePort();
const server = await startFunctions({
  projectRoot, port,
  env: { SUPABASE_URL: `http://127.0.0.1:${port}`, SUPABASE_DB_URL: db.url, STAGEGATE_JWT_SECRET: jwtSecret, SUPABASE_ANON_KEY: '', SUPABASE_SERVICE_ROLE_KEY: serviceKey },
});
const samples: ReturnType<typeof memory>[] = [];
let result: Record<string, unknown> | undefined;
try {
  const client = spawn(path.join(projectRoot, 'node_modules', '.bin', 'tsx'), [path.join(projectRoot, 'bench', 'load-client.ts')], {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, LOAD_URL: `http://127.0.0.1:${port}/functions/v1/handoff`, LOAD_KEY: serviceKey, LOAD_RATE: String(RATE), LOAD_SECONDS: String(SECONDS), LOAD_COUNT: String(count), LOAD_BASELINE: String(BASELINE) },
  });
  let timer: ReturnType<typeof setInterval> | undefined;
  let buffer = '';
  let done: Record<string, unknown> | undefined;
  client.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffer.slice(0, nl)) as { phase: string };
      buffer = buffer.slice(nl + 1);
      if (line.phase === 'load-start') {
        samples.push(memory(server.pid!));
        timer = setInterval(() => samples.push(memory(server.pid!)), 5000);
      } else if (line.phase === 'done') {
        clearInterval(timer);
        samples.push(memory(server.pid!));
        done = line;
      }
    }
  });
  const exit = await new Promise<number | null>((resolve) => client.once('exit', resolve));
  clearInterval(timer);
  if (exit !== 0 || !done) throw new Error(`load-client exited with ${exit}`);
  // The first seconds of load grow the pool to its size and warm the JIT: growth is judged from
  // the sample 10 s in (when the run is long enough), and reported from the very start as well.
  const warm = SECONDS >= 30 ? samples[2] ?? samples[0]! : samples[0]!;
  const end = samples.at(-1)!;
  const load = done.load as { error_rate: number; p50_ms: number; p99_ms: number; throughput_per_s: number };
  const baseline = done.baseline as { p50_ms: number; p99_ms: number };
  const growth = (a: number, b: number) => ({ start_mb: a, end_mb: b, growth_mb: Math.round((b - a) * 10) / 10, growth_pct: +(((b - a) / a) * 100).toFixed(1) });
  const functionsMem = { ...growth(warm.functions_rss_mb, end.functions_rss_mb), at_load_start_mb: samples[0]!.functions_rss_mb };
  const postgresMem = { ...growth(warm.postgres_pss_mb, end.postgres_pss_mb), at_load_start_mb: samples[0]!.postgres_pss_mb };
  result = {
    measured_at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', ram_gb: Math.round(os.totalmem() / 2 ** 30 * 10) / 10, node: process.version, postgres: version },
    rate_per_s: RATE, seconds: SECONDS, gates: { 'LEAD-TO-PLAN': ['SD_DEFINED (sql)', 'STORY_POINTS_ESTIMATED (builtin)'], 'PLAN-TO-EXEC': ['PRD_COMPLETE (sql)', 'STORIES_HAVE_ACCEPTANCE_CRITERIA (sql)'] },
    baseline_idle: baseline,
    load: done.load,
    windows: done.windows,
    p50_vs_idle: +(load.p50_ms / baseline.p50_ms).toFixed(2),
    p99_vs_idle: +(load.p99_ms / baseline.p99_ms).toFixed(2),
    memory: { judged_from: SECONDS >= 30 ? '10 s into the load' : 'load start', functions_rss: functionsMem, postgres_pss: postgresMem, samples },
    targets: { error_rate: 0.001, throughput_ratio: 0.95, memory_growth_pct: 10 },
    met: {
      error_rate: load.error_rate <= 0.001,
      throughput: load.throughput_per_s >= 0.95 * RATE,
      memory: Math.abs(functionsMem.growth_pct) <= 10 && Math.abs(postgresMem.growth_pct) <= 10,
    },
  };
  console.log(`load: ${RATE}/s for ${SECONDS} s → ${JSON.stringify(done.load)}`);
  console.log(`idle baseline p50 ${baseline.p50_ms} ms; under load p50 ${load.p50_ms} ms (${result.p50_vs_idle}x), p99 ${load.p99_ms} ms`);
  console.log(`memory: functions ${JSON.stringify(functionsMem)}; postgres (PSS) ${JSON.stringify(postgresMem)}`);
  console.log('wrote', writeResult(process.env.LOAD_RESULT_NAME ?? 'load', result));
  const [violations] = await sql<{ n: number }[]>`select count(*)::int as n from public.fn_check_invariants()`;
  if (violations!.n !== 0) throw new Error(`${violations!.n} invariant violations after the load`);
} finally {
  await server.stop();
  await sql.end({ timeout: 1 });
  await db.stop();
}
