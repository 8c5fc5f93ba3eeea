// Complete-handoff throughput and latency at 1, 8 and 32 clients on distinct SDs, beside two
// baselines measured in the same run on identical fresh SDs:
//   bare       - the same three UPDATEs in one client transaction (pipelined), no lock/audit/scoring: the floor
//   autocommit - the seed's "before": three separate autocommit statements, not atomic
// Each operation moves one fresh SD (3 done stories, a PRD) from EXEC to EXEC_COMPLETE.
// Usage: DATABASE_URL=postgres://... node_modules/.bin/tsx bench/sql-handoff.ts [seconds-per-cell]
import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('set DATABASE_URL (a database with the stagegate migrations applied)');
const CELL_SECONDS = Number(process.argv[2] ?? 3);
const CONCURRENCY = [1, 8, 32];
const VARIANTS = ['rpc', 'rpc-no-notify', 'bare', 'autocommit'] as const;
type Variant = (typeof VARIANTS)[number];
// fresh SDs per cell; a cell stops at CELL_SECONDS or when the pool runs out (preparing RPC attempts is not timed but not free)
const POOL = Number(process.env.BENCH_POOL ?? 1500);
// BENCH_SYNC=off runs every variant with synchronous_commit off, to separate CPU cost from WAL flush
const SYNC = process.env.BENCH_SYNC ?? 'on';

const admin = postgres(url, { max: 4, onnotice: () => {} });

async function prepare(cell: string, variant: Variant): Promise<string[]> {
  const prefix = `SD-BENCH-${cell}`;
  await admin`insert into strategic_directives_v2 (id, title, current_phase)
    select ${prefix} || '-' || i, 'bench', 'EXEC' from generate_series(1, ${POOL}) i`;
  await admin`insert into product_requirements_v2 (id, sd_id, title)
    select 'PRD-' || ${prefix} || '-' || i, ${prefix} || '-' || i, 'bench' from generate_series(1, ${POOL}) i`;
  await admin`insert into user_stories (story_key, sd_id, title, status)
    select 'US-' || s, ${prefix} || '-' || i, 'bench', 'done' from generate_series(1, ${POOL}) i, generate_series(1, 3) s`;
  if (!variant.startsWith('rpc')) return Array.from({ length: POOL }, (_, i) => `${prefix}-${i + 1}`);
  // the RPC needs an attempt with its gate results recorded (not timed: we measure complete)
  const rows = await admin<{ attempt_id: string }[]>`
    with b as (
      select fn_begin_handoff(${prefix} || '-' || i, 'EXEC-TO-PLAN', 'bench', ${prefix} || '-req-' || i) as r
      from generate_series(1, ${POOL}) i
    )
    select (b.r->>'attempt_id') as attempt_id,
           fn_record_gate_result((b.r->>'attempt_id')::uuid, 'STORIES_DONE',
             '{"passed": true, "score": 100, "maxScore": 100, "issues": [], "warnings": []}') is not null as ok
    from b`;
  return rows.map((r) => r.attempt_id);
}

function operation(variant: Variant, sql: postgres.Sql): (key: string) => Promise<unknown> {
  switch (variant) {
    case 'rpc':
    case 'rpc-no-notify':
      return (attempt) => sql`select fn_complete_handoff(${attempt}::uuid)`;
    case 'bare':
      return (sd) => sql.begin((tx) => [
        tx`update user_stories set status = 'validated' where sd_id = ${sd} and status <> 'validated'`,
        tx`update product_requirements_v2 set status = 'verification' where sd_id = ${sd}`,
        tx`update strategic_directives_v2 set current_phase = 'EXEC_COMPLETE', transition_version = transition_version + 1 where id = ${sd}`,
      ]);
    case 'autocommit':
      return async (sd) => {
        await sql`update user_stories set status = 'validated' where sd_id = ${sd} and status <> 'validated'`;
        await sql`update product_requirements_v2 set status = 'verification' where sd_id = ${sd}`;
        await sql`update strategic_directives_v2 set current_phase = 'EXEC_COMPLETE', transition_version = transition_version + 1 where id = ${sd}`;
      };
  }
}

