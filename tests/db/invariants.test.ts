import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { seedDirective } from '../helpers/fixtures.ts';

const passing = (code: string) => [{ code, passed: true, score: 100, maxScore: 100 }];

describe('fn_check_invariants', () => {
  let db: FreshDatabase;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });
  const violations = () => db.sql<{ invariant: string; subject: string }[]>`select invariant, subject from public.fn_check_invariants()`;

  it('finds nothing after a directive walks all four handoffs, with stories finished in between', async () => {
    await seedDirective(db.sql, { id: 'SD-INV-1', storyStatus: 'ready' });
    const run = (type: string, gate: string, req: string) =>
      db.sql`select public.fn_execute_handoff('SD-INV-1', ${type}, 's', ${req}, ${db.sql.json(passing(gate))}) ->> 'verdict' as v`;
    expect((await run('LEAD-TO-PLAN', 'SD_DEFINED', 'r1'))[0]?.v).toBe('accepted');
    expect((await run('PLAN-TO-EXEC', 'PRD_COMPLETE', 'r2'))[0]?.v).toBe('accepted');
    await db.sql`update public.user_stories set status = 'done' where sd_id = 'SD-INV-1'`;
    expect((await run('EXEC-TO-PLAN', 'STORIES_DONE', 'r3'))[0]?.v).toBe('accepted');
    expect((await run('PLAN-TO-LEAD', 'STORIES_VALIDATED', 'r4'))[0]?.v).toBe('accepted');
    // a rejected attempt too: it must leave one terminal audit row and no state change
    await seedDirective(db.sql, { id: 'SD-INV-2', phase: 'EXEC', storyStatus: 'ready' });
    const [rej] = await db.sql`select public.fn_execute_handoff('SD-INV-2', 'EXEC-TO-PLAN', 's', 'r5', '[]'::jsonb) ->> 'verdict' as v`;
    expect(rej?.v).toBe('rejected');
    expect(await violations()).toEqual([]);
  });

  it('names a directive moved behind the engine\'s back, a broken chain and an orphan attempt', async () => {
    await db.sql.begin(async (tx) => {
      await tx`select set_config('stagegate.in_transition', 'on', true)`;
      await tx`update public.strategic_directives_v2 set current_phase = 'EXEC' where id = 'SD-INV-1'`;
      await tx`update public.user_stories set status = 'validated' where sd_id = 'SD-INV-2'`;
    });
    await db.sql`insert into public.handoff_attempts (request_id, sd_id, sd_uuid, sd_type, handoff_type, session_id, status, from_phase, to_phase, sd_version, context, gates, finished_at)
      values ('orphan', 'SD-INV-2', gen_random_uuid(), 'feature', 'EXEC-TO-PLAN', 's', 'completed', 'EXEC', 'EXEC_COMPLETE', 0, '{}', '[]', now())`;
    // a gate result filed under another directive than its attempt's, in the window
    const [orphan] = await db.sql`select id from public.handoff_attempts where request_id = 'orphan'`;
    const [result] = await db.sql`insert into public.sub_agent_execution_results (attempt_id, sd_id, sub_agent_code, verdict, passed, score, max_score)
      select ${orphan!.id}, 'SD-INV-1', code, 'PASS', true, 100, 100 from public.leo_sub_agents limit 1 returning id`;
    const found = (await violations()).map((v) => `${v.invariant}:${v.subject.split('/')[0]}`);
    expect(found).toContain(`orphan_result:${result!.id}`);
    expect(found).toContain('sd_matches_last_transition:SD-INV-1');
    expect(found).toContain('story_status_needs_handoff:SD-INV-2');
    expect(found.some((f) => f.startsWith('one_terminal_audit_per_attempt:'))).toBe(true);
  });

  it('is refused to anon', async () => {
    await expect(db.sql.begin(async (tx) => {
      await tx`set local role anon`;
      await tx`select * from public.fn_check_invariants()`;
    })).rejects.toThrow(/permission denied/);
  });
});
