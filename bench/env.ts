// What every benchmark needs: a PostgreSQL (DATABASE_URL, or an embedded one started here) with
// the migrations applied to a database of the benchmark's own.
import fs from 'node:fs';
import path from 'node:path';
import { dropDatabase, migratedDatabase } from '../stack/db.ts';
import { scratchPostgres } from '../stack/postgres.ts';

/**
 * Hosted Supabase's memory limit for an edge function worker (MB). The local functions server
 * serves every function (and the gateway) in one Deno process, so its RSS is an upper bound for
 * one hosted worker's; bench/report.ts compares the measured RSS with this cap.
 */
export const HOSTED_MEMORY_CAP_MB = 150;

export interface BenchDatabase { url: string; stop: () => Promise<void> }

export async function benchDatabase(name: string): Promise<BenchDatabase> {
  // Durable (fsync on): commit cost is part of what the benchmarks compare.
  const server = await scratchPostgres({ prefix: 'stagegate-bench-', durable: true });
  const url = await migratedDatabase(server.adminUrl, name);
  return {
    url,
    stop: async () => {
      await dropDatabase(server.adminUrl, name).catch(() => {});
      await server.stop();
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

export function writeResult(name: string, result: unknown): string {
  const dir = path.join(path.dirname(new URL(import.meta.url).pathname), 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}
