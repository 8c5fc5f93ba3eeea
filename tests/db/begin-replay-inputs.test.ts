// A request id replays its answer only while the answer still holds (issue #12, "A fixed directive
// still gets its old rejection"): an accepted handoff always replays; a rejection replays while
// nothing it depended on changed (SD, PRD, stories, gate plan, threshold, mode) and runs anew once
// something did; every replay says why and is counted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { begin, execute, gate, seedSd } from './_handoff-fixtures.ts';

let db: FreshDatabase;
beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db.drop(); });

async function replays(): Promise<Record<string, number>> {
  const rows = await db.sql<{ reason: string; n: number }[]>`
    select reason, count(*)::int as n from public.handoff_request_events where kind = 'replay' group by 1`;
  return Object.fromEntries(rows.map((r) => [r.reason, r.n]));
}

describe('fn_execute_handoff / fn_begin_handoff replay by inputs', () => {
  it('replays a rejection while nothing changed, and judges again once the directive is fixed', async () => {
    const { sql } = db;
    await seedSd(sql, { id: 'SD-RI-1', phase: 'LEAD' });
    await sql`update strategic_directives_v2 set description = null, scope = null, success_criteria = '[]' where id = 'SD-RI-1'`;
    const results: unknown[] = [];
    const first = await execute(sql, 'SD-RI-1', 'LEAD-TO-PLAN', 'req-ri-1', results);
    expect(first).toMatchObject({ verdict: 'rejected', replay: false });

    const same = await execute(sql, 'SD-RI-1', 'LEAD-TO-PLAN', 'req-ri-1', results);
    expect(same).toMatchObject({ verdict: 'rejected', replay: true, replay_reason: 'unchanged_inputs', attempt_id: first.attempt_id });

    await sql`update strategic_directives_v2 set description = 'what and why', scope = 'these files', success_criteria = '["it works"]' where id = 'SD-RI-1'`;
    const fixed = await execute(sql, 'SD-RI-1', 'LEAD-TO-PLAN', 'req-ri-1', results);
    expect(fixed).toMatchObject({ verdict: 'accepted', replay: false });
    expect(fixed.attempt_id).not.toBe(first.attempt_id);

    const retried = await execute(sql, 'SD-RI-1', 'LEAD-TO-PLAN', 'req-ri-1', results);
    expect(retried).toMatchObject({ verdict: 'accepted', replay: true, replay_reason: 'accepted', attempt_id: fixed.attempt_id });

    const attempts = await sql`select status, superseded_at is not null as superseded from handoff_attempts
      where request_id = 'req-ri-1' order by started_at`;
    expect(attempts).toEqual([{ status: 'rejected', superseded: true }, { status: 'completed', superseded: false }]);
    const [audits] = await sql`select count(*)::int as n from sd_transition_audit where sd_id = 'SD-RI-1'`;
    expect(audits!.n).toBe(2);
  });

  it('judges again when the PRD, a story, the threshold or the gate plan changed', async () => {
    const { sql } = db;
    await seedSd(sql, { id: 'SD-RI-2', phase: 'EXEC', stories: [{ key: 'US-1', status: 'done' }, { key: 'US-2', status: 'in_progress' }] });
    const rid = 'req-ri-2';
    const run = () => execute(sql, 'SD-RI-2', 'EXEC-TO-PLAN', rid, []);
    const a = await run();
    expect(a).toMatchObject({ verdict: 'rejected' });
    expect(await run()).toMatchObject({ replay: true, replay_reason: 'unchanged_inputs', attempt_id: a.attempt_id });

    await sql`update product_requirements_v2 set executive_summary = 'changed' where sd_id = 'SD-RI-2'`;
    const b = await run();
    expect(b).toMatchObject({ verdict: 'rejected', replay: false });
    expect(b.attempt_id).not.toBe(a.attempt_id);

    await sql`update threshold_profiles set gate_threshold = gate_threshold - 1 where sd_type = 'feature'`;
    const c = await run();
    expect(c.replay).toBe(false);
    await sql`update threshold_profiles set gate_threshold = gate_threshold + 1 where sd_type = 'feature'`;

    await sql`update user_stories set status = 'done' where sd_id = 'SD-RI-2'`;
    const d = await run();
    expect(d).toMatchObject({ verdict: 'accepted', replay: false });
  });

  it('resumes an attempt in progress, and counts each replay of a finished one by reason', async () => {
    const { sql } = db;
    await sql`delete from handoff_request_events`;
    await seedSd(sql, { id: 'SD-RI-3', phase: 'EXEC', stories: [{ key: 'US-1', status: 'done' }] });
    const open = await begin(sql, 'SD-RI-3', 'EXEC-TO-PLAN', 'req-ri-3');
    const resumed = await begin(sql, 'SD-RI-3', 'EXEC-TO-PLAN', 'req-ri-3');
    expect(resumed).toMatchObject({ attempt_id: open.attempt_id, replay: true, replay_reason: 'in_progress', result: null });
    expect(await replays()).toEqual({});

    const done = await execute(sql, 'SD-RI-3', 'EXEC-TO-PLAN', 'req-ri-3', [gate('STORIES_DONE')]);
    expect(done).toMatchObject({ verdict: 'accepted' });
    for (let i = 0; i < 3; i++) {
      expect(await execute(sql, 'SD-RI-3', 'EXEC-TO-PLAN', 'req-ri-3', [])).toMatchObject({ replay: true, replay_reason: 'accepted' });
    }
    expect(await replays()).toEqual({ accepted: 3 });
    const [m] = await sql`select fn_metrics_snapshot() as m`;
    expect(m!.m.handoff_request_replays).toEqual({ accepted: 3 });
    expect(Number(m!.m.ratios.handoff_request_replay)).toBeGreaterThan(0);
  });
});
