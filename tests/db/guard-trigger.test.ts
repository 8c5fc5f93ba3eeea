import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { refusal, seedSd } from './_handoff-fixtures.ts';

describe('guard triggers: phase and workflow statuses change only through the RPCs', () => {
  let db: FreshDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
    await seedSd(db.sql, { id: 'SD-GUARD-001', phase: 'EXEC', stories: [{ key: 'US-1', status: 'in_progress' }] });
  });
  afterAll(async () => { await db.drop(); });

  it('refuses a direct change of SD phase, status or version, naming the RPC', async () => {
    const { sql } = db;
    for (const q of [
      sql`update strategic_directives_v2 set current_phase = 'EXEC_COMPLETE' where id = 'SD-GUARD-001'`,
      sql`update strategic_directives_v2 set status = 'completed' where id = 'SD-GUARD-001'`,
      sql`update strategic_directives_v2 set transition_version = 9 where id = 'SD-GUARD-001'`,
    ]) {
      const err = await refusal(q);
      expect(err).toMatchObject({ state: 'SG012', code: 'DIRECT_UPDATE_REFUSED' });
      expect(err.message).toContain('public.fn_execute_handoff');
    }
  });

  it('refuses moving a PRD or story into or out of a status a handoff sets', async () => {
    const { sql } = db;
    expect(await refusal(sql`update product_requirements_v2 set status = 'verification' where sd_id = 'SD-GUARD-001'`))
      .toMatchObject({ state: 'SG012', code: 'DIRECT_UPDATE_REFUSED' });
    expect(await refusal(sql`update user_stories set status = 'validated' where sd_id = 'SD-GUARD-001'`))
      .toMatchObject({ state: 'SG012', code: 'DIRECT_UPDATE_REFUSED' });
  });

  it('lets day-to-day work through and maintains updated_at', async () => {
    const { sql } = db;
    const [before] = await sql`select updated_at from user_stories where sd_id = 'SD-GUARD-001'`;
    await sql`update user_stories set status = 'done' where sd_id = 'SD-GUARD-001'`;
    await sql`update product_requirements_v2 set status = 'approved' where sd_id = 'SD-GUARD-001'`;
    await sql`update strategic_directives_v2 set title = 'Renamed' where id = 'SD-GUARD-001'`;
    const [after] = await sql`select status, updated_at from user_stories where sd_id = 'SD-GUARD-001'`;
    expect(after!.status).toBe('done');
    expect(after!.updated_at.getTime()).toBeGreaterThan(before!.updated_at.getTime());
  });

  it('the transition flag does not leak out of an RPC into the caller\'s transaction', async () => {
    const { sql } = db;
    await sql.begin(async (tx) => {
      await tx`select fn_execute_handoff('SD-GUARD-001', 'EXEC-TO-PLAN', 'sess-A', 'req-guard', '[]')`;
      const [flag] = await tx`select coalesce(current_setting('stagegate.in_transition', true), '') as v`;
      expect(flag!.v).not.toBe('on');
    });
    const [sd] = await sql`select current_phase from strategic_directives_v2 where id = 'SD-GUARD-001'`;
    expect(sd!.current_phase).toBe('EXEC_COMPLETE');
  });
});
