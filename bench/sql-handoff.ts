// Complete-handoff throughput and latency at 1, 8 and 32 clients on distinct SDs, beside two
// baselines measured in the same run on identical fresh SDs:
//   bare       - the same three UPDATEs in one client transaction (pipelined), no lock/audit/scoring: the floor
//   autocommit - the seed's "before": three separate autocommit statements, not atomic
//   bare-fn    - the same three UPDATEs in one PL/pgSQL function call (one round trip, no lock,
//                audit or scoring): what the RPC mechanism alone costs, so the gap between it and
//                the RPC is the price of the guarantees
// and the RPC twice: as deployed (NOTIFY through the outbox, its relay sweep running every second
// beside the clients) and with stagegate.notify_transitions = commit (NOTIFY inside the transaction).
// Each operation moves one fresh SD (3 done stories, a PRD) from EXEC to EXEC_COMPLETE.
// Every cell runs twice: over loopback, and through a local TCP proxy that delays each packet by
// BENCH_NET_DELAY_MS (default 1) each way, as a client in another machine sees the database: the
// seed's "before" paid a round trip per statement, and loopback makes round trips almost free.
// Usage: DATABASE_URL=postgres://... node_modules/.bin/tsx bench/sql-handoff.ts [seconds-per-cell]
import net from 'node:net';
import path from 'node:path';
import postgres from 'postgres';
import { median, percentile, writeResult } from './env.ts';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('set DATABASE_URL (a database with the stagegate migrations applied)');
const CELL_SECONDS = Number(process.argv[2] ?? 3);
// BENCH_CLIENTS=1,8 and BENCH_NETS=loopback narrow a run (for profiling); the report wants all of them
const CONCURRENCY = (process.env.BENCH_CLIENTS ?? '1,8,32').split(',').map(Number);
const VARIANTS = ['rpc', 'rpc-commit-notify', 'bare', 'autocommit', 'bare-fn'] as const;
const NET_DELAY_MS = Number(process.env.BENCH_NET_DELAY_MS ?? 1);
type Net = 'loopback' | 'delayed';
const NETS = (process.env.BENCH_NETS ?? 'loopback,delayed').split(',') as Net[];
type Variant = (typeof VARIANTS)[number];
// fresh SDs per cell; a cell stops at CELL_SECONDS or when the pool runs out (preparing RPC attempts is not timed but not free)
const POOL = Number(process.env.BENCH_POOL ?? 3000);
// Each connection first runs WARM_OPS untimed operations of its own variant: a new backend
// compiles the PL/pgSQL functions and triggers it calls (about 30 ms for fn_complete_handoff) and
// plans each statement afresh for its first five executions before settling on a cached plan. A
// deployment keeps its backends (PostgREST's pool, Supavisor), so the cells measure the steady
// state, as pgbench does; every variant gets the same warm-up.
const WARM_OPS = Number(process.env.BENCH_WARM_OPS ?? 8);
// Every cell runs ROUNDS times (the variants of a row in a different order each round) and the
// best round counts: on a shared 2-core machine, interference only ever slows a cell down.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
// BENCH_SYNC=off runs every variant with synchronous_commit off, to separate CPU cost from WAL flush
const SYNC = process.env.BENCH_SYNC ?? 'on';

const admin = postgres(url, { max: 4, onnotice: () => {} });

