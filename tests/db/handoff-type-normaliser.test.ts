import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { seedDirective } from '../helpers/fixtures.ts';

describe('the SQL entry points share the HTTP API\'s handoff-type normaliser', () => {
  let db: FreshDatabase;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });

  it('accepts the variants shared/stages.ts accepts', async () => {
    const rows = await db.sql<{ t: string }[]>`select public.fn_normalise_handoff_type(x) as t from unnest(${['ExecToPlan', 'exec_to_plan', ' exec to plan ', 'EXEC→PLAN', 'lead-to-plan']}::text[]) x`;
    expect(rows.map((r) => r.t)).toEqual(['EXEC-TO-PLAN', 'EXEC-TO-PLAN', 'EXEC-TO-PLAN', 'EXEC-TO-PLAN', 'LEAD-TO-PLAN']);
    await seedDirective(db.sql, { id: 'SD-NORM-1', phase: 'EXEC' });
    const [r] = await db.sql`select public.fn_execute_handoff('SD-NORM-1', 'ExecToPlan', 's', 'r1', ${db.sql.json([{ code: 'STORIES_DONE', passed: true, score: 100, maxScore: 100 }])}) as r`;
    expect(r?.r).toMatchObject({ verdict: 'accepted', handoff_type: 'EXEC-TO-PLAN' });
  });

  it('still names an unknown type with SG003', async () => {
    await expect(db.sql`select public.fn_begin_handoff('SD-NORM-1', 'sideways', 's', 'r2')`).rejects.toMatchObject({ code: 'SG003' });
  });
});
