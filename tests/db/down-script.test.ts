import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, projectRoot } from '../../stack/db.ts';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';

// Everything in public that is not an extension's: after down.sql, nothing may be left.
const ours = `
  select c.relname as name, c.relkind::text as kind from pg_class c
  where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'v', 'm', 'S', 'c')
    and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'e')
  union all
  select p.oid::regprocedure::text, 'function' from pg_proc p
  where p.pronamespace = 'public'::regnamespace
    and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')`;

describe('supabase/down/down.sql', () => {
  let db: FreshDatabase;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });

  it('removes every object the migrations created from supabase/schemas/, then the Supabase CLI applies them all again and they work', async () => {
    const { sql } = db;
    const before = await sql.unsafe(ours);
    expect(before.length).toBeGreaterThan(100);
    await sql`insert into strategic_directives_v2 (id, title, current_phase) values ('SD-DOWN-000', 'before', 'EXEC')`;
    await sql.file(path.join(projectRoot, 'supabase/down/down.sql'));
    expect(await sql.unsafe(ours)).toEqual([]);
    const [history] = await sql`select count(*)::int as n from supabase_migrations.schema_migrations`;
    expect(history!.n).toBe(0);

    await migrate(db.url);
    expect((await sql.unsafe(ours)).length).toBe(before.length);
    await sql`insert into strategic_directives_v2 (id, title, current_phase) values ('SD-DOWN-001', 'again', 'EXEC')`;
    const [r] = await sql`select fn_execute_handoff('SD-DOWN-001', 'EXEC-TO-PLAN', 's', 'r', ${sql.json([{ code: 'STORIES_DONE', passed: true, score: 100, maxScore: 100 }])}) as r`;
    expect(r!.r.verdict).toBe('accepted');
    expect(await sql`select * from public.fn_check_invariants()`).toEqual([]);
  });
});
