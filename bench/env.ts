// What every benchmark needs: a PostgreSQL (DATABASE_URL, or an embedded one started here) with
// the migrations applied to a database of the benchmark's own.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bootstrap, createDatabase, dropDatabase, migrate, waitForDatabase, withDatabase } from '../stack/db.ts';
import { freePort } from '../stack/ports.ts';
import { startEmbeddedPostgres } from '../stack/postgres.ts';

export interface BenchDatabase { url: string; adminUrl: string; stop: () => Promise<void> }

export async function benchDatabase(name: string): Promise<BenchDatabase> {
  let adminUrl = process.env.DATABASE_URL;
  let stopServer: (() => Promise<void>) | undefined;
  let dataDir: string | undefined;
  if (!adminUrl) {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stagegate-bench-'));
    fs.chmodSync(dataDir, 0o755);
    // Durable (fsync on): commit cost is part of what the benchmarks compare.
    const pg = await startEmbeddedPostgres({ dataDir, port: await freePort(), durable: true });
    adminUrl = pg.url();
    stopServer = pg.stop;
  }
  await waitForDatabase(adminUrl);
  await bootstrap(adminUrl);
  await dropDatabase(adminUrl, name);
  await createDatabase(adminUrl, name);
  const url = withDatabase(adminUrl, name);
  await bootstrap(url);
  await migrate(url);
  const admin = adminUrl;
  return {
    url,
    adminUrl: admin,
    stop: async () => {
      await dropDatabase(admin, name).catch(() => {});
      await stopServer?.();
      if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
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