async function prepare(cell: string, variant: Variant, pool: number): Promise<string[]> {
  const prefix = `SD-BENCH-${cell}`;
  await admin`insert into strategic_directives_v2 (id, title, current_phase)
    select ${prefix} || '-' || i, 'bench', 'EXEC' from generate_series(1, ${pool}) i`;
  await admin`insert into product_requirements_v2 (id, sd_id, title)
    select 'PRD-' || ${prefix} || '-' || i, ${prefix} || '-' || i, 'bench' from generate_series(1, ${pool}) i`;
  await admin`insert into user_stories (story_key, sd_id, title, status)
    select 'US-' || s, ${prefix} || '-' || i, 'bench', 'done' from generate_series(1, ${pool}) i, generate_series(1, 3) s`;
  if (!variant.startsWith('rpc')) return Array.from({ length: pool }, (_, i) => `${prefix}-${i + 1}`);
  // the RPC needs an attempt with its gate results recorded (not timed: we measure complete)
  const rows = await admin<{ attempt_id: string }[]>`
    with b as (
      select fn_begin_handoff(${prefix} || '-' || i, 'EXEC-TO-PLAN', 'bench', ${prefix} || '-req-' || i) as r
      from generate_series(1, ${pool}) i
    )
    select (b.r->>'attempt_id') as attempt_id,
           fn_record_gate_result((b.r->>'attempt_id')::uuid, 'STORIES_DONE',
             '{"passed": true, "score": 100, "maxScore": 100, "issues": [], "warnings": []}') is not null as ok
    from b`;
  return rows.map((r) => r.attempt_id);
}

// What EXEC-TO-PLAN changes, as the baselines write it ($1 = the SD's id): the same statements in
// one transaction (bare), one autocommit each (autocommit) and one function call (bare-fn).
const BARE_UPDATES = [
  `update public.user_stories set status = 'validated' where sd_id = $1 and status <> 'validated'`,
  `update public.product_requirements_v2 set status = 'verification' where sd_id = $1`,
  `update public.strategic_directives_v2 set current_phase = 'EXEC_COMPLETE', transition_version = transition_version + 1 where id = $1`,
];

function operation(variant: Variant, sql: postgres.Sql): (key: string) => Promise<unknown> {
  switch (variant) {
    case 'rpc':
    case 'rpc-commit-notify':
      return (attempt) => sql`select fn_complete_handoff(${attempt}::uuid)`;
    case 'bare':
      return (sd) => sql.begin((tx) => BARE_UPDATES.map((q) => tx.unsafe(q, [sd], { prepare: true })));
    case 'bare-fn':
      return (sd) => sql`select public.bench_bare_transition(${sd})`;
    case 'autocommit':
      return async (sd) => {
        for (const q of BARE_UPDATES) await sql.unsafe(q, [sd], { prepare: true });
      };
  }
}

interface Cell { net: Net; variant: Variant; clients: number; ops: number; seconds: number; opsPerSec: number; p50ms: number; p99ms: number }

