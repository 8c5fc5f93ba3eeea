import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { ageOpenAttempts, begin, complete, gate, record, seedSd } from './_handoff-fixtures.ts';

// fn_complete_handoff reads the SD without a row lock (the advisory lock serialises transitions),
// locks it as the first step of its savepoint, re-checking phase, status and version, and re-checks
// the version in its UPDATE.
describe('fn_complete_handoff locking', () => {
  let db: FreshDatabase;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });

  async function gatedAttempt(id: string) {
    const { sql } = db;
    await seedSd(sql, { id, phase: 'EXEC', stories: [{ key: 'US-1', status: 'done' }, { key: 'US-2', status: 'done' }] });
    const a = await begin(db.sql, id, 'EXEC-TO-PLAN', `req-${id}`);
    for (const g of a.gates) await record(sql, a.attempt_id, g.code, gate(g.code));
    return a;
  }

  it('creates no MultiXact: no SD tuple ends with a multi xmax', async () => {
    const { sql } = db;
    const a = await gatedAttempt('SD-LOCK-001');
    expect(await complete(sql, a.attempt_id)).toMatchObject({ verdict: 'accepted' });
    // pageinspect ships with PostgreSQL (contrib); HEAP_XMAX_IS_MULTI = 0x1000. Before this
    // migration the old version of the SD row had a multixact xmax (row lock + savepoint update).
    await sql`create extension if not exists pageinspect`;
    const [pages] = await sql`select pg_relation_size('strategic_directives_v2') / current_setting('block_size')::int as n`;
    const flags = await sql`
      select count(*)::int as tuples, count(*) filter (where (t.t_infomask & 4096) <> 0)::int as multi
      from generate_series(0, ${pages!.n}::int - 1) b,
           lateral heap_page_items(get_raw_page('strategic_directives_v2', b::int)) t
      where t.t_infomask is not null`;
    expect(flags[0]!.tuples).toBeGreaterThanOrEqual(2); // the old and the new version of SD-LOCK-001
    expect(flags[0]!.multi).toBe(0);
  });

  it('fails the attempt, all of step 4 rolled back, when the SD moves under it', async () => {
    const { sql } = db;
    const a = await gatedAttempt('SD-LOCK-002');
    // test-only, in this test's own database: the PRD step bumps the SD's version behind the RPC's
    // back, as a writer that bypassed the advisory lock would
    await sql.unsafe(`
      create function test_bump_sd() returns trigger language plpgsql as $$
      begin
        update public.strategic_directives_v2 set transition_version = transition_version + 1 where id = new.sd_id;
        return new;
      end $$;
      create trigger test_bump_sd after update on product_requirements_v2 for each row execute function test_bump_sd();`);
    try {
      const r = await complete(sql, a.attempt_id);
      expect(r).toMatchObject({ verdict: 'failed', to_phase: 'EXEC', transition_version: 0 });
      expect(r.error).toMatchObject({ error_code: 'SG008', failed_step: '4c. Transition SD', partial_state: { rolled_back: true } });
    } finally {
      await sql.unsafe('drop trigger test_bump_sd on product_requirements_v2; drop function test_bump_sd()');
    }
    const [sd] = await sql`select current_phase, transition_version from strategic_directives_v2 where id = 'SD-LOCK-002'`;
    expect(sd).toEqual({ current_phase: 'EXEC', transition_version: 0 });
    const [prd] = await sql`select status from product_requirements_v2 where sd_id = 'SD-LOCK-002'`;
    expect(prd!.status).toBe('draft');
    const stories = await sql`select distinct status from user_stories where sd_id = 'SD-LOCK-002'`;
    expect(stories).toEqual([{ status: 'done' }]);
    const audits = await sql`select status, error_details->>'error_code' as code from sd_transition_audit where sd_id = 'SD-LOCK-002'`;
    expect(audits).toEqual([{ status: 'failed', code: 'SG008' }]);
  });

  it('fails the attempt with SG002, all of step 4 rolled back, when a step deletes the SD', async () => {
    const { sql } = db;
    const a = await gatedAttempt('SD-LOCK-004');
    // test-only: once the stories are updated, delete the SD (its PRD and stories go with it)
    await sql.unsafe(`
      create function test_delete_sd() returns trigger language plpgsql as $$
      begin
        delete from public.strategic_directives_v2 where id = 'SD-LOCK-004';
        return null;
      end $$;
      create trigger test_delete_sd after update on user_stories for each statement execute function test_delete_sd();`);
    try {
      const r = await complete(sql, a.attempt_id);
      expect(r).toMatchObject({ verdict: 'failed', transition_version: 0 });
      expect(r.error).toMatchObject({ error_code: 'SG002', failed_step: '4c. Transition SD', partial_state: { rolled_back: true } });
    } finally {
      await sql.unsafe('drop trigger test_delete_sd on user_stories; drop function test_delete_sd()');
    }
    // the delete was part of step 4, so it was rolled back with the rest
    const [sd] = await sql`select current_phase, transition_version from strategic_directives_v2 where id = 'SD-LOCK-004'`;
    expect(sd).toEqual({ current_phase: 'EXEC', transition_version: 0 });
    const stories = await sql`select distinct status from user_stories where sd_id = 'SD-LOCK-004'`;
    expect(stories).toEqual([{ status: 'done' }]);
  });

  /**
   * Runs complete while `hold` keeps a conflicting change of the SD open on another connection,
   * commits that change once complete is seen waiting for it, and returns complete's answer.
   */
  async function completeBehind(attemptId: string, hold: (tx: postgres.Sql) => Promise<unknown>) {
    const { sql } = db;
    const other = await sql.reserve();
    try {
      await other`begin`;
      const [me] = await other<{ pid: number }[]>`select pg_backend_pid() as pid`;
      const pid = me!.pid;
      await hold(other as unknown as postgres.Sql);
      const pending = complete(sql, attemptId);
      pending.catch(() => {});
      let blocked = false;
      for (let i = 0; i < 400 && !blocked; i++) {
        const [w] = await sql<{ n: number }[]>`select count(*)::int as n from pg_stat_activity
          where datname = current_database() and ${pid}::int = any(pg_blocking_pids(pid))`;
        blocked = w!.n > 0;
        if (!blocked) await new Promise((r) => setTimeout(r, 25));
      }
      if (!blocked) throw new Error('complete never waited for the other transaction: the test did not exercise the lock');
      await other`commit`;
      return await pending;
    } finally {
      await other`rollback`.catch(() => {});
      other.release();
    }
  }

  it('follows an SD renamed while the complete waited for it, and moves the renamed PRD and stories', async () => {
    const { sql } = db;
    const a = await gatedAttempt('SD-LOCK-005');
    const r = await completeBehind(a.attempt_id,
      (tx) => tx`update strategic_directives_v2 set id = 'SD-LOCK-005-RENAMED' where id = 'SD-LOCK-005'`);
    expect(r).toMatchObject({ verdict: 'accepted', sd_id: 'SD-LOCK-005-RENAMED', to_phase: 'EXEC_COMPLETE', transition_version: 1 });
    const [state] = await sql`select s.current_phase, p.status as prd, array_agg(distinct u.status) as stories
      from strategic_directives_v2 s join product_requirements_v2 p on p.sd_id = s.id join user_stories u on u.sd_id = s.id
      where s.id = 'SD-LOCK-005-RENAMED' group by 1, 2`;
    expect(state).toEqual({ current_phase: 'EXEC_COMPLETE', prd: 'verification', stories: ['validated'] });
    const [audit] = await sql`select sd_id, status, pre_state, post_state from sd_transition_audit where attempt_id = ${a.attempt_id}::uuid`;
    expect(audit).toMatchObject({ sd_id: 'SD-LOCK-005-RENAMED', status: 'completed',
      pre_state: { sd_phase: 'EXEC', user_stories: { done: 2 } }, post_state: { sd_phase: 'EXEC_COMPLETE', user_stories: { validated: 2 } } });
    const [handoff] = await sql`select sd_id, status from sd_phase_handoffs where attempt_id = ${a.attempt_id}::uuid`;
    expect(handoff).toEqual({ sd_id: 'SD-LOCK-005-RENAMED', status: 'accepted' });
    const [note] = await sql`select payload->>'sd_id' as sd_id from transition_notifications where payload->>'attempt_id' = ${a.attempt_id}`;
    expect(note).toEqual({ sd_id: 'SD-LOCK-005-RENAMED' });
  });

  it('fails with SG008 at the lock, changing nothing, when something else moved the phase meanwhile', async () => {
    const { sql } = db;
    const a = await gatedAttempt('SD-LOCK-006');
    // as the stage backfill does: the flag set by hand, no advisory lock
    const r = await completeBehind(a.attempt_id, async (tx) => {
      await tx`select set_config('stagegate.in_transition', 'on', true)`;
      await tx`update strategic_directives_v2 set current_phase = 'PLAN' where id = 'SD-LOCK-006'`;
    });
    expect(r).toMatchObject({ verdict: 'failed', transition_version: 0 });
    expect(r.error).toMatchObject({ error_code: 'SG008', failed_step: '4. Lock SD',
      partial_state: { user_stories_updated: 0, prd_updated: false, sd_updated: false } });
    const [sd] = await sql`select current_phase, transition_version from strategic_directives_v2 where id = 'SD-LOCK-006'`;
    expect(sd).toEqual({ current_phase: 'PLAN', transition_version: 0 });
    const stories = await sql`select distinct status from user_stories where sd_id = 'SD-LOCK-006'`;
    expect(stories).toEqual([{ status: 'done' }]);
    // the audit row's post_state is what the other writer left, not the state first read
    const [audit] = await sql`select pre_state->>'sd_phase' as pre, post_state->>'sd_phase' as post from sd_transition_audit where attempt_id = ${a.attempt_id}::uuid`;
    expect(audit).toEqual({ pre: 'EXEC', post: 'PLAN' });
  });

  it('leaves the attempt open for a retry when waiting for the SD lock times out', async () => {
    const { sql } = db;
    const a = await gatedAttempt('SD-LOCK-007');
    const other = await sql.reserve();
    try {
      await other`begin`;
      await other`select 1 from strategic_directives_v2 where id = 'SD-LOCK-007' for update`;
      const impatient = await sql.reserve();
      try {
        await impatient`set lock_timeout = '200ms'`;
        const timedOut = await impatient`select fn_complete_handoff(${a.attempt_id}::uuid)`.then(() => null, (e: { code?: string }) => e.code);
        expect(timedOut).toBe('55P03');
      } finally {
        await impatient`reset lock_timeout`;
        impatient.release();
      }
    } finally {
      await other`rollback`;
      other.release();
    }
    const [attempt] = await sql`select status from handoff_attempts where id = ${a.attempt_id}::uuid`;
    expect(attempt!.status).toBe('in_progress');
    expect(await sql`select 1 from sd_transition_audit where attempt_id = ${a.attempt_id}::uuid`).toHaveLength(0);
    expect(await complete(sql, a.attempt_id)).toMatchObject({ verdict: 'accepted' });
  });

  it('still refuses a complete whose SD a committed transition moved (SG008 before any change)', async () => {
    const { sql } = db;
    const a = await gatedAttempt('SD-LOCK-003');
    await ageOpenAttempts(sql, 'SD-LOCK-003'); // as if a crashed: begin no longer counts it as live
    const b = await begin(sql, 'SD-LOCK-003', 'EXEC-TO-PLAN', 'req-SD-LOCK-003-b');
    expect(b.attempt_id).not.toBe(a.attempt_id);
    for (const g of b.gates) await record(sql, b.attempt_id, g.code, gate(g.code));
    expect(await complete(sql, b.attempt_id)).toMatchObject({ verdict: 'accepted', transition_version: 1 });
    await expect(complete(sql, a.attempt_id)).rejects.toMatchObject({ code: 'SG008' });
  });
});
