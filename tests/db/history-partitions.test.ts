// deno-lint-ignore-file no-explicit-any -- JSON answers from SQL are inspected loosely here
// Issue #18: the audit trail is partitioned by month. Partitions exist ahead of time (the sweep),
// an insert at a month boundary lands in the right one, a row of a month without a partition
// lands in the default one and moves when its month is created, and a detached month can be
// archived and re-attached, the seed runbook's queries seeing it again, the metrics following.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { execute, gate, seedSd } from './_handoff-fixtures.ts';

let db: FreshDatabase;

async function expectSnapshotEqualsRecount(): Promise<any> {
  const [row] = await db.sql<{ fast: any; slow: any }[]>`select public.fn_metrics_snapshot() as fast, public.fn_metrics_recount() as slow`;
  const strip = ({ generated_at: _g, oldest_in_progress_s: _o, oldest_notification_pending_s: _n, ...rest }: any) => rest;
  expect(strip(row!.fast)).toEqual(strip(row!.slow));
  return row!.fast;
}

const partitionOf = async (table: string, where: string) => {
  const rows = await db.sql.unsafe(`select tableoid::regclass::text as p from public.${table} where ${where}`);
  return rows.map((r) => r.p);
};

beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db.drop(); });

describe('monthly partitions of the audit trail', () => {
  it('the sweep creates this month and the next three ahead, and is scheduled', async () => {
    const [r] = await db.sql`select public.fn_run_sweep('partitions') as r`;
    expect(r!.r).toMatchObject({ ok: true });
    const parts = await db.sql`
      select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'public.sd_transition_audit'::regclass order by 1`;
    const names = parts.map((p) => p.relname);
    const now = new Date();
    for (let k = 0; k <= 3; k++) {
      const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + k, 1));
      const name = `sd_transition_audit_y${d.getUTCFullYear()}m${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
      expect(names).toContain(name);
    }
    expect(names).toContain('sd_transition_audit_default');
    // a second run creates nothing
    const [again] = await db.sql`select public.fn_sweep_partitions() as r`;
    expect(again!.r).toEqual({ created: [] });
    // partitions are closed to the API roles like their parents
    const [rls] = await db.sql`select relrowsecurity from pg_class where relname = ${names[0]!}`;
    expect(rls!.relrowsecurity).toBe(true);
  });

  it('inserts on either side of a month boundary land in their months', async () => {
    const { sql } = db;
    await sql`select public.fn_ensure_history_partitions('2026-01-01', '2026-02-01')`;
    await sql.unsafe(`insert into public.sd_transition_audit (sd_id, transition_type, status, created_at) values
      ('SD-EDGE', 'EXEC-TO-PLAN', 'completed', '2026-01-31 23:59:59.999999+00'),
      ('SD-EDGE', 'EXEC-TO-PLAN', 'completed', '2026-02-01 00:00:00+00')`);
    expect(await partitionOf('sd_transition_audit', `sd_id = 'SD-EDGE' order by created_at`))
      .toEqual(['sd_transition_audit_y2026m01', 'sd_transition_audit_y2026m02']);
  });

  it('a row of a month without a partition lands in the default one and moves when the month is created', async () => {
    const { sql } = db;
    await sql.unsafe(`insert into public.sd_phase_handoffs (attempt_id, sd_id, sd_uuid, handoff_type, from_phase, to_phase, status, execution_time_ms, created_at)
      values (gen_random_uuid(), 'SD-STRAY', gen_random_uuid(), 'LEAD-TO-PLAN', 'LEAD', 'PLAN', 'accepted', 120, '2025-06-15 12:00+00')`);
    expect(await partitionOf('sd_phase_handoffs', `sd_id = 'SD-STRAY'`)).toEqual(['sd_phase_handoffs_default']);
    const [r] = await sql`select public.fn_ensure_history_partitions('2025-06-01', '2025-06-30') as r`;
    expect(r!.r.created).toContainEqual({ partition: 'sd_phase_handoffs_y2025m06', moved_from_default: 1 });
    expect(await partitionOf('sd_phase_handoffs', `sd_id = 'SD-STRAY'`)).toEqual(['sd_phase_handoffs_y2025m06']);
    await expectSnapshotEqualsRecount();
  });

  it('a month detached for archiving leaves the tables and the metrics; re-attached, the seed runbook queries see it again', async () => {
    const { sql } = db;
    // real handoffs, then moved back into an old month (as if they had run then)
    for (const id of ['SD-ARCH-1', 'SD-ARCH-2']) {
      await seedSd(sql, { id, phase: 'EXEC', stories: [{ key: 'US-1', status: 'done' }] });
      await execute(sql, id, 'EXEC-TO-PLAN', `arch-${id}`, [gate('STORIES_DONE')]);
    }
    await sql`select public.fn_ensure_history_partitions('2025-03-01', '2025-03-31')`;
    await sql.unsafe(`update public.sd_transition_audit set created_at = '2025-03-10 10:00+00' where sd_id like 'SD-ARCH-%'`);
    await sql.unsafe(`update public.sd_phase_handoffs set created_at = '2025-03-10 10:00+00' where sd_id like 'SD-ARCH-%'`);
    expect(await partitionOf('sd_transition_audit', `sd_id = 'SD-ARCH-1'`)).toEqual(['sd_transition_audit_y2025m03']);
    const seedCount = `SELECT COUNT(*) FROM sd_transition_audit WHERE status = 'completed'`;
    const [before] = await sql.unsafe(seedCount);
    const s0 = await expectSnapshotEqualsRecount();

    const [d] = await sql`select public.fn_detach_history_month('2025-03-01') as r`;
    expect(d!.r.detached).toEqual({ sd_transition_audit_y2025m03: 2, sd_phase_handoffs_y2025m03: 2 });
    const [during] = await sql.unsafe(seedCount);
    expect(Number(during!.count)).toBe(Number(before!.count) - 2);
    const s1 = await expectSnapshotEqualsRecount();
    expect(s1.transitions.completed).toBe(s0.transitions.completed - 2);
    // the detached month is a plain table to archive
    expect(await sql`select count(*)::int as n from public.sd_transition_audit_y2025m03`).toEqual([{ n: 2 }]);

    const [a] = await sql`select public.fn_attach_history_month('2025-03-01') as r`;
    expect(a!.r.attached).toEqual({ sd_transition_audit_y2025m03: 2, sd_phase_handoffs_y2025m03: 2 });
    expect(await sql.unsafe(seedCount)).toEqual([before]);
    expect((await sql.unsafe(`SELECT sd_id, transition_type, status, created_at FROM sd_transition_audit ORDER BY created_at DESC LIMIT 10`))
      .map((r) => r.sd_id)).toEqual(expect.arrayContaining(['SD-ARCH-1', 'SD-ARCH-2']));
    const s2 = await expectSnapshotEqualsRecount();
    expect(s2.transitions).toEqual(s0.transitions);
    expect(await sql`select * from public.fn_check_invariants(null) where subject like 'SD-ARCH-%'`).toEqual([]);
  });

  it('refuses to detach the current month or one that is not attached', async () => {
    const err1 = await db.sql`select public.fn_detach_history_month(current_date)`.catch((e) => e);
    expect(err1.code).toBe('SG001');
    const err2 = await db.sql`select public.fn_detach_history_month('2019-01-01')`.catch((e) => e);
    expect(err2.message).toMatch(/not an attached partition/);
  });
});
