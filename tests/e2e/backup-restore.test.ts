// scripts/backup-restore-smoke.ts against a database with real handoffs: run as the operator runs
// it (a process, exit code, JSON report), then with a broken audit chain it must fail.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compare, snapshot, type Snapshot } from '../../scripts/backup-restore-smoke.ts';
import { projectRoot } from '../../stack/db.ts';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { seedDirective } from '../helpers/fixtures.ts';

const run = promisify(execFile);
let db: FreshDatabase;

const gate = (score: number) => [{ code: 'STORIES_DONE', passed: score >= 85, score, maxScore: 100, issues: [], warnings: [] }];
async function handoff(sd: string, type: string, rid: string, score = 100) {
  const [r] = await db.sql`select public.fn_execute_handoff(${sd}, ${type}, 'backup', ${rid}, ${db.sql.json(gate(score))}) as r`;
  return r!.r;
}

async function smoke(args: string[] = []): Promise<{ code: number; report: Record<string, unknown>; stderr: string }> {
  try {
    const { stdout, stderr } = await run(path.join(projectRoot, 'node_modules/.bin/tsx'), ['scripts/backup-restore-smoke.ts', ...args],
      { cwd: projectRoot, env: { ...process.env, DATABASE_URL: db.url }, timeout: 120000 });
    return { code: 0, report: JSON.parse(stdout), stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, report: e.stdout ? JSON.parse(e.stdout) : {}, stderr: e.stderr };
  }
}

beforeAll(async () => {
  db = await freshDatabase();
  // A little of everything: a directive walked through all four handoffs, one rejected, one
  // abandoned by the sweep, threshold changes (identity column), breakers, requests, idempotency.
  await seedDirective(db.sql, { id: 'SD-BK-1', phase: 'LEAD', storyStatus: 'done' });
  await seedDirective(db.sql, { id: 'SD-BK-2', phase: 'EXEC' });
  await seedDirective(db.sql, { id: 'SD-BK-3', phase: 'EXEC' });
  for (const [i, type] of ['LEAD-TO-PLAN', 'PLAN-TO-EXEC', 'EXEC-TO-PLAN', 'PLAN-TO-LEAD'].entries()) {
    expect((await handoff('SD-BK-1', type, `bk-1-${i}`)).verdict).toBe('accepted');
  }
  expect((await handoff('SD-BK-2', 'EXEC-TO-PLAN', 'bk-2', 40)).verdict).toBe('rejected');
  await db.sql`select public.fn_begin_handoff('SD-BK-3', 'EXEC-TO-PLAN', 'backup', 'bk-3')`;
  await db.sql`update public.handoff_attempts set started_at = now() - interval '1 hour' where request_id = 'bk-3'`;
  await db.sql`select public.fn_sweep_stuck_attempts()`;
  await db.sql`update public.threshold_profiles set gate_threshold = 86 where sd_type = 'feature'`;
  await db.sql`insert into public.handoff_requests (sd_id, handoff_type, session_id) values ('SD-BK-2', 'EXEC-TO-PLAN', 's')`;
  await db.sql`select public.fn_idempotency_begin('handoff:test', 'k1', ${'b'.repeat(64)})`;
  await db.sql`select public.fn_run_sweeps()`;
});
afterAll(async () => { await db?.drop(); });

describe('scripts/backup-restore-smoke.ts', () => {
  it('dumps, restores into a fresh database and finds the same system', async () => {
    const { code, report, stderr } = await smoke();
    expect(stderr).toMatch(/backup: engine (copy|pg_dump)/);
    expect(code).toBe(0);
    expect(report).toMatchObject({ ok: true, problems: [], completed_audits: 4, kept: false, schema_same: true });
    expect(report.phases).toEqual(['COMPLETED', 'EXEC']);
    expect(report.tables as number).toBeGreaterThanOrEqual(20);
    expect(report.rows as number).toBeGreaterThan(50);
    // the restored database was dropped again
    const left = await db.sql`select datname from pg_database where datname = ${report.restored_into as string}`;
    expect(left).toEqual([]);
  });

  it('exits 1 when the source schema drifted from the migrations (the copy engine rebuilds it from them)', async () => {
    await db.sql`create function public.hand_made_drift() returns int language sql as 'select 1'`;
    try {
      const { code, report } = await smoke(['--engine', 'copy']);
      expect(code).toBe(1);
      expect(report.schema_same).toBe(false);
      expect((report.problems as string[]).join('\n')).toMatch(/schema of the restored copy differs[\s\S]*hand_made_drift/);
    } finally {
      await db.sql`drop function public.hand_made_drift()`;
    }
  });

  it('exits 1 and names the break when the audit chain is broken', async () => {
    const [audit] = await db.sql`select id from public.sd_transition_audit where request_id = 'bk-1-2'`;
    await db.sql`update public.sd_transition_audit set pre_state = pre_state || '{"transition_version": 7}' where id = ${audit!.id}`;
    const { code, report } = await smoke();
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    expect((report.problems as string[]).join('\n')).toMatch(new RegExp(`audit chain broken in the source: SD-BK-1 audit ${audit!.id}`));
    await db.sql`update public.sd_transition_audit set pre_state = pre_state || '{"transition_version": 2}' where id = ${audit!.id}`;
    expect((await snapshot(db.sql)).chainBreaks).toEqual([]);
  });

  it('compare() reports missing tables, row counts, content and phases', () => {
    const base: Snapshot = { tables: { a: { rows: 1, md5: 'x' }, b: { rows: 2, md5: 'y' }, c: { rows: 0, md5: null } }, phases: ['EXEC'], completedAudits: 0, chainBreaks: [], invariants: null };
    const other: Snapshot = { tables: { a: { rows: 2, md5: 'x' }, b: { rows: 2, md5: 'z' } }, phases: ['LEAD'], completedAudits: 0, chainBreaks: [], invariants: [] };
    expect(compare(base, base)).toEqual([]);
    expect(compare(base, other)).toEqual([
      'table a: 1 rows in the source, 2 restored',
      'table b: same 2 rows, different content',
      'table c exists only in the source',
      'distinct phases differ: EXEC vs LEAD',
    ]);
  });
});
