// `npm run bench`: every benchmark, one after another (they share two cores, so never at once),
// against one PostgreSQL started here (or DATABASE_URL). Each prints ratios against baselines
// measured in the same run and writes bench/results/<name>.json; this script exits non-zero when
// a benchmark does (the normaliser's gate against its committed baseline, for one).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { benchDatabase } from './env.ts';

const here = path.dirname(new URL(import.meta.url).pathname);
const tsx = path.join(here, '..', 'node_modules', '.bin', 'tsx');
const only = process.argv.slice(2);

const db = await benchDatabase('stagegate_bench');
let failed = 0;
try {
  const runs: { name: string; args: string[] }[] = [
    { name: 'normalizer', args: ['bench/normalizer.ts'] },
    { name: 'sql-handoff', args: ['bench/sql-handoff.ts', process.env.BENCH_CELL_SECONDS ?? '3'] },
    { name: 'orchestrator', args: ['bench/orchestrator.ts'] },
    { name: 'load', args: ['bench/load.ts'] },
    // The contention proof is a test; run here it also records its latencies (contention.json).
    { name: 'contention', args: [path.join(here, '..', 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'tests/e2e/contention.test.ts'] },
    // History at scale (#18): builds up to a million handoffs of history (several minutes).
    { name: 'history', args: ['bench/history.ts'] },
    // Last: turns bench/results/*.json into REPORT.md.
    { name: 'report', args: ['bench/report.ts'] },
  ];
  for (const run of runs.filter((r) => only.length === 0 || only.includes(r.name))) {
    console.log(`\n=== ${run.name} ===`);
    const result = spawnSync(tsx, run.args, {
      cwd: path.join(here, '..'),
      stdio: 'inherit',
      // The contention test starts its own server through the test harness: no DATABASE_URL for it.
      env: run.name === 'contention'
        ? { ...process.env, STAGEGATE_BENCH_RECORD: '1' }
        : { ...process.env, DATABASE_URL: db.url },
    });
    if (result.status !== 0) {
      failed++;
      console.error(`${run.name} failed (exit ${result.status})`);
    }
  }
} finally {
  await db.stop();
}
process.exit(failed === 0 ? 0 : 1);