/** A TCP proxy to the database that holds every chunk for delayMs in each direction. */
async function delayProxy(target: URL, delayMs: number): Promise<{ url: string; close: () => Promise<void> }> {
  const pipe = (from: net.Socket, to: net.Socket) => {
    const queue: { due: number; chunk: Buffer }[] = [];
    let timer: NodeJS.Timeout | null = null;
    const flush = () => {
      timer = null;
      const now = performance.now();
      while (queue.length > 0 && queue[0]!.due <= now) to.write(queue.shift()!.chunk);
      if (queue.length > 0) timer = setTimeout(flush, queue[0]!.due - now);
    };
    from.on('data', (chunk) => {
      queue.push({ due: performance.now() + delayMs, chunk });
      timer ??= setTimeout(flush, delayMs);
    });
    from.on('close', () => to.destroy());
    from.on('error', () => to.destroy());
  };
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const upstream = net.connect(Number(target.port), target.hostname, () => upstream.setNoDelay(true));
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxied = new URL(target);
  proxied.hostname = '127.0.0.1';
  proxied.port = String((server.address() as net.AddressInfo).port);
  return { url: proxied.toString(), close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

async function runCell(variant: Variant, clients: number, netKind: Net, proxyUrl: string, pool = POOL, cellSeconds = CELL_SECONDS, tag = ''): Promise<Cell> {
  const keys = await prepare(`${variant.toUpperCase()}-${clients}-${netKind.toUpperCase()}${tag}`, variant, pool + clients * WARM_OPS);
  // baselines bypass the RPCs on purpose; the guard trigger still runs (and costs) as in the RPC
  const conns = Array.from({ length: clients }, () => postgres(netKind === 'loopback' ? url! : proxyUrl, {
    max: 1, onnotice: () => {},
    connection: {
      'stagegate.in_transition': 'on', synchronous_commit: SYNC,
      ...(variant === 'rpc-commit-notify' ? { 'stagegate.notify_transitions': 'commit' } : {}),
    } as Record<string, string>,
  }));
  let next = 0;
  await Promise.all(conns.map(async (c) => {
    const op = operation(variant, c);
    for (let i = 0; i < WARM_OPS; i++) await op(keys[next++]!);
  }));
  const latencies: number[] = [];
  const deadline = performance.now() + cellSeconds * 1000;
  const t0 = performance.now();
  // as deployed: the relay sweep sends the outbox's notifications every second beside the clients
  const relay = variant === 'rpc' ? setInterval(() => { admin`select public.fn_run_sweep('transition_notifications')`.catch((e: Error) => console.warn(`  relay sweep failed: ${e.message}`)); }, 1000) : null;
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
  if (relay) clearInterval(relay);
  await Promise.all(conns.map((c) => c.end()));
  if (next >= keys.length && !tag.startsWith('-WARMUP')) console.warn(`  (${netKind} ${variant} x${clients} used the whole pool of ${pool}; raise BENCH_POOL for a longer cell)`);
  latencies.sort((a, b) => a - b);
  return {
    net: netKind, variant, clients, ops: latencies.length, seconds: +seconds.toFixed(2), opsPerSec: Math.round(latencies.length / seconds),
    p50ms: +percentile(latencies, 50).toFixed(2), p99ms: +percentile(latencies, 99).toFixed(2),
  };
}

async function cleanup() {
  await admin`delete from sd_transition_audit where sd_id like 'SD-BENCH-%'`;
  await admin`delete from transition_notifications where payload->>'sd_id' like 'SD-BENCH-%'`;
  await admin`delete from sd_phase_handoffs where sd_id like 'SD-BENCH-%'`;
  await admin`delete from handoff_attempts where sd_id like 'SD-BENCH-%'`;
  await admin`delete from strategic_directives_v2 where id like 'SD-BENCH-%'`;
}

/** Median round trip of `select 1` on one connection, ms. */
async function roundTripMs(connUrl: string): Promise<number> {
  const c = postgres(connUrl, { max: 1, onnotice: () => {} });
  await c`select 1`;
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const s = performance.now();
    await c`select 1`;
    times.push(performance.now() - s);
  }
  await c.end();
  return +median(times).toFixed(3);
}

function summarise(cells: Cell[], netKind: Net) {
  if (!cells.some((c) => c.net === netKind)) return [];
  return CONCURRENCY.map((clients) => {
    const get = (v: Variant) => cells.find((c) => c.net === netKind && c.variant === v && c.clients === clients)!;
    const rpc = get('rpc'), inTx = get('rpc-commit-notify'), bare = get('bare'), auto = get('autocommit'), bareFn = get('bare-fn');
    return {
      clients, rpcOpsPerSec: rpc.opsPerSec, rpcP50ms: rpc.p50ms, rpcP99ms: rpc.p99ms,
      rpcCommitNotifyOpsPerSec: inTx.opsPerSec, rpcCommitNotifyVsBare: +(inTx.opsPerSec / bare.opsPerSec).toFixed(2),
      bareOpsPerSec: bare.opsPerSec, autocommitOpsPerSec: auto.opsPerSec, bareFnOpsPerSec: bareFn.opsPerSec,
      rpcVsBareFn: +(rpc.opsPerSec / bareFn.opsPerSec).toFixed(2),
      rpcVsBare: +(rpc.opsPerSec / bare.opsPerSec).toFixed(2), rpcVsAutocommit: +(rpc.opsPerSec / auto.opsPerSec).toFixed(2),
      meetsTargets: rpc.opsPerSec >= 0.6 * bare.opsPerSec && rpc.opsPerSec > auto.opsPerSec,
    };
  });
}

// bench-only, dropped at the end: the bare UPDATEs as one function call
const BARE_FN = `
create or replace function public.bench_bare_transition(p_sd text) returns void
language plpgsql set search_path = '' as $$
begin
  ${BARE_UPDATES.map((q) => `${q.replaceAll('$1', 'p_sd')};`).join('\n  ')}
end $$`;

async function main() {
  await cleanup();
  const proxy = await delayProxy(new URL(url!), NET_DELAY_MS);
  const rtt = { loopback: await roundTripMs(url!), delayed: await roundTripMs(proxy.url) };
  console.log(`  select 1 round trip: loopback ${rtt.loopback} ms, delayed ${rtt.delayed} ms (${NET_DELAY_MS} ms each way)`);
  const cells: Cell[] = []; // the best round of each cell
  const allCells: Cell[] = [];
  try {
    await admin.unsafe(BARE_FN);
    await admin`revoke execute on function public.bench_bare_transition(text) from public`;
    // untimed warm-up of a fresh server (caches, first plans), so the first measured cell is not penalised
    for (const variant of VARIANTS) await runCell(variant, 2, 'loopback', proxy.url, 300, 1, '-WARMUP');
    for (const netKind of NETS) {
      for (const [g, clients] of CONCURRENCY.entries()) {
        for (let round = 0; round < ROUNDS; round++) {
          // the tables grow through the run: rotate which variant goes first, so none always runs last
          const start = (g + NETS.indexOf(netKind) + round * 2) % VARIANTS.length;
          for (const variant of [...VARIANTS.slice(start), ...VARIANTS.slice(0, start)]) {
            // the baselines run through a pool faster and cost nothing to prepare: give them twice as many SDs
            const pool = variant.startsWith('rpc') ? POOL : POOL * 2;
            const cell = await runCell(variant, clients, netKind, proxy.url, pool, CELL_SECONDS, `-R${round}`);
            allCells.push(cell);
            const best = cells.findIndex((c) => c.net === netKind && c.variant === variant && c.clients === clients);
            if (best < 0) cells.push(cell);
            else if (cell.opsPerSec > cells[best]!.opsPerSec) cells[best] = cell;
            console.log(`  ${netKind.padEnd(8)} ${variant.padEnd(17)} x${String(clients).padEnd(3)} ${cell.opsPerSec} ops/s  p50 ${cell.p50ms} ms  p99 ${cell.p99ms} ms  (round ${round + 1})`);
          }
        }
      }
    }
  } finally {
    await proxy.close();
    await admin`drop function if exists public.bench_bare_transition(text)`;
  }
  await cleanup();
  const summary = summarise(cells, 'loopback');
  const delayed = summarise(cells, 'delayed');
  console.log('\ncomplete-handoff (fn_complete_handoff) vs baselines, distinct SDs, ' + CELL_SECONDS + ' s per cell, loopback');
  console.table(summary);
  console.log(`\nthe same through a proxy adding ${NET_DELAY_MS} ms each way (select 1 round trip ${rtt.delayed} ms)`);
  console.table(delayed);
  const out = writeResult('sql-handoff', {
    at: new Date().toISOString(), cellSeconds: CELL_SECONDS, synchronousCommit: SYNC, pool: POOL, warmOps: WARM_OPS,
    netDelayMs: NET_DELAY_MS, roundTripMs: rtt, rounds: ROUNDS, cells, allCells, summary, delayed,
  });
  console.log(`written ${path.relative(process.cwd(), out)}`);
  await admin.end();
}

main().catch(async (e) => {
  console.error(e);
  await admin.end({ timeout: 1 });
  process.exit(1);
});