interface Cell { variant: Variant; clients: number; ops: number; seconds: number; opsPerSec: number; p50ms: number; p99ms: number }

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function runCell(variant: Variant, clients: number): Promise<Cell> {
  const keys = await prepare(`${variant.toUpperCase()}-${clients}`, variant);
  // baselines bypass the RPCs on purpose; the guard trigger still runs (and costs) as in the RPC
  const conns = Array.from({ length: clients }, () => postgres(url!, {
    max: 1, onnotice: () => {},
    connection: {
      'stagegate.in_transition': 'on', synchronous_commit: SYNC,
      ...(variant === 'rpc-no-notify' ? { 'stagegate.notify_transitions': 'off' } : {}),
    } as Record<string, string>,
  }));
  await Promise.all(conns.map((c) => c`select 1`));
  const latencies: number[] = [];
  let next = 0;
  const deadline = performance.now() + CELL_SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(conns.map(async (c) => {
    const op = operation(variant, c);
    while (performance.now() < deadline && next < keys.length) {
      const key = keys[next++]!;
      const s = performance.now();
      await op(key);
      latencies.push(performance.now() - s);
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(conns.map((c) => c.end()));
  if (next >= keys.length) console.warn(`  (${variant} x${clients} used the whole pool of ${POOL}; raise POOL for a longer cell)`);
  latencies.sort((a, b) => a - b);
  return {
    variant, clients, ops: latencies.length, seconds: +seconds.toFixed(2), opsPerSec: Math.round(latencies.length / seconds),
    p50ms: +percentile(latencies, 50).toFixed(2), p99ms: +percentile(latencies, 99).toFixed(2),
  };
}

async function cleanup() {
  await admin`delete from sd_transition_audit where sd_id like 'SD-BENCH-%'`;
  await admin`delete from sd_phase_handoffs where sd_id like 'SD-BENCH-%'`;
  await admin`delete from handoff_attempts where sd_id like 'SD-BENCH-%'`;
  await admin`delete from strategic_directives_v2 where id like 'SD-BENCH-%'`;
}

async function main() {
  await cleanup();
  const cells: Cell[] = [];
  for (const clients of CONCURRENCY) {
    for (const variant of VARIANTS) {
      const cell = await runCell(variant, clients);
      cells.push(cell);
      console.log(`  ${variant.padEnd(10)} x${String(clients).padEnd(3)} ${cell.opsPerSec} ops/s  p50 ${cell.p50ms} ms  p99 ${cell.p99ms} ms`);
    }
  }
  await cleanup();
  const rows = CONCURRENCY.map((clients) => {
    const get = (v: Variant) => cells.find((c) => c.variant === v && c.clients === clients)!;
    const rpc = get('rpc'), quiet = get('rpc-no-notify'), bare = get('bare'), auto = get('autocommit');
    return {
      clients, rpcOpsPerSec: rpc.opsPerSec, rpcP50ms: rpc.p50ms, rpcP99ms: rpc.p99ms,
      rpcNoNotifyOpsPerSec: quiet.opsPerSec, rpcNoNotifyVsBare: +(quiet.opsPerSec / bare.opsPerSec).toFixed(2),
      bareOpsPerSec: bare.opsPerSec, autocommitOpsPerSec: auto.opsPerSec,
      rpcVsBare: +(rpc.opsPerSec / bare.opsPerSec).toFixed(2), rpcVsAutocommit: +(rpc.opsPerSec / auto.opsPerSec).toFixed(2),
      meetsTargets: rpc.opsPerSec >= 0.6 * bare.opsPerSec && rpc.opsPerSec > auto.opsPerSec,
    };
  });
  console.log('\ncomplete-handoff (fn_complete_handoff) vs baselines, distinct SDs, ' + CELL_SECONDS + ' s per cell');
  console.table(rows);
  const out = path.resolve(import.meta.dirname, 'results/sql-handoff.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), cellSeconds: CELL_SECONDS, synchronousCommit: SYNC, pool: POOL, cells, summary: rows }, null, 2) + '\n');
  console.log(`written ${path.relative(process.cwd(), out)}`);
  await admin.end();
}

main().catch(async (e) => {
  console.error(e);
  await admin.end({ timeout: 1 });
  process.exit(1);
});
