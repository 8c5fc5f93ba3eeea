import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { begin, refusal, seedSd } from './_handoff-fixtures.ts';

describe('fn_begin_handoff', () => {
  let db: FreshDatabase;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });

  it('resolves the SD by key or uuid and returns the attempt, plan, snapshot, threshold and mode', async () => {
    const { sql } = db;
    const sd = await seedSd(sql, { id: 'SD-BEGIN-001', sdType: 'infrastructure', phase: 'PLAN', stories: [{ key: 'US-1' }] });
    const a = await begin(sql, sd.uuid, 'plan to exec', 'req-b-1');
    expect(a).toMatchObject({
      status: 'in_progress', replay: false, result: null, sd_id: 'SD-BEGIN-001', sd_uuid: sd.uuid, sd_type: 'infrastructure',
      handoff_type: 'PLAN-TO-EXEC', from_phase: 'PLAN', to_phase: 'EXEC', transition_version: 0, threshold: 80,
      validation_mode: 'ENFORCE',
    });
    expect(a.gates.map((g: { code: string }) => g.code)).toEqual(['PRD_COMPLETE', 'STORIES_HAVE_ACCEPTANCE_CRITERIA']);
    expect(a.gates[1]).toMatchObject({ kind: 'sql', depends_on: ['PRD_COMPLETE'], timeout_ms: 60000, max_retries: 2, weight: 1, required: true, skip: false, skip_reason: null });
    expect(a.context.sd.id).toBe('SD-BEGIN-001');
    expect(a.context.prd.id).toBe('PRD-SD-BEGIN-001');
    expect(a.context.stories).toHaveLength(1);
  });

  it('is idempotent by request id, and refuses a request id reused for another handoff', async () => {
    const { sql } = db;
    await seedSd(sql, { id: 'SD-BEGIN-002', phase: 'LEAD' });
    const a = await begin(sql, 'SD-BEGIN-002', 'LEAD-TO-PLAN', 'req-b-2');
    const b = await begin(sql, 'SD-BEGIN-002', 'LEAD-TO-PLAN', 'req-b-2');
    expect(a).toMatchObject({ replay: false, replay_reason: null, dry_run: false });
    const { dry_run: _dry, ...rest } = a;
    expect(b).toEqual({ ...rest, replay: true, replay_reason: 'in_progress' });
    const [n] = await sql`select count(*)::int as n from handoff_attempts where request_id = 'req-b-2'`;
    expect(n!.n).toBe(1);
    expect(await refusal(begin(sql, 'SD-BEGIN-002', 'PLAN-TO-EXEC', 'req-b-2'))).toMatchObject({ state: 'SG001', code: 'INVALID_INPUT' });
  });

  it('freezes the context: later edits do not change what the attempt judges', async () => {
    const { sql } = db;
    await seedSd(sql, { id: 'SD-BEGIN-003', phase: 'PLAN' });
    const a = await begin(sql, 'SD-BEGIN-003', 'PLAN-TO-EXEC', 'req-b-3');
    await sql`update product_requirements_v2 set executive_summary = '' where sd_id = 'SD-BEGIN-003'`;
    const [g] = await sql`select fn_evaluate_sql_gate(${a.attempt_id}::uuid, 'PRD_COMPLETE') as r`;
    expect(g!.r).toMatchObject({ passed: true, score: 100 });
  });

  it('refuses with stable codes', async () => {
    const { sql } = db;
    await seedSd(sql, { id: 'SD-BEGIN-004', phase: 'LEAD' });
    expect(await refusal(begin(sql, 'SD-BEGIN-004', 'EXEC-TO-PLAN', 'req-b-4'))).toMatchObject({ state: 'SG004', code: 'WRONG_PHASE' });
    expect(await refusal(begin(sql, 'SD-BEGIN-004', 'LEAD-TO-LUNCH', 'req-b-5'))).toMatchObject({ state: 'SG003', code: 'UNKNOWN_HANDOFF_TYPE' });
    expect(await refusal(begin(sql, '00000000-0000-4000-8000-000000000000', 'LEAD-TO-PLAN', 'req-b-6'))).toMatchObject({ state: 'SG002', code: 'SD_NOT_FOUND' });
    expect(await refusal(begin(sql, 'SD-BEGIN-004', 'LEAD-TO-PLAN', ''))).toMatchObject({ state: 'SG001', code: 'INVALID_INPUT' });
    expect(await refusal(begin(sql, 'SD-BEGIN-004', 'LEAD-TO-PLAN', 'req-b-7', ''))).toMatchObject({ state: 'SG001', code: 'INVALID_INPUT' });
  });
});
