import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { begin, complete, gate, record, seedSd } from './_handoff-fixtures.ts';

// fn_complete_handoff reads the SD without a row lock (the advisory lock serialises transitions)
// and re-checks transition_version in its UPDATE.
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

  it('still refuses a complete whose SD a committed transition moved (SG008 before any change)', async () => {
    const { sql } = db;
    const a = await gatedAttempt('SD-LOCK-003');
    const b = await begin(sql, 'SD-LOCK-003', 'EXEC-TO-PLAN', 'req-SD-LOCK-003-b');
    expect(b.attempt_id).not.toBe(a.attempt_id);
    for (const g of b.gates) await record(sql, b.attempt_id, g.code, gate(g.code));
    expect(await complete(sql, b.attempt_id)).toMatchObject({ verdict: 'accepted', transition_version: 1 });
    await expect(complete(sql, a.attempt_id)).rejects.toMatchObject({ code: 'SG008' });
  });
});
