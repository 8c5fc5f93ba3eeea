import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { begin, refusal, seedSd } from './_handoff-fixtures.ts';

describe('fn_evaluate_sql_gate and the shipped sql gates', () => {
  let db: FreshDatabase;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });

  const evaluate = async (attempt: string, code: string) =>
    (await db.sql`select fn_evaluate_sql_gate(${attempt}::uuid, ${code}) as r`)[0]!.r;

  it('scores partially: 3 of 4 stories with acceptance criteria -> 75, 2 of 4 PRD sections -> 50', async () => {
    const { sql } = db;
    await seedSd(sql, { id: 'SD-GATE-001', phase: 'PLAN', stories: [
      { key: 'US-1' }, { key: 'US-2' }, { key: 'US-3' }, { key: 'US-4', criteria: [] },
    ] });
    await sql`update product_requirements_v2 set executive_summary = ' ', test_scenarios = '[]' where sd_id = 'SD-GATE-001'`;
    const a = await begin(sql, 'SD-GATE-001', 'PLAN-TO-EXEC', 'req-g-1');
    expect(await evaluate(a.attempt_id, 'STORIES_HAVE_ACCEPTANCE_CRITERIA')).toEqual({
      passed: false, score: 75, maxScore: 100, issues: ['story US-4 has no acceptance criteria'], warnings: [],
    });
    expect(await evaluate(a.attempt_id, 'PRD_COMPLETE')).toMatchObject({
      passed: false, score: 50, issues: ['PRD field executive_summary is empty', 'PRD field test_scenarios is empty'],
    });
  });

  it('fails PRD_COMPLETE without a PRD and STORIES_HAVE_ACCEPTANCE_CRITERIA without stories; STORIES_DONE passes with a warning', async () => {
    const { sql } = db;
    await seedSd(sql, { id: 'SD-GATE-002', phase: 'PLAN', prd: false });
    const a = await begin(sql, 'SD-GATE-002', 'PLAN-TO-EXEC', 'req-g-2');
    expect(await evaluate(a.attempt_id, 'PRD_COMPLETE')).toMatchObject({ passed: false, score: 0, issues: ['SD has no PRD'] });
    expect(await evaluate(a.attempt_id, 'STORIES_HAVE_ACCEPTANCE_CRITERIA')).toMatchObject({ passed: false, score: 0 });
    expect(await evaluate(a.attempt_id, 'STORIES_DONE')).toMatchObject({ passed: true, score: 100, warnings: ['SD has no user stories'] });
    expect(await evaluate(a.attempt_id, 'SD_DEFINED')).toMatchObject({ passed: true, score: 100 });
    expect(await evaluate(a.attempt_id, 'STORIES_VALIDATED')).toMatchObject({ passed: true });
  });

  it('refuses non-sql, unknown and unsafe gates', async () => {
    const { sql } = db;
    await seedSd(sql, { id: 'SD-GATE-003', phase: 'LEAD' });
    const a = await begin(sql, 'SD-GATE-003', 'LEAD-TO-PLAN', 'req-g-3');
    await sql`insert into leo_sub_agents (code, kind, target) values ('REMOTE', 'http', 'https://example.test/gate')`;
    expect(await refusal(evaluate(a.attempt_id, 'REMOTE'))).toMatchObject({ state: 'SG001', code: 'INVALID_INPUT' });
    expect(await refusal(evaluate(a.attempt_id, 'NOPE'))).toMatchObject({ state: 'SG011', code: 'UNKNOWN_GATE' });
    expect(await refusal(evaluate('00000000-0000-4000-8000-000000000000', 'PRD_COMPLETE'))).toMatchObject({ state: 'SG009', code: 'ATTEMPT_NOT_FOUND' });
    // a sql gate may only name one of our public.fn_gate_* functions
    expect((await refusal(sql`insert into leo_sub_agents (code, kind, target) values ('EVIL', 'sql', 'pg_catalog.pg_terminate_backend')`)).state).toBe('23514');
    await sql`insert into leo_sub_agents (code, kind, target) values ('GHOST', 'sql', 'public.fn_gate_does_not_exist')`;
    expect(await refusal(evaluate(a.attempt_id, 'GHOST'))).toMatchObject({ state: 'SG001', code: 'INVALID_INPUT' });
  });
});
