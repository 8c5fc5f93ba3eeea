import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { begin, gate, record, refusal, seedSd } from './_handoff-fixtures.ts';

// The seed-named entry points complete the attempt begun (and gated) under a request id.
describe('fn_atomic_*_transition', () => {
  let db: FreshDatabase;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });

  it('walks an SD through the whole workflow, with NOTIFY on each transition', async () => {
    const { sql } = db;
    const sd = await seedSd(sql, { id: 'SD-WALK-001', sdType: 'bugfix', stories: [{ key: 'US-1' }, { key: 'US-2' }] });
    const notes: string[] = [];
    const listener = await sql.listen('stagegate_transition', (p) => notes.push(p));
    const steps: [string, string, string, string][] = [
      ['LEAD-TO-PLAN', 'fn_atomic_lead_to_plan_transition', 'SD_DEFINED', 'PLAN'],
      ['PLAN-TO-EXEC', 'fn_atomic_plan_to_exec_transition', 'PRD_COMPLETE', 'EXEC'],
      ['EXEC-TO-PLAN', 'fn_atomic_exec_to_plan_transition', 'STORIES_DONE', 'EXEC_COMPLETE'],
      ['PLAN-TO-LEAD', 'fn_atomic_plan_to_lead_transition', 'STORIES_VALIDATED', 'COMPLETED'],
    ];
    for (const [type, fn, gateCode, to] of steps) {
      if (type === 'EXEC-TO-PLAN') await sql`update user_stories set status = 'done' where sd_id = 'SD-WALK-001'`;
      const a = await begin(sql, sd.uuid, type, `req-walk-${type}`);
      for (const g of a.gates) await record(sql, a.attempt_id, g.code, gate(g.code));
      expect(a.gates.map((g: { code: string }) => g.code)).toContain(gateCode);
      const [row] = await sql.unsafe(`select ${fn}($1, $2, $3, $4) as r`, ['SD-WALK-001', type === 'LEAD-TO-PLAN' ? null : sd.prdId, 'sess-A', `req-walk-${type}`]);
      expect(row!.r).toMatchObject({ verdict: 'accepted', handoff_type: type, to_phase: to });
    }
    const [state] = await sql`select s.current_phase, s.status, s.transition_version, p.status as prd, array_agg(distinct u.status) as stories
      from strategic_directives_v2 s join product_requirements_v2 p on p.sd_id = s.id join user_stories u on u.sd_id = s.id group by 1, 2, 3, 4`;
    expect(state).toEqual({ current_phase: 'COMPLETED', status: 'completed', transition_version: 4, prd: 'completed', stories: ['completed'] });
    // the notifications wait in the outbox until the relay sweep sends them, in order
    await new Promise((r) => setTimeout(r, 100));
    expect(notes).toEqual([]);
    await sql`select public.fn_run_sweep('transition_notifications')`;
    await new Promise((r) => setTimeout(r, 100));
    await listener.unlisten();
    expect(notes.map((n) => JSON.parse(n).to_phase)).toEqual(['PLAN', 'EXEC', 'EXEC_COMPLETE', 'COMPLETED']);
    const audits = await sql`select transition_type, status from sd_transition_audit where sd_id = 'SD-WALK-001' order by completed_at`;
    expect(audits.map((a) => `${a.transition_type}:${a.status}`)).toEqual(steps.map(([t]) => `${t}:completed`));
  });

  it('checks the request id belongs to this handoff type, SD, session and PRD', async () => {
    const { sql } = db;
    await seedSd(sql, { id: 'SD-WALK-002', phase: 'EXEC' });
    await begin(sql, 'SD-WALK-002', 'EXEC-TO-PLAN', 'req-walk-2');
    const call = (fn: string, sdId: string, prd: string | null, session: string, req: string) =>
      sql.unsafe(`select ${fn}($1, $2, $3, $4)`, [sdId, prd, session, req]);
    expect(await refusal(call('fn_atomic_exec_to_plan_transition', 'SD-WALK-002', null, 'sess-A', 'nope'))).toMatchObject({ state: 'SG009' });
    expect(await refusal(call('fn_atomic_plan_to_lead_transition', 'SD-WALK-002', null, 'sess-A', 'req-walk-2'))).toMatchObject({ code: 'INVALID_INPUT' });
    expect(await refusal(call('fn_atomic_exec_to_plan_transition', 'SD-WALK-001', null, 'sess-A', 'req-walk-2'))).toMatchObject({ code: 'INVALID_INPUT' });
    expect(await refusal(call('fn_atomic_exec_to_plan_transition', 'SD-WALK-002', null, 'sess-B', 'req-walk-2'))).toMatchObject({ code: 'INVALID_INPUT' });
    expect(await refusal(call('fn_atomic_exec_to_plan_transition', 'SD-WALK-002', 'PRD-OTHER', 'sess-A', 'req-walk-2'))).toMatchObject({ code: 'INVALID_INPUT' });
    const [ok] = await call('fn_atomic_exec_to_plan_transition', 'SD-WALK-002', 'PRD-SD-WALK-002', 'sess-A', 'req-walk-2');
    // STORIES_DONE was never recorded under this request id: the missing required gate is named
    expect(ok!.fn_atomic_exec_to_plan_transition).toMatchObject({ verdict: 'rejected', failed_gate: 'STORIES_DONE' });
  });
});
