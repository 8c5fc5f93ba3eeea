import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { execute, gate, seedSd } from './_handoff-fixtures.ts';

describe('atomic state changes: a failing PRD update rolls back the stories', () => {
  let db: FreshDatabase;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });

  it('leaves stories unchanged and one failed audit row with the Spartan error log', async () => {
    const { sql } = db;
    await seedSd(sql, { id: 'SD-ROLLBACK-001', phase: 'EXEC', stories: [1, 2, 3].map((i) => ({ key: `US-${i}`, status: 'done' })) });
    // test-only: make the PRD step fail, in this test's own database
    await sql`alter table product_requirements_v2 add constraint test_no_verification check (status <> 'verification') not valid`;

    const r = await execute(sql, 'SD-ROLLBACK-001', 'EXEC-TO-PLAN', 'req-rb', [gate('STORIES_DONE')]);
    expect(r).toMatchObject({ verdict: 'failed', to_phase: 'EXEC', transition_version: 0 });

    const stories = await sql`select distinct status from user_stories where sd_id = 'SD-ROLLBACK-001'`;
    expect(stories).toEqual([{ status: 'done' }]);
    const [sd] = await sql`select current_phase, transition_version from strategic_directives_v2 where id = 'SD-ROLLBACK-001'`;
    expect(sd).toEqual({ current_phase: 'EXEC', transition_version: 0 });

    const audits = await sql`select status, error_details, error_message, pre_state, post_state from sd_transition_audit where sd_id = 'SD-ROLLBACK-001'`;
    expect(audits).toHaveLength(1);
    const a = audits[0]!;
    expect(a.status).toBe('failed');
    expect(a.error_details).toMatchObject({
      error_code: '23514',
      failed_step: '4b. Transition PRD',
      pre_state: { sd_phase: 'EXEC', prd_status: 'draft', user_stories: { done: 3 } },
      partial_state: { user_stories_updated: 3, prd_updated: false, sd_updated: false, rolled_back: true },
    });
    expect(a.error_details.error_message).toContain('test_no_verification');
    expect(a.error_details.recovery_action).toContain('new request id');
    expect(a.error_message).toBe(a.error_details.error_message);
    expect(a.post_state).toEqual(a.pre_state);

    // the attempt is terminal: the same request id replays the failure, nothing runs twice
    const again = await execute(sql, 'SD-ROLLBACK-001', 'EXEC-TO-PLAN', 'req-rb', [gate('STORIES_DONE')]);
    expect(again).toMatchObject({ verdict: 'failed', replay: true, audit_id: r.audit_id });
    await sql`alter table product_requirements_v2 drop constraint test_no_verification`;
    const retry = await execute(sql, 'SD-ROLLBACK-001', 'EXEC-TO-PLAN', 'req-rb-2', [gate('STORIES_DONE')]);
    expect(retry.verdict).toBe('accepted');
  });
});
