// `DATABASE_URL=… npm start` against an existing, self-hosted PostgreSQL with pg_cron installed
// (issue 12): Debian's PostgreSQL 15 and postgresql-15-cron (pg_cron 1.4.2), started here on a free
// loopback port in a temporary folder, first without pg_cron in shared_preload_libraries (the
// migrations used to fail: unrecognized configuration parameter "cron.database_name"), then with it
// (they used to fail: invalid schedule: 30 seconds). Both times the stack must start, run the sweeps
// with its own scheduler, and say so in `health`. The packages come from
// scripts/install-postgres-cron.sh (run by .ci/run); without them this file skips, saying so.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { HealthResponseSchema } from '../../shared/openapi.ts';
import { projectRoot } from '../../stack/db.ts';
import { freePort } from '../../stack/ports.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../stack/postgres.ts';

const binDir = '/usr/lib/postgresql/15/bin';
const installed = fs.existsSync(path.join(binDir, 'postgres')) && fs.existsSync('/usr/lib/postgresql/15/lib/pg_cron.so');
if (!installed) {
  console.warn('[existing-postgres] SKIPPED: Debian postgresql-15 and postgresql-15-cron are not installed (bash scripts/install-postgres-cron.sh --install)');
}

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => { for (const c of cleanup.reverse()) await c(); });

async function debianPostgres(settings: string[]): Promise<EmbeddedPostgres> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stagegate-debian-pg-'));
  fs.chmodSync(dataDir, 0o755);
  const pg = await startEmbeddedPostgres({ dataDir, port: await freePort(), durable: false, binDir, settings });
  cleanup.push(async () => { await pg.stop(); fs.rmSync(dataDir, { recursive: true, force: true }); });
  return pg;
}

/** `npm start` with DATABASE_URL: serves, answers health, stops on SIGTERM. Returns health's body and the output. */
async function startAgainst(databaseUrl: string): Promise<{ health: z.infer<typeof HealthResponseSchema>; out: string }> {
  const apiPort = await freePort();
  const env = { ...process.env, DATABASE_URL: databaseUrl, STAGEGATE_API_PORT: String(apiPort), STAGEGATE_CONSOLE_PORT: String(await freePort()), STAGEGATE_DEMO: 'off' };
  const child = spawn(process.execPath, ['--import', 'tsx', 'stack/cli.ts'], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  let served = false;
  try {
    const deadline = Date.now() + 120000;
    while (!/Serving\.|STACK_START_FAILED/.test(out) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    if (!out.includes('Serving.')) throw new Error(`npm start did not serve:\n${out}`);
    served = true;
    const key = /service_role key: (\S+)/.exec(out)![1]!;
    const response = await fetch(`http://127.0.0.1:${apiPort}/functions/v1/health`, { headers: { authorization: `Bearer ${key}` } });
    expect(response.status).toBe(200);
    return { health: HealthResponseSchema.parse(await response.json()), out };
  } finally {
    child.kill('SIGTERM');
    const code = await exited;
    if (served) expect(code).toBe(0);
  }
}

async function sweepsRan(url: string): Promise<string[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ name: string }[]>`select name from public.sweep_schedule where enabled and last_run_at is not null order by name`;
    return rows.map((r) => r.name);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

describe.skipIf(!installed)("an existing PostgreSQL 15 with Debian's pg_cron", () => {
  it('pg_cron installed but not preloaded: migrations pass, the stack schedules the sweeps, health says why', async () => {
    const pg = await debianPostgres([]);
    const { health, out } = await startAgainst(pg.url());
    expect(health.status).toBe('ok');
    expect(health.sweeps).toMatchObject({
      scheduler: 'stack', pg_cron_jobs: 0, reason: 'pg_cron is installed but not in shared_preload_libraries',
      pg_cron: { installed: false, available: true, preloaded: false, usable: false },
    });
    expect(out).toMatch(/"msg":"scheduler started","runner":"stack","pg_cron":"pg_cron is installed but not in shared_preload_libraries"/);
    // The scheduler ran every sweep once at start.
    expect(await sweepsRan(pg.url())).toEqual(['approval_events', 'approval_expiry', 'approval_webhooks', 'breakers', 'expired_claims', 'handoff_responses', 'idempotency', 'metric_days', 'partitions', 'retention', 'stuck_attempts', 'transition_notifications']);
  }, 180000);

  it('pg_cron 1.4 preloaded: the extension is created, no job is scheduled (it cannot do seconds), the stack runs the sweeps', async () => {
    const pg = await debianPostgres(['shared_preload_libraries=pg_cron', 'cron.database_name=postgres']);
    const { health } = await startAgainst(pg.url());
    expect(health.status).toBe('ok');
    expect(health.sweeps).toMatchObject({
      scheduler: 'stack', pg_cron_jobs: 0,
      pg_cron: { installed: true, preloaded: true, usable: false },
    });
    expect(health.sweeps?.pg_cron.version).toMatch(/^1\.4/);
    expect(health.sweeps?.reason).toMatch(/^pg_cron 1\.4\S* is older than 1\.5 and cannot schedule in seconds$/);
    const sql = postgres(pg.url(), { max: 1, onnotice: () => {} });
    try {
      expect(await sql`select jobname from cron.job where jobname like 'stagegate\\_%'`).toEqual([]);
      // Why the version matters: this pg_cron refuses the sweeps' second schedules outright,
      // and fn_schedule_sweeps leaves nothing half-scheduled.
      await expect(sql`select public.fn_pg_cron_schedule_jobs()`).rejects.toThrow(/invalid schedule: (1|10|30) seconds/);
      const [again] = await sql`select public.fn_schedule_sweeps() as r`;
      expect(again!.r).toMatchObject({ pg_cron: false, scheduler: 'stack', jobs: {} });
      expect(await sql`select jobname from cron.job where jobname like 'stagegate\\_%'`).toEqual([]);
    } finally {
      await sql.end({ timeout: 1 });
    }
    expect((await sweepsRan(pg.url())).length).toBe(12);
  }, 180000);
});
