import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { execute, gate, seedSd } from './_handoff-fixtures.ts';

// Every seeded SD type, exactly at its threshold (passes) and 0.1 under (blocks).
const PROFILES: [string, number][] = [
  ['security', 90], ['feature', 85], ['infrastructure', 80], ['bugfix', 75],
  ['documentation', 60], ['orchestrator', 70], ['default', 85], ['docs', 60], ['process', 60],
];

describe('SD-type threshold and validation mode', () => {
  let db: FreshDatabase;
  let n = 0;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });

  async function runAt(sdType: string, score: number) {
    const id = `SD-THR-${++n}`;
    await seedSd(db.sql, { id, sdType, phase: 'EXEC', stories: [{ key: 'US-1', status: 'done' }] });
    return execute(db.sql, id, 'EXEC-TO-PLAN', `req-thr-${n}`, [gate('STORIES_DONE', score, { passed: true })]);
  }

  it('seeds the plan\'s numbers', async () => {
    const rows = await db.sql<{ sd_type: string; t: number }[]>`select sd_type, gate_threshold::float8 as t from threshold_profiles`;
    expect(Object.fromEntries(rows.map((r) => [r.sd_type, r.t]))).toMatchObject(Object.fromEntries(PROFILES));
  });

  for (const [sdType, threshold] of PROFILES) {
    it(`${sdType}: ${threshold} passes, ${threshold - 0.1} blocks`, async () => {
      const at = await runAt(sdType, threshold);
      expect(at).toMatchObject({ verdict: 'accepted', score: threshold, threshold, failed_gate: null });
      const under = Math.round((threshold - 0.1) * 10) / 10;
      const below = await runAt(sdType, under);
      expect(below).toMatchObject({ verdict: 'rejected', score: under, failed_gate: 'SD_TYPE_THRESHOLD', to_phase: 'EXEC' });
      expect(below.issues).toContain(`SD type '${sdType}' requires ${threshold}% gate score, got ${under}%`);
      const [audit] = await db.sql`select status, failed_gate from sd_transition_audit where attempt_id = ${below.attempt_id}`;
      expect(audit).toEqual({ status: 'rejected', failed_gate: 'SD_TYPE_THRESHOLD' });
    });
  }

  it('weights gates and leaves skipped ones out of the score', async () => {
    const { sql } = db;
    await sql`insert into leo_sub_agents (code, kind, target, weight, required, handoff_types) values
      ('HEAVY', 'builtin', 'heavy', 3, false, '{EXEC-TO-PLAN}'), ('SKIPPY', 'builtin', 'skippy', 5, false, '{EXEC-TO-PLAN}')`;
    try {
      await seedSd(sql, { id: 'SD-THR-W', sdType: 'security', phase: 'EXEC', stories: [{ key: 'US-1', status: 'done' }] });
      const r = await execute(sql, 'SD-THR-W', 'EXEC-TO-PLAN', 'req-w', [
        gate('STORIES_DONE', 60, { passed: true }), gate('HEAVY', 100), gate('SKIPPY', 0, { skipped: true }),
      ]);
      // (1*60 + 3*100) / 4 = 90; SKIPPY (weight 5, score 0) would have dragged it to 40
      expect(r).toMatchObject({ verdict: 'accepted', score: 90 });
    } finally {
      await sql`delete from leo_sub_agents where code in ('HEAVY', 'SKIPPY')`;
    }
  });

  it('WARN passes below threshold and records would_reject; OFF skips the check but a failed required gate still blocks', async () => {
    const { sql } = db;
    await sql`insert into validation_modes (scope, mode) values ('security', 'WARN')`;
    const warned = await runAt('security', 89.9);
    expect(warned).toMatchObject({ verdict: 'accepted', would_reject: true, validation_mode: 'WARN', failed_gate: null });
    expect(warned.warnings[0]).toContain("SD type 'security' requires 90% gate score, got 89.9%");
    const [audit] = await sql`select status, would_reject, validation_mode from sd_transition_audit where attempt_id = ${warned.attempt_id}`;
    expect(audit).toEqual({ status: 'completed', would_reject: true, validation_mode: 'WARN' });

    await sql`update validation_modes set mode = 'OFF' where scope = '*'`;
    const off = await runAt('feature', 10);
    expect(off).toMatchObject({ verdict: 'accepted', validation_mode: 'OFF', would_reject: false });
    const id = `SD-THR-${++n}`;
    await seedSd(sql, { id, phase: 'EXEC', stories: [{ key: 'US-1', status: 'done' }] });
    const failed = await execute(sql, id, 'EXEC-TO-PLAN', 'req-off-fail', [gate('STORIES_DONE', 0)]);
    expect(failed).toMatchObject({ verdict: 'rejected', failed_gate: 'STORIES_DONE', validation_mode: 'OFF' });
    await sql`update validation_modes set mode = 'ENFORCE' where scope = '*'`;
    await sql`delete from validation_modes where scope = 'security'`;
  });

  it('audits every threshold change: who, when, old, new', async () => {
    const { sql } = db;
    await sql`update threshold_profiles set gate_threshold = 92 where sd_type = 'security'`;
    const [row] = await sql`select operation, changed_by, old_row->>'gate_threshold' as old, new_row->>'gate_threshold' as new, changed_at is not null as stamped
      from threshold_profile_audit where sd_type = 'security' order by id desc limit 1`;
    expect(row).toEqual({ operation: 'UPDATE', changed_by: 'postgres', old: '90.00', new: '92.00', stamped: true });
    const r = await runAt('security', 91);
    expect(r).toMatchObject({ verdict: 'rejected', threshold: 92 });
  });
});
