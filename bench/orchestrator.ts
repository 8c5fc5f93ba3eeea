// Orchestrator benchmark (issue 4): handoff wall time with five independent 200 ms HTTP agents
// beside the sequential baseline (the same function with concurrency 1) and the critical path;
// a 3-deep dependency chain beside its critical path; peak memory of the function server under
// 32 concurrent handoffs. Everything runs here, on loopback, in one process tree.
import fs from 'node:fs';
import postgres from 'postgres';
import { generateWebhookSecret, startAgentServer } from '../stack/agent-server.ts';
import { projectRoot } from '../stack/db.ts';
import { startFunctions } from '../stack/functions.ts';
import { freePort } from '../stack/ports.ts';
import { localKeys } from '../stack/stack.ts';
import { seedDirective, useOnlyAgents } from '../tests/helpers/fixtures.ts';
import { benchDatabase, HOSTED_MEMORY_CAP_MB, median, writeResult } from './env.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? '8');
const AGENT_MS = 200;
const secret = generateWebhookSecret();
const jwtSecret = 'bench-secret-that-is-at-least-32-characters';

const db = await benchDatabase('stagegate_bench_orchestrator');
const sql = postgres(db.url, { max: 4, onnotice: () => {} });
const agents = await startAgentServer({ secret });
const [, serviceKey] = await localKeys(jwtSecret);

async function functionsServer(concurrency: number) {
  const port = await freePort();
  const server = await startFunctions({
    projectRoot, port,
    env: { SUPABASE_URL: `http://127.0.0.1:${port}`, SUPABASE_DB_URL: db.url, STAGEGATE_JWT_SECRET: jwtSecret, SUBAGENT_SIGNING_SECRET: secret, STAGEGATE_GATE_CONCURRENCY: String(concurrency), SUPABASE_ANON_KEY: '', SUPABASE_SERVICE_ROLE_KEY: serviceKey },
  });
  return { url: `http://127.0.0.1:${port}/functions/v1/handoff`, server };
}

let sdCounter = 0;
async function handoff(url: string): Promise<{ clientMs: number; wallMs: number; criticalPathMs: number; verdict: string; timings: Record<string, number> }> {
  const sd = `SD-BENCH-${++sdCounter}`;
  await seedDirective(sql, { id: sd, phase: 'EXEC' });
  const t0 = performance.now();
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${serviceKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: 'bench' }),
  });
  const body = await response.json() as { verdict: string; wall_ms: number; critical_path_ms: number; timings_ms?: Record<string, number> };
  return { clientMs: performance.now() - t0, wallMs: body.wall_ms, criticalPathMs: body.critical_path_ms, verdict: body.verdict, timings: body.timings_ms ?? {} };
}

async function series(url: string) {
  await handoff(url); // warm-up: pool connections, agent sockets, JIT
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await handoff(url));
  if (runs.some((r) => r.verdict !== 'accepted')) throw new Error(`a benchmark handoff was not accepted: ${JSON.stringify(runs)}`);
  return {
    wall_ms: median(runs.map((r) => r.wallMs)),
    client_ms: median(runs.map((r) => r.clientMs)),
    critical_path_ms: median(runs.map((r) => r.criticalPathMs)),
    begin_ms: median(runs.map((r) => r.timings.begin ?? 0)),
    gates_ms: median(runs.map((r) => r.timings.gates ?? 0)),
    complete_ms: median(runs.map((r) => r.timings.complete ?? 0)),
  };
}

function vmHwmMb(pid: number | undefined): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? '0') / 1024;
}

const parallel = await functionsServer(5);
const sequential = await functionsServer(1);
try {
  const five = ['B1', 'B2', 'B3', 'B4', 'B5'].map((code) => ({ code, target: `${agents.url}/agents/${code}?delay=${AGENT_MS}&score=95` }));
  await useOnlyAgents(sql, five);
  const par = await series(parallel.url);
  const seq = await series(sequential.url);

  await useOnlyAgents(sql, [
    { code: 'C1', target: `${agents.url}/agents/c1?delay=${AGENT_MS}` },
    { code: 'C2', target: `${agents.url}/agents/c2?delay=${AGENT_MS}`, dependsOn: ['C1'] },
    { code: 'C3', target: `${agents.url}/agents/c3?delay=${AGENT_MS}`, dependsOn: ['C2'] },
  ]);
  const chain = await series(parallel.url);

  await useOnlyAgents(sql, five);
  const idleMb = vmHwmMb(parallel.server.pid);
  const t0 = performance.now();
  const burst = await Promise.all(Array.from({ length: 32 }, () => handoff(parallel.url)));
  const burstMs = performance.now() - t0;
  const peakMb = vmHwmMb(parallel.server.pid);

  const result = {
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
    five_independent: {
      agent_ms: AGENT_MS,
      parallel_wall_ms: par.wall_ms, parallel_client_ms: par.client_ms, critical_path_ms: par.critical_path_ms,
      sequential_wall_ms: seq.wall_ms,
      over_critical_path_ms: par.wall_ms - par.critical_path_ms,
      speedup_vs_sequential: +(seq.wall_ms / par.wall_ms).toFixed(2),
      targets: { over_critical_path_ms: 30, speedup: 4.5 },
    },
    chain_of_three: { wall_ms: chain.wall_ms, client_ms: chain.client_ms, critical_path_ms: chain.critical_path_ms, over_critical_path_ms: chain.wall_ms - chain.critical_path_ms, target_over_ms: 30 },
    memory_32_concurrent: { peak_rss_mb: +peakMb.toFixed(1), before_burst_peak_mb: +idleMb.toFixed(1), burst_wall_ms: Math.round(burstMs), accepted: burst.filter((b) => b.verdict === 'accepted').length, target_mb: HOSTED_MEMORY_CAP_MB },
  };
  console.log('orchestrator benchmark (medians of', RUNS, 'runs after a warm-up)');
  for (const [k, v] of Object.entries({ par, seq, chain })) console.log(k, JSON.stringify(v));
  console.table({
    'five 200 ms agents, parallel': { wall_ms: par.wall_ms, critical_path_ms: par.critical_path_ms, over_cp_ms: result.five_independent.over_critical_path_ms, ratio: '1.00' },
    'five 200 ms agents, sequential (baseline)': { wall_ms: seq.wall_ms, critical_path_ms: seq.critical_path_ms, over_cp_ms: '', ratio: `${result.five_independent.speedup_vs_sequential}x slower` },
    'chain of three 200 ms agents': { wall_ms: chain.wall_ms, critical_path_ms: chain.critical_path_ms, over_cp_ms: result.chain_of_three.over_critical_path_ms, ratio: '' },
  });
  console.log(`32 concurrent handoffs: peak RSS of the function server ${result.memory_32_concurrent.peak_rss_mb} MB (hosted cap ${HOSTED_MEMORY_CAP_MB}), ${result.memory_32_concurrent.accepted}/32 accepted in ${result.memory_32_concurrent.burst_wall_ms} ms`);
  console.log('wrote', writeResult('orchestrator', result));
} finally {
  await parallel.server.stop();
  await sequential.server.stop();
  await agents.stop();
  await sql.end();
  await db.stop();
}
