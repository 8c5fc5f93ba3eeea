import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { execute, gate, refusal, seedSd } from './_handoff-fixtures.ts';

describe('fn_execute_handoff', () => {
  let db: FreshDatabase;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });

  it('runs EXEC-TO-PLAN in one call: SD EXEC_COMPLETE, PRD verification, stories validated', async () => {
    const { sql } = db;
    await seedSd(sql, { id: 'SD-EXEC-001', phase: 'EXEC', stories: [{ key: 'US-1', status: 'done' }, { key: 'US-2', status: 'done' }] });
    const r = await execute(sql, 'SD-EXEC-001', 'exec_to_plan', 'req-exec-1', [gate('STORIES_DONE')]);
    expect(r).toMatchObject({ verdict: 'accepted', from_phase: 'EXEC', to_phase: 'EXEC_COMPLETE', score: 100, threshold: 85, failed_gate: null, replay: false, transition_version: 1 });
    const [state] = await sql`select s.current_phase, p.status as prd, array_agg(distinct u.status) as stories
      from strategic_directives_v2 s join product_requirements_v2 p on p.sd_id = s.id join user_stories u on u.sd_id = s.id
      where s.id = 'SD-EXEC-001' group by 1, 2`;
    expect(state).toEqual({ current_phase: 'EXEC_COMPLETE', prd: 'verification', stories: ['validated'] });
  });

  it('the same request id returns the first result: no second transition, no second audit row', async () => {
    const { sql } = db;
    await seedSd(sql, { id: 'SD-EXEC-002', phase: 'EXEC', stories: [{ key: 'US-1', status: 'done' }] });
    const first = await execute(sql, 'SD-EXEC-002', 'EXEC-TO-PLAN', 'req-replay', [gate('STORIES_DONE')]);
    const again = await execute(sql, 'SD-EXEC-002', 'EXEC-TO-PLAN', 'req-replay', [gate('STORIES_DONE', 0)]);
    expect(again).toEqual({ ...first, replay: true, replay_reason: 'accepted' });
    const [n] = await sql`select count(*)::int as audits, (select transition_version from strategic_directives_v2 where id = 'SD-EXEC-002') as v
      from sd_transition_audit where sd_id = 'SD-EXEC-002'`;
    expect(n).toEqual({ audits: 1, v: 1 });
  });

  it('normalises results as seed pattern 7 and lists the fixes', async () => {
    const { sql } = db;
    await seedSd(sql, { id: 'SD-EXEC-003', phase: 'EXEC', stories: [{ key: 'US-1', status: 'done' }] });
    const r = await execute(sql, 'SD-EXEC-003', 'EXEC-TO-PLAN', 'req-norm', [{ code: 'stories_done', pass: 1, score: 9, max_score: 10 }]);
    expect(r.verdict).toBe('accepted');
    expect(r.score).toBe(90);
    const [row] = await sql`select passed, score::int, max_score::int, fixes from sub_agent_execution_results
      where sd_id = 'SD-EXEC-003' and sub_agent_code = 'STORIES_DONE'`;
    expect(row).toMatchObject({ passed: true, score: 9, max_score: 10 });
    expect(row!.fixes).toEqual(expect.arrayContaining(['pass -> passed', 'max_score -> maxScore', 'passed coerced from number', 'default issues = []']));
  });

  it('evaluates the plan\'s sql gates the caller left out (3 of 4 stories done -> 75, blocked)', async () => {
    const { sql } = db;
    await seedSd(sql, { id: 'SD-EXEC-004', phase: 'EXEC', stories: ['1', '2', '3', '4'].map((k, i) => ({ key: `US-${k}`, status: i < 3 ? 'done' : 'in_progress' })) });
    const r = await execute(sql, 'SD-EXEC-004', 'EXEC-TO-PLAN', 'req-sqlgate', []);
    expect(r).toMatchObject({ verdict: 'rejected', score: 75, failed_gate: 'STORIES_DONE', to_phase: 'EXEC' });
    expect(r.issues).toContain('STORIES_DONE: story US-4 is in_progress, not done');
  });

  it('records a result for a gate outside the plan as skipped and ignores it', async () => {
    const { sql } = db;
    await seedSd(sql, { id: 'SD-EXEC-005', phase: 'EXEC', stories: [{ key: 'US-1', status: 'done' }] });
    const r = await execute(sql, 'SD-EXEC-005', 'EXEC-TO-PLAN', 'req-extra', [gate('STORIES_DONE'), gate('PRD_COMPLETE', 0)]);
    expect(r).toMatchObject({ verdict: 'accepted', score: 100 });
    const [row] = await sql`select skipped, skip_reason, verdict from sub_agent_execution_results where sd_id = 'SD-EXEC-005' and sub_agent_code = 'PRD_COMPLETE'`;
    expect(row).toEqual({ skipped: true, skip_reason: 'NOT_IN_PLAN', verdict: 'SKIPPED' });
  });

  it('a missing required gate fails the handoff and is named', async () => {
    const { sql } = db;
    await sql`insert into leo_sub_agents (code, kind, target, handoff_types) values ('TESTING', 'http', 'http://127.0.0.1:9/testing', '{EXEC-TO-PLAN}')`;
    try {
      await seedSd(sql, { id: 'SD-EXEC-006', phase: 'EXEC', stories: [{ key: 'US-1', status: 'done' }] });
      const r = await execute(sql, 'SD-EXEC-006', 'EXEC-TO-PLAN', 'req-missing', [gate('STORIES_DONE')]);
      expect(r).toMatchObject({ verdict: 'rejected', failed_gate: 'TESTING' });
      expect(r.issues).toContain('required gate TESTING has no result');
    } finally {
      await sql`delete from leo_sub_agents where code = 'TESTING'`;
    }
  });

  it('refuses malformed input with stable codes', async () => {
    const { sql } = db;
    await seedSd(sql, { id: 'SD-EXEC-007', phase: 'EXEC' });
    expect(await refusal(execute(sql, 'SD-EXEC-007', 'EXEC-TO-PLAN', 'req-bad-1', [{ code: 'STORIES_DONE', passed: true, score: 120, maxScore: 100 }])))
      .toMatchObject({ state: 'SG010', code: 'INVALID_GATE_RESULT' });
    expect(await refusal(execute(sql, 'SD-EXEC-007', 'EXEC-TO-PLAN', 'req-bad-2', [{ passed: true }])))
      .toMatchObject({ state: 'SG010', code: 'INVALID_GATE_RESULT' });
    expect(await refusal(execute(sql, 'SD-EXEC-007', 'EXEC-TO-PLAN', 'req-bad-3', [gate('NO_SUCH_GATE')])))
      .toMatchObject({ state: 'SG011', code: 'UNKNOWN_GATE' });
    expect(await refusal(execute(sql, 'SD-EXEC-007', 'SIDEWAYS', 'req-bad-4', [])))
      .toMatchObject({ state: 'SG003', code: 'UNKNOWN_HANDOFF_TYPE' });
    expect(await refusal(execute(sql, 'SD-NOPE-404', 'EXEC-TO-PLAN', 'req-bad-5', [])))
      .toMatchObject({ state: 'SG002', code: 'SD_NOT_FOUND' });
    expect(await refusal(execute(sql, 'SD-EXEC-007', 'LEAD-TO-PLAN', 'req-bad-6', [])))
      .toMatchObject({ state: 'SG004', code: 'WRONG_PHASE' });
    // refused calls leave no attempt behind, so the request id can be used again
    const [n] = await sql`select count(*)::int as n from handoff_attempts where sd_id = 'SD-EXEC-007'`;
    expect(n!.n).toBe(0);
  });
});
