// Normalise stored phase, stage and handoff-type values in batches, through
// public.fn_backfill_stage_batch (one transaction per batch, checkpoint included). Safe to kill
// and run again: it resumes after the last committed batch of the same --run.
//
//   node_modules/.bin/tsx scripts/backfill-stages.ts [--db-url URL] [--run ID] [--batch N]
//        [--targets strategic_directives_v2,sd_phase_handoffs,leo_sub_agents] [--max-batches K]
//
// The database URL defaults to DATABASE_URL, then SUPABASE_DB_URL. Values no normaliser
// understands are left alone, printed, and kept in public.stage_backfill_log (outcome 'unknown').
import postgres from 'postgres';
import { pathToFileURL } from 'node:url';

export const BACKFILL_TARGETS = ['strategic_directives_v2', 'sd_phase_handoffs', 'leo_sub_agents'] as const;
export type BackfillTarget = (typeof BACKFILL_TARGETS)[number];
const MAX_UNKNOWN_LINES = 10;

export interface BatchResult {
  run_id: string;
  target: BackfillTarget;
  done: boolean;
  scanned: number;
  updated: number;
  unknown: Array<{ key: string; column: string; old: string | null }>;
  last_key: string | null;
  batches: number;
  totals: { scanned: number; updated: number; unknown: number };
}

export interface BackfillOptions {
  runId?: string;
  batchSize?: number;
  targets?: readonly BackfillTarget[];
  /** Stop after this many batches in this invocation (across targets): a controlled "kill". */
  maxBatches?: number;
  log?: (line: string) => void;
}

export interface BackfillSummary {
  complete: boolean;
  batches: number;
  results: Record<string, BatchResult['totals'] & { done: boolean }>;
}

export async function runBackfill(sql: postgres.Sql, options: BackfillOptions = {}): Promise<BackfillSummary> {
  const runId = options.runId ?? 'default';
  const batchSize = options.batchSize ?? 500;
  const log = options.log ?? ((line: string) => console.log(line));
  let batches = 0;
  const results: BackfillSummary['results'] = {};
  for (const target of options.targets ?? BACKFILL_TARGETS) {
    for (;;) {
      if (options.maxBatches !== undefined && batches >= options.maxBatches) {
        log(`[backfill] stopping after ${batches} batches (--max-batches); run again to resume`);
        return { complete: false, batches, results };
      }
      const [row] = await sql<{ r: BatchResult }[]>`
        select public.fn_backfill_stage_batch(${target}, ${batchSize}, ${runId}) as r`;
      const r = row!.r;
      results[target] = { ...r.totals, done: r.done };
      if (r.scanned > 0) {
        batches++;
        log(
          `[backfill] ${target} batch ${r.batches}: scanned ${r.scanned}, updated ${r.updated}, unknown ${r.unknown.length}` +
            ` (total scanned ${r.totals.scanned}, updated ${r.totals.updated}, unknown ${r.totals.unknown}; last key ${r.last_key})`,
        );
        for (const u of r.unknown.slice(0, MAX_UNKNOWN_LINES)) {
          log(`[backfill]   left alone: ${target} ${u.key} ${u.column} = ${JSON.stringify(u.old)}`);
        }
        if (r.unknown.length > MAX_UNKNOWN_LINES) {
          log(`[backfill]   ... and ${r.unknown.length - MAX_UNKNOWN_LINES} more (all in public.stage_backfill_log, outcome 'unknown')`);
        }
      }
      if (r.done) {
        log(`[backfill] ${target} done: ${r.totals.scanned} rows scanned, ${r.totals.updated} values normalised, ${r.totals.unknown} unknown`);
        break;
      }
    }
  }
  return { complete: true, batches, results };
}

function parseArgs(argv: string[]): BackfillOptions & { dbUrl?: string } {
  const out: BackfillOptions & { dbUrl?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    const need = () => {
      if (value === undefined) throw new Error(`${flag} needs a value`);
      i++;
      return value;
    };
    const positive = (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got ${v}`);
      return n;
    };
    if (flag === '--db-url') out.dbUrl = need();
    else if (flag === '--run') out.runId = need();
    else if (flag === '--batch') out.batchSize = positive(need());
    else if (flag === '--max-batches') out.maxBatches = positive(need());
    else if (flag === '--targets') {
      const targets = need().split(',');
      const bad = targets.filter((t) => !(BACKFILL_TARGETS as readonly string[]).includes(t));
      if (bad.length > 0) throw new Error(`unknown target(s) ${bad.join(', ')}; expected ${BACKFILL_TARGETS.join(', ')}`);
      out.targets = targets as BackfillTarget[];
    } else throw new Error(`unknown argument ${flag}`);
  }
  return out;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const url = args.dbUrl ?? process.env.DATABASE_URL ?? process.env.SUPABASE_DB_URL;
  if (!url) throw new Error('no database: pass --db-url or set DATABASE_URL / SUPABASE_DB_URL');
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const t0 = performance.now();
    const summary = await runBackfill(sql, args);
    console.log(`[backfill] ${summary.complete ? 'complete' : 'paused'} after ${summary.batches} batches in ${Math.round(performance.now() - t0)} ms`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(`[backfill] failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
