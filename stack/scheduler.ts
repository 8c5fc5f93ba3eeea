// The local stand-in for pg_cron: runs every enabled sweep in public.sweep_schedule at its
// interval through public.fn_run_sweep (the same call the hosted cron jobs make), so the intervals
// live in one table and the sweeps in SQL. A failed run is logged and the next one still happens;
// nothing here may take the stack down.
import postgres from 'postgres';

export interface SweepLog {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  [field: string]: unknown;
}

export interface SweepRun {
  name: string;
  ok: boolean;
  result: Record<string, unknown> | null;
  error: string | null;
  duration_ms: number;
}

export interface SchedulerOptions {
  dbUrl: string;
  /** Run every sweep once right after start (catching up after downtime). Default true. */
  runOnStart?: boolean;
  log?: (entry: SweepLog) => void;
}

export interface Scheduler {
  /** Who runs the sweeps on their timers: this scheduler ('stack') or pg_cron (then it stands by). */
  runner: 'stack' | 'pg_cron';
  /** The sweeps this scheduler runs on timers (none when pg_cron runs them). */
  sweeps: { name: string; intervalMs: number }[];
  /** Run one sweep now (as its timer would) and return what it did. */
  runNow: (name: string) => Promise<SweepRun>;
  stop: () => Promise<void>;
}

export function jsonLog(entry: SweepLog): void {
  if (entry.level === 'debug') return;
  console.error(JSON.stringify({ ts: new Date().toISOString(), component: 'stagegate-stack', ...entry }));
}

/** True when a sweep's result reports that it changed something (a non-zero count). */
function didSomething(result: Record<string, unknown> | null): boolean {
  return Object.values(result ?? {}).some((v) => typeof v === 'number' && v > 0);
}

export async function startScheduler(opts: SchedulerOptions): Promise<Scheduler> {
  const log = opts.log ?? jsonLog;
  const sql = postgres(opts.dbUrl, { max: 2, onnotice: () => {}, connect_timeout: 5, idle_timeout: 60 });
  // Where pg_cron runs the sweeps (usable, 1.5 or newer, jobs scheduled) we only stand by: runNow
  // still works. Everywhere else (embedded, pg_cron absent, not preloaded, too old) we run them.
  const [who] = await sql<{ s: { scheduler: string; reason: string | null } | null }[]>`
    select case when to_regprocedure('public.fn_sweep_scheduler()') is not null then public.fn_sweep_scheduler() end as s`;
  const byPgCron = who?.s?.scheduler === 'pg_cron';
  const all = await sql<{ name: string; ms: number }[]>`
    select name, (extract(epoch from interval) * 1000)::int as ms from public.sweep_schedule where enabled order by name`;
  const rows = byPgCron ? [] : all;
  const running = new Map<string, Promise<SweepRun>>();
  const timers: NodeJS.Timeout[] = [];
  let stopped = false;

  const runNow = (name: string): Promise<SweepRun> => {
    const inFlight = running.get(name);
    if (inFlight) return inFlight; // a slow sweep is not started twice
    const started = performance.now();
    const run = (async (): Promise<SweepRun> => {
      try {
        const [row] = await sql<{ r: { ok: boolean; result: Record<string, unknown> | null; error: string | null } }[]>`
          select public.fn_run_sweep(${name}) as r`;
        const r = row!.r;
        const out = { name, ok: r.ok, result: r.result, error: r.error, duration_ms: Math.round(performance.now() - started) };
        log({ level: !r.ok ? 'error' : didSomething(r.result) ? 'info' : 'debug', msg: 'sweep', ...out });
        return out;
      } catch (err) {
        const out = { name, ok: false, result: null, error: (err as Error).message, duration_ms: Math.round(performance.now() - started) };
        log({ level: 'error', msg: 'sweep failed', ...out });
        return out;
      } finally {
        running.delete(name);
      }
    })();
    running.set(name, run);
    return run;
  };

  for (const { name, ms } of rows) {
    const timer = setInterval(() => { if (!stopped) void runNow(name); }, ms);
    timer.unref();
    timers.push(timer);
    if (opts.runOnStart ?? true) setTimeout(() => { if (!stopped) void runNow(name); }, 0).unref();
  }
  log({ level: 'info', msg: 'scheduler started', runner: byPgCron ? 'pg_cron' : 'stack', ...(byPgCron ? {} : { pg_cron: who?.s?.reason ?? null }),
    sweeps: all.map((r) => `${r.name} every ${r.ms / 1000} s`) });

  return {
    runner: byPgCron ? 'pg_cron' : 'stack',
    sweeps: rows.map((r) => ({ name: r.name, intervalMs: r.ms })),
    runNow,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const t of timers) clearInterval(t);
      await Promise.allSettled([...running.values()]);
      await sql.end({ timeout: 2 });
    },
  };
}
